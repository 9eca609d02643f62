"""Twilio message status callbacks, mapped to ProviderEventReceived."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from boomerang.feedback.domain.errors import InvalidPayload
from boomerang.feedback.domain.model import Attribution, ProviderEvent, attribute
from boomerang.shared.events import ProviderEventReceived
from boomerang.shared.events.attribution import MessageAttribution

PROVIDER = "twilio"
KINDS = frozenset(
    {
        "queued", "accepted", "scheduled", "sending", "sent", "failed", "delivered",
        "undelivered", "receiving", "received", "read", "partially_delivered", "canceled",
    }
)  # fmt: skip


def status_event(
    form: list[tuple[str, str]], query: list[tuple[str, str]], *, received_at: datetime
) -> ProviderEvent:
    """A status callback carries no event id: a message reaches each status once, so the pair is one.
    Attribution ids travel in the StatusCallback URL's query string, which Twilio signs too."""
    params = dict(form)
    sid = _required(params, "MessageSid")
    status = _required(params, "MessageStatus")
    raw = {"form": params, "query": dict(query)}
    return ProviderEvent(PROVIDER, f"{sid}:{status}", status, raw, received_at)


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if not value or len(value) > 64:
        raise InvalidPayload(f"{name} is required", code="missing_field", field=name)
    return value


def received(event: ProviderEvent) -> tuple[ProviderEventReceived, Attribution]:
    form: dict[str, Any] = event.raw.get("form", {})
    query: dict[str, Any] = event.raw.get("query", {})
    sid = form["MessageSid"]
    error_code = form.get("ErrorCode")
    ids = MessageAttribution.from_args(query)
    payload = ProviderEventReceived(
        provider=PROVIDER,
        provider_event_id=event.provider_event_id,
        kind=event.kind,
        # Twilio does not say when the status changed; we know when it told us.
        occurred_at=event.received_at,
        message_id=ids.message_id,
        provider_message_id=sid,
        reason=f"twilio error {error_code}" if error_code else None,
    )
    attribution = attribute(
        ids.store_id, ids.customer_id, fallback_ref=f"{PROVIDER}:{sid}"
    )
    return payload, attribution
