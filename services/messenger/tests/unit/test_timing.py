"""Local-time rules: windows, quiet hours across DST changes, anniversaries, time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boomerang.messenger.domain.timing import (
    due_after,
    SMS_QUIET_HOURS,
    LocalWindow,
    next_anniversary,
    next_open,
    wall_time,
    zone_for,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_a_window_must_open_before_it_closes_on_real_days() -> None:
    with pytest.raises(ValueError, match="open before it closes"):
        LocalWindow(time(21), time(8))
    with pytest.raises(ValueError, match="open before it closes"):
        LocalWindow(time(8), time(8))
    with pytest.raises(ValueError, match="weekday numbers"):
        LocalWindow(time(8), time(9), frozenset({7}))
    with pytest.raises(ValueError, match="weekday numbers"):
        LocalWindow(time(8), time(9), frozenset())


@pytest.mark.parametrize(
    ("local", "expected_local"),
    [
        (datetime(2026, 6, 10, 8, 0), datetime(2026, 6, 10, 8, 0)),  # opening minute: open
        (datetime(2026, 6, 10, 12, 0), datetime(2026, 6, 10, 12, 0)),
        (datetime(2026, 6, 10, 20, 59, 59), datetime(2026, 6, 10, 20, 59, 59)),
        (datetime(2026, 6, 10, 21, 0), datetime(2026, 6, 11, 8, 0)),  # closing minute: closed
        (datetime(2026, 6, 10, 23, 30), datetime(2026, 6, 11, 8, 0)),
        (datetime(2026, 6, 10, 0, 0), datetime(2026, 6, 10, 8, 0)),
        (datetime(2026, 6, 10, 7, 59, 59), datetime(2026, 6, 10, 8, 0)),
    ],
)
def test_quiet_hours_move_a_night_message_to_eight_in_the_morning(
    local: datetime, expected_local: datetime
) -> None:
    at = local.replace(tzinfo=BERLIN)

    assert next_open(at, BERLIN, SMS_QUIET_HOURS) == expected_local.replace(tzinfo=BERLIN)


def test_the_night_before_clocks_go_forward_in_berlin() -> None:
    # 29 March 2026, 02:00 CET becomes 03:00 CEST: the night is an hour shorter.
    late = utc(2026, 3, 28, 21, 30)  # 22:30 CET
    in_the_gap_night = utc(2026, 3, 29, 0, 30)  # 01:30 CET

    assert next_open(late, BERLIN, SMS_QUIET_HOURS) == utc(2026, 3, 29, 6, 0)  # 08:00 CEST
    assert next_open(in_the_gap_night, BERLIN, SMS_QUIET_HOURS) == utc(2026, 3, 29, 6, 0)
    assert utc(2026, 3, 29, 6, 0) - late == timedelta(hours=8, minutes=30)  # not 9h30: an hour less


def test_the_night_clocks_go_back_in_berlin() -> None:
    # 25 October 2026, 03:00 CEST becomes 02:00 CET: 02:00-03:00 happens twice.
    late = utc(2026, 10, 24, 21, 0)  # 23:00 CEST
    first_half_past_two = utc(2026, 10, 25, 0, 30)  # 02:30 CEST
    second_half_past_two = utc(2026, 10, 25, 1, 30)  # 02:30 CET

    for at in (late, first_half_past_two, second_half_past_two):
        assert next_open(at, BERLIN, SMS_QUIET_HOURS) == utc(2026, 10, 25, 7, 0)  # 08:00 CET


def test_the_evening_of_a_change_day_closes_at_nine_local() -> None:
    assert next_open(utc(2026, 3, 29, 18, 59), BERLIN, SMS_QUIET_HOURS) == utc(2026, 3, 29, 18, 59)
    assert next_open(utc(2026, 3, 29, 19, 0), BERLIN, SMS_QUIET_HOURS) == utc(2026, 3, 30, 6, 0)
    assert next_open(utc(2026, 10, 25, 20, 0), BERLIN, SMS_QUIET_HOURS) == utc(2026, 10, 26, 7, 0)


def test_openings_are_in_utc_so_subtracting_gives_real_durations() -> None:
    late = datetime(2026, 3, 28, 22, 30, tzinfo=BERLIN)

    until = next_open(late, BERLIN, SMS_QUIET_HOURS)

    assert until is not None and until.tzinfo is UTC
    assert until - late == timedelta(hours=8, minutes=30)
    # Two Berlin datetimes subtract by wall clock: the trap this avoids.
    assert until.astimezone(BERLIN) - late == timedelta(hours=9, minutes=30)


def test_a_weekday_window_waits_over_the_weekend() -> None:
    weekdays = LocalWindow(time(9), time(17), frozenset({0, 1, 2, 3, 4}))
    friday_evening = datetime(2026, 6, 12, 18, 0, tzinfo=NEW_YORK)
    saturday_noon = datetime(2026, 6, 13, 12, 0, tzinfo=NEW_YORK)

    assert next_open(friday_evening, NEW_YORK, weekdays) == datetime(2026, 6, 15, 9, 0, tzinfo=NEW_YORK)
    assert next_open(saturday_noon, NEW_YORK, weekdays) == datetime(2026, 6, 15, 9, 0, tzinfo=NEW_YORK)


def test_a_wall_time_inside_the_spring_gap_is_the_first_instant_after_it() -> None:
    moment = wall_time(date(2026, 3, 29), time(2, 30), BERLIN)

    assert moment.astimezone(UTC) == utc(2026, 3, 29, 1, 30)
    assert moment.astimezone(BERLIN).time() == time(3, 30)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        next_open(datetime(2026, 1, 1, 12), BERLIN, SMS_QUIET_HOURS)
    with pytest.raises(ValueError, match="naive"):
        next_anniversary(date(1990, 1, 1), datetime(2026, 1, 1), BERLIN, time(9))


def test_the_customers_zone_else_the_stores_else_utc() -> None:
    assert zone_for("Asia/Tokyo", "Europe/Berlin") == ZoneInfo("Asia/Tokyo")
    assert zone_for(None, "Europe/Berlin") == BERLIN
    assert zone_for("Mars/Olympus_Mons", "Europe/Berlin") == BERLIN
    assert zone_for("", "not a zone") == ZoneInfo("UTC")


def test_a_birthday_is_at_nine_in_the_customers_own_zone() -> None:
    born = date(1990, 6, 15)
    tokyo, los_angeles = ZoneInfo("Asia/Tokyo"), ZoneInfo("America/Los_Angeles")
    now = utc(2026, 6, 1)

    assert next_anniversary(born, now, tokyo, time(9)) == utc(2026, 6, 15, 0, 0)  # 09:00 JST
    assert next_anniversary(born, now, los_angeles, time(9)) == utc(2026, 6, 15, 16, 0)  # 09:00 PDT


def test_a_birthday_already_celebrated_this_year_is_next_year() -> None:
    born = date(1990, 6, 15)

    before_nine = datetime(2026, 6, 15, 8, 59, tzinfo=BERLIN)
    at_nine = datetime(2026, 6, 15, 9, 0, tzinfo=BERLIN)

    assert next_anniversary(born, before_nine, BERLIN, time(9)) == at_nine
    assert next_anniversary(born, at_nine, BERLIN, time(9)) == datetime(2027, 6, 15, 9, 0, tzinfo=BERLIN)


def test_a_29_february_birthday_is_on_28_february_in_common_years() -> None:
    leap_day = date(2000, 2, 29)

    assert next_anniversary(leap_day, utc(2026, 3, 1), UTC, time(9)) == utc(2027, 2, 28, 9)
    assert next_anniversary(leap_day, utc(2027, 3, 1), UTC, time(9)) == utc(2028, 2, 29, 9)


ZONES = st.sampled_from(
    ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Apia", "UTC"]
)
INSTANTS = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))
WINDOWS = st.builds(
    lambda start, length, days: LocalWindow(
        time(start), time(min(start + length, 23), 59 if start + length >= 23 else 0), frozenset(days)
    ),
    st.integers(0, 22),
    st.integers(1, 12),
    st.sets(st.integers(0, 6), min_size=1),
)


@settings(max_examples=300, deadline=None)
@given(at=INSTANTS, zone_name=ZONES, window=WINDOWS)
def test_next_open_is_the_first_open_instant(at: datetime, zone_name: str, window: LocalWindow) -> None:
    zone = ZoneInfo(zone_name)

    opened = next_open(at, zone, window)

    assert opened is not None
    assert opened >= at
    assert window.is_open(opened.astimezone(zone))
    if opened > at:
        # It is an opening: a minute earlier the window was still closed, and it is within a week.
        assert not window.is_open((opened - timedelta(minutes=1)).astimezone(zone))
        assert not window.is_open(at.astimezone(zone))
        assert opened - at <= timedelta(days=8)


def test_a_window_inside_the_spring_gap_does_not_open_that_day() -> None:
    two_to_three = LocalWindow(time(2), time(3))

    opened = next_open(utc(2026, 3, 28, 23, 0), BERLIN, two_to_three)  # 00:00 CET on the change day

    assert opened == datetime(2026, 3, 30, 2, 0, tzinfo=BERLIN)


# --- time after an event -----------------------------------------------------------------------

WAIT = timedelta(hours=4)
READ_AT = datetime(2025, 3, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("happened", "due"),
    [
        (READ_AT, READ_AT + WAIT),  # read as it happens
        (READ_AT - timedelta(hours=1), READ_AT + timedelta(hours=3)),  # read an hour late: not pushed back
        (READ_AT - timedelta(hours=20), READ_AT),  # due 16 h ago: goes now
        (READ_AT - WAIT - timedelta(days=1), READ_AT),  # exactly at the late limit: still goes
        (READ_AT - WAIT - timedelta(days=1, seconds=1), None),  # past it: the moment has passed
        (READ_AT + timedelta(days=3), READ_AT + WAIT),  # stamped in the future: counted from now
    ],
)
def test_a_step_after_an_event_is_due_from_when_it_happened(happened: datetime, due: datetime | None) -> None:
    assert due_after(happened, WAIT, READ_AT) == due


def test_due_after_wants_aware_times() -> None:
    with pytest.raises(ValueError):
        due_after(datetime(2025, 3, 1, 12), WAIT, READ_AT)


def test_on_event_time_a_step_is_never_too_late() -> None:
    long_ago = READ_AT - timedelta(days=400)
    assert due_after(long_ago, WAIT, READ_AT, late_limit=None) == READ_AT


def test_on_event_time_an_event_ahead_of_the_watermark_counts_from_its_own_time() -> None:
    # The watermark trails the events being read: an order read on a fast partition is ahead of it.
    ahead = READ_AT + timedelta(hours=6)
    assert due_after(ahead, WAIT, READ_AT, late_limit=None) == ahead + WAIT
    assert due_after(ahead, WAIT, READ_AT) == READ_AT + WAIT  # the wall clock: counted from now
