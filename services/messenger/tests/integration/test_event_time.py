"""The messenger on event time (BOOMERANG_MESSENGER_CLOCK=event-time), as the demo runs it:
a replay of 1997 history sends its reminders when the history's own clock reaches them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from boomerang.messenger.adapters.store import SqlSendLedger
from boomerang.messenger.domain.holdout import in_holdout
from boomerang.messenger.domain.messages import State
from boomerang.shared.db import make_engine
from boomerang.shared.events import CheckoutStarted, CustomerIdentified, Envelope, Event, PageViewed
from boomerang.shared.kafka import COMMERCE_EVENTS, EventPublisher
from boomerang.shared.links import LinkSettings

pytestmark = pytest.mark.integration
HISTORY = datetime(1997, 1, 2, 15, tzinfo=UTC)  # 10:00 in New York


def wrap(event: Event, customer_id: str, envelope_id: str, at: datetime) -> Envelope:
    return Envelope.wrap(event, store_id="s1", customer_id=customer_id, source="test", time=at, id=envelope_id)


async def test_an_abandoned_checkout_of_1997_is_reminded_when_the_replay_reaches_four_hours_later(
    sandbox, messenger_settings, run_messenger, wait_for, kafka_bootstrap, topic_prefix
) -> None:
    settings = messenger_settings.model_copy(
        update={
            "clock": "event-time",
            "scheduler_interval_seconds": 0.2,
            "links": LinkSettings(signing_key="integration-key", base_url="https://feedback.example"),
        }
    )
    ada = next(c for c in (f"a{i}" for i in range(100)) if not in_holdout("s1", c, "checkout_abandonment", 10))
    engine = make_engine(settings.database_url)
    ledger = SqlSendLedger(engine)
    publisher = EventPublisher(kafka_bootstrap, topic_prefix)
    await publisher.start()

    def reminder():
        found = [e for e in ledger.history("s1", ada, HISTORY - timedelta(days=1)) if e.flow == "checkout_abandonment"]
        return found[0] if found else None

    try:
        async with run_messenger(settings):
            identified = CustomerIdentified(email="ada@example.com", email_marketing_consent=True, timezone="America/New_York")
            started = CheckoutStarted(checkout_id="ck-1", started_at=HISTORY, total=Decimal("30"))
            await publisher.publish_many(
                COMMERCE_EVENTS.name,
                [wrap(identified, ada, "id-ada", HISTORY), wrap(started, ada, "ck-1", HISTORY)],
            )
            waiting = await wait_for(reminder)
            await publisher.publish_many(  # the replay moves on: an hour, then five hours later
                COMMERCE_EVENTS.name,
                [
                    wrap(PageViewed(url="https://shop.example/"), ada, "pv-1", HISTORY + timedelta(hours=1)),
                    wrap(PageViewed(url="https://shop.example/a"), ada, "pv-2", HISTORY + timedelta(hours=5)),
                ],
            )
            sent = await wait_for(lambda: (e := reminder()) and e.state is State.SENT and e)
            emails = [m for m in sandbox.outbox("sendgrid") if m["subject"] == "You left something in your cart"]
    finally:
        await publisher.stop()
        engine.dispose()

    # On the wall clock this checkout is decades old and would be suppressed as too_late.
    assert (waiting.state, waiting.due_at) == (State.DELAYED, HISTORY + timedelta(hours=4))
    assert sent.sent_at is not None and sent.sent_at == HISTORY + timedelta(hours=5)
    assert len(emails) == 1
