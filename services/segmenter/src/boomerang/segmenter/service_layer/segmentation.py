"""Segmenting one commerce event: parse, apply to the customer's state, publish, remember.

Delivery guarantees, and why the SegmentChanged ids are deterministic
--------------------------------------------------------------------
faust processes `commerce.events.v1` at least once. For each message the agent calls
`Segmentation.handle`, which in this order

1. publishes the transitions to `customer.segments.v1` and waits for Kafka's ack,
2. writes the new state to the table: the local store (RocksDB) at once, and a record
   to the table's changelog topic through faust's buffered producer,

and only then does faust mark the message done. Every `commit_interval_s` faust flushes
its producer (changelog records included) and then commits the source offsets. None of
this is one transaction, so a crash (kill -9, lost node, partition moved to another
worker) can land between any two steps. On restart the table is restored from the
local store and the changelog, and every message after the last committed offset is
delivered again:

- crash before step 1's ack: nothing happened as far as anyone knows; redo it all.
- crash after step 1, before the state reached the changelog (or the local store, when
  the partition moved): the redelivered message finds the customer not yet in the
  segment and publishes the transition *again*.
- crash after step 2: the redelivered message's envelope id is in the state's recent
  ids; nothing is published twice.

Publishing before saving is what makes the second case a duplicate rather than the
worse opposite, a saved state whose transition was never published (state first, then a
crash, then a redelivery that is skipped: the transition lost for good).

The duplicates of the second case are harmless because the SegmentChanged envelope id
is a uuid5 of the customer key, the target segment and the id of the event that caused
the change: the re-emission carries the same id as the first emission, and consumers
de-duplicate on envelope ids. A random id would make the copy look like a new change.

A redelivered duplicate still writes the state again: if the worker crashed after its
local store had the state but before the changelog did, this puts it in the changelog,
so the partition's next owner does not restore a state that lacks the event.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from boomerang.segmenter import metrics
from boomerang.segmenter.domain import CustomerState, SegmentPolicy, SegmentTransition, apply
from boomerang.segmenter.service_layer.ports import CustomerStates, SegmentEvents, SourceRecord
from boomerang.shared.events import Envelope, SegmentChanged
from boomerang.shared.logs import get_logger

SOURCE = "boomerang-segmenter"
# Fixed forever: changing it changes every SegmentChanged id and defeats de-duplication.
SEGMENT_CHANGED_NAMESPACE = uuid.UUID("6f3c1b7e-2d4a-5e8f-9a1b-3c5d7e9f1a2b")

log = get_logger(__name__)


class Rejected(Exception):
    """The message cannot be segmented; it goes to the dead-letter topic."""

    def __init__(self, reason: str, error: str) -> None:
        super().__init__(error)
        self.reason = reason
        self.error = error


class Segmentation:
    def __init__(
        self,
        *,
        states: CustomerStates,
        events: SegmentEvents,
        policy: SegmentPolicy,
        clock: Callable[[], datetime],
        retry_max_s: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._states = states
        self._events = events
        self._policy = policy
        self._clock = clock
        self._retry_max_s = retry_max_s
        self._sleep = sleep

    async def handle(self, record: SourceRecord) -> list[SegmentTransition]:
        """Process one source message; never raises for a bad message (it is dead-lettered)."""
        started = time.perf_counter()
        try:
            envelope, state = self._parse(record)
            new_state, transitions = apply(state, envelope, self._clock(), self._policy)
        except Rejected as rejected:
            await self._dead_letter(record, rejected.reason, rejected.error)
            return []
        except ValueError as exc:  # pydantic ValidationError and UnknownEventType are ValueErrors
            await self._dead_letter(record, "invalid_event", f"invalid event: {exc}")
            return []
        except Exception as exc:  # noqa: BLE001 - a bug for one message must not stop the partition
            log.exception("segmentation_failed", offset=record.offset, partition=record.partition)
            await self._dead_letter(record, "processing_error", f"processing failed: {exc!r}")
            return []
        if new_state is state:
            metrics.DUPLICATES.inc()
            self._states.put(envelope.key, state)
            return []
        changes = [segment_changed(envelope.key, t, new_state) for t in transitions]
        await self._until_acknowledged(lambda: self._events.publish(changes))
        self._states.put(envelope.key, new_state)
        metrics.EVENTS_PROCESSED.labels(envelope.type).inc()
        for transition in transitions:
            metrics.TRANSITIONS.labels(transition.to_segment).inc()
            log.info(
                "segment_changed",
                store_id=new_state.store_id,
                customer_id=new_state.customer_id,
                to_segment=transition.to_segment,
                trigger_event_id=transition.trigger_event_id,
            )
        metrics.PROCESS_SECONDS.observe(time.perf_counter() - started)
        return transitions

    def _parse(self, record: SourceRecord) -> tuple[Envelope, CustomerState]:
        try:
            envelope = Envelope.from_bytes(record.value or b"")
        except ValueError as exc:
            raise Rejected("unparseable", f"unparseable envelope: {exc}") from exc
        if record.key is not None and record.key != envelope.key.encode():
            # The table is co-partitioned with the source by key; a message keyed otherwise
            # sits on another customer's partition and would split their state.
            raise Rejected("key_mismatch", f"message key {record.key!r} is not the envelope's {envelope.key!r}")
        state = self._states.get(envelope.key) or CustomerState(envelope.store_id, envelope.customer_id)
        return envelope, state

    async def _dead_letter(self, record: SourceRecord, reason: str, error: str) -> None:
        # Only the first line: pydantic goes on to quote the input, which may hold emails.
        summary = error.splitlines()[0][:200] if error else ""
        log.error("dead_lettered", reason=reason, offset=record.offset, partition=record.partition, error=summary)
        await self._until_acknowledged(lambda: self._events.dead_letter(record, reason, error))
        metrics.DEAD_LETTERED.labels(reason).inc()

    async def _until_acknowledged(self, publish: Callable[[], Awaitable[None]]) -> None:
        # Giving up would lose the message (faust acks it once the agent moves on), so a
        # Kafka outage stalls the partition instead; consumer lag shows it.
        delay = 0.1
        while True:
            try:
                await publish()
                return
            except Exception as exc:  # noqa: BLE001 - every publish failure is retried
                metrics.PUBLISH_RETRIES.inc()
                log.warning("publish_failed", error=repr(exc), retry_in_s=delay)
                await self._sleep(delay)
                delay = min(delay * 2, self._retry_max_s)


def segment_changed(key: str, transition: SegmentTransition, state: CustomerState) -> Envelope:
    event = SegmentChanged(
        from_segment=transition.from_segment,
        to_segment=transition.to_segment,
        reason=transition.reason,
        changed_at=transition.changed_at,
        orders=transition.orders,
        revenue=transition.revenue,
    )
    return Envelope.wrap(
        event,
        store_id=state.store_id,
        customer_id=state.customer_id,
        source=SOURCE,
        time=transition.changed_at,
        id=segment_changed_id(key, transition.to_segment, transition.trigger_event_id),
    )


def segment_changed_id(key: str, to_segment: str, trigger_event_id: str) -> str:
    return str(uuid.uuid5(SEGMENT_CHANGED_NAMESPACE, f"{key}\n{to_segment}\n{trigger_event_id}"))
