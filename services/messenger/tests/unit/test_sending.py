"""The send-time policy: consent, suppressions, channel fallback, holdout, timing, caps, in order."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boomerang.messenger.domain.caps import PastSend
from boomerang.messenger.domain.contacts import Contact
from boomerang.messenger.domain.flows import RECEIPT, Channel, Purpose
from boomerang.messenger.domain.holdout import in_holdout
from boomerang.messenger.domain.policy import Send as ReceiptSend
from boomerang.messenger.domain.policy import decide
from boomerang.messenger.domain.sending import (
    FREQUENCY_CAP,
    HOLDOUT,
    NO_SEND_TIME,
    QUIET_HOURS,
    SEND_WINDOW,
    Delay,
    Recipient,
    Send,
    SendPolicy,
    SendRequest,
    Suppress,
    decide_send,
)
from boomerang.messenger.domain.suppressions import Block, Change, SuppressionList
from boomerang.messenger.domain.timing import LocalWindow
from boomerang.messenger.flows import default_flows

EMAIL, SMS = Channel.EMAIL, Channel.SMS
BERLIN = ZoneInfo("Europe/Berlin")
NOON = datetime(2026, 6, 10, 12, tzinfo=BERLIN)  # a Wednesday
POLICY = SendPolicy(default_timezone="Europe/Berlin")
ADA_EMAIL, ADA_PHONE = "ada@example.com", "+4915112345678"


def in_control_group(held: bool, flow: str = "win_back", percent: float = 10) -> str:
    """A customer id that is (or is not) in the flow's holdout, found by asking, not by patching."""
    return next(f"c-{n}" for n in range(1000) if in_holdout("acme", f"c-{n}", flow, percent) == held)


REACHABLE = Recipient(
    store_id="acme",
    customer_id=in_control_group(False),
    email=ADA_EMAIL,
    phone=ADA_PHONE,
    email_consent=True,
    sms_consent=True,
    timezone="Europe/Berlin",
)


def request(
    channels: tuple[Channel, ...] = (EMAIL,),
    purpose: Purpose = Purpose.MARKETING,
    priority: int = 50,
    flow: str = "win_back",
    holdout: float = 10,
    window: LocalWindow | None = None,
    key: str = "acme/c/win_back/step/1",
) -> SendRequest:
    return SendRequest(
        key=key,
        flow=flow,
        step="step",
        purpose=purpose,
        priority=priority,
        channels=channels,
        holdout_percent=holdout if purpose is Purpose.MARKETING else 0,
        send_window=window,
    )


def reason_of(outcome: Send | Delay | Suppress) -> str:
    return outcome.reason if isinstance(outcome, Suppress | Delay) else "sent"


def detail_of(outcome: Send | Delay | Suppress) -> str:
    assert isinstance(outcome, Suppress), outcome
    return outcome.detail


def decided(req: SendRequest, who: Recipient = REACHABLE, history=(), now: datetime = NOON, policy=POLICY):
    return decide_send(req, who, list(history), policy, now)


# --- consent and the suppression list ------------------------------------------------------------

CONSENT = [
    # purpose, channel, email opt-in, SMS consent -> sent or the reason
    (Purpose.MARKETING, EMAIL, True, None, "sent"),
    (Purpose.MARKETING, EMAIL, False, None, "no_consent"),
    (Purpose.MARKETING, EMAIL, None, None, "no_consent"),  # never asked is not yes
    (Purpose.TRANSACTIONAL, EMAIL, False, None, "sent"),
    (Purpose.TRANSACTIONAL, EMAIL, None, None, "sent"),
    (Purpose.MARKETING, SMS, True, True, "sent"),
    (Purpose.MARKETING, SMS, True, None, "no_consent"),
    (Purpose.MARKETING, SMS, True, False, "no_consent"),
    (Purpose.TRANSACTIONAL, SMS, None, True, "sent"),
    (Purpose.TRANSACTIONAL, SMS, None, None, "no_consent"),  # SMS always needs explicit consent
]


@pytest.mark.parametrize(("purpose", "channel", "email_ok", "sms_ok", "expected"), CONSENT)
def test_consent_matrix(
    purpose: Purpose, channel: Channel, email_ok: bool | None, sms_ok: bool | None, expected: str
) -> None:
    who = replace(REACHABLE, email_consent=email_ok, sms_consent=sms_ok)

    outcome = decided(request((channel,), purpose), who)

    if expected == "sent":
        assert outcome == Send(channel, ADA_EMAIL if channel is EMAIL else ADA_PHONE, NOON)
    else:
        assert isinstance(outcome, Suppress) and (outcome.reason, outcome.channel) == (expected, channel)


