"""The Event Webhook payload the sandbox builds for an accepted mail."""

from datetime import UTC, datetime
from itertools import count

from boomerang.sandbox.outbox import OutboxMessage
from boomerang.sandbox.sendgrid_events import delivery_events


def test_processed_then_delivered_per_recipient_with_flat_custom_args() -> None:
    mail = OutboxMessage(
        id="XID.sandbox.0.0",
        provider="sendgrid",
        to=["ada@example.com"],
        cc=["bob@example.com"],
        from_="hello@shop.example",
        categories=["winback"],
        custom_args={"customer_id": "c1", "event": "must not win"},
        x_message_id="XID",
        received_at=datetime(2024, 5, 1, tzinfo=UTC),
    )
    ids = count()

    events = delivery_events([mail], 1714521600, lambda: f"ev{next(ids)}")

    assert [(e["event"], e["email"]) for e in events] == [
        ("processed", "ada@example.com"),
        ("processed", "bob@example.com"),
        ("delivered", "ada@example.com"),
        ("delivered", "bob@example.com"),
    ]
    assert [e["sg_event_id"] for e in events] == ["ev0", "ev1", "ev2", "ev3"]
    first = events[0]
    assert first["customer_id"] == "c1"
    assert first["category"] == ["winback"]
    assert first["sg_message_id"] == "XID.sandbox.0.0"
    assert first["smtp-id"] == "<XID@sandbox.boomerang.local>"
    assert first["timestamp"] == 1714521600


def test_category_is_left_out_when_the_mail_had_none() -> None:
    mail = OutboxMessage(
        id="m",
        provider="sendgrid",
        to=["a@example.com"],
        from_="s@example.com",
        received_at=datetime.now(UTC),
    )
    [processed, _] = delivery_events([mail], 0, lambda: "e")
    assert "category" not in processed
