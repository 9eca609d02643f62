"""Segmenting commerce events in batches: parse, apply to each customer's state, publish, remember.

Delivery guarantees, and why the SegmentChanged ids are deterministic
--------------------------------------------------------------------
faust processes `commerce.events.v1` at least once, a batch at a time: the agent takes up to
`batch_max_events` messages (`stream.take_events`, waiting at most `batch_within_s` for a
full batch) and calls `Segmentation.handle_batch`, which in this order

1. steps every message of the batch against the customers' states, in offset order, in
   memory (a customer with two messages in the batch gets the second applied to the state
   the first made); a message that cannot be segmented is set aside for the dead-letter topic.
   Before stepping, the batch parses every message once and scores, in one vectorised pass,
   each (orders, time) its steps will ask about (`BulkScorer`): the steps then only look up,
2. sends everything the batch produced - the transitions to `customer.segments.v1`, each
   customer's latest scores to `customer.scores.v1`, the dead letters - and waits for
   Kafka's acks of all of them at once; any failure sends the whole batch's outputs again
   (their ids are deterministic, so a second copy is a duplicate, not a new fact),
3. writes each customer's new state and due time to the tables: the local store (RocksDB)
   at once, and a record to each table's changelog topic through faust's buffered producer,

and only when `handle_batch` returns does faust ack the batch's messages: take_events acks
them when the agent asks for the next batch. Every `commit_interval_s` faust flushes its
producer (changelog records included) and then commits the acked offsets, so no offset of a
batch is committed before its states are written. The one way faust would ack a batch that
was not written - take_events acks it when its generator is closed, and an exception out of
the agent closes it - is closed by the agent: after an unexpected error it runs the batch
again, as a redelivery would, and if that keeps failing it ends the process before any commit,
so the batch is delivered again from the last commit (entrypoints.faust_app.whole_batch_or_exit).

None of this is one transaction, so a crash (kill -9, lost node, partition moved to another
worker) can land between any two steps. On restart the table is restored from the local
store and the changelog, and every message after the last committed offset is delivered
again:

- crash before step 2's acks: nothing happened as far as anyone knows; redo it all.
- crash after step 2, before the states reached the changelog (or the local store, when
  the partition moved): the redelivered messages find the customers not yet in their
  segments and publish the transitions *again*.
- crash after step 3: each redelivered message's envelope id is in its customer's recent
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
one older than the customer's last evaluation, changes nothing. Its ticks are batched the
same way (`sweep_batch`). The scores published to `customer.scores.v1` follow the same order
(published, then saved), with ids from the model and the time scored; that topic is compacted
by customer, so a batch publishes only each customer's latest scores.

A redelivered duplicate still writes the state again: if the worker crashed after its
local store had the state but before the changelog did, this puts it in the changelog,
so the partition's next owner does not restore a state that lacks the event.

The event agent and the sweep agent write the same tables, so their batches run one at a
time (a lock): otherwise one could save an older state over the other's newer one.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from boomerang.segmenter import metrics
from boomerang.segmenter.domain import CustomerState, SegmentPolicy, SegmentTransition
from boomerang.segmenter.domain.facts import feedback_ignored, is_engagement, occurred_at
from boomerang.segmenter.domain.lifecycle import StandingOf, Stepped, standings_asked, step, sweep, swept_at
from boomerang.segmenter.domain.policy import LifecyclePolicy
from boomerang.segmenter.domain.scorecard import ScoreCard, card_key
from boomerang.segmenter.domain.snapshots import TransitionRecord, customer_snapshot
from boomerang.segmenter.domain.stages import Standing
from boomerang.segmenter.service_layer.ports import CustomerStates, DueTimes, SegmentEvents, SourceRecord
from boomerang.segmenter.service_layer.snapshots import Snapshots
from boomerang.shared.events import CustomerScored, Envelope, Event, SegmentChanged
from boomerang.shared.logs import get_logger

SOURCE = "boomerang-segmenter"
# Fixed forever: changing it changes every SegmentChanged id and defeats de-duplication.
SEGMENT_CHANGED_NAMESPACE = uuid.UUID("6f3c1b7e-2d4a-5e8f-9a1b-3c5d7e9f1a2b")

log = get_logger(__name__)

# The store's current model applied to a customer at a time; None: no model yet, or no order.
# A card depends on the customer's order records and the time only (domain.scorecard reads
# nothing else of the state), so a batch scores each (orders, time) once (scorecard.card_key): a
# page view leaves the orders as they were, and the card of the state saved is the one the step used.
Scorer = Callable[[CustomerState, datetime], ScoreCard | None]
# The same for many (state, time) pairs at once: a batch works out every pair its steps will
# ask about (lifecycle.standings_asked) and scores them in one vectorised pass before stepping,
# about 20 us a card instead of 500 us. A pair it did not foresee is scored alone (`Scorer`).
BulkScorer = Callable[[Sequence[tuple[CustomerState, datetime]]], list[ScoreCard | None]]


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
        score_many: BulkScorer | None = None,
        retry_max_s: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        snapshots: Snapshots | None = None,
        feedback_topics: Collection[str] = (),
        event_time: Callable[[datetime], None] | None = None,
    ) -> None:
        """`feedback_topics`: source topics whose events only count as engagement (the others
        are skipped, not dead-lettered); `event_time` is told the business time of every event
        from the other (commerce) topics (the event-time clock of a replay, adapters.clocks)."""
        self._states = states
        self._events = events
        self._policy = policy
        self._lifecycle_policies = lifecycle_policies
        self._due = due
        self._scorer = scorer
        self._score_many = score_many if scorer is not None else None
        self._clock = clock
        self._retry_max_s = retry_max_s
        self._sleep = sleep
        self._snapshots = snapshots
        self._feedback_topics = frozenset(feedback_topics)
        self._event_time = event_time
        self._one_batch_at_a_time = asyncio.Lock()

    async def handle(self, record: SourceRecord) -> list[SegmentTransition]:
        """One source message: a batch of one."""
        return await self.handle_batch([record])

    async def handle_batch(self, records: Sequence[SourceRecord]) -> list[SegmentTransition]:
        """Process source messages in order; never raises for a bad message (it is dead-lettered).
        Returns the transitions published, in the order they happened."""
        async with self._one_batch_at_a_time:
            started = time.perf_counter()
            batch = _Batch(self._states, self._scorer)
            standing = self._standing(batch)
            parsed = [self._parsed(record) for record in records]
            self._score_ahead(batch, records, parsed)
            for record, ready in zip(records, parsed, strict=True):
                self._step_record(batch, record, standing, ready)
            for event_type, count in batch.processed.items():  # a labelled child per type, not per event
                metrics.EVENTS_PROCESSED.labels(event_type).inc(count)
            await self._commit(batch)
            metrics.BATCH_SIZE.observe(len(records))
            metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
            return batch.transitions

    async def sweep(self, key: str, now: datetime) -> list[SegmentTransition]:
        """Brings one customer's segments up to `now` with no event (the timer found them due).
        Idempotent: a second sweep at the same or an earlier `now` changes nothing."""
        return await self.sweep_batch([(key, now)])

    async def sweep_batch(self, ticks: Sequence[tuple[str, datetime]]) -> list[SegmentTransition]:
        """`sweep` for each (customer key, now) tick, published and saved as one batch."""
        async with self._one_batch_at_a_time:
            batch = _Batch(self._states, self._scorer)
            standing = self._standing(batch)
            if self._score_many is not None:
                self._score_ticks_ahead(batch, ticks)
            for key, now in ticks:
                try:
                    state = batch.state(key)
                    if state is None:
                        continue
                    stepped = sweep(state, now, self._lifecycle_policies(state.store_id), *standing)
                except Exception:  # noqa: BLE001 - one customer's failure must not stop the sweep
                    log.exception("sweep_failed", key_hash=hash(key) & 0xFFFF)
                    continue
                if not stepped.transitions and stepped.state.evaluated_at == state.evaluated_at:
                    continue
                self._stepped(batch, key, stepped)
                metrics.SWEPT.inc()
            await self._commit(batch)
            return batch.transitions

    def _parsed(self, record: SourceRecord) -> tuple[Envelope, Event] | None:
        """The record's envelope and event, parsed once for the batch; None when either fails
        (the step parses it again, to dead-letter it with the reason)."""
        try:
            envelope = self._parse(record)
            return envelope, envelope.event()
        except Exception:  # noqa: BLE001 - see above
            return None

    def _score_ahead(
        self, batch: _Batch, records: Sequence[SourceRecord], parsed: Sequence[tuple[Envelope, Event] | None]
    ) -> None:
        """Score, in one pass, every (orders, time) the batch's steps will ask about."""
        if self._score_many is None:
            return
        asked: list[tuple[CustomerState, datetime]] = []
        foreseen: dict[str, CustomerState] = {}
        for record, ready in zip(records, parsed, strict=True):
            if ready is None:
                continue
            envelope, event = ready
            if record.topic in self._feedback_topics and not is_engagement(event):
                continue  # skipped by the step
            key = envelope.key
            try:
                state = foreseen.get(key) or batch.state(key) or CustomerState(envelope.store_id, envelope.customer_id)
                asks, foreseen[key] = standings_asked(state, envelope, event, self._policy)
            except Exception:  # noqa: BLE001 - the step meets it again and dead-letters the message
                continue
            asked += asks
        batch.score_ahead(asked, self._score_many)

    def _score_ticks_ahead(self, batch: _Batch, ticks: Sequence[tuple[str, datetime]]) -> None:
        assert self._score_many is not None
        asked = []
        for key, now in ticks:
            try:
                state = batch.state(key)
            except Exception:  # noqa: BLE001 - the sweep meets it again and logs it
                continue
            if state is not None:
                asked.append((state, swept_at(state, now)))
        batch.score_ahead(asked, self._score_many)

    def _step_record(
        self,
        batch: _Batch,
        record: SourceRecord,
        standing: tuple[StandingOf, ...],
        ready: tuple[Envelope, Event] | None = None,
    ) -> None:
        try:
            envelope, event = ready if ready is not None else (self._parse(record), None)
            feedback = record.topic in self._feedback_topics
            if feedback and (ignored := feedback_ignored(envelope)) is not None:
                # Not engagement (a delivery outcome, an open) or a type unknown here: skipped,
                # nothing written. A known type whose data does not fit raised: poison.
                metrics.FEEDBACK_IGNORED.labels(ignored).inc()
                return
            if not feedback:
                # Only the shop's history moves the event-time clock: feedback answers messages
                # sent now, so in a replay of old history it carries today's dates.
                self._saw(envelope, event)
            state = batch.state(envelope.key) or CustomerState(envelope.store_id, envelope.customer_id)
            policy = self._lifecycle_policies(envelope.store_id)
            stepped = step(state, envelope, self._clock(), self._policy, policy, *standing, event=event)
        except Rejected as rejected:
            batch.dead_letter(record, rejected.reason, rejected.error)
            return
        except ValueError as exc:  # pydantic ValidationError and UnknownEventType are ValueErrors
            batch.dead_letter(record, "invalid_event", f"invalid event: {exc}")
            return
        except Exception as exc:  # noqa: BLE001 - a bug for one message must not stop the partition
            log.exception("segmentation_failed", offset=record.offset, partition=record.partition)
            batch.dead_letter(record, "processing_error", f"processing failed: {exc!r}")
            return
        if stepped.state is state:
            metrics.DUPLICATES.inc()
            batch.unchanged(envelope.key, state)
            return
        self._stepped(batch, envelope.key, stepped)
        batch.processed[envelope.type] += 1

    def _saw(self, envelope: Envelope, event: Event | None) -> None:
        if self._event_time is not None:
            self._event_time(occurred_at(envelope, envelope.event() if event is None else event))

    def _stepped(self, batch: _Batch, key: str, stepped: Stepped) -> None:
        changes = [segment_changed(key, t, stepped.state) for t in stepped.transitions]
        batch.stepped(key, stepped, changes)

    def _standing(self, batch: _Batch) -> tuple[StandingOf, ...]:
        if self._scorer is None:
            return ()

        def standing_of(state: CustomerState, at: datetime) -> Standing | None:
            card = batch.card(state, at)
            return None if card is None else card.standing

        return (standing_of,)

    async def _commit(self, batch: _Batch) -> None:
        """Publish everything the batch produced (and wait for every ack), then write the
        states and due times, then hand the snapshots to the snapshot buffer."""
        scored = self._score(batch)
        changes = [change for saved in batch.saved.values() for change in saved.changes]
        if changes or scored or batch.dead:
            await self._until_acknowledged(lambda: self._publish(changes, list(scored.values()), batch.dead))
        for reason in (reason for _, reason, _ in batch.dead):
            metrics.DEAD_LETTERED.labels(reason).inc()
        for key, state in batch.unchanged_states.items():
            if key not in batch.saved:
                self._states.put(key, state)
        recorded_at = self._clock() if self._snapshots is not None else None
        logged = _info_logged()
        entered: Counter[str] = Counter()
        for key, saved in batch.saved.items():
            self._states.put(key, saved.state)
            if self._due is not None:
                self._due.put(key, saved.due_at)
            if self._snapshots is not None:
                # In memory only: a thread writes the snapshot store (service_layer.snapshots).
                card = scored.get(key)
                scores = card.event().model_dump(mode="json") if card is not None else None
                self._snapshots.record(
                    customer_snapshot(saved.state, scores, recorded_at),
                    [transition_record(change, t) for change, t in zip(saved.changes, saved.transitions)],
                )
            for transition in saved.transitions:
                entered[transition.to_segment] += 1
                if not logged:
                    continue
                log.info(
                    "segment_changed",
                    store_id=saved.state.store_id,
                    customer_id=saved.state.customer_id,
                    to_segment=transition.to_segment,
                    trigger_event_id=transition.trigger_event_id or None,
                    changed_at=transition.changed_at.isoformat(),
                )
        for segment, count in entered.items():
            metrics.TRANSITIONS.labels(segment).inc(count)

    def _score(self, batch: _Batch) -> dict[str, Envelope]:
        """Each saved customer's scores, once per batch: the scores topic keeps the latest only."""
        if self._scorer is None:
            return {}
        scored = {}
        for key, saved in batch.saved.items():
            if saved.state.evaluated_at is not None:
                card = batch.card(saved.state, saved.state.evaluated_at)
                if card is not None:
                    scored[key] = customer_scored(key, saved.state, card)
        return scored

    async def _publish(
        self, changes: list[Envelope], scored: list[Envelope], dead: list[tuple[SourceRecord, str, str]]
    ) -> None:
        sends: list[Awaitable[None]] = []
        if changes:
            sends.append(self._events.publish(changes))
        if scored:
            sends.append(self._events.publish_scores(scored))
        for record, reason, error in dead:
            # Only the first line: pydantic goes on to quote the input, which may hold emails.
            summary = error.splitlines()[0][:200] if error else ""
            log.error("dead_lettered", reason=reason, offset=record.offset, partition=record.partition, error=summary)
            sends.append(self._events.dead_letter(record, reason, error))
        # All sent before any ack is awaited; every send finishes (acked or failed) before a
        # retry sends the batch again, so no send of an earlier try is still in flight.
        outcomes = await asyncio.gather(*sends, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    def _parse(self, record: SourceRecord) -> Envelope:
        try:
            envelope = Envelope.from_bytes(record.value or b"")
        except ValueError as exc:
            raise Rejected("unparseable", f"unparseable envelope: {exc}") from exc
        if record.key != envelope.key.encode():
            # The table is co-partitioned with the source by key; a message keyed otherwise (or
            # not at all) sits on another customer's partition and would split their state.
            raise Rejected("key_mismatch", f"message key {record.key!r} is not the envelope's {envelope.key!r}")
        return envelope

    async def _until_acknowledged(self, publish: Callable[[], Awaitable[None]]) -> None:
        # Giving up would lose the batch (faust acks it once the agent moves on), so a
        # Kafka outage stalls the partitions instead; consumer lag shows it.
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


def _info_logged() -> bool:
    """A line per transition costs even when the level filters it out (structlog's processors
    run first), so a batch asks once."""
    try:
        return log.isEnabledFor(logging.INFO)
    except AttributeError:  # structlog left unconfigured (tests): its default logger prints all
        return True


@dataclass
class _Saved:
    """What a batch did to one customer: the latest state and due time, every transition."""

    state: CustomerState
    due_at: datetime | None
    transitions: list[SegmentTransition] = field(default_factory=list)
    changes: list[Envelope] = field(default_factory=list)


class _Batch:
    """One batch's work in memory: the states it read and stepped (so a customer's second
    message in the batch sees what the first did), and what it will publish and write."""

    def __init__(self, states: CustomerStates, scorer: Scorer | None = None) -> None:
        self._states = states
        self._scorer = scorer
        self._cards: dict[tuple, ScoreCard | None] = {}  # by scorecard.card_key
        self._current: dict[str, CustomerState | None] = {}
        self.saved: dict[str, _Saved] = {}
        self.unchanged_states: dict[str, CustomerState] = {}
        self.dead: list[tuple[SourceRecord, str, str]] = []
        self.transitions: list[SegmentTransition] = []
        self.processed: Counter[str] = Counter()  # events applied, by type

    def card(self, state: CustomerState, at: datetime) -> ScoreCard | None:
        assert self._scorer is not None
        key = card_key(state, at)
        if key not in self._cards:
            self._cards[key] = self._scorer(state, at)
        return self._cards[key]

    def score_ahead(self, asked: Sequence[tuple[CustomerState, datetime]], score_many: BulkScorer) -> None:
        """Cards for every (state, time) in `asked` not yet known, in one call."""
        todo: dict[tuple, tuple[CustomerState, datetime]] = {}
        for state, at in asked:
            key = card_key(state, at)
            if key not in self._cards:
                todo.setdefault(key, (state, at))
        if not todo:
            return
        try:
            cards = score_many(list(todo.values()))
        except Exception:  # noqa: BLE001 - each is scored alone then, and a failure is that message's
            log.exception("bulk_scoring_failed", cards=len(todo))
            return
        self._cards.update(zip(todo, cards, strict=True))

    def state(self, key: str) -> CustomerState | None:
        if key not in self._current:
            self._current[key] = self._states.get(key)
        return self._current[key]

    def stepped(self, key: str, stepped: Stepped, changes: list[Envelope]) -> None:
        self._current[key] = stepped.state
        saved = self.saved.setdefault(key, _Saved(stepped.state, stepped.due_at))
        saved.state, saved.due_at = stepped.state, stepped.due_at
        saved.transitions += stepped.transitions
        saved.changes += changes
        self.transitions += stepped.transitions

    def unchanged(self, key: str, state: CustomerState) -> None:
        """A redelivered message: its state is written again (see the module docstring)."""
        self.unchanged_states[key] = state

    def dead_letter(self, record: SourceRecord, reason: str, error: str) -> None:
        self.dead.append((record, reason, error))


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
