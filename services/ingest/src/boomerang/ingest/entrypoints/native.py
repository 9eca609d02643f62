"""Boomerang's native event API (`POST /v1/events`) and the JSON Schemas of its events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from boomerang.ingest import metrics
from boomerang.ingest.bootstrap import Container
from boomerang.ingest.domain.limits import body_too_large
from boomerang.ingest.domain.native import NATIVE_EVENTS
from boomerang.ingest.entrypoints.bodies import authenticated_body
from boomerang.ingest.entrypoints.openapi import answers, native_operation
from boomerang.ingest.entrypoints.paths import TEXT
from boomerang.ingest.entrypoints.reports import log_refused, report_ingested
from boomerang.ingest.service_layer.ingest import BatchRejected
from boomerang.shared.errors import BoomerangError, NotFound

ENDPOINT = "native"  # the metrics label of events whose type is not one we know
_ONE_EVENT = 'a single event (several go in {"events": [...]})'
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_SCHEMA_ANSWERS = {
    "responses": {
        "200": {
            "description": "the JSON Schema (2020-12) of the event's `data`",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        **answers(None, errors=(404,), texts={404: "unknown_event_type"}),
    }
}


class UnknownEventType(NotFound):
    code = "unknown_event_type"


def native_router(wired: Container) -> APIRouter:
    """`POST /v1/events` over the container's native handler; the schema routes need nothing."""
    settings = wired.settings
    router = APIRouter(prefix="/v1", tags=["native"])

    @router.post("/events", openapi_extra=native_operation())
    async def events(request: Request) -> JSONResponse:
        """One event, or `{"events": [...]}`: each is accepted or rejected on its own."""
        body: dict[str, Any] = {}
        try:
            # The batch limit bounds the read; a single event (no `events` list) must fit the event limit.
            body, store_id, size = await authenticated_body(request, wired.stores, settings.max_batch_bytes)
            if "events" not in body and size > settings.max_event_bytes:
                raise body_too_large(settings.max_event_bytes, _ONE_EVENT)
            received = await wired.native.receive(
                body, store_id=store_id, max_events=settings.max_batch_events
            )
        except BatchRejected as exc:
            for rejection in exc.rejected:
                metrics.count_refusal(rejection.code, _item_type(body, rejection.index))
            log_refused(exc, ENDPOINT)
            raise
        except BoomerangError as exc:
            metrics.count_refusal(exc.code, ENDPOINT)
            log_refused(exc, ENDPOINT)
            raise
        outcome = received.outcome
        report_ingested(
            outcome,
            endpoint=ENDPOINT,
            store_id=store_id,
            rejected_type=lambda rejection: _item_type(body, rejection.index),
        )
        return JSONResponse(
            {
                "success": True,
                "accepted": outcome.accepted,
                "deduplicated": outcome.duplicates,
                "rejected": [r.as_dict() for r in outcome.rejected],
                "ids": [{"index": index, "id": event_id} for index, event_id in received.ids],
            }
        )

    @router.get("/schemas", openapi_extra={"responses": answers("SchemaIndex")})
    async def schemas() -> JSONResponse:
        """The event types `POST /v1/events` takes, each with the URL of its `data` JSON Schema."""
        return JSONResponse({"schemas": [_link(event_type) for event_type in NATIVE_EVENTS]})

    @router.get(f"/schemas/{{event_type:{TEXT}}}", openapi_extra=_SCHEMA_ANSWERS)
    async def event_schema(event_type: str) -> JSONResponse:
        """The JSON Schema of an event type's `data`, generated from its pydantic model."""
        model = NATIVE_EVENTS.get(event_type)
        if model is None:
            raise UnknownEventType(
                f"no event type {event_type[:100]!r}; GET /v1/schemas lists them", field="event_type"
            )
        return JSONResponse({"$schema": JSON_SCHEMA_DIALECT, **model.model_json_schema(mode="validation")})

    return router


def _link(event_type: str) -> dict[str, Any]:
    model = NATIVE_EVENTS[event_type]
    doc = (model.__doc__ or "").strip()
    return {
        "type": event_type,
        "schema_version": model.schema_version,
        "description": doc.splitlines()[0] if doc else None,
        "url": f"/v1/schemas/{event_type}",
    }


def _item_type(body: dict[str, Any], index: int) -> str:
    """The type of the request's event `index`, for metrics: a native type or "native"."""
    items = body.get("events", [body])
    item = items[index] if isinstance(items, list) and 0 <= index < len(items) else None
    event_type = item.get("type") if isinstance(item, dict) else None
    return event_type if isinstance(event_type, str) and event_type in NATIVE_EVENTS else ENDPOINT

