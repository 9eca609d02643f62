"""Wall-clock rules in the customer's own time zone: send windows, SMS quiet hours, anniversaries.

Every function takes aware datetimes and returns aware datetimes; none reads a clock. Instants
computed here are in UTC: Python subtracts two datetimes of the same zone by wall clock, so a
Berlin 08:00 minus a Berlin 22:30 across the spring change would say 9h30 instead of 8h30. Local
times are turned into instants with zoneinfo, so a window that opens at 08:00 opens at 08:00
local on the days clocks change too (06:00 UTC in Berlin the morning after the spring change,
07:00 UTC the morning after the autumn one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

EVERY_DAY = frozenset(range(7))  # Monday is 0, as in date.weekday()
# Two weeks of daily windows: any window open at least one day a week opens within this.
_SEARCH_DAYS = 14


@dataclass(frozen=True)
class LocalWindow:
    """Open from `start` (included) to `end` (excluded) local time, on `days` (0 = Monday).

    Windows do not cross midnight: quiet hours 21:00-08:00 are written as the open window
    08:00-21:00.
    """

    start: time
    end: time
    days: frozenset[int] = EVERY_DAY

    def __post_init__(self) -> None:
        if self.start >= self.end:
            raise ValueError(f"a window must open before it closes, got {self.start}-{self.end}")
        if not self.days or not self.days <= EVERY_DAY:
            raise ValueError(f"days must be weekday numbers 0-6, got {sorted(self.days)}")

    def is_open(self, local: datetime) -> bool:
        return local.weekday() in self.days and self.start <= local.time() < self.end


SMS_QUIET_HOURS = LocalWindow(time(8, 0), time(21, 0))  # SMS may go out 08:00-21:00 local


def zone_for(timezone: str | None, default: str) -> ZoneInfo:
    """The customer's zone; their store's default when they have none or an unknown one."""
    for name in (timezone, default):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def wall_time(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant a clock in `zone` shows `at` on `day`.

    A wall time that does not exist (inside a spring-forward gap) becomes the first instant after
    the gap; an ambiguous one (autumn) the first of the two. Going through UTC normalizes both.
    """
    naive = datetime.combine(day, at)
    return naive.replace(tzinfo=zone).astimezone(ZoneInfo("UTC")).astimezone(zone)


def next_open(at: datetime, zone: ZoneInfo, window: LocalWindow) -> datetime | None:
    """`at` if the window is open then, else the next instant it opens (in UTC); None if never."""
    _require_aware(at)
    local = at.astimezone(zone)
    if window.is_open(local):
        return at
    for offset in range(_SEARCH_DAYS + 1):
        day = local.date() + timedelta(days=offset)
        if day.weekday() not in window.days:
            continue
        opening = wall_time(day, window.start, zone)
        # A window lying inside a spring-forward gap does not open that day at all.
        if opening > at and window.is_open(opening.astimezone(zone)):
            return opening.astimezone(UTC)
    return None


def next_anniversary(anchor: date, after: datetime, zone: ZoneInfo, at: time) -> datetime:
    """The first `at` local on the anchor's month and day strictly after `after`.

    A 29 February anchor is celebrated on 28 February in years without one (the customer still
    gets their birthday message, in the same month).
    """
    _require_aware(after)
    year = after.astimezone(zone).year
    while True:
        moment = wall_time(_same_day_in(anchor, year), at, zone)
        if moment > after:
            return moment.astimezone(UTC)
        year += 1


def _same_day_in(anchor: date, year: int) -> date:
    try:
        return anchor.replace(year=year)
    except ValueError:  # 29 February in a common year
        return date(year, 2, 28)


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a naive datetime has no place on a clock: {moment!r}")


# A step due this long ago is not sent: a "you left something in your cart" a day late reads as
# a mistake. It happens when the messenger reads a backlog (an outage) or a replay of old history.
LATE_LIMIT = timedelta(days=1)
TOO_LATE = "too_late"  # the suppression reason of such a step




def due_after(
    happened_at: datetime, wait: timedelta, now: datetime, late_limit: timedelta | None = LATE_LIMIT
) -> datetime | None:
    """When a step `wait` after an event is due, counted from the event, not from when the
    messenger read it (a backlog does not push every reminder back); `now` if that has passed,
    None if it passed more than `late_limit` ago (no limit: None, for a replay on event time,
    where one partition's events can be read months of history behind another's)."""
    _require_aware(now)
    due = counted_from(happened_at, now, late_limit) + wait
    if late_limit is not None and due < now - late_limit:
        return None
    return max(due, now)


def counted_from(happened_at: datetime, now: datetime, late_limit: timedelta | None = LATE_LIMIT) -> datetime:
    """The moment a wait after an event starts: the event's time. On the wall clock (a late
    limit) an event stamped in the future counts from now; on event time (no limit) `now` is
    the watermark of the partitions read, which trails the events being read, so the event's
    own time stands."""
    _require_aware(happened_at)
    return happened_at if late_limit is None else min(happened_at, now)
