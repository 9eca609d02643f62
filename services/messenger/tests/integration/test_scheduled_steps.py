"""The scheduler through the real broker and the real provider sandbox: a win-back's second step
goes out after its (shortened) delay, and an order in between cancels it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from boomerang.messenger.adapters.store import SqlContacts, SqlSendLedger
from boomerang.messenger.domain.messages import State
from boomerang.shared.db import make_engine
from boomerang.shared.events import CustomerIdentified, Envelope, Event, OrderPlaced, SegmentChanged
from boomerang.shared.kafka import COMMERCE_EVENTS, CUSTOMER_SEGMENTS, EventPublisher
from boomerang.shared.links import LinkSettings

pytestmark = pytest.mark.integration
# Recent: the feedback request a week after an order long past is suppressed as too late.
NOW = datetime.now(UTC).replace(microsecond=0)
# Store "fast": the reminder is due as soon as the first email is out. The real clock cannot be
# moved 16 hours, so the store also makes the series transactional (no frequency cap between
# its two emails); no send window and no control group, so the test runs at any hour.
FAST = "purpose: transactional\nsend_window: null\nholdout_percent: 0\nsteps:\n  last_chance:\n    delay: 0\n"
# Store "slow": the default five days, so an order certainly comes before the reminder.
SLOW = "send_window: null\nholdout_percent: 0\n"


def wrap(event: Event, store_id: str, envelope_id: str) -> Envelope:
    return Envelope.wrap(event, store_id=store_id, customer_id="c-1", source="test", time=NOW, id=envelope_id)


def lapsed(store_id: str) -> Envelope:
    event = SegmentChanged(
        from_segment="active", to_segment="lapsed", reason="test", changed_at=NOW, orders=4,
        revenue=Decimal("250"), dimension="lifecycle",
    )  # fmt: skip
    return wrap(event, store_id, f"seg-{store_id}")


def store_flows(root: Path) -> Path:
    for store, text in (("fast", FAST), ("slow", SLOW)):
        (root / store).mkdir(parents=True)
        (root / store / "win_back.yaml").write_text(text)
    return root


async def test_the_reminder_is_sent_by_the_scheduler_and_an_order_cancels_it_elsewhere(
    sandbox, messenger_settings, run_messenger, message_events, wait_for, kafka_bootstrap, topic_prefix, tmp_path
) -> None:
    settings = messenger_settings.model_copy(
        update={
            "flows_dir": store_flows(tmp_path / "flows"),
            "links": LinkSettings(signing_key="integration-key", base_url="https://feedback.example"),
            "scheduler_interval_seconds": 0.2,
        }
    )
    engine = make_engine(settings.database_url)
    ledger = SqlSendLedger(engine)
    publisher = EventPublisher(kafka_bootstrap, topic_prefix)
    await publisher.start()
    try:
        async with run_messenger(settings):
            identified = CustomerIdentified(email="ada@example.com", email_marketing_consent=True)
            await publisher.publish_many(
                COMMERCE_EVENTS.name, [wrap(identified, "fast", "id-fast"), wrap(identified, "slow", "id-slow")]
            )
            await wait_for(lambda: SqlContacts(engine).get("fast", "c-1") and SqlContacts(engine).get("slow", "c-1"))
            await publisher.publish_many(CUSTOMER_SEGMENTS.name, [lapsed("fast"), lapsed("slow")])

            fast_emails = await wait_for(lambda: len(sandbox.outbox("sendgrid")) >= 3 and sandbox.outbox("sendgrid"))
            slow_reminder = await wait_for(lambda: _entry(ledger, "slow", "last_chance"))
            order = OrderPlaced(order_id="o-1", placed_at=NOW, total=Decimal("12"), email="ada@example.com")
            await publisher.publish_many(COMMERCE_EVENTS.name, [wrap(order, "slow", "ord-slow")])
            cancelled = await wait_for(
                lambda: (e := _entry(ledger, "slow", "last_chance")) and e.state is State.SUPPRESSED and e
            )
            records = await message_events(5)
    finally:
        await publisher.stop()
    engine.dispose()

    subjects = sorted(m["subject"] for m in fast_emails)
    assert "Still thinking about it? Shipping is on us" in subjects  # fast's reminder, by the scheduler
    assert subjects.count("We miss you - here is 15% off your next order") == 2  # fast and slow
    assert slow_reminder.state is State.DELAYED
    assert cancelled.reason == "exited"
    outcomes = sorted((e.store_id, e.data["flow"], e.data["step"], e.type, e.data.get("reason")) for _, e in records)
    assert outcomes == [
        ("fast", "win_back", "last_chance", "message.sent", None),
        ("fast", "win_back", "we_miss_you", "message.sent", None),
        ("slow", "receipt", "email", "message.sent", None),
        ("slow", "win_back", "last_chance", "message.suppressed", "exited"),
        ("slow", "win_back", "we_miss_you", "message.sent", None),
    ]
    assert len(sandbox.outbox("sendgrid")) == 4  # three win-back emails and slow's receipt: no reminder


def _entry(ledger: SqlSendLedger, store_id: str, step: str):
    rows = [e for e in ledger.history(store_id, "c-1", NOW.replace(year=2000)) if e.flow == "win_back" and e.step == step]
    return rows[0] if rows else None
