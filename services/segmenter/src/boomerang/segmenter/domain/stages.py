"""The customer state machine: the lifecycle stage and value tier a store's policy gives a
customer, and when that changes with no event at all.

Pure: the facts (`CustomerState`), what the scores say (`Standing`), the store's
`LifecyclePolicy` and the time are passed in; nothing reads a clock or does I/O, and the same
inputs always give the same answer.

Two dimensions (`Dimension`): the lifecycle stage (prospect, new, active, neutral, at_risk,
lapsed, reactivated; exactly one) and the value tier (vip or regular), independent of each
other so a VIP who stops buying shows as both `vip` and `at_risk`. The stage, first match wins:

    no order counted .......................................... prospect
    time since last order >= lapsed horizon ................... lapsed
    time since last order >= at-risk horizon, and visited or
      clicked after that order within engaged_within_days ..... neutral
    time since last order >= at-risk horizon .................. at_risk
    last order after a lapse less than reactivated.days ago ... reactivated
    first order less than new.days ago ........................ new
    R + F + M <= rfm_total_at_most ............................ neutral
    otherwise ................................................. active

A horizon is relative to the customer's own pace (`Horizon.after`): k x their median gap
between purchase days, within [min_days, max_days]; a one-time buyer's is a fixed number of
days after their only order (BG/NBD's p_alive is 1 for every one-time buyer, so it cannot
flag them). Whether an order came "after a lapse" is read from the order history itself (the
gap before it reached the lapsed horizon of the history before it), so a lapsed customer who
buys is reactivated whether or not a sweep had marked them lapsed first.

The stage depends on time only through a handful of instants (the boundaries: first order +
new.days, last order + each horizon, last engagement + engaged_within_days, the reactivating
order + reactivated.days), and each comparison is `>=` at its boundary, so the stage is
constant between boundaries and takes its new value exactly at one. That makes
`next_change_at` exact and cheap: the sweep keeps a due-time index and evaluates only the
customers whose time has come. Scores (RFM, CLV percentile) are inputs held fixed; a new
scoring model is an event of its own (re-decide every customer it moves). The value tier never
changes with time alone.

How the worker is meant to call it, for each event at business time `t` (`now` for a sweep):

    state, due = advance(state, standing, policy, t)     # what time alone did since the last call,
                                                         # each change at its own instant
    state = facts.observe(state, event, t)               # the event's facts
    state, caused = advance(state, standing2, policy, t) # what the event did (scores re-applied)
    index[key] = next_change_at(state, standing2, policy, t)

`advance` never goes back in time: a late event (business time before `state.evaluated_at`)
is judged at `evaluated_at`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from boomerang.segmenter.domain.model import (
    CustomerState,
    Dimension,
    Segment,
    SegmentTransition,
    evolve,
    median_interval,
)
from boomerang.segmenter.domain.policy import Horizon, LifecyclePolicy
from boomerang.segmenter.domain.scoring.model import CustomerScores

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Standing:
    """What the scoring model says about the customer, as inputs: RFM scores (1-5 each) and the
    percentile (0-100) of their predicted 365-day CLV among the store's customers. None: the
    store has no scores yet (the rules that need them are skipped)."""

    recency_score: int | None = None
    frequency_score: int | None = None
    monetary_score: int | None = None
    clv_percentile: float | None = None

    @property
    def rfm_total(self) -> int | None:
        parts = (self.recency_score, self.frequency_score, self.monetary_score)
        return None if any(p is None for p in parts) else sum(parts)  # type: ignore[arg-type]

    @classmethod
    def of(cls, scores: CustomerScores | None, clv_percentile: float | None = None) -> Standing:
        if scores is None:
            return cls(clv_percentile=clv_percentile)
        return cls(scores.recency_score, scores.frequency_score, scores.monetary_score, clv_percentile)


NO_SCORES = Standing()


@dataclass(frozen=True)
class Verdict:
    """Where the policy puts the customer: a segment, a stable reason code, and a sentence with
    the numbers behind it (for the transition history)."""

    segment: str
    reason: str
    detail: str


@dataclass(frozen=True)
class Change:
    """A move the caller should make and publish; `at` is when it took effect."""

    dimension: str
    from_segment: str | None
    to_segment: str
    reason: str
    detail: str
    at: datetime

    def transition(self, state: CustomerState, trigger_event_id: str) -> SegmentTransition:
        return SegmentTransition(
            dimension=self.dimension,
            from_segment=self.from_segment,
            to_segment=self.to_segment,
            reason=self.reason,
            changed_at=self.at,
            orders=state.orders,
            revenue=state.net_revenue,
            trigger_event_id=trigger_event_id,
            detail=self.detail,
        )


@dataclass(frozen=True)
class Cadence:
    """A buyer's dates and horizons under a policy (all independent of `now`)."""

    first_order_at: datetime
    last_order_at: datetime
    median_gap: timedelta | None  # None: a one-time buyer
    at_risk_after: timedelta
    lapsed_after: timedelta
    returned_at: datetime | None  # the latest order that came after a lapse


