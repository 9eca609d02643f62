"""Events whose publish timed out but may still land: never published twice from this process."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta, timezone

import pytest

from boomerang.ingest.domain.mapping import Rules
from boomerang.ingest.service_layer.claims import Claims
from boomerang.ingest.service_layer.in_doubt import InDoubt
from boomerang.ingest.service_layer.ingest import Ingest, KafkaUnavailable
from boomerang.shared.events import Envelope
from boomerang.shared.kafka import PublishFailed, Sent

from .fakes import FakeSeen

NOW = datetime(2025, 3, 1, 12, tzinfo=timezone.utc)


class SlowKafka:
    """A producer whose acks the test hands out: `timing_out` publishes keep their records
    pending (as aiokafka does after a timeout) and raise PublishFailed with them."""

    def __init__(self) -> None:
        self.timing_out = False
        self.published: list[Envelope] = []  # what Kafka has (acked)
        self.pending: list[tuple[Envelope, asyncio.Future[None]]] = []

    async def publish(self, envelopes: list[Envelope]) -> None:
        if not self.timing_out:
            self.published.extend(envelopes)
            return
        loop = asyncio.get_running_loop()
        acks = [loop.create_future() for _ in envelopes]
        self.pending += zip(envelopes, acks)
        raise PublishFailed("timed out", sent=tuple(Sent(i, ack) for i, ack in enumerate(acks)))

    def ack_all(self) -> None:
        for envelope, ack in self.pending:
            self.published.append(envelope)
            ack.set_result(None)
        self.pending = []

    def give_up_all(self) -> None:
        for _, ack in self.pending:
            ack.set_exception(RuntimeError("producer gave up"))
        self.pending = []


@pytest.fixture
def kafka() -> SlowKafka:
    return SlowKafka()


@pytest.fixture
def seen() -> FakeSeen:
    return FakeSeen()


@pytest.fixture
def claims() -> Claims:
    return Claims()  # one set, shared by Ingest and InDoubt as bootstrap wires them


@pytest.fixture
def in_doubt(kafka, seen, claims) -> InDoubt:
    return InDoubt(kafka, seen=seen, claims=claims, clock=lambda: NOW)


@pytest.fixture
def ingest(in_doubt, seen, claims) -> Ingest:
    ids = (f"gen-{n}" for n in itertools.count())
    return Ingest(
        seen=seen,
        publisher=in_doubt,
        rules=Rules(),
        dedup_window=timedelta(hours=24),
        clock=lambda: NOW,
        new_id=lambda: next(ids),
        claims=claims,
    )


def page(message_id: str) -> dict:
    return {"userId": "u1", "messageId": message_id}


async def settled(in_doubt: InDoubt) -> None:
    async with asyncio.timeout(1):
        while len(in_doubt):
            await asyncio.sleep(0)


async def test_a_retry_while_in_doubt_is_refused_without_publishing(ingest, kafka, in_doubt):
    kafka.timing_out = True
    with pytest.raises(KafkaUnavailable):
        await ingest.one(page("m1"), call="page", store_id="s1")
    assert len(in_doubt) == 1
    kafka.timing_out = False
    with pytest.raises(KafkaUnavailable):
        await ingest.one(page("m1"), call="page", store_id="s1")
    # A batch carrying the doubtful id is refused whole; other ids and stores are not held up.
    with pytest.raises(KafkaUnavailable):
        await ingest.batch({"batch": [{"type": "page", **page("m2")}, {"type": "page", **page("m1")}]},
                           store_id="s1", max_events=10)
    await ingest.one(page("m1"), call="page", store_id="s2")
    assert [(e.store_id, e.id) for e in kafka.published] == [("s2", "m1")]


async def test_a_late_ack_makes_the_retry_a_duplicate(ingest, kafka, in_doubt, seen):
    kafka.timing_out = True
    with pytest.raises(KafkaUnavailable):
        await ingest.one(page("m1"), call="page", store_id="s1")
    kafka.timing_out = False
    kafka.ack_all()
    await settled(in_doubt)
    assert ("s1", "m1") in seen.rows
    retry = await ingest.one(page("m1"), call="page", store_id="s1")
    assert (retry.duplicates, retry.published) == (1, [])
    assert [e.id for e in kafka.published] == ["m1"]


async def test_given_up_events_are_released_and_a_retry_publishes(ingest, kafka, in_doubt, seen):
    kafka.timing_out = True
    with pytest.raises(KafkaUnavailable):
        await ingest.one(page("m1"), call="page", store_id="s1")
    kafka.timing_out = False
    kafka.give_up_all()
    await settled(in_doubt)
    assert seen.rows == {}
    retry = await ingest.one(page("m1"), call="page", store_id="s1")
    assert [e.id for e in retry.published] == ["m1"]


async def test_a_retry_racing_the_late_ack_never_publishes_a_second_copy(ingest, kafka, in_doubt):
    kafka.timing_out = True
    with pytest.raises(KafkaUnavailable):
        await ingest.one(page("m1"), call="page", store_id="s1")
    kafka.timing_out = False
    retries = [asyncio.create_task(ingest.one(page("m1"), call="page", store_id="s1")) for _ in range(5)]
    kafka.ack_all()  # settling and the retries now compete for the same claim
    answers = await asyncio.gather(*retries, return_exceptions=True)
    retry = await ingest.one(page("m1"), call="page", store_id="s1")
    assert [e.id for e in kafka.published] == ["m1"]
    assert all(isinstance(a, KafkaUnavailable) or a.duplicates == 1 for a in answers)
    assert retry.duplicates == 1


class HalfTaken(SlowKafka):
    """Times out while handing over the second record: only the first was taken."""

    async def publish(self, envelopes: list[Envelope]) -> None:
        if not self.timing_out:
            return await super().publish(envelopes)
        ack = asyncio.get_running_loop().create_future()
        self.pending.append((envelopes[0], ack))
        raise PublishFailed("timed out while sending the second", sent=(Sent(0, ack),))


async def test_only_records_the_producer_took_are_in_doubt(seen):
    kafka = HalfTaken()
    guard = InDoubt(kafka, seen=seen, claims=Claims(), clock=lambda: NOW)
    first, second = (Envelope.model_validate(_envelope(i)) for i in ("a", "b"))
    kafka.timing_out = True
    with pytest.raises(PublishFailed):
        await guard.publish([first, second])
    assert len(guard) == 1
    kafka.timing_out = False
    with pytest.raises(PublishFailed):
        await guard.publish([first])
    await guard.publish([second])  # never handed over, so it may go again at once
    assert [e.id for e in kafka.published] == ["b"]


async def test_settle_at_shutdown_is_bounded_and_reports_what_stayed_in_doubt(ingest, kafka, in_doubt):
    kafka.timing_out = True
    with pytest.raises(KafkaUnavailable):
        await ingest.one(page("m1"), call="page", store_id="s1")
    async with asyncio.timeout(2):
        assert await in_doubt.settle(timeout_s=0.05) == 1
    assert len(in_doubt) == 0


def _envelope(message_id: str) -> dict:
    return {
        "id": message_id,
        "type": "commerce.page.viewed",
        "source": "ingest",
        "time": NOW.isoformat(),
        "store_id": "s1",
        "customer_id": "u1",
        "schema_version": 1,
        "data": {},
    }