SUPPRESSION = [
    # block on the list, purpose, channel -> sent or the reason
    (Change(EMAIL, Block.UNSUBSCRIBED, NOON), Purpose.MARKETING, EMAIL, "unsubscribed"),
    (Change(EMAIL, Block.UNSUBSCRIBED, NOON), Purpose.TRANSACTIONAL, EMAIL, "sent"),
    (Change(EMAIL, Block.SPAM_COMPLAINT, NOON), Purpose.MARKETING, EMAIL, "spam_complaint"),
    (Change(EMAIL, Block.SPAM_COMPLAINT, NOON), Purpose.TRANSACTIONAL, EMAIL, "sent"),
    (Change(EMAIL, Block.HARD_BOUNCE, NOON, address=ADA_EMAIL), Purpose.MARKETING, EMAIL, "hard_bounce"),
    (Change(EMAIL, Block.HARD_BOUNCE, NOON, address=ADA_EMAIL), Purpose.TRANSACTIONAL, EMAIL, "hard_bounce"),
    (Change(SMS, Block.SMS_STOP, NOON), Purpose.MARKETING, SMS, "sms_stop"),
    (Change(SMS, Block.SMS_STOP, NOON), Purpose.TRANSACTIONAL, SMS, "sms_stop"),
    (Change(SMS, Block.SMS_STOP, NOON), Purpose.MARKETING, EMAIL, "sent"),
    (Change(EMAIL, Block.UNSUBSCRIBED, NOON), Purpose.MARKETING, SMS, "sent"),
]


@pytest.mark.parametrize(("change", "purpose", "channel", "expected"), SUPPRESSION)
def test_suppression_matrix(change: Change, purpose: Purpose, channel: Channel, expected: str) -> None:
    who = replace(REACHABLE, suppressions=SuppressionList().apply(change))

    outcome = decided(request((channel,), purpose), who)

    assert reason_of(outcome) == expected


def test_sms_start_after_stop_lets_marketing_sms_through_again() -> None:
    stopped = SuppressionList().apply(Change(SMS, Block.SMS_STOP, NOON - timedelta(days=2)))
    started = stopped.apply(Change(SMS, Block.SMS_STOP, NOON - timedelta(days=1), lift=True))

    assert reason_of(decided(request((SMS,)), replace(REACHABLE, suppressions=stopped))) == "sms_stop"
    assert decided(request((SMS,)), replace(REACHABLE, suppressions=started)) == Send(SMS, ADA_PHONE, NOON)


def test_no_address_is_its_own_reason() -> None:
    assert reason_of(decided(request((EMAIL,)), replace(REACHABLE, email=None))) == "no_address"


# --- channel choice --------------------------------------------------------------------------------


def test_sms_preferred_by_the_flow_but_not_consented_falls_back_to_email() -> None:
    who = replace(REACHABLE, sms_consent=None)

    assert decided(request((SMS, EMAIL)), who) == Send(EMAIL, ADA_EMAIL, NOON)


def test_no_phone_number_falls_back_to_email() -> None:
    assert decided(request((SMS, EMAIL)), replace(REACHABLE, phone=None)) == Send(EMAIL, ADA_EMAIL, NOON)


def test_the_customers_preferred_channel_comes_first_when_the_step_offers_it() -> None:
    prefers_sms = replace(REACHABLE, preferred_channel=SMS)

    assert decided(request((EMAIL, SMS)), prefers_sms) == Send(SMS, ADA_PHONE, NOON)
    # A step that does not offer it is sent on its own channels.
    assert decided(request((EMAIL,)), prefers_sms) == Send(EMAIL, ADA_EMAIL, NOON)
    # And a preferred channel the customer cannot be reached on falls back to the step's order.
    unreachable = replace(prefers_sms, sms_consent=False)
    assert decided(request((EMAIL, SMS)), unreachable) == Send(EMAIL, ADA_EMAIL, NOON)


def test_the_contact_cards_preference_reaches_the_decision() -> None:
    card = Contact(
        "acme", REACHABLE.customer_id, email=ADA_EMAIL, phone=ADA_PHONE, email_consent=True, sms_consent=True,
        timezone="Europe/Berlin", preferred_channel="sms",
    )  # fmt: skip
    recipient = Recipient.of(card, store_id="acme", customer_id=card.customer_id)
    assert recipient.preferred_channel is SMS
    assert decided(request((EMAIL, SMS)), recipient) == Send(SMS, ADA_PHONE, NOON)
    no_preference = Recipient.of(replace(card, preferred_channel=None), store_id="acme", customer_id=card.customer_id)
    assert decided(request((EMAIL, SMS)), no_preference) == Send(EMAIL, ADA_EMAIL, NOON)


