"""How one event changes what the segmenter knows about a customer (pure: no clock, no I/O).

`observe` updates the facts of `CustomerState`: orders, net revenue, first and last order,
purchase intervals (through the order records), last visit, last engagement, products,
categories and coupons. It never decides segments; `lifecycle` and `stages` do.

Idempotence. An envelope redelivered by Kafka is dropped by its id before it gets here
(`lifecycle.step`). On top of that every order fact is keyed by the shop's order id, so the
same order re-sent under a new envelope id (a shop re-importing its history) counts once, a
refund counts once per refund id (or, without one, per time and amount), and a cancellation
counts once. Every change to an order goes through one place (`_put_record`) that moves the
running totals by the difference between the order's old and new contribution, so applying
the same fact again moves nothing.

What counts:
- orders: placed and not cancelled; a refunded order is still an order.
- net revenue: each counted order's total less its refunds (never below 0 per order); a
  cancelled order counts 0.
- a refund or cancellation of an order never seen is kept as a placeholder that counts for
  nothing now; if the order then arrives, it arrives refunded or cancelled.
- products and categories (units) and coupons (orders): from counted orders; a cancellation
  takes its order's lines and coupon back out, a refund does not (refunds move money only).
- last visit: site or app activity (pages, screens, products, carts, checkouts); last
  engagement: visits, the provider events in `ENGAGEMENT_KINDS` (clicks, SMS replies) and
  survey answers (`SurveyAnswered`); last seen: any commerce event, and engagement.

Feedback events (`feedback.events.v1`) that are not engagement (delivery outcomes, opens,
unsubscribes, types this code does not know) change nothing: `feedback_ignored` says why, and
the worker skips them before they reach `observe`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from boomerang.segmenter.domain.model import CustomerState, LineItem, OrderRecord, evolve
from boomerang.shared.events import (
    CartViewed,
    CheckoutStarted,
    Envelope,
    Event,
    OrderCancelled,
    OrderPlaced,
    OrderRefunded,
    PageViewed,
    ProductAddedToCart,
    ProductViewed,
    ProviderEventReceived,
    ScreenViewed,
    SurveyAnswered,
    UnknownEventType,
)

VISITS: tuple[type[Event], ...] = (
    PageViewed,
    ScreenViewed,
    ProductViewed,
    ProductAddedToCart,
    CartViewed,
    CheckoutStarted,
)
# Provider events that show the customer paid attention: a click in a message, an SMS reply
# that is not a keyword. Opens are left out on purpose: Apple Mail Privacy Protection (and
# other privacy proxies) fetch every message's images on delivery, so an "open" is reported
# whether or not anyone read the message, and it would keep every Apple Mail user "engaged".
# Delivery outcomes (processed, delivered, bounce, deferred, dropped, ...) say nothing about
# the customer's interest, and unsubscribes or spam reports are the opposite of it.
ENGAGEMENT_KINDS = frozenset({"click", "reply"})


def occurred_at(envelope: Envelope, event: Event) -> datetime:
    """Business time, not processing time: replaying a shop's history must date its facts
    (and the transitions they cause) when they happened."""
    if isinstance(event, OrderPlaced):
        return event.placed_at
    if isinstance(event, OrderRefunded):
        return event.refunded_at
    if isinstance(event, OrderCancelled):
        return event.cancelled_at
    if isinstance(event, ProviderEventReceived):
        return event.occurred_at
    if isinstance(event, SurveyAnswered):
        return event.answered_at
    return envelope.time


def is_engagement(event: Event, engagement_kinds: frozenset[str] = ENGAGEMENT_KINDS) -> bool:
    """A feedback event that shows the customer paid attention: a click or reply (by kind), a
    survey answered."""
    if isinstance(event, ProviderEventReceived):
        return event.kind in engagement_kinds
    return isinstance(event, SurveyAnswered)


def feedback_ignored(envelope: Envelope, engagement_kinds: frozenset[str] = ENGAGEMENT_KINDS) -> str | None:
    """Why a message from `feedback.events.v1` changes nothing about the customer, or None when
    it is engagement. `unknown_type`: a type this code has no schema for (feedback publishes new
    kinds of answers before every consumer knows them: skipped, not poison);
    `not_engagement`: a delivery outcome, an open, an unsubscribe. Raises ValueError when a
    known type's data does not fit its schema (that is poison)."""
    try:
        event = envelope.event()
    except UnknownEventType:
        return "unknown_type"
    return None if is_engagement(event, engagement_kinds) else "not_engagement"


def observe(
    state: CustomerState,
    event: Event,
    at: datetime,
    *,
    remembered_orders: int = 1000,
    engagement_kinds: frozenset[str] = ENGAGEMENT_KINDS,
) -> CustomerState:
    """The state with `event` (which happened `at`) taken into account.

    Returns `state` itself when the event changes nothing (an order, refund or cancellation
    already counted; a feedback event that is not engagement).
    """
    if isinstance(event, (ProviderEventReceived, SurveyAnswered)):
        if not is_engagement(event, engagement_kinds):
            return state
        return evolve(state, last_engaged_at=_latest(state.last_engaged_at, at), last_seen_at=_latest(state.last_seen_at, at))
    seen = evolve(state, last_seen_at=_latest(state.last_seen_at, at))
    if isinstance(event, VISITS):
        return evolve(seen, last_visit_at=_latest(state.last_visit_at, at), last_engaged_at=_latest(state.last_engaged_at, at))
    if isinstance(event, OrderPlaced):
        return _order_placed(state, seen, event, remembered_orders)
    if isinstance(event, OrderRefunded):
        return _order_refunded(state, seen, event, remembered_orders)
    if isinstance(event, OrderCancelled):
        return _order_cancelled(state, seen, event, remembered_orders)
    return seen


