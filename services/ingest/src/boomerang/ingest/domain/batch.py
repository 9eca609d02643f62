"""The `/v1/batch` envelope: a list of calls sharing context and sentAt."""

from __future__ import annotations

from typing import Any

from boomerang.ingest.domain.rejections import Rejected
from boomerang.shared.errors import PayloadTooLarge


def batch_items(body: dict[str, Any], max_events: int) -> list[Any]:
    """The calls of a batch, each completed with the batch-level context and sentAt."""
    items = body.get("batch")
    if items is None:
        raise Rejected("missing_field", "batch is required", "batch")
    if not isinstance(items, list):
        raise Rejected("invalid_field", "batch must be a list of calls", "batch")
    if len(items) > max_events:
        raise PayloadTooLarge(f"a batch holds at most {max_events} events", field="batch")
    if not items:
        raise Rejected("empty_batch", "batch has no events", "batch")
    return [_with_batch_defaults(item, body) for item in items]


def _with_batch_defaults(item: Any, body: dict[str, Any]) -> Any:
    if not isinstance(item, dict):
        return item
    merged = dict(item)
    # Segment merges the batch's context into each call's; the call's own keys win.
    batch_context = body.get("context")
    if isinstance(batch_context, dict):
        own = item.get("context") if isinstance(item.get("context"), dict) else {}
        merged["context"] = {**batch_context, **own}
    if "sentAt" in body and "sentAt" not in item:
        merged["sentAt"] = body["sentAt"]
    return merged
