"""What came back from providers and customers: payloads on `feedback.events.v1`."""

from __future__ import annotations

from pydantic import AwareDatetime

from boomerang.shared.events.envelope import Event


class ProviderEventReceived(Event):
    """A delivery outcome or engagement reported by SendGrid or Twilio."""

    event_type = "feedback.provider_event.received"

    provider: str
    provider_event_id: str
    kind: str
    occurred_at: AwareDatetime
    message_id: str | None = None
    provider_message_id: str | None = None
    reason: str | None = None
    url: str | None = None
