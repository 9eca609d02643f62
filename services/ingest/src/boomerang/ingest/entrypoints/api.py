"""The Segment HTTP Tracking API: /v1/identify, /track, /page, /screen, /group, /alias and /batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from boomerang.ingest import metrics
from boomerang.ingest.domain.rejections import Rejection
from boomerang.ingest.entrypoints.bodies import parse_json, read_body, write_key_from_header
from boomerang.ingest.entrypoints.openapi import segment_operation
from boomerang.ingest.service_layer.auth import store_of_key
from boomerang.ingest.service_layer.ingest import BatchRejected, Ingest, Outcome
from boomerang.ingest.service_layer.ports import StoreRepository
from boomerang.ingest.settings import IngestSettings
from boomerang.shared.errors import BoomerangError
from boomerang.shared.logs import get_logger

log = get_logger(__name__)


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
        413: "payload_too_large",
        429: "rate_limited: the store is over its events/s (Retry-After)",
        503: "kafka_unavailable (Retry-After)",
    }.items()
}

router = APIRouter(prefix="/v1", tags=["segment"], responses=_ERRORS)


@router.post("/identify", openapi_extra=segment_operation("SegmentIdentify"))
async def identify(request: Request) -> JSONResponse:
    return await _single(request, "identify")


@router.post("/track", openapi_extra=segment_operation("SegmentTrack"))
async def track(request: Request) -> JSONResponse:
    return await _single(request, "track")


@router.post("/page", openapi_extra=segment_operation("SegmentPage"))
async def page(request: Request) -> JSONResponse:
    return await _single(request, "page")


@router.post("/screen", openapi_extra=segment_operation("SegmentScreen"))
async def screen(request: Request) -> JSONResponse:
    return await _single(request, "screen")


@router.post("/group", openapi_extra=segment_operation("SegmentGroup"))
async def group(request: Request) -> JSONResponse:
    return await _single(request, "group")


@router.post("/alias", openapi_extra=segment_operation("SegmentAlias"))
async def alias(request: Request) -> JSONResponse:
    return await _single(request, "alias")


@router.post("/batch", openapi_extra=segment_operation("SegmentBatch", "BatchAnswer"))
async def batch(request: Request) -> JSONResponse:
    settings: IngestSettings = request.state.settings
    body: dict[str, Any] = {}
    try:
        body, store_id = await _authenticated_body(request, settings.max_batch_bytes)
        outcome: Outcome = await request.state.ingest.batch(
            body, store_id=store_id, max_events=settings.max_batch_events
        )
    except BatchRejected as exc:
        for rejection in exc.rejected:
            metrics.count_refusal(rejection.code, _batch_item_type(body, rejection.index))
        _log_refusal(exc, "batch")
        raise
    except BoomerangError as exc:
        metrics.count_refusal(exc.code, "batch")
        _log_refusal(exc, "batch")
        raise
    _count(outcome, "batch", store_id, rejected_type=lambda r: _batch_item_type(body, r.index))
    return JSONResponse(
        {
            "success": True,
            "accepted": outcome.accepted,
            "deduplicated": outcome.duplicates,
            "rejected": [r.as_dict() for r in outcome.rejected],
        }
    )


async def _single(request: Request, call: str) -> JSONResponse:
    settings: IngestSettings = request.state.settings
    try:
        body, store_id = await _authenticated_body(request, settings.max_event_bytes)
        outcome: Outcome = await request.state.ingest.one(body, call=call, store_id=store_id)
    except BoomerangError as exc:
        metrics.count_refusal(exc.code, call)
        _log_refusal(exc, call)
        raise
    _count(outcome, call, store_id, rejected_type=lambda _: call)
    return JSONResponse({"success": True})


async def _authenticated_body(request: Request, limit: int) -> tuple[dict[str, Any], str]:
    """Size first (cheap), then the header key before parsing; a body key only after parsing."""
    stores: StoreRepository = request.state.stores
    raw = await read_body(request, limit)
    header_key = write_key_from_header(request.headers.get("authorization"))
    store_id = await store_of_key(stores, header_key) if header_key else None
    body = parse_json(raw)
    if store_id is None:
        body_key = body.get("writeKey")
        store_id = await store_of_key(stores, body_key if isinstance(body_key, str) else None)
    return body, store_id


def _log_refusal(exc: BoomerangError, endpoint: str) -> None:
    # Code and field path only: the offending value may be an email or a phone number.
    log.info("request_refused", endpoint=endpoint, status=exc.status_code, code=exc.code, field=exc.field)


def _batch_item_type(body: dict[str, Any], index: int) -> str:
    """The Segment call type of batch[index], for metrics: a known type or "unknown"."""
    items = body.get("batch")
    item = items[index] if isinstance(items, list) and 0 <= index < len(items) else None
    return metrics.call_type(item.get("type") if isinstance(item, dict) else None)


def _count(
    outcome: Outcome, endpoint: str, store_id: str, *, rejected_type: Callable[[Rejection], str]
) -> None:
    log.info(
        "events_ingested",
        store_id=store_id,
        endpoint=endpoint,
        accepted=outcome.accepted,
        published=len(outcome.published),
        duplicates=outcome.duplicates,
        rejected=len(outcome.rejected),
    )
    metrics.count_delivery(outcome, rejected_type)
