from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from boomerang.feedback.domain import sendgrid, twilio
from boomerang.feedback.domain.envelopes import envelope_for, kind_label
from boomerang.feedback.domain.errors import InvalidPayload
from boomerang.feedback.domain.model import UNATTRIBUTED_STORE
from boomerang.shared.events import Envelope, ProviderEventReceived

NOW = datetime(2025, 10, 9, 12, 0, tzinfo=UTC)


def one(raw: dict) -> Envelope:
    [event] = sendgrid.parse_batch(json.dumps([raw]).encode(), received_at=NOW)
    return envelope_for(event)[0]


def test_a_delivered_event_becomes_provider_event_received_keyed_by_store_and_customer(make_event):
    envelope = one(make_event("e1", "delivered"))
    event = envelope.event()
    assert isinstance(event, ProviderEventReceived)
    assert envelope.key == "store-1:cust-42"
    assert (event.provider, event.provider_event_id, event.kind) == ("sendgrid", "e1", "delivered")
    assert event.message_id == "bm-e1"
    assert event.provider_message_id == "msg-e1.filter0001"
    assert event.occurred_at == datetime.fromtimestamp(1_760_000_000, UTC)
    assert envelope.time == event.occurred_at
    assert event.url is None


def test_a_click_carries_its_url(make_event):
    event = one(make_event("e2", "click", url="https://shop.example/p/1?utm=x")).event()
    assert event.url == "https://shop.example/p/1?utm=x"


def test_bounce_reasons_keep_the_why_but_not_the_address(make_event):
    reason = "550 5.1.1 <ada@example.com>: Recipient address rejected"
    event = one(make_event("e3", "bounce", reason=reason, type="bounce")).event()
    assert event.reason == "550 5.1.1 <<redacted>>: Recipient address rejected"
    blocked = one(make_event("e4", "bounce", reason="IP listed", type="blocked")).event()
    assert blocked.reason == "blocked: IP listed"


def test_deferred_events_take_their_reason_from_the_response(make_event):
    event = one(make_event("e5", "deferred", response="421 try again later")).event()
    assert event.reason == "421 try again later"


def test_the_envelope_id_is_the_same_every_time_and_differs_per_event(make_event):
    assert one(make_event("e1")).id == one(make_event("e1", "open")).id
    assert one(make_event("e1")).id != one(make_event("e2")).id


def test_events_without_our_custom_args_go_to_the_unattributed_store_without_the_email(make_event):
    raw = make_event("e6")
    for name in ("boomerang_store_id", "boomerang_customer_id", "boomerang_message_id"):
        del raw[name]
    [event] = sendgrid.parse_batch(json.dumps([raw]).encode(), received_at=NOW)
    envelope, attribution = envelope_for(event)
    assert not attribution.attributed
    assert envelope.store_id == UNATTRIBUTED_STORE
    assert "ada" not in envelope.key and "@" not in envelope.key
    # Stable: another event of the same mail lands on the same key.
    assert envelope.key == one({**raw, "sg_event_id": "e7", "event": "open"}).key
    assert envelope.key != one({**raw, "sg_event_id": "e8", "sg_message_id": "other"}).key
    assert "ada@example.com" not in envelope.to_bytes().decode()


def test_only_the_customer_missing_keeps_the_store(make_event):
    raw = make_event("e9")
    del raw["boomerang_customer_id"]
    envelope = one(raw)
    assert envelope.store_id == "store-1"
    assert envelope.customer_id.startswith("unattributed:")


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (b"{not json", "malformed_json", "body"),
        (b'{"event": "open"}', "not_a_list", "body"),
        (b"[1]", "invalid_event", "0"),
        (b'[{"event":"open","timestamp":1760000000}]', "missing_field", "0.sg_event_id"),
        (b'[{"sg_event_id":"x","timestamp":1760000000}]', "missing_field", "0.event"),
        (b'[{"sg_event_id":"x","event":"open","timestamp":"yesterday"}]', "invalid_field", "0.timestamp"),
        (b'[{"sg_event_id":"x","event":"open","timestamp":true}]', "invalid_field", "0.timestamp"),
        (b'[{"sg_event_id":"x","event":"open","timestamp":99999999999999}]', "invalid_field", "0.timestamp"),
    ],
)
def test_bodies_that_are_not_event_batches_are_400_with_code_and_field(body, code, field):
    with pytest.raises(InvalidPayload) as refused:
        sendgrid.parse_batch(body, received_at=NOW)
    assert (refused.value.status_code, refused.value.code, refused.value.field) == (400, code, field)


def test_an_empty_batch_is_fine():
    assert sendgrid.parse_batch(b"[]", received_at=NOW) == []


def test_unknown_kinds_pass_through_but_metrics_label_them_other(make_event):
    assert one(make_event("e10", "machine_open")).event().kind == "machine_open"
    assert kind_label("sendgrid", "machine_open") == "other"
    assert kind_label("sendgrid", "spamreport") == "spamreport"


def test_a_twilio_status_callback_maps_with_attribution_from_its_url():
    form = [
        ("MessageSid", "SM1"),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "30003"),
        ("To", "+15005550006"),
    ]
    query = [("boomerang_store_id", "s1"), ("boomerang_customer_id", "c1"), ("boomerang_message_id", "m1")]
    event = twilio.status_event(form, query, received_at=NOW)
    envelope, attribution = envelope_for(event)
    payload = envelope.event()
    assert attribution.attributed and envelope.key == "s1:c1"
    assert (payload.provider, payload.kind, payload.provider_message_id) == ("twilio", "undelivered", "SM1")
    assert payload.provider_event_id == "SM1:undelivered"
    assert payload.reason == "twilio error 30003"
    assert payload.message_id == "m1"
    assert payload.occurred_at == NOW
    assert "+1500" not in envelope.to_bytes().decode()


def test_a_twilio_callback_without_its_sid_is_refused():
    with pytest.raises(InvalidPayload) as refused:
        twilio.status_event([("MessageStatus", "sent")], [], received_at=NOW)
    assert refused.value.field == "MessageSid"
