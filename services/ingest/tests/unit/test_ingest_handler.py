from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta, timezone

import pytest

from boomerang.ingest.domain.identity import republished
from boomerang.ingest.domain.limits import OverLimit
from boomerang.ingest.domain.mapping import Rules
from boomerang.ingest.domain.rejections import Rejected
from boomerang.ingest.service_layer.identity import Stitching
from boomerang.ingest.service_layer.ingest import BatchRejected, Ingest, KafkaUnavailable
from boomerang.shared.events import CustomerIdentified, IdentityLinked, PageViewed, ProductViewed

from .fakes import FakeIdentities, FakePublisher, FakeSeen

START = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def seen() -> FakeSeen:
    return FakeSeen()


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def identities() -> FakeIdentities:
    return FakeIdentities()


def make_ingest(seen, publisher, clock, identities, max_republished: int = 1000) -> Ingest:
    ids = (f"gen-{n}" for n in itertools.count())
    return Ingest(
        seen=seen,
        publisher=publisher,
        rules=Rules(),
        dedup_window=timedelta(hours=24),
        clock=clock,
        new_id=lambda: next(ids),
        retry_after_s=7,
        identity=Stitching(identities, max_republished=max_republished),
    )


@pytest.fixture
def ingest(seen, publisher, clock, identities) -> Ingest:
    return make_ingest(seen, publisher, clock, identities)


def page(message_id: str | None = None, user: str = "u1") -> dict:
    return {"userId": user, "messageId": message_id} if message_id else {"userId": user}


async def test_a_valid_call_is_published_and_its_id_remembered(ingest, publisher, seen):
    outcome = await ingest.one(page("m1"), call="page", store_id="s1")
    assert [e.id for e in publisher.published] == ["m1"]
    assert (outcome.accepted, outcome.duplicates) == (1, 0)
    assert ("s1", "m1") in seen.rows


async def test_an_invalid_call_publishes_nothing(ingest, publisher, seen):
    with pytest.raises(Rejected):
        await ingest.one({"messageId": "m1"}, call="page", store_id="s1")
    assert publisher.published == [] and seen.rows == {}


async def test_a_repeated_message_id_is_accepted_but_published_once(ingest, publisher):
    await ingest.one(page("m1"), call="page", store_id="s1")
    again = await ingest.one(page("m1"), call="page", store_id="s1")
    assert (again.accepted, again.duplicates, again.published) == (1, 1, [])
    assert len(publisher.published) == 1


async def test_the_same_message_id_in_another_store_is_not_a_duplicate(ingest, publisher):
    await ingest.one(page("m1"), call="page", store_id="s1")
    await ingest.one(page("m1"), call="page", store_id="s2")
    assert [e.store_id for e in publisher.published] == ["s1", "s2"]


async def test_after_the_window_a_message_id_is_published_again(ingest, publisher, clock):
    await ingest.one(page("m1"), call="page", store_id="s1")
    clock.now += timedelta(hours=25)
    await ingest.one(page("m1"), call="page", store_id="s1")
    assert len(publisher.published) == 2


async def test_when_kafka_fails_nothing_is_remembered_and_a_retry_publishes(ingest, publisher, seen):
    publisher.failing = True
    with pytest.raises(KafkaUnavailable) as caught:
        await ingest.one(page("m1"), call="page", store_id="s1")
    assert (caught.value.status_code, caught.value.code) == (503, "kafka_unavailable")
    assert caught.value.headers() == {"Retry-After": "7"}
    assert seen.rows == {}
    publisher.failing = False
    await ingest.one(page("m1"), call="page", store_id="s1")
    assert [e.id for e in publisher.published] == ["m1"]


async def test_a_failure_to_remember_still_answers_success(ingest, publisher, seen):
    seen.fail_remember = True
    outcome = await ingest.one(page("m1"), call="page", store_id="s1")
    assert (outcome.accepted, outcome.remembered, len(publisher.published)) == (1, False, 1)


