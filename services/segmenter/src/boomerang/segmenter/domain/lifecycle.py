"""How one event, or time alone, changes a customer's state, and which segment transitions that causes.

Pure: the clock is passed in, nothing is read or written. The facts are kept by
`facts.observe`; `step` (per event) and `sweep` (time alone) are what the worker runs: the
per-store lifecycle policy decided by `stages.advance`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from boomerang.segmenter.domain.facts import observe, occurred_at
from boomerang.segmenter.domain.policy import LifecyclePolicy
from boomerang.segmenter.domain.stages import Standing, advance, next_change_at
from boomerang.segmenter.domain.model import CustomerState, SegmentPolicy, SegmentTransition, evolve
from boomerang.shared.events import Envelope, Event


StandingOf = Callable[[CustomerState, datetime], Standing | None]


def _no_standing(_: CustomerState, __: datetime) -> Standing | None:
    return None


@dataclass(frozen=True)
class Stepped:
    """What one event did: the new state, the changes time alone made before the event
    (`elapsed`, each dated at the instant it took effect; published with ids from that instant,
    the same ids a sweep would give them) and the changes the event caused (`caused`, published
    with ids from the event id), and when the customer next changes with no event (None: never)."""

    state: CustomerState
    elapsed: list[SegmentTransition]
    caused: list[SegmentTransition]
    due_at: datetime | None
    standing: Standing | None

    @property
    def transitions(self) -> list[SegmentTransition]:
        return [*self.elapsed, *self.caused]


def step(
    state: CustomerState,
    envelope: Envelope,
    now: datetime,
    policy: SegmentPolicy,
    lifecycle_policy: LifecyclePolicy,
    standing_of: StandingOf = _no_standing,
    *,
    event: Event | None = None,
) -> Stepped:
    """One event under the store's lifecycle policy, at the event's business time `t`:
    `advance(t)` (what time did before the event), `facts.observe`, re-score, `advance(t)`
    (what the event did), `next_change_at`. `now` (processing time) is only recorded.

    A redelivered envelope (its id among the last `policy.remembered_event_ids`) returns the
    very same state object and no transitions. Raises ValueError (pydantic's ValidationError,
    UnknownEventType) when the envelope's data fits no known event. `event`: the envelope's
    event when the caller has already parsed it.
    """
    if state.has_processed(envelope.id):
        return Stepped(state, [], [], None, None)
    event = envelope.event() if event is None else event
    t = occurred_at(envelope, event)
    # A late event (before the customer's last evaluation: out of order, or a shop re-importing
    # its history) is judged at that evaluation, as `advance` does, so it is scored there too:
    # scores from back then would put a long-lapsed customer's old standing into today's tier.
    judged = t if state.evaluated_at is None else max(t, state.evaluated_at)
    if state.evaluated_at is None:
        before, elapsed = state, []  # first sight of the customer: no time has passed for them
    else:
        before, elapsed = advance(state, standing_of(state, judged), lifecycle_policy, t)
    observed = evolve(
        observe(before, event, t, remembered_orders=policy.remembered_order_ids),
        recent_event_ids=(*state.recent_event_ids, envelope.id)[-policy.remembered_event_ids :],
        updated_at=now,
    )
    standing = standing_of(observed, judged)
    after, caused = advance(observed, standing, lifecycle_policy, t)
    assert after.evaluated_at is not None
    return Stepped(
        after,
        [c.transition(after, "") for c in elapsed],
        [c.transition(after, envelope.id) for c in caused],
        next_change_at(after, standing, lifecycle_policy, after.evaluated_at),
        standing,
    )


def standings_asked(
    state: CustomerState, envelope: Envelope, event: Event, policy: SegmentPolicy
) -> tuple[list[tuple[CustomerState, datetime]], CustomerState]:
    """The (state, time) pairs `step` will ask `standing_of` about for this event, and a state
    with the order records, evaluation time and recent ids `step` leaves: what a batch needs to
    score all its customers in one pass before stepping them. Scores depend on the order records
    and the time only, so the stages `advance` would set are not worked out."""
    if state.has_processed(envelope.id):
        return [], state
    t = occurred_at(envelope, event)
    judged = t if state.evaluated_at is None else max(t, state.evaluated_at)
    observed = evolve(
        observe(state, event, t, remembered_orders=policy.remembered_order_ids),
        recent_event_ids=(*state.recent_event_ids, envelope.id)[-policy.remembered_event_ids :],
        evaluated_at=judged,
    )
    return ([] if state.evaluated_at is None else [(state, judged)]) + [(observed, judged)], observed


def swept_at(state: CustomerState, now: datetime) -> datetime:
    """The time a sweep at `now` judges (and scores) the customer at: never before their last
    evaluation."""
    return now if state.evaluated_at is None else max(now, state.evaluated_at)


def sweep(
    state: CustomerState, now: datetime, lifecycle_policy: LifecyclePolicy, standing_of: StandingOf = _no_standing
) -> Stepped:
    """What time alone did to the customer up to `now` (no event): every change dated at the
    instant it took effect, and the next due time. A tick older than the last evaluation is
    judged (and scored) at that evaluation."""
    standing = standing_of(state, swept_at(state, now))
    after, changes = advance(state, standing, lifecycle_policy, now)
    assert after.evaluated_at is not None
    return Stepped(
        after,
        [c.transition(after, "") for c in changes],
        [],
        next_change_at(after, standing, lifecycle_policy, after.evaluated_at),
        standing,
    )
