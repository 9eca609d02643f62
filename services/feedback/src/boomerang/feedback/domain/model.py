"""Provider events as feedback keeps them, and how they become envelopes on feedback.events.v1."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

UNATTRIBUTED_STORE = "_unattributed"
SOURCE = "boomerang.feedback"
# Fixed forever: envelope ids derive from it, so a re-published event keeps its id.
_ENVELOPE_NAMESPACE = uuid.UUID("6f1d7c52-3b8e-5f0a-9c4e-2d7b1a9e8f30")
_EMAIL = re.compile(r"[^\s<>\"'@:;,]+@[^\s<>\"'@:;,]+\.[A-Za-z0-9-]+")
_MAX_STORE_ID = 64
_MAX_CUSTOMER_ID = 256


@dataclass(frozen=True)
class ProviderEvent:
    """One event a provider reported: its raw payload, kept once, plus what identifies it."""

    provider: str
    provider_event_id: str
    kind: str
    raw: dict[str, Any]
    received_at: datetime


@dataclass(frozen=True)
class StoredEvent:
    id: int
    event: ProviderEvent
    published_at: datetime | None = None


@dataclass(frozen=True)
class Attribution:
    store_id: str
    customer_id: str
    attributed: bool


def attribute(store_id: Any, customer_id: Any, *, fallback_ref: str) -> Attribution:
    """The partition key from the ids the messenger sent along; without them the event still
    needs a stable key, derived from the provider's message id and never from an address."""
    store_ok = isinstance(store_id, str) and 0 < len(store_id) <= _MAX_STORE_ID
    customer_ok = isinstance(customer_id, str) and 0 < len(customer_id) <= _MAX_CUSTOMER_ID
    if store_ok and customer_ok:
        return Attribution(store_id, customer_id, attributed=True)
    digest = hashlib.sha256(fallback_ref.encode("utf-8")).hexdigest()[:32]
    return Attribution(
        store_id if store_ok else UNATTRIBUTED_STORE,
        customer_id if customer_ok else f"unattributed:{digest}",
        attributed=False,
    )


def envelope_id(provider: str, provider_event_id: str) -> str:
    return str(uuid.uuid5(_ENVELOPE_NAMESPACE, f"{provider}:{provider_event_id}"))


def without_addresses(text: Any, limit: int = 500) -> str | None:
    """Bounce and deferral reasons often quote the recipient; the event stream does not need it."""
    if not isinstance(text, str) or not text:
        return None
    return _EMAIL.sub("<redacted>", text)[:limit]
