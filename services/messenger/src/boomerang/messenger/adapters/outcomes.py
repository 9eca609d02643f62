"""Outcomes to `message.events.v1`, keyed store:customer like every topic.

A consumer batch's triggers publish their outcomes side by side; those published in one turn of
the event loop go to Kafka as one `publish_many` (one wait for the acks), which costs a fraction
of a call per trigger. Each caller returns once Kafka has acknowledged the lot, or fails with it.
"""

from __future__ import annotations

import asyncio

from boomerang.shared.events import Envelope
from boomerang.shared.kafka import MESSAGE_EVENTS, EventPublisher


class KafkaOutcomes:
    def __init__(self, publisher: EventPublisher) -> None:
        self._publisher = publisher
        self._waiting: list[tuple[list[Envelope], asyncio.Future[None]]] = []
        self._sending: set[asyncio.Future[None]] = set()  # asyncio keeps only weak references

    async def publish(self, envelopes: list[Envelope]) -> None:
        loop = asyncio.get_running_loop()
        acked: asyncio.Future[None] = loop.create_future()
        self._waiting.append((envelopes, acked))
        if len(self._waiting) == 1:
            loop.call_soon(self._publish_waiting)  # after the tasks already scheduled this turn
        await acked

    def _publish_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        together = [envelope for envelopes, _ in waiting for envelope in envelopes]
        sending = asyncio.ensure_future(self._publisher.publish_many(MESSAGE_EVENTS.name, together))
        self._sending.add(sending)
        sending.add_done_callback(self._sending.discard)
        sending.add_done_callback(lambda done: _settle(done, waiting))


def _settle(sending: asyncio.Future[None], waiting: list[tuple[list[Envelope], asyncio.Future[None]]]) -> None:
    error = None if sending.cancelled() else sending.exception()
    for _, acked in waiting:
        if acked.done():  # its caller was cancelled meanwhile; its outcomes went out all the same
            continue
        if sending.cancelled():
            acked.cancel()
        elif error is not None:
            acked.set_exception(error)
        else:
            acked.set_result(None)