async def test_two_identical_requests_racing_publish_once(ingest, publisher):
    publisher.gate = asyncio.Event()
    first = asyncio.create_task(ingest.one(page("m1"), call="page", store_id="s1"))
    second = asyncio.create_task(ingest.one(page("m1"), call="page", store_id="s1"))
    await asyncio.sleep(0.01)  # both are in: the first waits for Kafka, the second for the first
    publisher.gate.set()
    outcomes = await asyncio.gather(first, second)
    assert len(publisher.published) == 1
    assert sorted(o.duplicates for o in outcomes) == [0, 1]


async def test_a_request_racing_a_failed_publish_publishes_itself(ingest, publisher):
    publisher.gate, publisher.fail_next = asyncio.Event(), 1
    first = asyncio.create_task(ingest.one(page("m1"), call="page", store_id="s1"))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(ingest.one(page("m1"), call="page", store_id="s1"))
    await asyncio.sleep(0.01)
    publisher.gate.set()
    with pytest.raises(KafkaUnavailable):
        await first
    # The second waited for the first and, finding the id not recorded, published it itself.
    assert (await second).duplicates == 0
    assert [e.id for e in publisher.published] == ["m1"]


async def test_a_batch_publishes_the_valid_calls_and_reports_the_rest(ingest, publisher):
    body = {
        "batch": [
            {"type": "page", "userId": "u1", "messageId": "a"},
            {"type": "identify", "userId": "u2", "traits": {"phone": "nope"}},
            {
                "type": "track",
                "userId": "u3",
                "event": "Order Completed",
                "properties": {"order_id": "o1", "total": 5, "products": [{"product_id": "p", "price": -1}]},
            },
            "not an object",
            {"type": "page", "userId": "u1", "messageId": "a"},
        ]
    }
    outcome = await ingest.batch(body, store_id="s1", max_events=10)
    assert [e.id for e in publisher.published] == ["a"]
    assert (outcome.accepted, outcome.duplicates) == (2, 1)
    assert [(r.index, r.code, r.field) for r in outcome.rejected] == [
        (1, "invalid_phone", "batch[1].traits.phone"),
        (2, "invalid_field", "batch[2].properties.products[0].price"),
        (3, "invalid_field", "batch[3]"),
    ]


async def test_a_batch_of_only_invalid_calls_is_rejected_whole(ingest, publisher):
    with pytest.raises(BatchRejected) as caught:
        await ingest.batch({"batch": [{"type": "page"}, {"type": "page"}]}, store_id="s1", max_events=10)
    body = caught.value.body()
    assert caught.value.status_code == 400
    assert body["error"]["code"] == "missing_identity" and body["error"]["field"] == "batch[0].userId"
    assert [r["index"] for r in body["rejected"]] == [0, 1] and body["accepted"] == 0
    assert publisher.published == []


async def test_batch_context_and_sent_at_apply_to_every_call(ingest, publisher):
    body = {
        "context": {"traits": {"email": "ctx@example.com"}},
        "sentAt": "2025-03-01T12:10:00Z",
        "batch": [
            {
                "type": "track",
                "userId": "u1",
                "event": "Order Completed",
                "originalTimestamp": "2025-03-01T12:05:00Z",
                "properties": {"order_id": "o1", "total": 5},
            }
        ],
    }
    await ingest.batch(body, store_id="s1", max_events=10)
    [sent] = publisher.published
    assert sent.event().email == "ctx@example.com"
    assert sent.time == START - timedelta(minutes=5)


async def test_too_many_calls_in_a_batch_refuse_the_whole_batch(ingest, publisher):
    with pytest.raises(OverLimit) as caught:
        await ingest.batch({"batch": [page()] * 3}, store_id="s1", max_events=2)
    refused = caught.value
    assert (refused.status_code, refused.code, refused.field) == (400, "too_many_events", "batch")
    assert "more than 2 events" in refused.message
    assert publisher.published == []


@pytest.mark.parametrize(
    ("body", "code"),
    [({}, "missing_field"), ({"batch": {}}, "invalid_field"), ({"batch": []}, "empty_batch")],
)
async def test_a_batch_must_be_a_list_of_calls(ingest, body, code):
    with pytest.raises(Rejected) as caught:
        await ingest.batch(body, store_id="s1", max_events=10)
    assert (caught.value.code, caught.value.field) == (code, "batch")


# --- identity stitching -----------------------------------------------------------------------


