from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta, timezone

import pytest

from boomerang.ingest.domain.mapping import Rules
from boomerang.ingest.domain.rejections import Rejected
from boomerang.ingest.service_layer.ingest import BatchRejected, Ingest, KafkaUnavailable
from boomerang.shared.errors import PayloadTooLarge

from .fakes import FakePublisher, FakeSeen

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
def ingest(seen, publisher, clock) -> Ingest:
    ids = (f"gen-{n}" for n in itertools.count())
    return Ingest(
        seen=seen,
        publisher=publisher,
        rules=Rules(),
        dedup_window=timedelta(hours=24),
        clock=clock,
        new_id=lambda: next(ids),
        retry_after_s=7,
    )


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


async def test_too_many_calls_in_a_batch_is_too_large(ingest):
    with pytest.raises(PayloadTooLarge) as caught:
        await ingest.batch({"batch": [page()] * 3}, store_id="s1", max_events=2)
    assert (caught.value.status_code, caught.value.field) == (413, "batch")


@pytest.mark.parametrize(
    ("body", "code"),
    [({}, "missing_field"), ({"batch": {}}, "invalid_field"), ({"batch": []}, "empty_batch")],
)
async def test_a_batch_must_be_a_list_of_calls(ingest, body, code):
    with pytest.raises(Rejected) as caught:
        await ingest.batch(body, store_id="s1", max_events=10)
    assert (caught.value.code, caught.value.field) == (code, "batch")
