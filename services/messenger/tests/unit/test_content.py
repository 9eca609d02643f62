"""What messages show: UTM-tagged links, guides by category, the inputs each flow needs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from boomerang.messenger.domain.content import (
    Formats,
    Guide,
    MessageInputs,
    Milestone,
    flow_view,
    pick_guides,
    tag_link,
)
from boomerang.messenger.domain.samples import sample_inputs
from boomerang.shared.events import CheckoutStarted

NOW = datetime(2025, 3, 14, 9, tzinfo=UTC)


def test_links_are_tagged_and_the_shops_own_tags_win() -> None:
    tagged = tag_link("https://s.example/p/1?color=red&utm_source=newsletter#reviews", "sms", "win_back", "we_miss_you")

    assert tagged == (
        "https://s.example/p/1?color=red&utm_source=newsletter&utm_medium=sms"
        "&utm_campaign=win_back&utm_content=we_miss_you#reviews"
    )


def guide(title: str, category: str | None = None, step: str | None = None) -> Guide:
    url = f"https://s.example/{title.replace(' ', '-')}"  # a link has no blanks
    return Guide(title=title, summary="...", url=url, category=category, step=step)


def test_guides_of_the_customers_categories_come_first_then_general_ones() -> None:
    catalogue = [
        guide("general"),
        guide("tea", "Tea"),
        guide("coffee", "coffee"),
        guide("shoes", "shoes"),
        guide("coffee later", "coffee", step="inspiration"),
    ]

    picked = [g.title for g in pick_guides(catalogue, ["coffee", "tea"], "getting_started")]

    assert picked == ["coffee", "tea", "general"]  # never another category; not another step's
    assert [g.title for g in pick_guides(catalogue, [], "inspiration")] == ["general"]
    assert len(pick_guides(catalogue * 3, ["coffee", "tea"], "x")) == 3


def test_each_default_flow_says_what_it_cannot_do_without() -> None:
    assert MessageInputs().missing_for("receipt") == ["order"]
    assert MessageInputs().missing_for("broadcast") == ["campaign"]
    assert MessageInputs().missing_for("win_back") == []
    assert sample_inputs(NOW).missing_for("purchase_anniversary") == []


def test_a_checkout_event_becomes_the_checkout_input() -> None:
    checkout = CheckoutStarted(checkout_id="chk-1", started_at=NOW)

    assert MessageInputs.from_event(checkout) == MessageInputs(checkout=checkout)
    assert MessageInputs.from_event(None) == MessageInputs()


def test_the_view_formats_in_the_customers_locale_and_zone_and_has_every_key() -> None:
    inputs = MessageInputs(
        milestone=Milestone(spent="500", currency="EUR"), first_order_on=date(2022, 3, 14), last_ordered_on=date(2025, 2, 1)
    )

    view = flow_view(inputs, Formats("de_DE", "Europe/Berlin"), "gift", NOW)

    assert view["milestone"] == {"orders": None, "spent": "500,00\u00a0€"}
    assert view["anniversary"] == {"years": 3, "first_order_on": "14. März 2022"}
    assert view["last_ordered_on"] == "1. Februar 2025"
    assert view["order"] is None and view["recommendations"] == [] and view["campaign"] is None


def test_an_unknown_time_zone_formats_in_utc() -> None:
    assert Formats("en_US", "Mars/Olympus").moment(NOW) == "Mar 14, 2025, 9:00:00\u202fAM"


def test_a_moment_shows_the_second_in_the_customers_zone_whatever_zone_it_came_in() -> None:
    berlin = Formats("de_DE", "Europe/Berlin")
    tokyo_noon = datetime(2025, 3, 14, 12, 0, 5, 999_999, tzinfo=ZoneInfo("Asia/Tokyo"))

    assert berlin.moment(tokyo_noon) == "14.03.2025, 04:00:05"
    assert berlin.moment(tokyo_noon.astimezone(UTC).replace(microsecond=0)) == "14.03.2025, 04:00:05"
    assert Formats("en_US", "America/New_York").moment(tokyo_noon) == "Mar 13, 2025, 11:00:05\u202fPM"
    assert berlin.day(tokyo_noon) == "14. März 2025" and Formats("en_US", "America/New_York").day(tokyo_noon) == (
        "March 13, 2025"
    )
