"""Birthdays and first-purchase anniversaries in the customer's time zone (domain.customer_dates)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from boomerang.messenger.domain.customer_dates import (
    BIRTHDAY,
    FIRST_PURCHASE,
    CustomerDate,
    month_day,
    month_days_near,
    occasion_due,
    years_since,
)

NINE = time(9, 0)
BERLIN = ZoneInfo("Europe/Berlin")
TOKYO = ZoneInfo("Asia/Tokyo")
LA = ZoneInfo("America/Los_Angeles")


def birthday(day: date) -> CustomerDate:
    return CustomerDate("s1", "c1", BIRTHDAY, day)


def first_order(at: datetime) -> CustomerDate:
    return CustomerDate("s1", "c1", FIRST_PURCHASE, at.astimezone(UTC).date(), at)


def test_a_birthday_is_due_at_nine_in_the_customers_zone() -> None:
    now = datetime(2026, 5, 13, 12, tzinfo=UTC)
    assert occasion_due(birthday(date(1990, 5, 14)), NINE, BERLIN, now) == (
        "2026",
        datetime(2026, 5, 14, 7, tzinfo=UTC),  # 09:00 CEST
    )
    assert occasion_due(birthday(date(1990, 5, 14)), NINE, TOKYO, now) == ("2026", datetime(2026, 5, 14, 0, tzinfo=UTC))


def test_a_birthday_further_ahead_than_a_day_is_not_due_yet() -> None:
    now = datetime(2026, 5, 12, 6, tzinfo=UTC)
    assert occasion_due(birthday(date(1990, 5, 14)), NINE, BERLIN, now) is None


def test_a_birthday_missed_by_less_than_a_day_is_still_due_and_one_missed_longer_is_not() -> None:
    stored = birthday(date(1990, 5, 14))
    assert occasion_due(stored, NINE, BERLIN, datetime(2026, 5, 14, 20, tzinfo=UTC)) == (
        "2026",
        datetime(2026, 5, 14, 7, tzinfo=UTC),
    )
    assert occasion_due(stored, NINE, BERLIN, datetime(2026, 5, 15, 8, tzinfo=UTC)) is None


def test_born_on_29_february_is_celebrated_on_28_february_in_common_years() -> None:
    stored = birthday(date(2000, 2, 29))
    assert occasion_due(stored, NINE, ZoneInfo("UTC"), datetime(2027, 2, 27, 12, tzinfo=UTC)) == (
        "2027",
        datetime(2027, 2, 28, 9, tzinfo=UTC),
    )
    assert occasion_due(stored, NINE, ZoneInfo("UTC"), datetime(2028, 2, 28, 12, tzinfo=UTC)) == (
        "2028",
        datetime(2028, 2, 29, 9, tzinfo=UTC),
    )


def test_the_anniversary_is_the_first_orders_local_day_not_its_utc_day() -> None:
    # 23:30 in Los Angeles on 10 March is 07:30 UTC on 11 March: the customer ordered on the 10th.
    stored = first_order(datetime(2025, 3, 11, 6, 30, tzinfo=UTC))
    found = occasion_due(stored, NINE, LA, datetime(2026, 3, 9, 20, tzinfo=UTC))
    assert found == ("2026", datetime(2026, 3, 10, 16, tzinfo=UTC))  # 09:00 PDT


def test_the_first_orders_own_day_is_no_anniversary() -> None:
    stored = first_order(datetime(2026, 6, 1, 6, tzinfo=UTC))
    assert occasion_due(stored, NINE, ZoneInfo("UTC"), datetime(2026, 6, 1, 7, tzinfo=UTC)) is None


def test_the_sweep_reads_the_month_days_around_now_in_any_zone() -> None:
    days = month_days_near(datetime(2026, 5, 14, 12, tzinfo=UTC))
    assert days == ["05-12", "05-13", "05-14", "05-15", "05-16"]


def test_the_sweep_near_28_february_of_a_common_year_reads_29_february_too() -> None:
    assert "02-29" in month_days_near(datetime(2027, 2, 27, 12, tzinfo=UTC))
    assert "02-29" not in month_days_near(datetime(2027, 2, 20, 12, tzinfo=UTC))


def test_an_anniversary_in_the_furthest_zones_is_among_the_month_days_read_until_it_is_too_late() -> None:
    # Ordered 23:30 on 2 March at UTC-12: stored as 3 March (the UTC day), celebrated on 2 March.
    zone = ZoneInfo("Etc/GMT+12")
    stored = first_order(datetime(2025, 3, 2, 23, 30, tzinfo=zone))
    assert stored.day == date(2025, 3, 3)
    due = datetime(2026, 3, 2, 21, tzinfo=UTC)  # 09:00 on 2 March there
    for now in (due - timedelta(hours=23), due + timedelta(hours=23)):
        assert occasion_due(stored, NINE, zone, now) == ("2026", due)
        assert "03-03" in month_days_near(now)


def test_month_day_and_years() -> None:
    assert month_day(date(1990, 2, 3)) == "02-03"
    assert years_since(date(2023, 6, 1), datetime(2026, 6, 1, 9, tzinfo=UTC), ZoneInfo("UTC")) == 3


def test_a_longer_lookback_finds_what_a_fast_replay_ran_past_but_never_a_year_back() -> None:
    stored = birthday(date(1990, 5, 14))
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    assert occasion_due(stored, NINE, BERLIN, now) is None
    assert occasion_due(stored, NINE, BERLIN, now, lookback=timedelta(days=20)) == ("2026", datetime(2026, 5, 14, 7, tzinfo=UTC))
    assert len(month_days_near(now, lookback=timedelta(days=20))) == 24
    assert 360 < len(month_days_near(now, lookback=timedelta(days=5000))) < 366  # capped below a year
    assert occasion_due(stored, NINE, BERLIN, datetime(2027, 5, 13, 12, tzinfo=UTC), lookback=timedelta(days=5000)) == (
        "2027", datetime(2027, 5, 14, 7, tzinfo=UTC),
    )  # fmt: skip
