"""From a stored provider event to the envelope on feedback.events.v1: the same every time."""

from __future__ import annotations

from boomerang.feedback.domain import sendgrid, twilio
from boomerang.feedback.domain.model import SOURCE, Attribution, ProviderEvent, envelope_id
from boomerang.shared.events import Envelope

_MAPPERS = {sendgrid.PROVIDER: sendgrid.received, twilio.PROVIDER: twilio.received}
_KINDS = {sendgrid.PROVIDER: sendgrid.KINDS, twilio.PROVIDER: twilio.KINDS}


def envelope_for(event: ProviderEvent) -> tuple[Envelope, Attribution]:
    payload, attribution = _MAPPERS[event.provider](event)
    envelope = Envelope.wrap(
        payload,
        store_id=attribution.store_id,
        customer_id=attribution.customer_id,
        source=SOURCE,
        time=payload.occurred_at,
        id=envelope_id(event.provider, event.provider_event_id),
    )
    return envelope, attribution


def kind_label(provider: str, kind: str) -> str:
    """Metric labels stay a closed set whatever a provider sends."""
    return kind if kind in _KINDS.get(provider, ()) else "other"
