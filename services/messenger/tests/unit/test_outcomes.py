"""Outcomes published in one turn of the event loop go to Kafka as one publish."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from boomerang.messenger.adapters.outcomes import KafkaOutcomes
from boomerang.shared.events import CustomerIdentified, Envelope
from boomerang.shared.kafka import MESSAGE_EVENTS, PublishFailed

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def outcome(n: int) -> Envelope:
    return Envelope.wrap(CustomerIdentified(email=f"c{n}@example.com"), store_id="s1", customer_id=f"c{n}",
                         source="test", time=NOW)


class RecordingPublisher:
    """The publisher's side the outcomes use: each call recorded, acknowledged after a wait."""

    def __init__(self, fails: bool = False) -> None:
        self.calls: list[tuple[str, list[Envelope]]] = []
        self._fails = fails

    async def publish_many(self, topic: str, envelopes: list[Envelope]) -> None:
        self.calls.append((topic, envelopes))
        await asyncio.sleep(0.01)  # the wait for Kafka's acks
        if self._fails:
            raise PublishFailed("kafka did not acknowledge", sent=())


async def test_outcomes_published_side_by_side_go_out_as_one_publish() -> None:
    publisher = RecordingPublisher()
    outcomes = KafkaOutcomes(publisher)
    batches = [[outcome(1), outcome(2)], [outcome(3)], [outcome(4)]]
    await asyncio.gather(*(outcomes.publish(batch) for batch in batches))
    await outcomes.publish([outcome(5)])  # a later turn: a publish of its own
    assert [(topic, [e.customer_id for e in envelopes]) for topic, envelopes in publisher.calls] == [
        (MESSAGE_EVENTS.name, ["c1", "c2", "c3", "c4"]),
        (MESSAGE_EVENTS.name, ["c5"]),
    ]


async def test_when_kafka_does_not_acknowledge_every_caller_of_the_publish_fails() -> None:
    outcomes = KafkaOutcomes(RecordingPublisher(fails=True))
    results = await asyncio.gather(outcomes.publish([outcome(1)]), outcomes.publish([outcome(2)]),
                                   return_exceptions=True)
    assert [type(r) for r in results] == [PublishFailed, PublishFailed]


async def test_a_cancelled_caller_does_not_stop_the_others_outcomes() -> None:
    publisher = RecordingPublisher()
    outcomes = KafkaOutcomes(publisher)
    first = asyncio.ensure_future(outcomes.publish([outcome(1)]))
    second = asyncio.ensure_future(outcomes.publish([outcome(2)]))
    await asyncio.sleep(0)
    first.cancel()
    await second
    with pytest.raises(asyncio.CancelledError):
        await first
    assert [e.customer_id for e in publisher.calls[0][1]] == ["c1", "c2"]
