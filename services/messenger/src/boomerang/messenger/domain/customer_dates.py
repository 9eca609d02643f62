"""The yearly date flows: a customer's birthday and the anniversary of their first order.

Each occasion is due at the flow's `at` in the customer's time zone on the day (a 29 February
one on 28 February in common years, `timing.next_anniversary`). The sweep writes an occasion's
step to the ledger ahead of time, named by its local year (trigger instance "2027"), so however
often it runs, each occasion is one idempotency key. Only customers whose stored month and day
is near today are read (`month_days_near`): an indexed lookup, not a scan of the whole base.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from boomerang.messenger.domain.timing import LATE_LIMIT, next_anniversary

BIRTHDAY = "birthday"
FIRST_PURCHASE = "first_purchase"  # the names `DateTrigger.date` uses
# How far ahead the sweep writes occasions: more than its interval, so none falls between runs.
LOOKAHEAD = timedelta(days=1)
# The most a sweep looks back: less than a year, so one occasion is never found twice.
MAX_LOOKBACK = timedelta(days=360)
# A first order's day is stored as its UTC day, and an occasion's due moment falls on a UTC
# day; in any zone the two are at most one day apart: one day of margin on each side.
_ZONE_MARGIN = timedelta(days=1)


@dataclass(frozen=True)
class CustomerDate:
    """A stored occasion: the birthday as told, or the first order's day (in UTC; its local
    day is worked out in the customer's zone when it is due)."""

    store_id: str
    customer_id: str
    occasion: str  # BIRTHDAY or FIRST_PURCHASE
    day: date
    happened_at: datetime | None = None  # the first order's moment; None for a birthday


def month_day(day: date) -> str:
    """"MM-DD": what the sweep's index is on."""
    return f"{day.month:02d}-{day.day:02d}"


def month_days_near(now: datetime, lookahead: timedelta = LOOKAHEAD, lookback: timedelta = LATE_LIMIT) -> list[str]:
    """The stored month-days an occasion due between `lookback` ago and `lookahead` from now can
    have, in any time zone; 29 February rides along with 28 February in common years."""
    first = (now - min(lookback, MAX_LOOKBACK) - _ZONE_MARGIN).astimezone(UTC).date()
    last = (now + lookahead + _ZONE_MARGIN).astimezone(UTC).date()
    found: list[str] = []
    day = first
    while day <= last:
        found.append(month_day(day))
        if (day.month, day.day) == (2, 28) and not _is_leap(day.year):
            found.append("02-29")
        day += timedelta(days=1)
    return sorted(set(found))


def anchor_of(stored: CustomerDate, zone: ZoneInfo) -> date:
    """The day the occasion repeats: a birthday as told; a first order on its local day."""
    if stored.happened_at is None:
        return stored.day
    return stored.happened_at.astimezone(zone).date()


def occasion_due(
    stored: CustomerDate,
    at: time,
    zone: ZoneInfo,
    now: datetime,
    lookahead: timedelta = LOOKAHEAD,
    lookback: timedelta = LATE_LIMIT,
) -> tuple[str, datetime] | None:
    """(trigger instance, due moment in UTC) of the occasion due from `lookback` ago (a day: a
    sweep that was down catches up; on event time, since the last sweep) to `lookahead` from now;
    None if there is none. A first order's anniversary starts the year after it."""
    anchor = anchor_of(stored, zone)
    due = next_anniversary(anchor, now - min(lookback, MAX_LOOKBACK), zone, at)
    year = due.astimezone(zone).year
    if stored.occasion == FIRST_PURCHASE and year <= anchor.year:
        due = next_anniversary(anchor, due, zone, at)  # the first order's own day is no anniversary
        year = due.astimezone(zone).year
    if due > now + lookahead:
        return None
    return str(year), due


def years_since(anchor: date, due: datetime, zone: ZoneInfo) -> int:
    return max(due.astimezone(zone).year - anchor.year, 1)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
