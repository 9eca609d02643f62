"""SendGrid Event Webhook payloads for what the sandbox did with a mail. Pure: ids and clock are inputs."""

from collections.abc import Callable
from typing import Any

from boomerang.sandbox.outbox import OutboxMessage

# SendGrid puts these at top level; a custom arg with the same name must not overwrite them.
_RESERVED = {"email", "timestamp", "event", "sg_event_id", "sg_message_id", "smtp-id", "category"}


def delivery_events(
    messages: list[OutboxMessage], timestamp: int, new_event_id: Callable[[], str]
) -> list[dict[str, Any]]:
    """`processed` for every recipient, then `delivered` for every recipient, as SendGrid posts."""
    recipients = [(m, email) for m in messages for email in (*m.to, *m.cc, *m.bcc)]
    processed = [_event("processed", m, email, timestamp, new_event_id()) for m, email in recipients]
    delivered = [
        {
            **_event("delivered", m, email, timestamp, new_event_id()),
            "response": "250 OK",
            "ip": "127.0.0.1",
            "tls": 0,
        }
        for m, email in recipients
    ]
    return processed + delivered


def _event(kind: str, message: OutboxMessage, email: str, timestamp: int, event_id: str) -> dict[str, Any]:
    event: dict[str, Any] = {k: v for k, v in message.custom_args.items() if k not in _RESERVED}
    event.update(
        {
            "email": email,
            "timestamp": timestamp,
            "event": kind,
            "sg_event_id": event_id,
            "sg_message_id": message.id,
            "smtp-id": f"<{message.x_message_id}@sandbox.boomerang.local>",
        }
    )
    # SendGrid leaves category out when the mail had none; v3 categories come back as an array.
    if message.categories:
        event["category"] = list(message.categories)
    return event


def complete_event(event: dict[str, Any], timestamp: int, new_event_id: Callable[[], str]) -> dict[str, Any]:
    """Fill the fields every SendGrid event has, for events a test writes by hand."""
    return {"timestamp": timestamp, "sg_event_id": new_event_id(), **event}