def visit(anonymous_id: str, message_id: str) -> dict:
    return {"anonymousId": anonymous_id, "messageId": message_id, "name": "Home"}


def view(anonymous_id: str, message_id: str) -> dict:
    return {
        "anonymousId": anonymous_id,
        "messageId": message_id,
        "event": "Product Viewed",
        "properties": {"product_id": "mug"},
    }


def identify(message_id: str, user: str = "u1", anonymous_id: str = "a1") -> dict:
    return {
        "userId": user,
        "anonymousId": anonymous_id,
        "messageId": message_id,
        "traits": {"firstName": "Ada"},
    }


def sent(publisher: FakePublisher) -> list[tuple[str, str, str, str]]:
    return [(e.key, e.type, e.source, e.id) for e in publisher.published]


async def browse_anonymously(ingest) -> None:
    await ingest.one(visit("a1", "m1"), call="page", store_id="s1")
    await ingest.one(view("a1", "m2"), call="track", store_id="s1")


async def test_anonymous_events_are_kept_once_kafka_has_them(ingest, publisher, identities):
    await ingest.one(visit("a1", "m1"), call="page", store_id="s1")
    await ingest.one(page("m2", user="u1"), call="page", store_id="s1")  # a known customer: not kept
    publisher.failing = True
    with pytest.raises(KafkaUnavailable):
        await ingest.one(visit("a1", "m3"), call="page", store_id="s1")
    assert list(identities.kept_events) == [("s1", "m1")]
    assert identities.kept_events[("s1", "m1")][0] == publisher.published[0]


async def test_identify_links_the_visitor_and_publishes_their_history_under_the_user(
    ingest, publisher, identities
):
    await browse_anonymously(ingest)
    history = list(publisher.published)
    publisher.published.clear()

    await ingest.one(identify("m3"), call="identify", store_id="s1")

    linked, page_again, view_again, identified = publisher.published
    assert [e.key for e in publisher.published] == ["s1:u1"] * 4
    assert linked.event() == IdentityLinked(previous_id="anon:a1", via="identify")
    assert (page_again, view_again) == (republished(history[0], "u1"), republished(history[1], "u1"))
    assert isinstance(page_again.event(), PageViewed) and isinstance(view_again.event(), ProductViewed)
    assert (identified.id, identified.source, type(identified.event())) == (
        "m3",
        "ingest",
        CustomerIdentified,
    )
    assert identities.links == {("s1", "anon:a1"): "u1"}
    assert identities.kept_events == {}  # published under the user now; nothing left to re-key


async def test_later_anonymous_events_of_a_linked_visitor_go_to_the_user(ingest, publisher, identities):
    await ingest.one(identify("m1"), call="identify", store_id="s1")
    publisher.published.clear()
    await ingest.one(view("a1", "m2"), call="track", store_id="s1")
    assert sent(publisher) == [("s1:u1", "commerce.product.viewed", "ingest", "m2")]
    assert identities.kept_events == {}


async def test_a_link_seen_again_publishes_nothing_new(ingest, publisher):
    await browse_anonymously(ingest)
    await ingest.one(identify("m3"), call="identify", store_id="s1")
    before = len(publisher.published)
    again = await ingest.one(identify("m3"), call="identify", store_id="s1")
    assert (len(publisher.published), again.duplicates) == (before, 1)
    # A new identify call is published itself, and nothing with it.
    await ingest.one(identify("m4"), call="identify", store_id="s1")
    assert sent(publisher)[before:] == [("s1:u1", "commerce.customer.identified", "ingest", "m4")]


async def test_a_linking_identify_kafka_refused_is_retried_without_duplicates(
    ingest, publisher, identities, seen, clock
):
    await browse_anonymously(ingest)
    publisher.fail_next = 1
    with pytest.raises(KafkaUnavailable):
        await ingest.one(identify("m3"), call="identify", store_id="s1")
    assert identities.links == {} and len(identities.kept_events) == 2  # nothing recorded

    published = len(publisher.published)
    await ingest.one(identify("m3"), call="identify", store_id="s1")
    retried = sent(publisher)[published:]
    await ingest.one(identify("m3"), call="identify", store_id="s1")
    assert len(retried) == 4 and len(publisher.published) == published + 4

    # A clean run derives exactly the same ids: the retry cannot differ from a first attempt.
    clean = FakePublisher()
    other = make_ingest(FakeSeen(), clean, clock, FakeIdentities())
    await browse_anonymously(other)
    clean.published.clear()
    await other.one(identify("m3"), call="identify", store_id="s1")
    assert sent(clean) == retried


