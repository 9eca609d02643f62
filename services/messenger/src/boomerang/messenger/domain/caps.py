"""Frequency caps: at most `limit` marketing messages per customer and channel in any `window`.

Caps count every marketing flow together (a win-back and a broadcast share the customer's
inbox); transactional messages neither count nor are capped. A window is any span of `window`
length, half-open: a message exactly 16 h after the last one is allowed, a microsecond sooner
is not.

Priority: the history holds messages sent and messages scheduled but not yet sent (claimed in
the ledger, or a later step already planned). A sent message always counts. A scheduled one
counts only against candidates of lower or equal priority: a higher-priority message goes
ahead and the scheduled lower one yields (it finds the cap full when its turn comes); at equal
priority the one scheduled first keeps its place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from boomerang.messenger.domain.flows import Channel, Purpose


@dataclass(frozen=True)
class CapRule:
    channel: Channel
    limit: int
    window: timedelta

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window <= timedelta(0):
            raise ValueError(f"a cap needs a limit of at least 1 and a positive window, got {self}")

    def describe(self) -> str:
        hours = self.window / timedelta(hours=1)
        span = f"{hours / 24:g} d" if hours % 24 == 0 else f"{hours:g} h"
        return f"{self.limit} marketing {self.channel.value} per {span}"


DEFAULT_CAPS = (
    CapRule(Channel.EMAIL, 1, timedelta(hours=16)),
    CapRule(Channel.EMAIL, 3, timedelta(days=7)),
    CapRule(Channel.SMS, 1, timedelta(hours=24)),
)


@dataclass(frozen=True)
class PastSend:
    """One message in a customer's history: sent at `at`, or (`scheduled`) due then."""

    key: str  # its idempotency key: the candidate itself is never counted against itself
    flow: str
    channel: Channel
    at: datetime
    purpose: Purpose
    priority: int
    scheduled: bool = False


@dataclass(frozen=True)
class CapBreach:
    rule: CapRule
    counted: tuple[PastSend, ...]  # the messages filling the busiest window

    def detail(self) -> str:
        ahead = [send for send in self.counted if send.scheduled]
        if ahead:
            names = ", ".join(sorted({f"{send.flow} (priority {send.priority})" for send in ahead}))
            return f"{self.rule.describe()}: yields to {names}"
        return f"{self.rule.describe()}: already sent {', '.join(send.flow for send in self.counted)}"


def counts_against(send: PastSend, *, key: str, channel: Channel, priority: int) -> bool:
    if send.key == key or send.channel is not channel or send.purpose is not Purpose.MARKETING:
        return False
    return not send.scheduled or send.priority >= priority


def cap_breach(
    rules: Iterable[CapRule],
    history: Sequence[PastSend],
    *,
    key: str,
    channel: Channel,
    priority: int,
    at: datetime,
) -> CapBreach | None:
    """The first cap a marketing message on `channel` at `at` would break; None if none."""
    relevant = [s for s in history if counts_against(s, key=key, channel=channel, priority=priority)]
    for rule in rules:
        if rule.channel is not channel:
            continue
        busiest = busiest_window(relevant, at, rule.window)
        if len(busiest) + 1 > rule.limit:
            return CapBreach(rule, busiest)
    return None


def busiest_window(sends: Sequence[PastSend], at: datetime, window: timedelta) -> tuple[PastSend, ...]:
    """The most messages in one window (start, start + window] that also holds `at`.

    Such windows start in [at - window, at). Moving the start later only drops messages,
    except where a later message comes in (start = its time - window), so those starts and
    the earliest one are the only ones to look at.
    """
    starts = [at - window, *(s.at - window for s in sends if at < s.at < at + window)]
    best: tuple[PastSend, ...] = ()
    for start in starts:
        inside = tuple(s for s in sends if start < s.at <= start + window)
        if len(inside) > len(best):
            best = inside
    return best
