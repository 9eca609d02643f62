"""Receipts through the real broker and the real provider sandbox, via the official SDKs."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from boomerang.messenger.domain.messages import State, outcome_event_id
from boomerang.shared.events import CustomerIdentified, Envelope, OrderLine, OrderPlaced

pytestmark = pytest.mark.integration
# Recent: the feedback request a week after an order long past is suppressed as too late.
NOW = datetime.now(UTC).replace(microsecond=0)


def identify(customer: str, **data) -> Envelope:
    return Envelope.wrap(
        CustomerIdentified(**data),
        store_id="s1",
        customer_id=customer,
        source="test",
        time=NOW,
        id=f"id-{customer}",
    )


def order(customer: str, order_id: str, **data) -> Envelope:
    event = OrderPlaced(
        order_id=order_id,
        placed_at=NOW,
        total=Decimal("42.00"),
        lines=[OrderLine(product_id="p1", name="Mug", quantity=2, unit_price=Decimal("21.00"))],
        **data,
    )
    return Envelope.wrap(
        event, store_id="s1", customer_id=customer, source="test", time=NOW, id=f"ev-{order_id}"
    )


async def stats(client) -> dict:
    return (await client.get("/v1/stats")).json()


async def test_identify_then_order_sends_one_email_and_one_sms(
    sandbox, messenger_settings, run_messenger, send_commerce, message_events, wait_for
) -> None:
    callback = "http://feedback.test/v1/webhooks/twilio/status"
    messenger_settings = messenger_settings.model_copy(update={"twilio_status_callback_url": callback})
    async with run_messenger(messenger_settings) as client:
        await send_commerce(
            [
                identify("c1", email="ada@example.com", phone="+14155550100", sms_marketing_consent=True),
                order("c1", "o-1"),
            ]
        )

        await wait_for(lambda: len(sandbox.outbox()) == 2)
        body = await wait_for(lambda: _with_feedback_request(client, 2))

    (email,) = sandbox.outbox("sendgrid")
    (sms,) = sandbox.outbox("twilio")
    assert email["to"] == ["ada@example.com"]
    assert email["subject"] == "Your receipt for order o-1"
    assert email["reply_to"] == messenger_settings.reply_to_email
    assert email["categories"] == ["receipt"]
    assert "2 x Mug @ $21.00 = $42.00" in email["text"] and "$42.00" in email["html"]
    assert email["custom_args"] == {
        "boomerang_message_id": email["custom_args"]["boomerang_message_id"],
        "boomerang_store_id": "s1",
        "boomerang_customer_id": "c1",
        "boomerang_flow": "receipt",
    }
    assert sms["to"] == ["+14155550100"] and "o-1" in sms["text"]
    # Twilio's delivery statuses come back to feedback with the ids it needs to attribute them
    assert sms["status_callback"].startswith(callback + "?")
    assert "boomerang_customer_id=c1" in sms["status_callback"] and "boomerang_flow=receipt" in sms["status_callback"]
    assert body["totals"] == {"sent": 2, "delayed": 1}  # delayed: the feedback request, due in 7 days

    records = await message_events(2)
    assert sorted(e.data["channel"] for _, e in records) == ["email", "sms"]
    assert all(key == b"s1:c1" and e.type == "message.sent" for key, e in records)
    sent_email = next(e for _, e in records if e.data["channel"] == "email")
    assert sent_email.data["message_id"] == email["custom_args"]["boomerang_message_id"]
    assert sent_email.id == outcome_event_id(sent_email.data["idempotency_key"], State.SENT)


async def test_the_same_envelope_again_sends_nothing_new(
    sandbox, messenger_settings, run_messenger, send_commerce, wait_for
) -> None:
    placed = order("c2", "o-2", email="guest@example.com")
    async with run_messenger(messenger_settings) as client:
        await send_commerce([placed])
        await wait_for(lambda: len(sandbox.outbox()) == 1)

        await send_commerce([placed])
        body = await wait_for(lambda: _with_duplicates(client, 2))

    assert body["duplicates_avoided"] == 2  # the receipt and the scheduled feedback request
    assert body["totals"] == {"sent": 1, "delayed": 1}
    assert len(sandbox.outbox()) == 1


async def _with_duplicates(client, count: int = 1) -> dict | None:
    body = await stats(client)
    return body if body["duplicates_avoided"] >= count else None


async def test_a_429_is_retried_after_retry_after_and_sent_once(
    sandbox, messenger_settings, run_messenger, send_commerce, wait_for
) -> None:
    sandbox.fault("sendgrid", 429, count=2, retry_after=1)
    async with run_messenger(messenger_settings) as client:
        started = time.monotonic()
        await send_commerce([order("c3", "o-3", email="ada@example.com")])
        await wait_for(lambda: sandbox.outbox())
        elapsed = time.monotonic() - started
        metrics = (await client.get("/metrics")).text

    assert len(sandbox.outbox()) == 1
    assert sandbox.pending_faults() == {}
    assert elapsed >= 2  # two Retry-After: 1 honoured
    assert 'boomerang_messenger_provider_retries_total{provider="sendgrid",status="429"}' in metrics


async def test_a_5xx_after_the_provider_accepted_does_not_send_twice(
    sandbox, messenger_settings, run_messenger, send_commerce, wait_for
) -> None:
    sandbox.fault("sendgrid", 500, after_accept=True)
    async with run_messenger(messenger_settings) as client:
        await send_commerce([order("c4", "o-4", email="ada@example.com")])
        body = await wait_for(lambda: _with_feedback_request(client, 1))

    assert body["totals"] == {"sent": 1, "delayed": 1}  # delayed: the feedback request
    assert len(sandbox.outbox()) == 1


async def _settled(client, count: int) -> dict | None:
    body = await stats(client)
    return body if sum(body["totals"].get(s, 0) for s in ("sent", "failed", "suppressed")) >= count else None


async def _with_feedback_request(client, count: int) -> dict | None:
    """Stats once `count` outcomes are settled and the order's feedback request is written
    (right after the receipt)."""
    body = await _settled(client, count)
    return body if body and body["totals"].get("delayed") else None


async def test_a_permanent_provider_error_fails_the_message_with_its_reason(
    sandbox, messenger_settings, run_messenger, send_commerce, message_events, wait_for
) -> None:
    # Twilio's magic test number that is never a valid phone number.
    async with run_messenger(messenger_settings) as client:
        await send_commerce(
            [
                identify("c5", phone="+15005550001", sms_marketing_consent=True),
                order("c5", "o-5"),
            ]
        )
        body = await wait_for(lambda: _with_feedback_request(client, 2))

    # SMS failed; no email address; the feedback request waits its 7 days (delayed).
    assert body["totals"] == {"failed": 1, "suppressed": 1, "delayed": 1}
    assert sandbox.outbox() == []
    records = await message_events(2)
    failed = next(e for _, e in records if e.type == "message.failed")
    assert failed.data["provider_status"] == 400 and failed.data["reason"].startswith("21211")
    suppressed = next(e for _, e in records if e.type == "message.suppressed")
    assert suppressed.data["reason"] == "no_address"


def bought(customer: str, order_id: str, *products: str) -> Envelope:
    lines = [
        OrderLine(
            product_id=pid,
            name=pid.replace("-", " ").title(),
            category="Coffee",
            unit_price=Decimal("12.00"),
            url=f"https://shop.example/products/{pid}",
        )
        for pid in products
    ]
    total = Decimal("12.00") * len(lines)
    event = OrderPlaced(order_id=order_id, placed_at=NOW, total=total, lines=lines, email=f"{customer}@example.com")
    return Envelope.wrap(event, store_id="s1", customer_id=customer, source="test", time=NOW, id=f"ev-{order_id}")


async def test_a_receipt_recommends_what_an_earlier_customer_bought_with_the_same_product(
    sandbox, messenger_settings, run_messenger, send_commerce, wait_for
) -> None:
    first_order = bought("c1", "o-10", "house-blend", "paper-filters")
    async with run_messenger(messenger_settings) as client:
        await send_commerce([first_order])
        await wait_for(lambda: len(sandbox.outbox()) == 1)
        # A redelivery follows on c1's partition: once it is seen, o-10 is counted (once).
        await send_commerce([first_order])
        await wait_for(lambda: _with_duplicates(client))
        await send_commerce([bought("c2", "o-11", "house-blend"), bought("c3", "o-12", "house-blend")])
        await wait_for(lambda: len(sandbox.outbox()) == 3)

    first, second, third = sorted(sandbox.outbox("sendgrid"), key=lambda m: m["subject"])
    assert "Goes well with your order" not in first["text"]  # the store had seen no order yet
    link = "https://shop.example/products/paper-filters?utm_source=boomerang&utm_medium=email"
    for receipt in (second, third):
        assert "- Paper Filters ($12.00): " + link in receipt["text"]
        assert 'href="' + link.replace("&", "&amp;") in receipt["html"]