# `cadence` runs up to five times per event on the same order records (advance before and after
# the event, decide, next_change_at), and a stepped state keeps its records tuple unless an order
# changed it: the last few thousand are remembered by the tuple's identity. Each entry holds the
# tuple, so its id cannot be reused by another while remembered; a miss only recomputes.
_CADENCES: dict[int, tuple[tuple, LifecyclePolicy, tuple, Cadence | None]] = {}
_CADENCES_KEPT = 4096


def cadence(state: CustomerState, policy: LifecyclePolicy) -> Cadence | None:
    """None for a customer without a counted order."""
    records, facts = state.order_records, (state.orders, state.first_order_at, state.last_order_at)
    hit = _CADENCES.get(id(records))
    if hit is not None and hit[0] is records and hit[1] is policy and hit[2] == facts:
        return hit[3]
    found = _cadence(state, policy)
    if len(_CADENCES) >= _CADENCES_KEPT:
        _CADENCES.clear()
    _CADENCES[id(records)] = (records, policy, facts, found)
    return found


def _cadence(state: CustomerState, policy: LifecyclePolicy) -> Cadence | None:
    if state.orders <= 0 or state.first_order_at is None or state.last_order_at is None:
        return None
    times = state.purchase_times
    median = median_interval(_gaps(times))
    return Cadence(
        first_order_at=state.first_order_at,
        last_order_at=state.last_order_at,
        median_gap=median,
        at_risk_after=policy.at_risk.after(median),
        lapsed_after=policy.lapsed.after(median),
        returned_at=_returned_at(times, policy),
    )


def _gaps(times: tuple[datetime, ...]) -> list[timedelta]:
    return [b - a for a, b in zip(times, times[1:])]


def _returned_at(times: tuple[datetime, ...], policy: LifecyclePolicy) -> datetime | None:
    """The latest purchase whose gap from the one before reached the lapsed horizon of the
    history before it. Only purchases whose reactivation period could still be running at the
    last order are looked at (the walk stops at the first older one)."""
    if len(times) < 2:
        return None
    period = policy.reactivated.period
    for i in range(len(times) - 1, 0, -1):
        if times[i] + period <= times[-1]:
            return None
        horizon = policy.lapsed.after(median_interval(_gaps(times[:i])))
        if times[i] - times[i - 1] >= horizon:
            return times[i]
    return None


# --- the stage --------------------------------------------------------------------------------


def lifecycle_stage(
    state: CustomerState, standing: Standing | None, policy: LifecyclePolicy, at: datetime
) -> Verdict:
    """The stage the policy gives the customer at `at` (whatever stage they are in now)."""
    return _stage(state, standing or NO_SCORES, policy, at, cadence(state, policy))


