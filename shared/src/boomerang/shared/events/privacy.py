"""Requests about a customer's personal data: the payloads on `privacy.erasure.v1`."""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from boomerang.shared.events.envelope import Event


class ErasureRequested(Event):
    """Forget this customer: every service deletes what it holds on them and confirms."""

    event_type = "privacy.erasure.requested"

    request_id: str
    requested_at: AwareDatetime
    reason: str | None = Field(default=None, max_length=500)
