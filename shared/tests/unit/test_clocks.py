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


class FakeMonotonic:
    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> float:
        return self.seconds


def test_read_from_partitions_now_is_the_lowest_of_their_latest_times():
    ticks = FakeMonotonic()
    clock = EventTimeClock(wall=lambda: WALL, idle_after=2.0, monotonic=ticks)
    clock.saw(HISTORY + timedelta(hours=9), source=("orders", 0))  # a fast partition
    clock.saw(HISTORY + timedelta(hours=1), source=("orders", 1))  # its order is still to come
    assert clock() == HISTORY + timedelta(hours=1)
    clock.saw(HISTORY + timedelta(hours=5), source=("orders", 1))
    assert clock() == HISTORY + timedelta(hours=5)


def test_an_idle_partition_stops_holding_the_clock_back_and_all_idle_means_all_read():
    ticks = FakeMonotonic()
    clock = EventTimeClock(wall=lambda: WALL, idle_after=2.0, monotonic=ticks)
    clock.saw(HISTORY, source=0)
    clock.saw(HISTORY + timedelta(days=1), source=1)
    ticks.seconds = 1.5
    clock.saw(HISTORY + timedelta(days=2), source=1)
    assert clock() == HISTORY  # source 0 read 1.5 s ago: it may still have older events coming
    ticks.seconds = 2.5
    assert clock() == HISTORY + timedelta(days=2)  # source 0 idle: left out
    ticks.seconds = 10.0
    assert clock() == HISTORY + timedelta(days=2)  # every source idle: the latest read
    clock.saw(HISTORY + timedelta(hours=1), source=0)  # a late event comes back
    assert clock() == HISTORY + timedelta(days=2)  # never backwards