def refund_key(event: OrderRefunded) -> str:
    """One refund's identity: the shop's refund id, else its time and amount (a shop re-sending
    its history sends both unchanged; two different partial refunds at the same instant for the
    same amount are not told apart)."""
    return event.refund_id or f"{event.refunded_at.isoformat()}|{event.amount}"


def _order_placed(state: CustomerState, seen: CustomerState, event: OrderPlaced, cap: int) -> CustomerState:
    old = state.record(event.order_id)
    if old is not None and old.placed_at is not None:
        return state  # the same order again
    coupon = (event.coupon or "").strip() or None
    lines = tuple(LineItem(line.product_id, line.category, line.quantity) for line in event.lines)
    base = old or OrderRecord(event.order_id)
    new = replace(base, placed_at=event.placed_at, total=event.total, coupon=coupon, lines=lines)
    return _put_record(seen, old, new, cap)


def _order_refunded(state: CustomerState, seen: CustomerState, event: OrderRefunded, cap: int) -> CustomerState:
    old = state.record(event.order_id)
    key = refund_key(event)
    if old is not None and key in old.refund_keys:
        return state
    base = old or OrderRecord(event.order_id)
    new = replace(base, refunded=base.refunded + event.amount, refund_keys=(*base.refund_keys, key))
    return _put_record(seen, old, new, cap)


def _order_cancelled(state: CustomerState, seen: CustomerState, event: OrderCancelled, cap: int) -> CustomerState:
    old = state.record(event.order_id)
    if old is not None and old.cancelled:
        return state
    new = replace(old or OrderRecord(event.order_id), cancelled=True)
    return _put_record(seen, old, new, cap)


def _put_record(state: CustomerState, old: OrderRecord | None, new: OrderRecord, cap: int) -> CustomerState:
    """Replace `old` (None: add) by `new`; the running totals move by the difference."""
    was = old is not None and old.counted
    delta = int(new.counted) - int(was)
    records = tuple(r for r in state.order_records if r.order_id != new.order_id) + (new,)
    records, forgotten = _bounded(tuple(sorted(records, key=_record_order)), cap)
    state = evolve(
        state,
        order_records=records,
        forgotten_orders=state.forgotten_orders + forgotten,
        orders=state.orders + delta,
        net_revenue=state.net_revenue + new.net - (old.net if old is not None else 0),
    )
    if delta == 0:
        return state
    sign, record = (1, new) if delta > 0 else (-1, old)
    assert record is not None and record.placed_at is not None
    state = evolve(
        state,
        products=_count(state.products, ((line.product_id, line.quantity) for line in record.lines), sign),
        categories=_count(state.categories, ((line.category, line.quantity) for line in record.lines if line.category), sign),
        coupons=_count(state.coupons, [(record.coupon, 1)] if record.coupon else [], sign),
    )
    if delta > 0:
        return evolve(
            state,
            first_order_at=_earliest(state.first_order_at, record.placed_at),
            last_order_at=_latest(state.last_order_at, record.placed_at),
        )
    return _dates_after_cancel(state)


def _dates_after_cancel(state: CustomerState) -> CustomerState:
    """First and last order once an order stopped counting: from the records that still count.
    Records are forgotten oldest first, so the last order is always among them; the first is
    only known while nothing counted was forgotten."""
    placed = [r.placed_at for r in state.order_records if r.counted and r.placed_at is not None]
    if state.orders <= 0:
        return evolve(state, first_order_at=None, last_order_at=None)
    if not placed:
        return state
    first = min(placed) if state.forgotten_orders == 0 else state.first_order_at
    return evolve(state, first_order_at=first, last_order_at=max(placed))


def _record_order(record: OrderRecord) -> tuple[int, datetime | None, str]:
    # Placeholders first, then by when the order was placed: forgetting drops from the front.
    return (0, None, record.order_id) if record.placed_at is None else (1, record.placed_at, record.order_id)


def _bounded(records: tuple[OrderRecord, ...], cap: int) -> tuple[tuple[OrderRecord, ...], int]:
    if len(records) <= cap:
        return records, 0
    dropped, kept = records[: len(records) - cap], records[len(records) - cap :]
    return kept, sum(1 for r in dropped if r.counted)


def _count(counts: Mapping[str, int], items, sign: int) -> dict[str, int]:
    out = dict(counts)
    for key, n in items:
        value = out.get(key, 0) + sign * n
        if value > 0:
            out[key] = value
        else:
            out.pop(key, None)
    return out


def _earliest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate < current else current


def _latest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate > current else current
