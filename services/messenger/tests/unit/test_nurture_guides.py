"""Neutral nurture's content: the customer's categories (bought or viewed) pick the flow's guides,
through `Messenger.handle` with hand-written fakes; and the flow file's `guides` validation."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from boomerang.messenger.adapters.rendering import TemplateRenderer
from boomerang.messenger.domain.content import Formats, Guide, MessageInputs, by_category, flow_view, guides_at
from boomerang.messenger.domain.flow_definitions import Document, InvalidFlow, build_flow
from boomerang.messenger.domain.flows import Channel
from boomerang.messenger.domain.messages import Outbound
from boomerang.messenger.domain.stores import StoreProfile
from boomerang.messenger.flows import default_documents, default_flows, flows_from_texts
from boomerang.messenger.service_layer.composing import Composer
from boomerang.messenger.service_layer.delivery import Delivery
from boomerang.messenger.service_layer.handlers import Messenger
from boomerang.messenger.service_layer.retry import RetryPolicy
from boomerang.shared.events import CustomerIdentified, Envelope, OrderLine, OrderPlaced, ProductViewed, SegmentChanged
from boomerang.shared.links import LinkSettings

from .fakes import FakeContacts, FakeInterests, FakeLedger, FakeOutcomes, FakeProvider

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)  # a Saturday noon: inside nurture's send window
SHOP = "https://cds.example/"
# The store's override: no delay and no holdout, so the first step goes out on the change.
OVERRIDE = """
delay: 0
holdout_percent: 0
guides:
  - {title: "Where to start with jazz", summary: "Five records.", url: guides/jazz, category: Jazz}
  - {title: "Rock for beginners", summary: "Loud.", url: guides/rock, category: Rock}
  - title: "Sampling explained"
    summary: "Old records, new tracks."
    url: "https://blog.example/samples"
    category: hip-hop
  - {title: "Only in the second email", summary: "Later.", url: guides/later, category: Jazz, step: how_to}
  - {title: "Caring for your CDs", summary: "Cases and cleaning.", url: /guides/cd-care}