def test_with_no_usable_channel_the_most_definite_reason_is_reported_with_all_of_them() -> None:
    unsubscribed = SuppressionList().apply(Change(EMAIL, Block.UNSUBSCRIBED, NOON))
    who = replace(REACHABLE, sms_consent=None, suppressions=unsubscribed)

    outcome = decided(request((SMS, EMAIL)), who)

    assert outcome == Suppress("unsubscribed", "sms: no_consent; email: unsubscribed", EMAIL)


# --- holdout ---------------------------------------------------------------------------------------


def test_a_customer_in_the_control_group_is_suppressed_as_holdout() -> None:
    held = replace(REACHABLE, customer_id=in_control_group(True))

    outcome = decided(request(), held)

    assert isinstance(outcome, Suppress)
    assert (outcome.reason, outcome.channel) == (HOLDOUT, EMAIL)
    assert outcome.detail == "10% control group of win_back"


def test_transactional_messages_and_zero_percent_have_no_holdout() -> None:
    held = replace(REACHABLE, customer_id=in_control_group(True))

    assert isinstance(decided(request(purpose=Purpose.TRANSACTIONAL), held), Send)
    assert isinstance(decided(request(holdout=0), held), Send)


def test_holdout_comes_after_the_channel_so_the_control_group_is_reachable_customers() -> None:
    held_but_unsubscribed = replace(
        REACHABLE,
        customer_id=in_control_group(True),
        suppressions=SuppressionList().apply(Change(EMAIL, Block.UNSUBSCRIBED, NOON)),
    )

    assert reason_of(decided(request(), held_but_unsubscribed)) == "unsubscribed"


def test_holdout_comes_before_timing_and_caps() -> None:
    held = replace(REACHABLE, customer_id=in_control_group(True))
    night = datetime(2026, 6, 10, 23, tzinfo=BERLIN)
    full = [PastSend("other", "broadcast", EMAIL, NOON - timedelta(hours=1), Purpose.MARKETING, 20)]

    assert reason_of(decided(request((SMS,)), held, now=night)) == HOLDOUT
    assert reason_of(decided(request(), held, history=full)) == HOLDOUT


# --- quiet hours and send windows -----------------------------------------------------------------


def test_a_marketing_sms_due_at_night_is_delayed_to_eight_local_not_dropped() -> None:
    night = datetime(2026, 6, 10, 23, 15, tzinfo=BERLIN)

    outcome = decided(request((SMS,)), now=night)

    assert outcome == Delay(datetime(2026, 6, 11, 8, 0, tzinfo=BERLIN), QUIET_HOURS, SMS)
    # Asked again when the delay is over, it goes.
    assert decided(request((SMS,)), now=outcome.until) == Send(SMS, ADA_PHONE, outcome.until)  # type: ignore[union-attr]


def test_quiet_hours_are_the_customers_own_and_the_stores_zone_when_unknown() -> None:
    # 23:00 in Berlin is 17:00 in New York: a New Yorker's SMS goes now.
    night_in_berlin = datetime(2026, 6, 10, 23, tzinfo=BERLIN)
    new_yorker = replace(REACHABLE, timezone="America/New_York")
    unknown = replace(REACHABLE, timezone=None)
    bogus = replace(REACHABLE, timezone="Atlantis/Capital")

    assert isinstance(decided(request((SMS,)), new_yorker, now=night_in_berlin), Send)
    assert isinstance(decided(request((SMS,)), unknown, now=night_in_berlin), Delay)
    assert isinstance(decided(request((SMS,)), bogus, now=night_in_berlin), Delay)
    # With the store in New York, the customer without a zone is in New York too.
    new_york_store = SendPolicy(default_timezone="America/New_York")
    assert isinstance(decided(request((SMS,)), unknown, now=night_in_berlin, policy=new_york_store), Send)


def test_the_night_before_berlin_changes_to_summer_time_the_delay_is_an_hour_shorter() -> None:
    late = datetime(2026, 3, 28, 22, 30, tzinfo=BERLIN)

    outcome = decided(request((SMS,)), now=late)

    assert isinstance(outcome, Delay)
    assert outcome.until.astimezone(UTC) == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    assert outcome.until - late == timedelta(hours=8, minutes=30)


