"""Lists of events: the `/v1/batch` envelope (calls sharing context and sentAt), and the list
checks every endpoint that takes several events makes."""

from __future__ import annotations

from typing import Any

from boomerang.ingest.domain.limits import too_many_events
from boomerang.ingest.domain.rejections import Rejected


def batch_items(body: dict[str, Any], max_events: int) -> list[Any]:
    """The calls of a batch, each completed with the batch-level context and sentAt."""
    return [_with_batch_defaults(item, body) for item in listed_items(body, "batch", max_events)]


def listed_items(body: dict[str, Any], key: str, max_events: int) -> list[Any]:
    """The events listed under `key` (`batch`, `events`): a list of 1 to `max_events` items."""
    items = body.get(key)
    if items is None:
        raise Rejected("missing_field", f"{key} is required", key)
    if not isinstance(items, list):
        raise Rejected("invalid_field", f"{key} must be a list of events", key)
    if len(items) > max_events:
        raise too_many_events(max_events, key)
    if not items:
        raise Rejected("empty_batch", f"{key} has no events", key)
    return items


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
