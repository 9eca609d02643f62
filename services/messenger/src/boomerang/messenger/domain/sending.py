"""Whether, when and on which channel one step of a flow goes to one customer.

`decide_send(request, recipient, history, policy, now)` answers `Send(channel, to, at)`,
`Delay(until, reason)` or `Suppress(reason)`, applying in this order:

1. **Channel** (consent, suppression list, reachability): the customer's preferred channel
   first when the step offers it, then the step's channels in their order. A channel is usable
   when the customer has an address on it, nothing on their suppression list blocks it (for
   transactional messages only a hard bounce or an SMS STOP does) and they gave the consent the
   message needs (SMS: explicit SMS consent, always; marketing email: email opt-in). The first
   usable channel is taken; with none, `Suppress` with the most definite reason among them
   (spam_complaint, hard_bounce, sms_stop, unsubscribed, no_consent, no_address).
2. **Holdout** (marketing): a customer in the flow's control group gets `Suppress("holdout")`.
   It comes after the channel so the control group holds only customers we could have reached,
   and lift compares like with like.
3. **Timing**: the flow's send window and, for marketing SMS, quiet hours (08:00-21:00), in the
   customer's time zone (their store's default when unknown). Outside them, `Delay(until)` the
   next opening: the message is postponed, never dropped, and the caller decides again at
   `until`, so consent, suppressions and caps are those of the moment it really goes out.
   Night-time does not move an SMS to email: the channel is chosen for reachability only.
4. **Frequency caps** (marketing) over the customer's history on that channel, with
   priorities (see `domain.caps`): `Suppress("frequency_cap")`.
5. Otherwise `Send(channel, to, now)`.

Audience and exit conditions are the flow's (`domain.audience`) and are checked before a step
is asked for at all. Nothing here reads a clock or a store: `now` and all state are passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from boomerang.messenger.domain.caps import DEFAULT_CAPS, CapRule, PastSend, cap_breach
from boomerang.messenger.domain.contacts import Contact, normalize_email, normalize_phone
from boomerang.messenger.domain.flow_definitions import FlowDefinition
from boomerang.messenger.domain.flows import Channel, Purpose
from boomerang.messenger.domain.holdout import in_holdout
from boomerang.messenger.domain.policy import NO_ADDRESS, NO_CONSENT
from boomerang.messenger.domain.suppressions import EMPTY, Block, SuppressionList
from boomerang.messenger.domain.timing import SMS_QUIET_HOURS, LocalWindow, next_open, zone_for

HOLDOUT = "holdout"
FREQUENCY_CAP = "frequency_cap"
QUIET_HOURS = "quiet_hours"
SEND_WINDOW = "send_window"
NO_SEND_TIME = "no_send_time"  # the send window and quiet hours never overlap
# The most definite reason first: it is the one reported when no channel is usable.
_REASON_ORDER = (
    Block.SPAM_COMPLAINT.value,
    Block.HARD_BOUNCE.value,
    Block.SMS_STOP.value,
    Block.UNSUBSCRIBED.value,
    NO_CONSENT,
    NO_ADDRESS,
)
# Two weeks of daily windows: if the send window and quiet hours have not agreed by then, they never will.
_MAX_TIMING_ROUNDS = 16


@dataclass(frozen=True)
class Send:
    channel: Channel
    to: str
    at: datetime


@dataclass(frozen=True)
class Delay:
    until: datetime
    reason: str  # quiet_hours or send_window
    channel: Channel


@dataclass(frozen=True)
class Suppress:
    reason: str  # machine-readable, published as MessageSuppressed.reason
    detail: str = ""  # for people: which cap, which channels were tried
    channel: Channel | None = None


Decision = Send | Delay | Suppress


@dataclass(frozen=True)
class Recipient:
    """What the policy needs to know about the customer."""

    store_id: str
    customer_id: str
    email: str | None = None
    phone: str | None = None  # E.164
    email_consent: bool | None = None  # None: never asked; marketing needs True
    sms_consent: bool | None = None
    timezone: str | None = None
    preferred_channel: Channel | None = None
    suppressions: SuppressionList = EMPTY

    @classmethod
    def of(
        cls,
        contact: Contact | None,
        *,
        store_id: str,
        customer_id: str,
        suppressions: SuppressionList = EMPTY,
        preferred_channel: Channel | None = None,
        trigger_email: str | None = None,
        trigger_phone: str | None = None,
    ) -> Recipient:
        """The contact card, with the trigger's own address (an order's email) when the card has none."""
        return cls(
            store_id=store_id,
            customer_id=customer_id,
            email=(contact.email if contact else None) or normalize_email(trigger_email),
            phone=(contact.phone if contact else None) or normalize_phone(trigger_phone),
            email_consent=contact.email_consent if contact else None,
            sms_consent=contact.sms_consent if contact else None,
            timezone=contact.timezone if contact else None,
            preferred_channel=preferred_channel or _preference_of(contact),
            suppressions=suppressions,
        )

    def address(self, channel: Channel) -> str | None:
        return self.email if channel is Channel.EMAIL else self.phone


@dataclass(frozen=True)
class SendRequest:
    """One step of one flow for one trigger instance, as the policy sees it."""

    key: str  # the idempotency key
    flow: str
    step: str
    purpose: Purpose
    priority: int
    channels: tuple[Channel, ...]  # preference order
    holdout_percent: float = 0.0
    send_window: LocalWindow | None = None

    @classmethod
    def for_step(cls, flow: FlowDefinition, step: str, key: str) -> SendRequest:
        return cls(
            key=key,
            flow=flow.name,
            step=step,
            purpose=flow.purpose,
            priority=flow.priority,
            channels=flow.steps[step].channels,
            holdout_percent=flow.holdout_percent,
            send_window=flow.send_window.window() if flow.send_window else None,
        )


@dataclass(frozen=True)
class SendPolicy:
    caps: tuple[CapRule, ...] = DEFAULT_CAPS
    quiet_hours: LocalWindow = SMS_QUIET_HOURS
    # A receipt SMS answers something the customer just did; holding it until morning would
    # confuse more than it protects. Set True to hold transactional SMS as well.
    quiet_hours_for_transactional: bool = False
    default_timezone: str = "UTC"  # the store's


def decide_send(
    request: SendRequest,
    recipient: Recipient,
    history: Sequence[PastSend],
    policy: SendPolicy,
    now: datetime,
) -> Decision:
    """Send, Delay or Suppress one step for one customer at `now` (see the module's order)."""
    chosen = choose_channel(request, recipient)
    if isinstance(chosen, Suppress):
        return chosen
    channel, to = chosen
    held_out = holdout(request, recipient, channel)
    if held_out is not None:
        return held_out
    timed = timing(request, recipient, channel, policy, now)
    if timed is not None:
        return timed
    capped = frequency_cap(request, channel, history, policy, now)
    if capped is not None:
        return capped
    return Send(channel, to, now)


def reach(recipient: Recipient, channel: Channel, purpose: Purpose) -> str | Suppress:
    """The customer's address on `channel`, or why it may not be used for this purpose."""
    address = recipient.address(channel)
    if address is None:
        return Suppress(NO_ADDRESS, channel=channel)
    block = recipient.suppressions.blocking(channel, purpose, address)
    if block is not None:
        return Suppress(block.value, channel=channel)
    if channel is Channel.SMS:
        consented = recipient.sms_consent is True
    else:
        consented = purpose is Purpose.TRANSACTIONAL or recipient.email_consent is True
    if not consented:
        return Suppress(NO_CONSENT, channel=channel)
    return address


def channel_order(request: SendRequest, recipient: Recipient) -> tuple[Channel, ...]:
    preferred = recipient.preferred_channel
    if preferred in request.channels:
        return (preferred, *(c for c in request.channels if c is not preferred))  # type: ignore[misc]
    return request.channels


def choose_channel(request: SendRequest, recipient: Recipient) -> tuple[Channel, str] | Suppress:
    refusals: list[Suppress] = []
    for channel in channel_order(request, recipient):
        reached = reach(recipient, channel, request.purpose)
        if isinstance(reached, str):
            return channel, reached
        refusals.append(reached)
    worst = min(refusals, key=lambda refusal: _REASON_ORDER.index(refusal.reason))
    detail = "; ".join(f"{r.channel.value}: {r.reason}" for r in refusals if r.channel is not None)
    return Suppress(worst.reason, detail, worst.channel)


def holdout(request: SendRequest, recipient: Recipient, channel: Channel) -> Suppress | None:
    if request.purpose is not Purpose.MARKETING or request.holdout_percent <= 0:
        return None
    if not in_holdout(recipient.store_id, recipient.customer_id, request.flow, request.holdout_percent):
        return None
    return Suppress(HOLDOUT, f"{request.holdout_percent:g}% control group of {request.flow}", channel)


def timing(
    request: SendRequest, recipient: Recipient, channel: Channel, policy: SendPolicy, now: datetime
) -> Delay | Suppress | None:
    """None when the message may go now; else when it may (Delay), or Suppress if never."""
    windows: list[tuple[str, LocalWindow]] = []
    if request.send_window is not None:
        windows.append((SEND_WINDOW, request.send_window))
    quiet = request.purpose is Purpose.MARKETING or policy.quiet_hours_for_transactional
    if channel is Channel.SMS and quiet:
        windows.append((QUIET_HOURS, policy.quiet_hours))
    if not windows:
        return None
    zone = zone_for(recipient.timezone, policy.default_timezone)
    at, reason = now, None
    for _ in range(_MAX_TIMING_ROUNDS):
        moved = False
        for name, window in windows:
            opened = next_open(at, zone, window)
            if opened is None:
                return Suppress(NO_SEND_TIME, f"{name} never opens", channel)
            if opened != at:
                at, reason, moved = opened, reason or name, True
        if not moved:
            return None if reason is None else Delay(at, reason, channel)
    return Suppress(NO_SEND_TIME, "the send window and quiet hours never overlap", channel)


def frequency_cap(
    request: SendRequest, channel: Channel, history: Sequence[PastSend], policy: SendPolicy, now: datetime
) -> Suppress | None:
    if request.purpose is not Purpose.MARKETING:
        return None
    breach = cap_breach(
        policy.caps, history, key=request.key, channel=channel, priority=request.priority, at=now
    )
    return None if breach is None else Suppress(FREQUENCY_CAP, breach.detail(), channel)


def _preference_of(contact: Contact | None) -> Channel | None:
    return Channel(contact.preferred_channel) if contact and contact.preferred_channel else None
