"""Segment flows and the suppression list through the real broker and the real provider sandbox."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sqlmodel import Session, select

from boomerang.messenger.adapters.store import CouponRow, SqlContacts, SqlCoupons, SqlSuppressions
from boomerang.messenger.domain.flows import Channel, Purpose
from boomerang.shared.db import make_engine
from boomerang.shared.events import (
    CustomerIdentified,
    Envelope,
    Event,
    ProviderEventReceived,
    SegmentChanged,
)
from boomerang.shared.kafka import COMMERCE_EVENTS, CUSTOMER_SEGMENTS, FEEDBACK_EVENTS, EventPublisher
from boomerang.shared.links import LinkSettings

pytestmark = pytest.mark.integration
NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
# The store's own overrides: no send window (the test runs at any hour) and no control group
# (the test customer must get the message). Also shows a store override at work.
NO_WINDOW_NO_HOLDOUT = "send_window: null\nholdout_percent: 0\n"


def wrap(event: Event, envelope_id: str) -> Envelope:
    return Envelope.wrap(event, store_id="s1", customer_id="c-1", source="test", time=NOW, id=envelope_id)


def changed(to: str, dimension: str) -> Envelope:
    event = SegmentChanged(
        from_segment=None, to_segment=to, reason="test", changed_at=NOW, orders=4,
        revenue=Decimal("250"), dimension=dimension,
    )  # fmt: skip
    return wrap(event, f"seg-{to}")


async def test_lapsed_gets_one_win_back_with_a_coupon_then_an_unsubscribe_stops_marketing(
    sandbox, messenger_settings, run_messenger, message_events, wait_for, kafka_bootstrap, topic_prefix, tmp_path
) -> None:
    store_flows = tmp_path / "flows" / "s1"
    store_flows.mkdir(parents=True)
    for flow in ("win_back", "vip_welcome"):
        (store_flows / f"{flow}.yaml").write_text(NO_WINDOW_NO_HOLDOUT)
    settings = messenger_settings.model_copy(
        update={
            "flows_dir": tmp_path / "flows",
            "links": LinkSettings(signing_key="integration-key", base_url="https://feedback.example"),
        }
    )
    engine = make_engine(settings.database_url)
    publisher = EventPublisher(kafka_bootstrap, topic_prefix)
    await publisher.start()
    try:
        async with run_messenger(settings):
            identified = CustomerIdentified(email="ada@example.com", email_marketing_consent=True)
            await publisher.publish_many(COMMERCE_EVENTS.name, [wrap(identified, "id-1")])
            # Topics are consumed independently: a segment change goes once the contact is known.
            await wait_for(lambda: SqlContacts(engine).get("s1", "c-1"))
            await publisher.publish_many(CUSTOMER_SEGMENTS.name, [changed("lapsed", "lifecycle")])
            await publisher.publish_many(CUSTOMER_SEGMENTS.name, [changed("lapsed", "lifecycle")])  # again

            (email,) = await wait_for(lambda: sandbox.outbox("sendgrid"))

            unsubscribe = ProviderEventReceived(
                provider="sendgrid", provider_event_id="sg-1", kind="unsubscribe", occurred_at=NOW
            )
            await publisher.publish_many(FEEDBACK_EVENTS.name, [wrap(unsubscribe, "fb-1")])
            suppressions = SqlSuppressions(engine)
            # Likewise, the next trigger goes once the unsubscribe is in.
            await wait_for(lambda: suppressions.get("s1", "c-1").blocking(Channel.EMAIL, Purpose.MARKETING, None))
            await publisher.publish_many(CUSTOMER_SEGMENTS.name, [changed("vip", "value")])

            records = await message_events(2)
    finally:
        await publisher.stop()

    (coupon,) = _coupons(engine)
    engine.dispose()
    assert email["to"] == ["ada@example.com"]
    assert email["subject"] == "We miss you - here is 15% off your next order"
    assert email["categories"] == ["win_back"]
    assert coupon.code in email["text"] and coupon.flow == "win_back" and coupon.percent == 15
    assert len(sandbox.outbox()) == 1  # the redelivered change sent nothing; the VIP mail was stopped
    outcomes = [(e.data["flow"], e.type, e.data.get("reason")) for _, e in records]
    assert outcomes == [
        ("win_back", "message.sent", None),
        ("vip_welcome", "message.suppressed", "unsubscribed"),
    ]


def _coupons(engine) -> list:
    with Session(engine) as session:
        codes = [row.code for row in session.exec(select(CouponRow))]
    repository = SqlCoupons(engine)
    return [repository.get("s1", code) for code in codes]