def _stage(state: CustomerState, standing: Standing, policy: LifecyclePolicy, at: datetime, cad: Cadence | None) -> Verdict:
    if cad is None:
        if any(r.placed_at is not None for r in state.order_records):
            return Verdict(Segment.PROSPECT, "orders_cancelled", "ordered, but every order was cancelled")
        return Verdict(Segment.PROSPECT, "no_order_yet", "known to the shop, no order yet")
    since = at - cad.last_order_at
    if since >= cad.lapsed_after:
        return _past_horizon(Segment.LAPSED, "lapsed", policy.lapsed, cad, since)
    if since >= cad.at_risk_after:
        window = policy.neutral.engaged_within
        engaged = state.last_engaged_at
        if window is not None and engaged is not None and engaged > cad.last_order_at and at - engaged < window:
            return Verdict(
                Segment.NEUTRAL,
                "engaged_without_ordering",
                f"no order for {_days(since)} days (at risk after {_days(cad.at_risk_after)}), "
                f"but visited or clicked {_days(at - engaged)} days ago",
            )
        return _past_horizon(Segment.AT_RISK, "at_risk", policy.at_risk, cad, since)
    if cad.returned_at is not None and at - cad.returned_at < policy.reactivated.period:
        return Verdict(
            Segment.REACTIVATED,
            "ordered_after_lapse",
            f"ordered {_days(at - cad.returned_at)} days ago after a lapse; reactivated for {policy.reactivated.days:g} days",
        )
    if at - cad.first_order_at < policy.new.period:
        age = _days(at - cad.first_order_at)
        return Verdict(Segment.NEW, "first_order", f"first order {age} days ago; new for {policy.new.days:g} days")
    limit = policy.neutral.rfm_total_at_most
    total = standing.rfm_total
    if limit is not None and total is not None and total <= limit:
        return Verdict(
            Segment.NEUTRAL,
            "mid_rfm",
            f"R+F+M = {standing.recency_score}+{standing.frequency_score}+{standing.monetary_score} = {total}, at most {limit}",
        )
    return Verdict(
        Segment.ACTIVE,
        "ordering_at_usual_pace",
        f"last order {_days(since)} days ago, at risk after {_days(cad.at_risk_after)}",
    )


def _past_horizon(segment: str, name: str, horizon: Horizon, cad: Cadence, since: timedelta) -> Verdict:
    if cad.median_gap is None:
        return Verdict(
            segment,
            f"one_time_buyer_past_{name}_days",
            f"one order, {_days(since)} days ago; a one-time buyer is {name} after {horizon.one_time_buyer_days:g} days",
        )
    after = cad.lapsed_after if segment == Segment.LAPSED else cad.at_risk_after
    return Verdict(
        segment,
        f"past_{name}_horizon",
        f"no order for {_days(since)} days; {name} after {_days(after)} "
        f"({horizon.intervals:g} x median gap {_days(cad.median_gap)} days, within {horizon.min_days:g}-{horizon.max_days:g})",
    )


def _days(span: timedelta) -> str:
    return f"{span / _DAY:.1f}"


# --- the value tier ---------------------------------------------------------------------------


def value_tier(state: CustomerState, standing: Standing | None, policy: LifecyclePolicy) -> Verdict | None:
    """VIP or regular, with hysteresis: the current tier decides which percentile (or revenue)
    line applies. None: nothing to judge by (no scores and no revenue fallback), keep as is."""
    rule = policy.vip
    is_vip = state.segment_in(Dimension.VALUE) == Segment.VIP
    if state.orders < rule.min_orders:
        return Verdict(Segment.REGULAR, "too_few_orders", f"{state.orders} orders; VIP needs {rule.min_orders}")
    p = (standing or NO_SCORES).clv_percentile
    if p is not None:
        line = rule.leave_percentile if is_vip else rule.enter_percentile
        where = f"predicted CLV at percentile {p:.1f}"
        if p >= line:
            reason = "clv_percentile_above_leave" if is_vip else "clv_percentile_reached_enter"
            return Verdict(Segment.VIP, reason, f"{where}, at least {line:g}")
        reason = "clv_percentile_below_leave" if is_vip else "clv_percentile_below_enter"
        return Verdict(Segment.REGULAR, reason, f"{where}, below {line:g}")
    fallback = rule.without_scores
    if fallback is None:
        return None
    money = fallback.leave_net_revenue if is_vip else fallback.enter_net_revenue
    where = f"net revenue {state.net_revenue} (no scores yet)"
    if state.net_revenue >= money:
        reason = "net_revenue_above_leave" if is_vip else "net_revenue_reached_enter"
        return Verdict(Segment.VIP, reason, f"{where}, at least {money}")
    reason = "net_revenue_below_leave" if is_vip else "net_revenue_below_enter"
    return Verdict(Segment.REGULAR, reason, f"{where}, below {money}")


