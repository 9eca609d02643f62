"""The Segment HTTP Tracking API: /v1/identify, /track, /page, /screen, /group, /alias and /batch."""

from __future__ import annotations

from typing import Any, TypedDict

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from boomerang.ingest import metrics
from boomerang.ingest.entrypoints.bodies import authenticated_body
from boomerang.ingest.entrypoints.openapi import segment_operation
from boomerang.ingest.entrypoints.reports import log_refused, report_ingested
from boomerang.ingest.entrypoints.routes import PlainRoute
from boomerang.ingest.service_layer.ingest import BatchRejected, Ingest, Outcome
from boomerang.ingest.service_layer.ports import StoreRepository
from boomerang.ingest.settings import IngestSettings
from boomerang.shared.errors import BoomerangError


class State(TypedDict):
    """What the lifespan hands every request (request.state)."""

    settings: IngestSettings
    ingest: Ingest
    stores: StoreRepository


# Request and answer schemas for /openapi.json (the routes read their bodies themselves).
_SEGMENT_BODY = segment_operation("SegmentCall")
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text}
    for code, text in {
        400: "invalid event (error.code, error.field)",
        401: "missing_write_key / invalid_write_key",
        429: "rate_limited: the store is over its events/s (Retry-After)",
        503: "kafka_unavailable (Retry-After)",
    }.items()
}

router = APIRouter(prefix="/v1", tags=["segment"], responses=_ERRORS, route_class=PlainRoute)


def _single_call_route(call: str) -> None:
    """`POST /v1/<call>`: one Segment call of that type."""

    async def endpoint(request: Request) -> JSONResponse:
        return await _single(request, call)

    endpoint.__name__ = call
    schema = f"Segment{call.capitalize()}"
    router.add_api_route(
        f"/{call}", endpoint, methods=["POST"], name=call, openapi_extra=segment_operation(schema)
    )


for _call in ("identify", "track", "page", "screen", "group", "alias"):
    _single_call_route(_call)


@router.post("/batch", openapi_extra=segment_operation("SegmentBatch", "BatchAnswer"))
async def batch(request: Request) -> JSONResponse:
    settings: IngestSettings = request.state.settings
    body: dict[str, Any] = {}
    try:
        sent = await authenticated_body(request, request.state.stores, settings.max_batch_bytes)
        body, store_id = sent.body, sent.store_id
        outcome: Outcome = await request.state.ingest.batch(
            body,
            store_id=store_id,
            max_events=settings.max_batch_events,
            max_event_bytes=settings.max_event_bytes,
            body_bytes=sent.size,
        )
    except BatchRejected as exc:
        for rejection in exc.rejected:
            metrics.count_refusal(rejection.code, _batch_item_type(body, rejection.index))
        log_refused(exc, "batch")
        raise
    except BoomerangError as exc:
        metrics.count_refusal(exc.code, "batch")
        log_refused(exc, "batch")
        raise
    report_ingested(
        outcome, endpoint="batch", store_id=store_id, rejected_type=lambda r: _batch_item_type(body, r.index)
    )
    return JSONResponse(
        {
            "success": True,
            "accepted": outcome.accepted,
            "deduplicated": outcome.duplicates,
            "rejected": [r.as_dict() for r in outcome.rejected],
            "ids": [{"index": index, "id": event_id} for index, event_id in outcome.ids],
        }
    )


async def _single(request: Request, call: str) -> JSONResponse:
    settings: IngestSettings = request.state.settings
    try:
        body, store_id, _ = await authenticated_body(request, request.state.stores, settings.max_event_bytes)
        outcome: Outcome = await request.state.ingest.one(body, call=call, store_id=store_id)
    except BoomerangError as exc:
        metrics.count_refusal(exc.code, call)
        log_refused(exc, call)
        raise
    report_ingested(outcome, endpoint=call, store_id=store_id, rejected_type=lambda _: call)
    return JSONResponse({"success": True})


def _batch_item_type(body: dict[str, Any], index: int) -> str:
    """The Segment call type of batch[index], for metrics: a known type or "unknown"."""
    items = body.get("batch")
    item = items[index] if isinstance(items, list) and 0 <= index < len(items) else None
    return metrics.call_type(item.get("type") if isinstance(item, dict) else None)
