"""An order goes in over HTTP and comes back as a receipt, a segment and a delivery event."""

import time
import uuid

import httpx
import pytest

from boomerang.shared.kafka import COMMERCE_EVENTS, CUSTOMER_SEGMENTS, FEEDBACK_EVENTS, MESSAGE_EVENTS

from .kafka_reader import envelopes_now, wait_for_envelopes

pytestmark = pytest.mark.e2e


def post(stack, path: str, body, **kw) -> httpx.Response:
    c = stack.config
    return httpx.post(f"{c.url('ingest')}{path}", json=body, auth=kw.pop("auth", (c.write_key, "")), timeout=15, **kw)


def wait_outbox(stack, to: str, count: int, timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = httpx.get(f"{stack.config.url('sandbox')}/outbox.json", params={"to": to}, timeout=10).json()["messages"]
        if len(messages) >= count:
            return messages
        time.sleep(0.5)
    raise AssertionError(f"{to}: expected {count} messages in the outbox, found {len(messages)}")


def test_an_order_becomes_a_receipt_a_segment_and_a_delivery_event(stack) -> None:
    customer = f"c-{uuid.uuid4().hex[:8]}"
    email, phone = f"{customer}@example.com", "+14155550123"
    bootstrap, prefix = stack.bootstrap, stack.config.topic_prefix

    identify = {"userId": customer, "traits": {"email": email, "phone": phone, "sms_consent": True}}
    assert post(stack, "/v1/identify", identify).status_code == 200
    order = {
        "userId": customer,
        "event": "Order Completed",
        "messageId": f"m-{customer}",
        "properties": {
            "order_id": f"o-{customer}",
            "total": "27.50",
            "currency": "USD",
            "products": [{"product_id": "cd-1", "name": "Kind of Blue", "price": "27.50", "quantity": 1}],
        },
    }
    assert post(stack, "/v1/track", order).status_code == 200

    [receipt] = wait_outbox(stack, email, 1)
    assert "o-" + customer in (receipt.get("subject", "") + receipt.get("text", "") + receipt.get("html", ""))
    assert receipt["custom_args"]["boomerang_customer_id"] == customer
    [sms] = wait_outbox(stack, phone, 1)
    assert sms["provider"] == "twilio"

    is_mine = lambda e: e.customer_id == customer  # noqa: E731
    # identify makes a prospect (known, no order yet), the order makes them new
    is_new = lambda e: is_mine(e) and e.data["to_segment"] == "new"  # noqa: E731
    [segment] = wait_for_envelopes(bootstrap, CUSTOMER_SEGMENTS.named(prefix), is_new)
    assert segment.data["from_segment"] == "prospect" and segment.key == f"{stack.config.store_id}:{customer}"
    sent = wait_for_envelopes(bootstrap, MESSAGE_EVENTS.named(prefix), lambda e: is_mine(e) and e.type == "message.sent", 2)
    assert {e.data["channel"] for e in sent} == {"email", "sms"}
    email_message_id = next(e.data["message_id"] for e in sent if e.data["channel"] == "email")
    delivered = wait_for_envelopes(
        bootstrap, FEEDBACK_EVENTS.named(prefix),
        lambda e: is_mine(e) and e.data.get("kind") == "delivered" and e.data.get("message_id") == email_message_id,
    )
    assert delivered[0].data["provider"] == "sendgrid"
    sms_message_id = next(e.data["message_id"] for e in sent if e.data["channel"] == "sms")
    sms_delivered = wait_for_envelopes(
        bootstrap, FEEDBACK_EVENTS.named(prefix),
        lambda e: is_mine(e) and e.data.get("kind") == "delivered" and e.data.get("message_id") == sms_message_id,
    )
    assert sms_delivered[0].data["provider"] == "twilio"


def test_the_same_order_sent_twice_is_one_receipt(stack) -> None:
    customer = f"c-{uuid.uuid4().hex[:8]}"
    email = f"{customer}@example.com"
    post(stack, "/v1/identify", {"userId": customer, "traits": {"email": email}})
    order = {
        "userId": customer, "event": "Order Completed", "messageId": f"m-{customer}",
        "properties": {"order_id": f"o-{customer}", "total": "10.00"},
    }
    assert post(stack, "/v1/track", order).status_code == 200
    assert post(stack, "/v1/track", order).status_code == 200
    wait_outbox(stack, email, 1)
    time.sleep(3)
    assert len(wait_outbox(stack, email, 1)) == 1


BAD_REQUESTS = [
    ("malformed json", "/v1/track", b"{not json", {}, 400, "malformed_json"),
    ("no identity", "/v1/track", {"event": "Order Completed", "properties": {"order_id": "x"}}, {}, 400, "missing_identity"),
    ("unknown write key", "/v1/track", {"userId": "u", "event": "x"}, {"auth": ("nope", "")}, 401, "invalid_write_key"),
    ("missing write key", "/v1/track", {"userId": "u", "event": "x"}, {"auth": None}, 401, "missing_write_key"),
    ("oversized", "/v1/track", {"userId": "u", "event": "x", "properties": {"blob": "x" * 40_000}}, {}, 400, "payload_too_large"),
]


@pytest.mark.parametrize(("case", "path", "body", "kw", "status", "code"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_input_is_refused_clearly_and_nothing_is_published(stack, case, path, body, kw, status, code) -> None:
    topic = COMMERCE_EVENTS.named(stack.config.topic_prefix)
    before = len(envelopes_now(stack.bootstrap, topic))
    c = stack.config
    auth = kw.get("auth", (c.write_key, ""))
    if isinstance(body, bytes):
        response = httpx.post(f"{c.url('ingest')}{path}", content=body, auth=auth,
                              headers={"Content-Type": "application/json"}, timeout=15)
    else:
        response = httpx.post(f"{c.url('ingest')}{path}", json=body, auth=auth, timeout=15)

    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert "field" in error
    assert len(envelopes_now(stack.bootstrap, topic)) == before
    assert httpx.get(f"{c.url('ingest')}/healthz", timeout=5).status_code == 200


def test_a_forged_webhook_is_refused_and_nothing_is_published(stack) -> None:
    topic = FEEDBACK_EVENTS.named(stack.config.topic_prefix)
    before = len(envelopes_now(stack.bootstrap, topic))
    response = httpx.post(
        f"{stack.config.url('feedback')}/v1/webhooks/sendgrid",
        content=b'[{"event":"delivered","sg_event_id":"forged","timestamp":1}]',
        headers={
            "X-Twilio-Email-Event-Webhook-Signature": "MEUCIQDforgedforgedforgedforgedforgedforgedforgedAiBforged==",
            "X-Twilio-Email-Event-Webhook-Timestamp": str(int(time.time())),
            "Content-Type": "application/json",
        },
        timeout=15,
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_signature"
    assert len(envelopes_now(stack.bootstrap, topic)) == before
    assert httpx.get(f"{stack.config.url('feedback')}/healthz", timeout=5).status_code == 200
