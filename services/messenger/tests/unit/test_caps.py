"""Frequency caps: the boundaries, the rolling week, transactional mail, and priorities."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boomerang.messenger.domain.caps import (
    DEFAULT_CAPS,
    CapRule,
    PastSend,
    busiest_window,
    cap_breach,
)
from boomerang.messenger.domain.flows import Channel, Purpose

T0 = datetime(2026, 5, 4, 9, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)
US = timedelta(microseconds=1)
EMAIL, SMS = Channel.EMAIL, Channel.SMS


def sent(at: datetime, flow: str = "win_back", channel: Channel = EMAIL, priority: int = 50, **kw: object) -> PastSend:
    return PastSend(
        key=f"{flow}/{at.isoformat()}/{channel}",
        flow=flow,
        channel=channel,
        at=at,
        purpose=kw.pop("purpose", Purpose.MARKETING),  # type: ignore[arg-type]
        priority=priority,
        scheduled=bool(kw.pop("scheduled", False)),
    )


def breach(history: list[PastSend], at: datetime, channel: Channel = EMAIL, priority: int = 50, key: str = "me"):
    return cap_breach(DEFAULT_CAPS, history, key=key, channel=channel, priority=priority, at=at)


def test_one_marketing_email_per_16_hours_exactly_16_hours_later_is_allowed() -> None:
    history = [sent(T0)]

    assert breach(history, T0 + 16 * H) is None
    assert breach(history, T0 + 16 * H - US) is not None
    assert breach(history, T0 + H).rule == CapRule(EMAIL, 1, 16 * H)  # type: ignore[union-attr]


def test_three_marketing_emails_in_any_rolling_week() -> None:
    history = [sent(T0), sent(T0 + D), sent(T0 + 2 * D)]

    fourth = breach(history, T0 + 7 * D - US)
    assert fourth is not None
    assert fourth.rule == CapRule(EMAIL, 3, 7 * D)
    assert len(fourth.counted) == 3
    # Once the first has left the week, there is room again.
    assert breach(history, T0 + 7 * D) is None


def test_the_week_rolls_rather_than_resetting_on_monday() -> None:
    # Friday, Saturday, Sunday, then Monday: a calendar week would allow Monday.
    friday = datetime(2026, 5, 8, 9, tzinfo=UTC)
    history = [sent(friday), sent(friday + D), sent(friday + 2 * D)]

    assert breach(history, friday + 3 * D) is not None


def test_one_marketing_sms_per_24_hours_independently_of_email() -> None:
    history = [sent(T0, channel=SMS), sent(T0 + H, channel=EMAIL)]

    assert breach(history, T0 + 24 * H - US, channel=SMS) is not None
    assert breach(history, T0 + 24 * H, channel=SMS) is None
    assert breach([sent(T0, channel=SMS)], T0 + H, channel=EMAIL) is None


def test_transactional_messages_neither_count_nor_are_counted() -> None:
    receipts = [sent(T0 + i * H, flow="receipt", purpose=Purpose.TRANSACTIONAL) for i in range(5)]

    assert breach(receipts, T0 + 5 * H) is None


def test_caps_count_across_all_flows() -> None:
    history = [sent(T0, flow="broadcast")]

    capped = breach(history, T0 + 2 * H)

    assert capped is not None
    assert "already sent broadcast" in capped.detail()
    assert capped.detail().startswith("1 marketing email per 16 h")


def test_the_candidate_is_never_counted_against_itself() -> None:
    mine = sent(T0, scheduled=True)

    assert breach([mine], T0, key=mine.key) is None


def test_a_higher_priority_message_goes_ahead_of_a_scheduled_lower_one() -> None:
    scheduled_nurture = sent(T0 + 2 * H, flow="neutral_nurture", priority=30, scheduled=True)

    assert breach([scheduled_nurture], T0, priority=70) is None


def test_a_lower_priority_message_yields_to_a_scheduled_higher_one() -> None:
    scheduled_win_back = sent(T0 + 2 * H, flow="win_back", priority=70, scheduled=True)

    capped = breach([scheduled_win_back], T0, priority=30)

    assert capped is not None
    assert capped.detail() == "1 marketing email per 16 h: yields to win_back (priority 70)"


def test_at_equal_priority_the_one_scheduled_first_keeps_its_place() -> None:
    scheduled = sent(T0 + H, flow="birthday", priority=55, scheduled=True)

    assert breach([scheduled], T0, priority=55) is not None


def test_a_sent_message_counts_whatever_its_priority() -> None:
    # Priority decides between messages not sent yet; what went out went out.
    assert breach([sent(T0, flow="broadcast", priority=20)], T0 + H, priority=90) is not None


def test_the_lower_one_then_finds_the_cap_full_when_its_turn_comes() -> None:
    win_back = sent(T0, flow="win_back", priority=70)  # went ahead, now sent
    nurture_key = "neutral_nurture/step"

    assert cap_breach(DEFAULT_CAPS, [win_back], key=nurture_key, channel=EMAIL, priority=30, at=T0 + 2 * H)


def test_a_scheduled_message_exactly_a_window_later_does_not_conflict() -> None:
    later = sent(T0 + 16 * H, priority=90, scheduled=True)

    assert breach([later], T0, priority=10) is None
    assert breach([later], T0 + US, priority=10) is not None


def test_a_cap_rule_needs_a_limit_and_a_window() -> None:
    with pytest.raises(ValueError):
        CapRule(EMAIL, 0, H)
    with pytest.raises(ValueError):
        CapRule(EMAIL, 1, timedelta(0))
    assert CapRule(EMAIL, 3, 7 * D).describe() == "3 marketing email per 7 d"


# Times in whole minutes: every window boundary is then a whole minute, so trying every
# whole-minute window start is an exact (slow) oracle for the busiest window.
MINUTE = timedelta(minutes=1)


def oracle_busiest(times: list[int], at: int, window: int) -> int:
    return max(sum(1 for t in times if start < t <= start + window) for start in range(at - window, at))


@settings(max_examples=300, deadline=None)
@given(
    times=st.lists(st.integers(0, 600), max_size=12),
    at=st.integers(0, 600),
    window=st.integers(1, 240),
)
def test_the_busiest_window_matches_trying_every_window(times: list[int], at: int, window: int) -> None:
    sends = [sent(T0 + t * MINUTE) for t in times]

    found = busiest_window(sends, T0 + at * MINUTE, window * MINUTE)

    assert len(found) == oracle_busiest(times, at, window)
    # And what it returns really fits in one window holding `at`.
    if found:
        span = max(s.at for s in found) - min(s.at for s in found)
        assert span < window * MINUTE


@settings(max_examples=200, deadline=None)
@given(
    gaps=st.lists(st.integers(1, 72 * 60), min_size=1, max_size=10),
)
def test_sending_only_what_the_caps_allow_never_exceeds_them(gaps: list[int]) -> None:
    """Offer a marketing email at each gap; keep those allowed. No window ever breaks a cap."""
    history: list[PastSend] = []
    at = T0
    for gap in gaps:
        at += gap * MINUTE
        if breach(history, at) is None:
            history.append(sent(at))
    times = [s.at for s in history]
    for rule in DEFAULT_CAPS[:2]:
        for start in times:
            assert sum(1 for t in times if start <= t < start + rule.window) <= rule.limit
