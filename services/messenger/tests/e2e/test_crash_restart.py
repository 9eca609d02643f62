"""The messenger killed mid-stream and restarted: every order gets exactly one receipt."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from boomerang.devstack.waiting import wait_until_ready
from boomerang.shared.events import CustomerIdentified, Envelope, OrderLine, OrderPlaced

pytestmark = pytest.mark.e2e
ORDERS = 400  # enough that a kill at the first few receipts lands mid-stream at ~1,000 sends/s
# Recent: the feedback request a week after an order long past is suppressed as too late.
NOW = datetime.now(UTC).replace(microsecond=0)


def outbox(url: str, provider: str) -> list[dict]:
    return httpx.get(f"{url}/outbox.json", params={"provider": provider}, timeout=10).json()["messages"]


def history() -> list[Envelope]:
    envelopes = []
    for n in range(ORDERS):
        customer = f"c{n}"
        consented = n % 2 == 0
        contact = CustomerIdentified(
            email=f"shopper{n}@example.com", phone=f"+1415555{n:04d}", sms_marketing_consent=consented
        )
        placed = OrderPlaced(
            order_id=f"o-{n}",
            placed_at=NOW,
            total=Decimal("30.00"),
            lines=[OrderLine(product_id="p1", name="Tea", quantity=3, unit_price=Decimal("10.00"))],
        )
        envelopes.append(
            Envelope.wrap(contact, store_id="s1", customer_id=customer, source="e2e", time=NOW, id=f"id-{n}")
        )
        envelopes.append(
            Envelope.wrap(placed, store_id="s1", customer_id=customer, source="e2e", time=NOW, id=f"ev-{n}")
        )
    return envelopes


async def test_sigkill_mid_stream_then_restart_sends_each_receipt_exactly_once(
    sandbox_outbox, messenger_process, send_commerce
) -> None:
    sandbox_process, _ = sandbox_outbox
    messenger_url = messenger_process.url
    await send_commerce(history())

    first = messenger_process.start()
    try:
        deadline = time.monotonic() + 60
        while len(outbox(sandbox_process, "sendgrid")) < ORDERS // 40:
            assert time.monotonic() < deadline and first.popen.poll() is None, "messenger made no progress"
            time.sleep(0.01)
        first.kill()
    finally:
        first.stop()
    sent_before_kill = len(outbox(sandbox_process, "sendgrid"))
    assert sent_before_kill < ORDERS, "the kill came after all the work: nothing was tested"

    second = messenger_process.start()
    try:
        wait_until_ready(f"{messenger_url}/readyz")
        deadline = time.monotonic() + 90
        # Every email and SMS sent or suppressed, and every feedback request written (after its receipt).
        while _settled(messenger_url) < ORDERS + ORDERS or _totals(messenger_url).get("delayed", 0) < ORDERS:
            assert time.monotonic() < deadline, f"stuck at {_totals(messenger_url)}"
            time.sleep(0.2)
        stats = httpx.get(f"{messenger_url}/v1/stats", timeout=5).json()
    finally:
        second.stop()

    emails = outbox(sandbox_process, "sendgrid")
    receipts = Counter(m["subject"].removeprefix("Your receipt for order ") for m in emails)
    assert receipts == Counter({f"o-{n}": 1 for n in range(ORDERS)})
    # "<store>: Thanks for your order o-7! ...": the order id follows "order".
    texts = Counter(m["text"].split(" order ", 1)[1].split("!", 1)[0] for m in outbox(sandbox_process, "twilio"))
    assert texts == Counter({f"o-{n}": 1 for n in range(0, ORDERS, 2)})
    # delayed: each order's feedback request, due in 7 days (sent by the scheduler then).
    assert stats["totals"] == {"sent": ORDERS + ORDERS // 2, "suppressed": ORDERS // 2, "delayed": ORDERS}


def _totals(url: str) -> dict[str, int]:
    return httpx.get(f"{url}/v1/stats", timeout=5).json()["totals"]


def _settled(url: str) -> int:
    totals = _totals(url)
    return sum(totals.get(state, 0) for state in ("sent", "failed", "suppressed"))
