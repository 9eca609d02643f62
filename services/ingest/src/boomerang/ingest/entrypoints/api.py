"""The Segment HTTP Tracking API: /v1/identify, /v1/track, /v1/page and /v1/batch."""

from __future__ import annotations

from typing import Any, TypedDict

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from boomerang.ingest import metrics
from boomerang.ingest.entrypoints.bodies import parse_json, read_body, write_key_from_header
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


_SEGMENT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
    }
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text}
    for code, text in {
        400: "invalid event (error.code, error.field)",
        401: "missing_write_key / invalid_write_key",
        413: "payload_too_large",
        503: "kafka_unavailable (Retry-After)",
    }.items()
}

router = APIRouter(prefix="/v1", tags=["segment"], responses=_ERRORS)


@router.post("/identify", openapi_extra=_SEGMENT_BODY)
async def identify(request: Request) -> JSONResponse:
    return await _single(request, "identify")


@router.post("/track", openapi_extra=_SEGMENT_BODY)
async def track(request: Request) -> JSONResponse:
    return await _single(request, "track")


@router.post("/page", openapi_extra=_SEGMENT_BODY)
async def page(request: Request) -> JSONResponse:
    return await _single(request, "page")


@router.post("/batch", openapi_extra=_SEGMENT_BODY)
async def batch(request: Request) -> JSONResponse:
    settings: IngestSettings = request.state.settings
    try:
        body, store_id = await _authenticated_body(request, settings.max_batch_bytes)
        outcome: Outcome = await request.state.ingest.batch(
            body, store_id=store_id, max_events=settings.max_batch_events
        )
    except BatchRejected as exc:
        for rejection in exc.rejected:
            metrics.REJECTED.labels(rejection.code).inc()
        _log_refusal(exc, "batch")
        raise
    except BoomerangError as exc:
        metrics.REJECTED.labels(exc.code).inc()
        _log_refusal(exc, "batch")
        raise
    _count(outcome, "batch", store_id)
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
        metrics.REJECTED.labels(exc.code).inc()
        _log_refusal(exc, call)
        raise
    _count(outcome, call, store_id)
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


def _count(outcome: Outcome, endpoint: str, store_id: str) -> None:
    log.info(
        "events_ingested",
        store_id=store_id,
        endpoint=endpoint,
        accepted=outcome.accepted,
        published=len(outcome.published),
        duplicates=outcome.duplicates,
        rejected=len(outcome.rejected),
    )
    metrics.ACCEPTED.labels(endpoint).inc(outcome.accepted)
    for rejection in outcome.rejected:
        metrics.REJECTED.labels(rejection.code).inc()
    if outcome.duplicates:
        metrics.DEDUPLICATED.inc(outcome.duplicates)
    for envelope in outcome.published:
        metrics.PUBLISHED.labels(envelope.type).inc()
    if not outcome.remembered:
        metrics.DEDUP_RECORD_FAILURES.inc()