def test_quiet_hours_do_not_hold_a_receipt_sms_unless_the_store_asks() -> None:
    night = datetime(2026, 6, 10, 23, 15, tzinfo=BERLIN)
    receipt_sms = request((SMS,), Purpose.TRANSACTIONAL)

    assert decided(receipt_sms, now=night) == Send(SMS, ADA_PHONE, night)
    strict = replace(POLICY, quiet_hours_for_transactional=True)
    assert isinstance(decided(receipt_sms, now=night, policy=strict), Delay)


def test_quiet_hours_do_not_apply_to_email() -> None:
    night = datetime(2026, 6, 10, 23, 15, tzinfo=BERLIN)

    assert decided(request((EMAIL,)), now=night) == Send(EMAIL, ADA_EMAIL, night)


def test_night_does_not_move_an_sms_to_email() -> None:
    night = datetime(2026, 6, 10, 23, 15, tzinfo=BERLIN)

    outcome = decided(request((SMS, EMAIL)), now=night)

    assert isinstance(outcome, Delay) and outcome.channel is SMS


def test_the_flows_send_window_delays_email_too() -> None:
    window = LocalWindow(time(9), time(20))
    early = datetime(2026, 6, 10, 7, tzinfo=BERLIN)

    assert decided(request(window=window), now=early) == Delay(
        datetime(2026, 6, 10, 9, tzinfo=BERLIN), SEND_WINDOW, EMAIL
    )


def test_send_window_and_quiet_hours_together_wait_for_both() -> None:
    weekdays_till_nine_thirty_pm = LocalWindow(time(9), time(21, 30), frozenset(range(5)))
    friday_evening = datetime(2026, 6, 12, 21, 10, tzinfo=BERLIN)  # window open, quiet hours not

    outcome = decided(request((SMS,), window=weekdays_till_nine_thirty_pm), now=friday_evening)

    assert outcome == Delay(datetime(2026, 6, 15, 9, tzinfo=BERLIN), QUIET_HOURS, SMS)


def test_a_send_window_that_never_meets_quiet_hours_suppresses() -> None:
    late_only = LocalWindow(time(21, 30), time(23))

    outcome = decided(request((SMS,), window=late_only))

    assert isinstance(outcome, Suppress) and outcome.reason == NO_SEND_TIME


# --- frequency caps and priorities ----------------------------------------------------------------


def past(flow: str, at: datetime, channel: Channel = EMAIL, priority: int = 50, scheduled: bool = False) -> PastSend:
    return PastSend(f"acme/c/{flow}/x/1", flow, channel, at, Purpose.MARKETING, priority, scheduled)


def test_a_capped_marketing_email_is_suppressed_with_the_rule() -> None:
    history = [past("broadcast", NOON - timedelta(hours=15, minutes=59))]

    outcome = decided(request(), history=history)

    assert isinstance(outcome, Suppress)
    assert outcome.reason == FREQUENCY_CAP
    assert outcome.detail == "1 marketing email per 16 h: already sent broadcast"
    assert decided(request(), history=[past("broadcast", NOON - timedelta(hours=16))]) == Send(
        EMAIL, ADA_EMAIL, NOON
    )


def test_the_fourth_marketing_email_of_a_rolling_week_is_suppressed() -> None:
    history = [past(f"f{i}", NOON - timedelta(days=2 * i + 1)) for i in range(3)]  # 1, 3 and 5 days ago

    assert detail_of(decided(request(), history=history)).startswith("3 marketing email per 7 d")


def test_transactional_messages_are_never_capped() -> None:
    history = [past("broadcast", NOON - timedelta(minutes=1))]

    assert decided(request(purpose=Purpose.TRANSACTIONAL), history=history) == Send(EMAIL, ADA_EMAIL, NOON)


def test_of_two_competing_flows_the_higher_priority_wins_whichever_is_decided_first() -> None:
    win_back = request(priority=70, flow="win_back", key="acme/c/win_back/we_miss_you/1")
    nurture = request(priority=30, flow="neutral_nurture", key="acme/c/neutral_nurture/how_to/1")
    win_back_pending = past("win_back", NOON + timedelta(hours=1), priority=70, scheduled=True)
    nurture_pending = past("neutral_nurture", NOON + timedelta(hours=1), priority=30, scheduled=True)

    # The nurture is due first, but a win-back is pending: it yields.
    assert reason_of(decided(nurture, history=[win_back_pending])) == FREQUENCY_CAP
    # The win-back is due first with a nurture pending: it goes, and the nurture will find the cap full.
    assert decided(win_back, history=[nurture_pending]) == Send(EMAIL, ADA_EMAIL, NOON)
    sent_win_back = past("win_back", NOON, priority=70)
    later = NOON + timedelta(hours=1)
    assert reason_of(decided(nurture, history=[sent_win_back], now=later)) == FREQUENCY_CAP


