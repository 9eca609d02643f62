"""Idempotency keys, the ids derived from them, and outcome events."""

from datetime import UTC, datetime

from boomerang.messenger.domain.flows import Channel
from boomerang.messenger.domain.messages import (
    LedgerEntry,
    State,
    Trigger,
    idempotency_key,
    message_id_for,
    outcome_event,
    outcome_event_id,
)
from boomerang.shared.events import MessageSent, MessageSuppressed

NOW = datetime(2025, 3, 1, tzinfo=UTC)


def test_the_key_names_store_customer_flow_step_and_trigger_instance() -> None:
    assert idempotency_key("s1", "c1", "receipt", "email", "o-1") == "s1/c1/receipt/email/o-1"


def test_separators_inside_ids_cannot_make_two_keys_collide() -> None:
    a = idempotency_key("s", "anon:a/b", "receipt", "email", "o")
    b = idempotency_key("s", "anon:a", "b", "receipt/email", "o")
    assert a != b
    assert a == "s/anon%3Aa%2Fb/receipt/email/o"


def test_ids_are_deterministic_per_key_and_outcome() -> None:
    key = idempotency_key("s", "c", "receipt", "email", "o-1")
    assert message_id_for(key) == message_id_for(key)
    assert message_id_for(key) != message_id_for(idempotency_key("s", "c", "receipt", "email", "o-2"))
    assert outcome_event_id(key, State.SENT) != outcome_event_id(key, State.FAILED)


def test_an_entry_opened_twice_for_one_trigger_has_the_same_key_and_message_id() -> None:
    trigger = Trigger("s", "c", "receipt", "o-1", "evt-1")
    replayed = Trigger("s", "c", "receipt", "o-1", "evt-2")

    first = LedgerEntry.open(trigger, "email", Channel.EMAIL, NOW)
    second = LedgerEntry.open(replayed, "email", Channel.EMAIL, NOW)

    assert (first.key, first.message_id) == (second.key, second.message_id)


def test_settled_entries_become_outcome_events() -> None:
    entry = LedgerEntry.open(Trigger("s", "c", "receipt", "o-1", "evt-1"), "sms", Channel.SMS, NOW)

    sent = outcome_event(
        entry.__class__(
            **{**entry.__dict__, "state": State.SENT, "provider": "twilio", "provider_message_id": "SM1"}
        )
    )
    suppressed = outcome_event(entry.suppressed("no_consent"))

    assert sent == MessageSent(
        message_id=entry.message_id,
        idempotency_key=entry.key,
        flow="receipt",
        step="sms",
        channel="sms",
        trigger_event_id="evt-1",
        provider="twilio",
        provider_message_id="SM1",
    )
    assert isinstance(suppressed, MessageSuppressed) and suppressed.reason == "no_consent"
