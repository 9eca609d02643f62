"""The suppression list: which feedback events block what, what lifts it, and for which purpose."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boomerang.messenger.domain.flows import Channel, Purpose
from boomerang.messenger.domain.suppressions import (
    EMPTY,
    Block,
    Change,
    SuppressionList,
    change_for,
)

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
EMAIL, SMS = Channel.EMAIL, Channel.SMS
MARKETING, TRANSACTIONAL = Purpose.MARKETING, Purpose.TRANSACTIONAL


@pytest.mark.parametrize(
    ("provider", "kind", "reason", "expected"),
    [
        ("sendgrid", "unsubscribe", None, (EMAIL, Block.UNSUBSCRIBED, False)),
        ("sendgrid", "group_unsubscribe", None, (EMAIL, Block.UNSUBSCRIBED, False)),
        ("sendgrid", "group_resubscribe", None, (EMAIL, Block.UNSUBSCRIBED, True)),
        ("sendgrid", "spamreport", None, (EMAIL, Block.SPAM_COMPLAINT, False)),
        ("sendgrid", "bounce", "550 5.1.1 no such user", (EMAIL, Block.HARD_BOUNCE, False)),
        ("sendgrid", "bounce", "blocked: 554 IP listed", None),  # our IP, not their address
        ("sendgrid", "deferred", "mailbox full", None),
        ("sendgrid", "delivered", None, None),
        ("sendgrid", "open", None, None),
        ("twilio", "stop", None, (SMS, Block.SMS_STOP, False)),
        ("twilio", "STOP", None, (SMS, Block.SMS_STOP, False)),
        ("twilio", "unsubscribe", None, (SMS, Block.SMS_STOP, False)),
        ("twilio", "cancel", None, (SMS, Block.SMS_STOP, False)),
        ("twilio", "start", None, (SMS, Block.SMS_STOP, True)),
        ("twilio", "unstop", None, (SMS, Block.SMS_STOP, True)),
        ("twilio", "undelivered", "twilio error 30005", (SMS, Block.HARD_BOUNCE, False)),
        ("twilio", "failed", "twilio error 30006", (SMS, Block.HARD_BOUNCE, False)),
        ("twilio", "failed", "twilio error 21610", (SMS, Block.SMS_STOP, False)),
        ("twilio", "undelivered", "twilio error 30003", None),  # unreachable today: try again another day
        ("twilio", "delivered", None, None),
        ("twilio", "reply", None, None),
        ("mailgun", "unsubscribe", None, None),
    ],
)
def test_feedback_events_map_to_suppression_changes(
    provider: str, kind: str, reason: str | None, expected: tuple[Channel, Block, bool] | None
) -> None:
    change = change_for(provider, kind, T0, reason=reason, address="a@example.com")

    if expected is None:
        assert change is None
    else:
        assert change is not None
        assert (change.channel, change.block, change.lift, change.at) == (*expected, T0)


def listed(*changes: Change) -> SuppressionList:
    out = EMPTY
    for change in changes:
        out = out.apply(change)
    return out


# (block on the list, purpose, channel) -> what blocks; a hard bounce is on the address used.
MATRIX = [
    (Change(EMAIL, Block.UNSUBSCRIBED, T0), MARKETING, EMAIL, Block.UNSUBSCRIBED),
    (Change(EMAIL, Block.UNSUBSCRIBED, T0), TRANSACTIONAL, EMAIL, None),
    (Change(EMAIL, Block.UNSUBSCRIBED, T0), MARKETING, SMS, None),
    (Change(EMAIL, Block.SPAM_COMPLAINT, T0), MARKETING, EMAIL, Block.SPAM_COMPLAINT),
    (Change(EMAIL, Block.SPAM_COMPLAINT, T0), TRANSACTIONAL, EMAIL, None),
    (Change(EMAIL, Block.HARD_BOUNCE, T0, address="a@example.com"), MARKETING, EMAIL, Block.HARD_BOUNCE),
    (Change(EMAIL, Block.HARD_BOUNCE, T0, address="a@example.com"), TRANSACTIONAL, EMAIL, Block.HARD_BOUNCE),
    (Change(EMAIL, Block.HARD_BOUNCE, T0, address="a@example.com"), TRANSACTIONAL, SMS, None),
    (Change(SMS, Block.SMS_STOP, T0), MARKETING, SMS, Block.SMS_STOP),
    (Change(SMS, Block.SMS_STOP, T0), TRANSACTIONAL, SMS, Block.SMS_STOP),
    (Change(SMS, Block.SMS_STOP, T0), MARKETING, EMAIL, None),
    (Change(SMS, Block.HARD_BOUNCE, T0, address="+14155550100"), TRANSACTIONAL, SMS, Block.HARD_BOUNCE),
]


@pytest.mark.parametrize(("change", "purpose", "channel", "expected"), MATRIX)
def test_what_blocks_which_purpose_on_which_channel(
    change: Change, purpose: Purpose, channel: Channel, expected: Block | None
) -> None:
    address = "a@example.com" if channel is EMAIL else "+14155550100"

    assert listed(change).blocking(channel, purpose, address) is expected


def test_a_hard_bounce_blocks_that_address_only() -> None:
    bounced = listed(Change(EMAIL, Block.HARD_BOUNCE, T0, address="Old@Example.com"))

    assert bounced.blocking(EMAIL, MARKETING, "old@example.com") is Block.HARD_BOUNCE  # case-insensitive
    assert bounced.blocking(EMAIL, MARKETING, "new@example.com") is None
    assert bounced.blocking(EMAIL, MARKETING, None) is None
    # A bounce reported without the address blocks the channel.
    assert listed(Change(EMAIL, Block.HARD_BOUNCE, T0)).blocking(EMAIL, MARKETING, "new@example.com") is (
        Block.HARD_BOUNCE
    )


def test_the_most_definite_reason_is_reported_when_several_apply() -> None:
    many = listed(
        Change(EMAIL, Block.UNSUBSCRIBED, T0),
        Change(EMAIL, Block.HARD_BOUNCE, T0, address="a@example.com"),
        Change(EMAIL, Block.SPAM_COMPLAINT, T0),
    )

    assert many.blocking(EMAIL, MARKETING, "a@example.com") is Block.SPAM_COMPLAINT
    assert many.blocking(EMAIL, TRANSACTIONAL, "a@example.com") is Block.HARD_BOUNCE


def test_start_lifts_stop_and_stop_again_blocks_again() -> None:
    stopped = listed(Change(SMS, Block.SMS_STOP, T0))
    started = stopped.apply(Change(SMS, Block.SMS_STOP, T0 + timedelta(hours=1), lift=True))
    stopped_again = started.apply(Change(SMS, Block.SMS_STOP, T0 + timedelta(hours=2)))

    assert stopped.blocking(SMS, MARKETING, "+1") is Block.SMS_STOP
    assert started.blocking(SMS, MARKETING, "+1") is None
    assert stopped_again.blocking(SMS, MARKETING, "+1") is Block.SMS_STOP


def test_an_old_stop_replayed_after_start_does_not_undo_it() -> None:
    stop = Change(SMS, Block.SMS_STOP, T0)
    start = Change(SMS, Block.SMS_STOP, T0 + timedelta(hours=1), lift=True)

    replayed = listed(stop, start, stop)

    assert replayed.blocking(SMS, MARKETING, "+1") is None
    assert replayed == listed(stop, start)


def test_resubscribing_lifts_an_email_unsubscribe_but_not_a_spam_complaint() -> None:
    suppressions = listed(
        Change(EMAIL, Block.UNSUBSCRIBED, T0),
        Change(EMAIL, Block.SPAM_COMPLAINT, T0),
        change_for("sendgrid", "group_resubscribe", T0 + timedelta(days=1)),  # type: ignore[arg-type]
    )

    assert suppressions.blocking(EMAIL, MARKETING, "a@example.com") is Block.SPAM_COMPLAINT
    assert {c.block for c in suppressions.active} == {Block.SPAM_COMPLAINT}


def test_applying_the_same_change_twice_is_applying_it_once() -> None:
    change = Change(EMAIL, Block.UNSUBSCRIBED, T0)

    assert listed(change, change) == listed(change)
    assert len(listed(change, change).latest) == 1


CHANGES = st.builds(
    Change,
    channel=st.sampled_from(list(Channel)),
    block=st.sampled_from([Block.UNSUBSCRIBED, Block.SMS_STOP, Block.SPAM_COMPLAINT]),
    at=st.integers(0, 50).map(lambda minutes: T0 + timedelta(minutes=minutes)),
    lift=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(changes=st.lists(CHANGES, max_size=12), channel=st.sampled_from(list(Channel)))
def test_the_latest_change_decides_whatever_order_they_arrive_in(changes: list[Change], channel: Channel) -> None:
    in_time_order = sorted(changes, key=lambda c: c.at)
    arrived = listed(*changes)

    for block in (Block.UNSUBSCRIBED, Block.SMS_STOP, Block.SPAM_COMPLAINT):
        relevant = [c for c in in_time_order if c.channel is channel and c.block is block]
        latest_at = relevant[-1].at if relevant else None
        # Among changes at the latest instant, the one that arrived last wins.
        winner = next((c for c in reversed(changes) if c in relevant and c.at == latest_at), None)
        blocked = winner is not None and not winner.lift
        assert any(c.block is block and c.channel is channel for c in arrived.active) == blocked