def test_caps_are_checked_when_the_message_really_goes_after_a_delay() -> None:
    # An SMS at 22:00 yesterday fills the 24 h SMS cap until 22:00 today; tonight's SMS, due at
    # 23:00, is delayed to 08:00 first (the cap is then still full) rather than judged at 23:00.
    history = [past("birthday", datetime(2026, 6, 9, 22, tzinfo=BERLIN), channel=SMS)]
    night = datetime(2026, 6, 10, 23, tzinfo=BERLIN)

    first = decided(request((SMS,)), history=history, now=night)
    assert isinstance(first, Delay)
    assert isinstance(decided(request((SMS,)), history=history, now=first.until), Send)


# --- the receipt path agrees -----------------------------------------------------------------------


CONTACTS = [
    Contact("acme", "c", email=ADA_EMAIL, phone=ADA_PHONE, sms_consent=True),
    Contact("acme", "c", email=ADA_EMAIL, email_consent=False),
    Contact("acme", "c", email=ADA_EMAIL, phone=ADA_PHONE, sms_consent=None),
    Contact("acme", "c"),
    None,
]


@pytest.mark.parametrize("contact", CONTACTS)
def test_the_receipt_file_under_decide_send_agrees_with_the_receipt_handlers_decide(contact: Contact | None) -> None:
    receipt = default_flows().get("receipt")
    who = Recipient.of(contact, store_id="acme", customer_id="c", trigger_email="guest@example.com")
    night = datetime(2026, 6, 10, 23, tzinfo=BERLIN)  # transactional: no quiet hours either

    for old in decide(RECEIPT, contact, "guest@example.com", None):
        new = decide_send(SendRequest.for_step(receipt, old.step.name, "k"), who, [], POLICY, night)
        if isinstance(old, ReceiptSend):
            assert new == Send(old.step.channel, old.to, night)
        else:
            assert isinstance(new, Suppress) and new.reason == old.reason


def test_a_request_for_a_default_flow_step_carries_its_rules() -> None:
    win_back = default_flows().get("win_back")

    req = SendRequest.for_step(win_back, "we_miss_you", "acme/c/win_back/we_miss_you/2026-06-01")

    assert req.channels == (EMAIL, SMS)
    assert (req.priority, req.holdout_percent, req.purpose) == (70, 10, Purpose.MARKETING)
    assert req.send_window == LocalWindow(time(9), time(20))


# --- properties -------------------------------------------------------------------------------------


RECIPIENTS = st.builds(
    Recipient,
    store_id=st.just("acme"),
    customer_id=st.text(min_size=1, max_size=8),
    email=st.sampled_from([None, ADA_EMAIL]),
    phone=st.sampled_from([None, ADA_PHONE]),
    email_consent=st.sampled_from([None, False, True]),
    sms_consent=st.sampled_from([None, False, True]),
    timezone=st.sampled_from([None, "Europe/Berlin", "America/New_York", "Asia/Tokyo", "nowhere"]),
    preferred_channel=st.sampled_from([None, EMAIL, SMS]),
)
NOWS = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC))
CHANNEL_LISTS = st.sampled_from([(EMAIL,), (SMS,), (EMAIL, SMS), (SMS, EMAIL)])


@settings(max_examples=400, deadline=None)
@given(who=RECIPIENTS, now=NOWS, channels=CHANNEL_LISTS, purpose=st.sampled_from(list(Purpose)))
def test_every_decision_respects_consent_and_quiet_hours(
    who: Recipient, now: datetime, channels: tuple[Channel, ...], purpose: Purpose
) -> None:
    outcome = decided(request(channels, purpose), who, now=now)

    if isinstance(outcome, Send):
        assert outcome.at == now
        assert outcome.channel in channels
        if outcome.channel is SMS:
            assert who.sms_consent is True
        elif purpose is Purpose.MARKETING:
            assert who.email_consent is True
        if outcome.channel is SMS and purpose is Purpose.MARKETING:
            local = now.astimezone(ZoneInfo(who.timezone if who.timezone != "nowhere" and who.timezone else "Europe/Berlin"))
            assert time(8) <= local.time() < time(21)
    elif isinstance(outcome, Delay):
        assert outcome.until > now
        assert outcome.until - now <= timedelta(hours=13)  # 21:00 to 08:00, plus a DST hour
        assert decided(request(channels, purpose), who, now=outcome.until) == Send(
            outcome.channel, who.address(outcome.channel), outcome.until  # type: ignore[arg-type]
        )
    else:
        assert outcome.reason in {"no_address", "no_consent", HOLDOUT}
