"""What the messenger did: payloads on `message.events.v1`."""

from __future__ import annotations

from typing import Literal

from boomerang.shared.events.envelope import Event

Channel = Literal["email", "sms"]


class MessageOutcome(Event):
    message_id: str
    idempotency_key: str
    flow: str
    step: str
    channel: Channel
    trigger_event_id: str


class MessageSent(MessageOutcome):
    event_type = "message.sent"

    provider: str
    provider_message_id: str | None = None


class MessageSuppressed(MessageOutcome):
    event_type = "message.suppressed"

    reason: str


class MessageFailed(MessageOutcome):
    event_type = "message.failed"

    reason: str
    provider: str
    provider_status: int | None = None