async def test_a_link_that_could_not_be_recorded_is_recorded_by_the_next_identify(
    ingest, publisher, identities
):
    await browse_anonymously(ingest)
    identities.fail_link = True
    outcome = await ingest.one(identify("m3"), call="identify", store_id="s1")
    assert (outcome.accepted, len(outcome.published), identities.links) == (1, 4, {})

    identities.fail_link = False
    published = len(publisher.published)
    await ingest.one(identify("m4"), call="identify", store_id="s1")
    # The announcement and the history had been published: their ids are duplicates now.
    assert sent(publisher)[published:] == [("s1:u1", "commerce.customer.identified", "ingest", "m4")]
    assert identities.links == {("s1", "anon:a1"): "u1"} and identities.kept_events == {}


async def test_a_batch_looks_links_up_once_and_routes_its_own_visitors(ingest, publisher, identities):
    calls = [
        {**visit("a1", "b0"), "type": "page"},
        *({**visit(f"x{i}", f"bx{i}"), "type": "page"} for i in range(50)),
        {**identify("b-identify"), "type": "identify"},
        {**view("a1", "b-later"), "type": "track"},
    ]
    outcome = await ingest.batch({"batch": calls}, store_id="s1", max_events=100)
    assert identities.lookups == 1
    keys = {e.id: e.key for e in publisher.published}
    assert (keys["b0"], keys["b-later"], keys["bx7"]) == ("s1:u1", "s1:u1", "s1:anon:x7")
    assert len(identities.kept_events) == 50  # the other visitors, not a1's (published as u1's)
    # Counts are about the shop's calls: the announcement is published but not a call.
    assert (outcome.accepted, outcome.duplicates, len(outcome.published)) == (53, 0, 54)


async def test_an_alias_links_the_previous_id_and_publishes_its_history(ingest, publisher, identities):
    await ingest.one(visit("p1", "m1"), call="page", store_id="s1")
    first_visit = publisher.published[0]
    publisher.published.clear()
    alias = {"previousId": "p1", "userId": "u1", "messageId": "m-alias"}
    await ingest.one(alias, call="alias", store_id="s1")
    assert sent(publisher) == [
        ("s1:u1", "commerce.page.viewed", "ingest.identity", republished(first_visit, "u1").id),
        ("s1:u1", "commerce.identity.linked", "ingest", "m-alias"),  # the call itself, announced once
    ]
    assert identities.links == {("s1", "anon:p1"): "u1", ("s1", "p1"): "u1"}


async def test_the_first_link_of_a_visitor_wins(ingest, publisher):
    await ingest.one(identify("m1", user="u1"), call="identify", store_id="s1")
    published = len(publisher.published)
    await ingest.one(identify("m2", user="u2"), call="identify", store_id="s1")
    await ingest.one(visit("a1", "m3"), call="page", store_id="s1")
    assert sent(publisher)[published:] == [
        ("s1:u2", "commerce.customer.identified", "ingest", "m2"),
        ("s1:u1", "commerce.page.viewed", "ingest", "m3"),
    ]


async def test_republishing_takes_the_newest_events_of_a_visitor(seen, publisher, clock, identities):
    bounded = make_ingest(seen, publisher, clock, identities, max_republished=2)
    for n in range(3):
        clock.now = START + timedelta(minutes=n)
        await bounded.one(visit("a1", f"m{n}"), call="page", store_id="s1")
    history = list(publisher.published)
    publisher.published.clear()
    await bounded.one(identify("m-identify"), call="identify", store_id="s1")
    assert [e.id for e in publisher.published[1:3]] == [republished(e, "u1").id for e in history[1:]]


async def test_links_are_per_store(ingest, publisher):
    await ingest.one(identify("m1"), call="identify", store_id="s1")
    await ingest.one(visit("a1", "m2"), call="page", store_id="s2")
    assert publisher.published[-1].key == "s2:anon:a1"
