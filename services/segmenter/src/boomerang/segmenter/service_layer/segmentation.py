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

Changes time alone made (found by the sweep, or by the customer's next event before it is
applied) are named instead by the customer key, the dimension, the target segment and the
instant the change took effect: whoever finds one first, and any re-run, publishes the same id.
The sweep itself is idempotent: `advance` never goes back in time, so a tick redelivered, or
one older than the customer's last evaluation, changes nothing. The scores published to
`customer.scores.v1` follow the same order (published, then saved), with ids from the model
and the time scored.

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
from boomerang.segmenter.domain import CustomerState, SegmentPolicy, SegmentTransition
from boomerang.segmenter.domain.lifecycle import StandingOf, Stepped, step, sweep
from boomerang.segmenter.domain.policy import LifecyclePolicy
from boomerang.segmenter.domain.scorecard import ScoreCard
from boomerang.segmenter.domain.snapshots import TransitionRecord, customer_snapshot
from boomerang.segmenter.domain.stages import Standing
from boomerang.segmenter.service_layer.ports import CustomerStates, DueTimes, SegmentEvents, SourceRecord
from boomerang.segmenter.service_layer.snapshots import Snapshots
from boomerang.shared.events import CustomerScored, Envelope, SegmentChanged
from boomerang.shared.logs import get_logger

SOURCE = "boomerang-segmenter"
# Fixed forever: changing it changes every SegmentChanged id and defeats de-duplication.
SEGMENT_CHANGED_NAMESPACE = uuid.UUID("6f3c1b7e-2d4a-5e8f-9a1b-3c5d7e9f1a2b")

log = get_logger(__name__)

# The store's current model applied to a customer at a time; None: no model yet, or no order.
Scorer = Callable[[CustomerState, datetime], ScoreCard | None]


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
        lifecycle_policies: Callable[[str], LifecyclePolicy],
        clock: Callable[[], datetime],
        due: DueTimes | None = None,
        scorer: Scorer | None = None,
        retry_max_s: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        snapshots: Snapshots | None = None,
    ) -> None:
        self._states = states
        self._events = events
        self._policy = policy
        self._lifecycle_policies = lifecycle_policies
        self._due = due
        self._scorer = scorer
        self._clock = clock
        self._retry_max_s = retry_max_s
        self._sleep = sleep
        self._snapshots = snapshots

    async def handle(self, record: SourceRecord) -> list[SegmentTransition]:
        """Process one source message; never raises for a bad message (it is dead-lettered)."""
        started = time.perf_counter()
        try:
            envelope, state = self._parse(record)
            policy = self._lifecycle_policies(envelope.store_id)
            stepped = step(state, envelope, self._clock(), self._policy, policy, *self._standing())
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
        if stepped.state is state:
            metrics.DUPLICATES.inc()
            self._states.put(envelope.key, state)
            return []
        await self._save(envelope.key, stepped)
        metrics.EVENTS_PROCESSED.labels(envelope.type).inc()
        metrics.PROCESS_SECONDS.observe(time.perf_counter() - started)
        return stepped.transitions

    async def sweep(self, key: str, now: datetime) -> list[SegmentTransition]:
        """Brings one customer's segments up to `now` with no event (the timer found them due).
        Idempotent: a second sweep at the same or an earlier `now` changes nothing."""
        state = self._states.get(key)
        if state is None:
            return []
        policy = self._lifecycle_policies(state.store_id)
        stepped = sweep(state, now, policy, *self._standing())
        if not stepped.transitions and stepped.state.evaluated_at == state.evaluated_at:
            return []
        await self._save(key, stepped)
        metrics.SWEPT.inc()
        return stepped.transitions

    def _standing(self) -> tuple[StandingOf, ...]:
        scorer = self._scorer
        if scorer is None:
            return ()

        def standing_of(state: CustomerState, at: datetime) -> Standing | None:
            card = scorer(state, at)
            return None if card is None else card.standing

        return (standing_of,)

    async def _save(self, key: str, stepped: Stepped) -> None:
        """Publish (and wait for the ack), then write the state and its due time."""
        new_state, transitions = stepped.state, stepped.transitions
        changes = [segment_changed(key, t, new_state) for t in transitions]
        if changes:
            await self._until_acknowledged(lambda: self._events.publish(changes))
        card = None
        if self._scorer is not None and new_state.evaluated_at is not None:
            card = self._scorer(new_state, new_state.evaluated_at)
        scored: list[Envelope] = []
        if card is not None:
            scored = [customer_scored(key, new_state, card)]
            await self._until_acknowledged(lambda: self._events.publish_scores(scored))
        self._states.put(key, new_state)
        if self._due is not None:
            self._due.put(key, stepped.due_at)
        if self._snapshots is not None:
            # In memory only: a thread writes the snapshot store (service_layer.snapshots).
            scores = scored[0].event().model_dump(mode="json") if scored else None
            self._snapshots.record(
                customer_snapshot(new_state, scores, self._clock()),
                [transition_record(change, t) for change, t in zip(changes, transitions)],
            )
        for transition in transitions:
            metrics.TRANSITIONS.labels(transition.to_segment).inc()
            log.info(
                "segment_changed",
                store_id=new_state.store_id,
                customer_id=new_state.customer_id,
                to_segment=transition.to_segment,
                trigger_event_id=transition.trigger_event_id or None,
                changed_at=transition.changed_at.isoformat(),
            )

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
        dimension=transition.dimension,
        detail=transition.detail,
    )
    return Envelope.wrap(
        event,
        store_id=state.store_id,
        customer_id=state.customer_id,
        source=SOURCE,
        time=transition.changed_at,
        id=(
            segment_changed_id(key, transition.to_segment, transition.trigger_event_id)
            if transition.trigger_event_id
            else segment_elapsed_id(key, transition.dimension, transition.to_segment, transition.changed_at)
        ),
    )