"""


class StoreFlows:
    def __init__(self, override: str) -> None:
        self.flows = flows_from_texts({"neutral_nurture": override}, "s1")

    def for_store(self, store_id: str):
        return self.flows


class World:
    def __init__(self, override: str = OVERRIDE) -> None:
        self.mail = FakeProvider("sendgrid")
        self.interests = FakeInterests()
        delivery = Delivery(
            FakeLedger(), {Channel.EMAIL: self.mail}, FakeOutcomes(), lambda: NOW, RetryPolicy(2, 0.001, 0.01)
        )
        composer = Composer(
            TemplateRenderer(),
            lambda store: StoreProfile(store, "CD Shop", SHOP, "help@cds.example"),
            LinkSettings(signing_key="test-key", base_url="https://feedback.example"),
        )
        self.messenger = Messenger(
            FakeContacts(), delivery, composer, lambda: NOW,
            flow_files=StoreFlows(override), recommendations=self.interests,
        )  # fmt: skip

    async def event(self, event: Any, customer: str, envelope_id: str) -> None:
        await self.messenger.handle(
            Envelope.wrap(event, store_id="s1", customer_id=customer, source="test", time=NOW, id=envelope_id)
        )

    async def turns_neutral(self, customer: str) -> Outbound:
        known = CustomerIdentified(email=f"{customer}@example.com", email_marketing_consent=True)
        await self.event(known, customer, f"id-{customer}")
        change = SegmentChanged(
            from_segment="at_risk", to_segment="neutral", reason="test", changed_at=NOW, orders=1,
            revenue=Decimal("12"), dimension="lifecycle",
        )  # fmt: skip
        await self.event(change, customer, f"seg-{customer}")
        (sent,) = [m for m in self.mail.accepted if m.flow == "neutral_nurture"]
        return sent


def bought(world: World, customer: str, *categories: str) -> None:
    lines = [
        OrderLine(product_id=f"cd-{i}", name=f"CD {i}", category=category, unit_price=Decimal("12"))
        for i, category in enumerate(categories)
    ]
    order = OrderPlaced(order_id=f"o-{customer}", placed_at=NOW, total=Decimal("12"), lines=lines)
    world.interests.record_order("s1", customer, order, NOW)


async def test_the_customers_categories_pick_their_guides_and_general_ones_fill_in() -> None:
    world = World()
    bought(world, "ada", "Jazz")
    # a view goes through the messenger (Messenger.learn), as in production
    await world.event(ProductViewed(product_id="cd-9", category="Hip-Hop"), "ada", "view-ada")

    sent = await world.turns_neutral("ada")

    assert "You have been looking at Jazz and hip-hop" in sent.text  # the catalogue's name; a view's key
    expected = ["Where to start with jazz", "Sampling explained", "Caring for your CDs"]  # theirs, most bought first
    assert [line for line in sent.text.splitlines() if line in expected] == expected
    assert f"Read the guide: {SHOP}guides/jazz?utm_source=boomerang" in sent.text  # a path: under the store's URL
    assert "Read the guide: https://blog.example/samples?utm_source=boomerang" in sent.text
    assert f'href="{SHOP}guides/cd-care?utm_source=boomerang' in sent.html  # a leading / is still under it
    assert "Rock for beginners" not in sent.text and "Rock for beginners" not in sent.html  # another category
    assert "Only in the second email" not in sent.text  # another step's
    assert "Browse our guides" not in sent.text


async def test_a_customer_with_no_known_category_gets_the_general_guides() -> None:
    world = World()

    sent = await world.turns_neutral("bob")

    assert "You have been looking at" not in sent.text
    assert "Caring for your CDs" in sent.text
    theirs_only = ("Where to start with jazz", "Rock for beginners", "Sampling explained")
    assert not any(title in sent.text for title in theirs_only)


async def test_the_default_flow_sends_its_general_guides_under_the_stores_url() -> None:
    world = World("delay: 0\nholdout_percent: 0\n")
    bought(world, "cy", "Rock")

    sent = await world.turns_neutral("cy")

    assert "You have been looking at Rock" in sent.text
    assert f"Read the guide: {SHOP}guides/getting-started?utm_source=boomerang" in sent.text
    assert "Browse our guides" not in sent.text


def test_guides_are_picked_by_step_and_category_in_the_view() -> None:
    flow = flows_from_texts({"neutral_nurture": OVERRIDE}).get("neutral_nurture")
    inputs = by_category(MessageInputs(), ["jazz"], flow.guides, "https://cds.example")

    view = flow_view(inputs, Formats(), "how_to", NOW)

    assert [g["title"] for g in view["guides"]] == [
        "Where to start with jazz", "Only in the second email", "Caring for your CDs",
    ]  # fmt: skip
    assert view["categories"] == ["jazz"]
    assert view["guides"][2]["url"] == "https://cds.example/guides/cd-care"


def test_guide_links_are_absolute_or_paths_under_the_store() -> None:
    guides = [Guide(title="A", summary="a", url="guides/a"), Guide(title="B", summary="b", url="https://x.example/b")]

    assert [g.url for g in guides_at(guides, "https://shop.example/de/")] == [
        "https://shop.example/de/guides/a", "https://x.example/b",
    ]  # fmt: skip


def test_the_default_nurture_flow_has_general_guides_only() -> None:
    guides = default_flows().get("neutral_nurture").guides

    assert guides and all(g.category is None for g in guides)
    assert all(not g.url.startswith("http") for g in guides)  # the store's own pages, wherever it is


@pytest.mark.parametrize(
    ("guide", "path", "message"),
    [
        ({"url": "javascript:alert(1)"}, "guides.0.url", "must be an http(s) link or a path under the store's URL"),
        ({"url": "//evil.example/x"}, "guides.0.url", "must be an http(s) link or a path under the store's URL"),
        ({"url": "guides/two words"}, "guides.0.url", "must be an http(s) link"),
        ({"title": " "}, "guides.0.title", "must not be blank"),
        ({"category": ""}, "guides.0.category", "must not be blank"),
        ({"summary": None}, "guides.0.summary", "Input should be a valid string"),
        ({"link": "guides/a"}, "guides.0.link", "unknown setting"),
        ({"step": "later"}, "guides.0.step", "no step 'later'; it has: getting_started, how_to, inspiration"),
    ],
)
def test_a_bad_guide_is_reported_by_file_and_field(guide: dict[str, Any], path: str, message: str) -> None:
    good = {"title": "A", "summary": "a", "url": "guides/a"}
    document = Document("s1/neutral_nurture.yaml", {"guides": [{**good, **guide}]})

    with pytest.raises(InvalidFlow) as raised:
        build_flow("neutral_nurture", default_documents()["neutral_nurture"], document)

    ((source, field, said),) = raised.value.errors
    assert (source, field) == ("s1/neutral_nurture.yaml", path)
    assert message in said
