"""A shop's request to forget one of its customers, as the event every service acts on."""

from __future__ import annotations

from datetime import datetime

from boomerang.ingest.domain.rejections import Rejected
from boomerang.shared.events import Envelope, ErasureRequested

SOURCE = "ingest"
MAX_CUSTOMER_ID = 256
MAX_REASON = 500


def erasure_requested(
    *, store_id: str, customer_id: str, request_id: str, now: datetime, reason: str | None = None
) -> Envelope:
    """The envelope for `privacy.erasure.v1`; its id is the request id the shop is answered with."""
    if not customer_id or len(customer_id) > MAX_CUSTOMER_ID:
        raise Rejected(
            "invalid_field", f"customer_id must be 1 to {MAX_CUSTOMER_ID} characters", "customer_id"
        )
    if reason is not None and len(reason) > MAX_REASON:
        raise Rejected("invalid_field", f"reason must be at most {MAX_REASON} characters", "reason")
    event = ErasureRequested(request_id=request_id, requested_at=now, reason=reason or None)
    return Envelope.wrap(
        event, store_id=store_id, customer_id=customer_id, source=SOURCE, time=now, id=request_id
    )