def transition_record(change: Envelope, transition: SegmentTransition) -> TransitionRecord:
    return TransitionRecord(
        id=change.id,
        store_id=change.store_id,
        customer_id=change.customer_id,
        dimension=transition.dimension,
        from_segment=transition.from_segment,
        to_segment=transition.to_segment,
        reason=transition.reason,
        detail=transition.detail,
        changed_at=transition.changed_at,
    )


def segment_changed_id(key: str, to_segment: str, trigger_event_id: str) -> str:
    return str(uuid.uuid5(SEGMENT_CHANGED_NAMESPACE, f"{key}\n{to_segment}\n{trigger_event_id}"))


def segment_elapsed_id(key: str, dimension: str, to_segment: str, at: datetime) -> str:
    """A change time alone made (found by the sweep, or by the next event before applying it):
    named by the instant it took effect, so whoever finds it first, and every re-run, publish
    the same id."""
    return str(uuid.uuid5(SEGMENT_CHANGED_NAMESPACE, f"{key}\n{dimension}\n{to_segment}\n{at.isoformat()}"))


def customer_scored(key: str, state: CustomerState, card: ScoreCard) -> Envelope:
    """The customer's scores for `customer.scores.v1`; the id names the model and the time, so
    re-scoring the same state with the same model re-publishes the same id."""
    sc = card.scores
    event = CustomerScored(
        model_id=card.model_id,
        scored_at=card.at,
        orders=state.orders,
        net_revenue=state.net_revenue,
        recency_score=sc.recency_score,
        frequency_score=sc.frequency_score,
        monetary_score=sc.monetary_score,
        historic_clv=sc.historic_clv,
        p_alive=sc.p_alive,
        expected_orders_90d=sc.expected_orders_90d,
        expected_orders_365d=sc.expected_orders_365d,
        expected_spend=sc.expected_spend,
        predicted_clv_365d=sc.predicted_clv_365d,
        clv_percentile=card.clv_percentile,
        lapse_score=sc.lapse_score,
        lapse_horizon_days=sc.lapse_horizon_days,
        next_order_at=card.next_order_at,
    )
    return Envelope.wrap(
        event,
        store_id=state.store_id,
        customer_id=state.customer_id,
        source=SOURCE,
        time=card.at,
        id=str(uuid.uuid5(SEGMENT_CHANGED_NAMESPACE, f"{key}\nscored\n{card.model_id}\n{card.at.isoformat()}")),
    )