# --- decisions --------------------------------------------------------------------------------


def decide(state: CustomerState, standing: Standing | None, policy: LifecyclePolicy, now: datetime) -> list[Change]:
    """What differs, at `now`, between the customer's segments and what the policy says:
    at most one change per dimension (lifecycle first), each dated `now`. Empty: no change."""
    standing = standing or NO_SCORES
    changes: list[Change] = []
    stage = _stage(state, standing, policy, now, cadence(state, policy))
    current = state.segment_in(Dimension.LIFECYCLE)
    if stage.segment != current:
        changes.append(Change(Dimension.LIFECYCLE, current, stage.segment, stage.reason, stage.detail, now))
    tier = value_tier(state, standing, policy)
    current_tier = state.segment_in(Dimension.VALUE)
    if tier is not None and tier.segment != (current_tier or Segment.REGULAR):
        changes.append(Change(Dimension.VALUE, current_tier, tier.segment, tier.reason, tier.detail, now))
    return changes


def next_change_at(
    state: CustomerState, standing: Standing | None, policy: LifecyclePolicy, now: datetime
) -> datetime | None:
    """The first instant after `now` at which the customer's lifecycle stage would change if no
    event came and the scores stayed as they are; None if it never would (a prospect, a lapsed
    customer). `now` itself if the stored stage is already out of date. Exact: the stage at that
    instant differs from the stored one, and at every instant between `now` and it, it does not."""
    return _next_change(state, standing or NO_SCORES, policy, now, cadence(state, policy))


def _next_change(
    state: CustomerState, standing: Standing, policy: LifecyclePolicy, now: datetime, cad: Cadence | None
) -> datetime | None:
    current = state.segment_in(Dimension.LIFECYCLE)
    if _stage(state, standing, policy, now, cad).segment != current:
        return now
    for t in sorted({b for b in _boundaries(state, policy, cad) if b > now}):
        if _stage(state, standing, policy, t, cad).segment != current:
            return t
    return None


def _boundaries(state: CustomerState, policy: LifecyclePolicy, cad: Cadence | None) -> list[datetime]:
    if cad is None:
        return []
    out = [
        cad.first_order_at + policy.new.period,
        cad.last_order_at + cad.at_risk_after,
        cad.last_order_at + cad.lapsed_after,
    ]
    if cad.returned_at is not None:
        out.append(cad.returned_at + policy.reactivated.period)
    window = policy.neutral.engaged_within
    if window is not None and state.last_engaged_at is not None:
        out.append(state.last_engaged_at + window)
    return out


def advance(
    state: CustomerState, standing: Standing | None, policy: LifecyclePolicy, now: datetime
) -> tuple[CustomerState, list[Change]]:
    """Brings the customer's segments up to `now`, and says what changed, in order.

    First every change time alone made since `state.evaluated_at` (each dated at the exact
    instant it took effect, so a customer the sweep reached late, or a replay at accelerated
    time, still goes active -> at_risk -> lapsed with the right dates), then what the facts and
    scores say at `now` (`decide`). The returned state is in its new segments, with
    `evaluated_at` set; never earlier than before (a late event is judged at `evaluated_at`).
    """
    standing = standing or NO_SCORES
    at = now if state.evaluated_at is None else max(now, state.evaluated_at)
    changes: list[Change] = []
    if state.evaluated_at is not None and state.segment_in(Dimension.LIFECYCLE) is not None:
        cad = cadence(state, policy)
        t = state.evaluated_at
        while (due := _next_change(state, standing, policy, t, cad)) is not None and due <= at:
            verdict = _stage(state, standing, policy, due, cad)
            was = state.segment_in(Dimension.LIFECYCLE)
            changes.append(Change(Dimension.LIFECYCLE, was, verdict.segment, verdict.reason, verdict.detail, due))
            state = state.with_segment(Dimension.LIFECYCLE, verdict.segment)
            t = due
    for change in decide(state, standing, policy, at):
        changes.append(change)
        state = state.with_segment(change.dimension, change.to_segment)
    return evolve(state, evaluated_at=at), changes
