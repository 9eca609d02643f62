"""The event-time clock: `now` is the latest business time read, never backwards, never ahead
of the wall clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from boomerang.shared.clocks import BEFORE_ANY_EVENT, EventTimeClock

WALL = datetime(2026, 3, 1, tzinfo=timezone.utc)
HISTORY = datetime(1997, 1, 1, 12, tzinfo=timezone.utc)


def test_now_is_the_latest_event_time_and_never_goes_back():
    clock = EventTimeClock(wall=lambda: WALL)
    assert clock() == BEFORE_ANY_EVENT  # nothing is due before the first event
    clock.saw(HISTORY + timedelta(days=10))
    clock.saw(HISTORY + timedelta(days=3))  # a late event from a lagging partition
    assert clock() == HISTORY + timedelta(days=10)
    clock.saw(HISTORY + timedelta(days=400))
    assert clock() == HISTORY + timedelta(days=400)


def test_a_timestamp_from_the_future_stops_at_the_wall_clock():
    clock = EventTimeClock(wall=lambda: WALL)
    clock.saw(datetime(2099, 1, 1, tzinfo=timezone.utc))
    assert clock() == WALL
