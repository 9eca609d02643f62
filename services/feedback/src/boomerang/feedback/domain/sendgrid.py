"""SendGrid Event Webhook batches: validation, and the mapping to ProviderEventReceived."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from boomerang.feedback.domain.errors import InvalidPayload
from boomerang.feedback.domain.model import Attribution, ProviderEvent, attribute, without_addresses
from boomerang.shared.events import ProviderEventReceived
from boomerang.shared.events.attribution import MessageAttribution

PROVIDER = "sendgrid"
KINDS = frozenset(
    {
        "processed", "dropped", "delivered", "deferred", "bounce", "open", "click",
        "spamreport", "unsubscribe", "group_unsubscribe", "group_resubscribe",
    }
)  # fmt: skip
_MAX_ID = 255
_MAX_KIND = 64
# Unix seconds between 2000 and 2100: anything else is not a SendGrid timestamp.
_TIMESTAMP_RANGE = (946_684_800, 4_102_444_800)


def parse_batch(body: bytes, *, received_at: datetime) -> list[ProviderEvent]:
    """A signed body into events; the whole batch is refused if any event lacks what identifies it."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidPayload(f"the body is not JSON: {exc}", code="malformed_json", field="body") from None
    if not isinstance(payload, list):
        raise InvalidPayload("the body must be a JSON array of events", code="not_a_list", field="body")
    return [_event(index, item, received_at) for index, item in enumerate(payload)]


def _event(index: int, item: Any, received_at: datetime) -> ProviderEvent:
    if not isinstance(item, dict):
        raise InvalidPayload("every event must be a JSON object", code="invalid_event", field=str(index))
    event_id = _required_text(item, "sg_event_id", index, _MAX_ID)
    kind = _required_text(item, "event", index, _MAX_KIND)
    timestamp = item.get("timestamp")
    if (
        isinstance(timestamp, bool)
        or not isinstance(timestamp, int)
        or not (_TIMESTAMP_RANGE[0] <= timestamp <= _TIMESTAMP_RANGE[1])
    ):
        raise InvalidPayload(
            "timestamp must be unix seconds", code="invalid_field", field=f"{index}.timestamp"
        )
    return ProviderEvent(PROVIDER, event_id, kind, item, received_at)


def _required_text(item: dict[str, Any], name: str, index: int, limit: int) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidPayload(f"{name} is required", code="missing_field", field=f"{index}.{name}")
    if len(value) > limit:
        raise InvalidPayload(f"{name} is longer than {limit}", code="invalid_field", field=f"{index}.{name}")
    return value


def received(event: ProviderEvent) -> tuple[ProviderEventReceived, Attribution]:
    raw = event.raw
    sg_message_id = raw.get("sg_message_id") if isinstance(raw.get("sg_message_id"), str) else None
    ids = MessageAttribution.from_args(raw)
    payload = ProviderEventReceived(
        provider=PROVIDER,
        provider_event_id=event.provider_event_id,
        kind=event.kind,
        occurred_at=datetime.fromtimestamp(raw["timestamp"], UTC),
        message_id=ids.message_id,
        provider_message_id=sg_message_id,
        reason=_reason(raw),
        url=raw.get("url") if event.kind == "click" and isinstance(raw.get("url"), str) else None,
    )
    attribution = attribute(
        ids.store_id,
        ids.customer_id,
        fallback_ref=f"{PROVIDER}:{sg_message_id or event.provider_event_id}",
    )
    return payload, attribution


def _reason(raw: dict[str, Any]) -> str | None:
    # bounce and dropped say why in `reason`; deferred in the receiving server's `response`.
    reason = without_addresses(raw.get("reason")) or without_addresses(
        raw.get("response") if raw.get("event") == "deferred" else None
    )
    if reason and raw.get("event") == "bounce" and raw.get("type") == "blocked":
        # A block is about the sending IP, not the address: tell consumers it is no hard bounce.
        return f"blocked: {reason}"
    return reason
