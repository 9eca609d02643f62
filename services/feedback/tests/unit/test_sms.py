"""Inbound SMS: keywords, who sent it, what is published and answered."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from boomerang.feedback.domain import sms
from boomerang.feedback.domain.envelopes import envelope_for
from boomerang.feedback.domain.errors import InvalidPayload
from boomerang.feedback.domain.model import UNATTRIBUTED_STORE

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CUSTOMER, OURS = "+15005550006", "+15005550001"


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("STOP", "stop"), ("stop", "stop"), (" Stop. ", "stop"), ("STOPALL", "stop"),
        ("unsubscribe", "stop"), ("CANCEL", "stop"), ("end", "stop"), ("Quit", "stop"),
        ("START", "start"), ("yes", "start"), ("UNSTOP", "start"),
        ("HELP", "help"), ("info", "help"),
        ("please stop sending", "reply"), ("Thanks!", "reply"), ("", "reply"),
    ],
)  # fmt: skip
def test_keywords_are_the_whole_message_in_any_case(body: str, kind: str) -> None:
    assert sms.keyword_kind(body) == kind


def test_twilios_opt_out_type_wins_over_our_reading() -> None:
    assert sms.keyword_kind("arret", "STOP") == "stop"
    assert sms.keyword_kind("stop", "") == "stop"


def test_a_status_callback_teaches_who_is_behind_a_number() -> None:
    form = {"MessageSid": "SM1", "MessageStatus": "delivered", "To": CUSTOMER, "From": OURS}
    query = {"boomerang_store_id": "store-1", "boomerang_customer_id": "cust-42", "boomerang_message_id": "m-1"}

    key, recipient = sms.recipient_of_status(form, query)
    assert key == sms.number_pair_key(CUSTOMER, OURS) == sms.number_pair_key("+1 500 555 0006", OURS)
    assert CUSTOMER not in key
    assert recipient == sms.Recipient("store-1", "cust-42", "m-1")
    assert sms.recipient_of_status(form, {"boomerang_store_id": "store-1"}) is None
    assert sms.recipient_of_status({"MessageSid": "SM1"}, query) is None


def test_a_known_number_is_published_for_its_customer() -> None:
    form = [("MessageSid", "SMin1"), ("From", CUSTOMER), ("To", OURS), ("Body", "STOP")]
    event = sms.inbound_event(form, sms.Recipient("store-1", "cust-42", "m-1"), received_at=NOW)

    envelope, attribution = envelope_for(event)
    payload = envelope.event()
    assert (payload.provider, payload.kind, payload.message_id) == ("twilio", "stop", "m-1")
    assert (payload.provider_event_id, payload.provider_message_id) == ("SMin1", "SMin1")
    assert envelope.key == "store-1:cust-42" and attribution.attributed


def test_an_unknown_number_is_published_unattributed_without_the_number() -> None:
    form = [("MessageSid", "SMin2"), ("From", CUSTOMER), ("To", OURS), ("Body", "where is my order?")]
    envelope, attribution = envelope_for(sms.inbound_event(form, None, received_at=NOW))

    assert envelope.event().kind == "reply"
    assert not attribution.attributed and envelope.store_id == UNATTRIBUTED_STORE
    assert CUSTOMER not in envelope.model_dump_json()
    assert "where is my order" not in envelope.model_dump_json()


def test_an_inbound_message_needs_its_sid_and_numbers() -> None:
    with pytest.raises(InvalidPayload) as missing:
        sms.inbound_event([("From", CUSTOMER), ("To", OURS)], None, received_at=NOW)
    assert missing.value.field == "MessageSid"
    with pytest.raises(InvalidPayload) as no_from:
        sms.inbound_event([("MessageSid", "SM1"), ("To", OURS)], None, received_at=NOW)
    assert no_from.value.field == "From"


def test_twiml_escapes_the_help_text() -> None:
    assert sms.twiml() == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    assert "<Message>A &amp; B: reply STOP &lt;now&gt;</Message>" in sms.twiml("A & B: reply STOP <now>")
