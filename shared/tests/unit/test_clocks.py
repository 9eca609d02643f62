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


def test_read_from_partitions_now_is_the_lowest_latest_time_of_those_with_more_to_read():
    clock = EventTimeClock(wall=lambda: WALL)
    clock.unread([0, 1])
    clock.saw(HISTORY + timedelta(hours=9), source=0)  # a fast partition
    assert clock() == BEFORE_ANY_EVENT  # partition 1 not read yet: its times are unknown
    clock.saw(HISTORY + timedelta(hours=1), source=1)  # its order is still to come
    assert clock() == HISTORY + timedelta(hours=1)
    clock.saw(HISTORY + timedelta(hours=5), source=1)
    assert clock() == HISTORY + timedelta(hours=5)


def test_a_partition_with_nothing_left_to_read_holds_nobody_back_and_none_left_means_all_read():
    clock = EventTimeClock(wall=lambda: WALL)
    clock.unread([0, 1])
    clock.saw(HISTORY, source=0)
    clock.saw(HISTORY + timedelta(days=2), source=1)
    assert clock() == HISTORY
    clock.unread([1])  # partition 0 read to its end
    assert clock() == HISTORY + timedelta(days=2)
    clock.unread([])
    clock.saw(HISTORY + timedelta(days=3), source=1)
    assert clock() == HISTORY + timedelta(days=3)  # everything read: the latest of all
    clock.unread([0, 1])
    clock.saw(HISTORY + timedelta(hours=1), source=0)  # a late event comes in
    assert clock() == HISTORY + timedelta(days=3)  # never backwards
