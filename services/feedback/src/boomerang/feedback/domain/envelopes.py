"""From a stored provider event to the envelope on feedback.events.v1: the same every time."""

from __future__ import annotations

from datetime import datetime

from boomerang.feedback.domain import customer_links, sendgrid, sms, twilio
from boomerang.feedback.domain.model import SOURCE, Attribution, ProviderEvent, envelope_id
from boomerang.shared.events import Envelope, Event, SurveyAnswered

# Keyed by where a stored event came from (its `provider` column).
_MAPPERS = {
    sendgrid.PROVIDER: sendgrid.received,
    twilio.PROVIDER: twilio.received,
    sms.PROVIDER: sms.received,
    customer_links.UNSUBSCRIBE: customer_links.unsubscribed,
    customer_links.SURVEY: customer_links.answered,
}
_KINDS = {
    sendgrid.PROVIDER: sendgrid.KINDS,
    twilio.PROVIDER: twilio.KINDS,
    sms.PROVIDER: sms.KINDS,
    customer_links.UNSUBSCRIBE: customer_links.KINDS,
    customer_links.SURVEY: customer_links.KINDS,
}


def envelope_for(event: ProviderEvent) -> tuple[Envelope, Attribution]:
    payload, attribution = _MAPPERS[event.provider](event)
    envelope = Envelope.wrap(
        payload,
        store_id=attribution.store_id,
        customer_id=attribution.customer_id,
        source=SOURCE,
        time=_occurred_at(payload),
        id=envelope_id(event.provider, event.provider_event_id),
    )
    return envelope, attribution


def kind_label(provider: str, kind: str) -> str:
    """Metric labels stay a closed set whatever a provider sends."""
    return kind if kind in _KINDS.get(provider, ()) else "other"


def _occurred_at(payload: Event) -> datetime:
    return payload.answered_at if isinstance(payload, SurveyAnswered) else payload.occurred_at
