"""`DELETE /v1/customers/{store}/{customer_id}`: a shop asks Boomerang to forget a customer."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from boomerang.ingest.bootstrap import Container
from boomerang.ingest.entrypoints.bodies import write_key_from_header
from boomerang.ingest.entrypoints.openapi import erasure_operation
from boomerang.ingest.entrypoints.paths import TEXT
from boomerang.ingest.entrypoints.reports import log_refused
from boomerang.ingest.service_layer.auth import store_of_key
from boomerang.shared.errors import BoomerangError


def privacy_router(wired: Container) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["privacy"])

    @router.delete(
        f"/customers/{{store}}/{{customer_id:{TEXT}}}", status_code=202, openapi_extra=erasure_operation()
    )
    async def erase_customer(
        request: Request, store: str, customer_id: str, reason: str | None = None
    ) -> JSONResponse:
        """Record an erasure request on privacy.erasure.v1, where every service acts on it; what
        ingest itself holds on the customer is deleted before the answer."""
        try:
            key = write_key_from_header(request.headers.get("authorization"))
            key_store_id = await store_of_key(wired.stores, key)
            if wired.limiter is not None:  # an erasure request counts as one event
                await wired.limiter.admit(key_store_id, 1)
            receipt = await wired.erasures.request(
                key_store_id=key_store_id,
                store_id=store,
                customer_id=customer_id,
                reason=reason,
            )
        except BoomerangError as exc:
            log_refused(exc, "erasure")
            raise
        return JSONResponse({"success": True, "request_id": receipt.request_id}, status_code=202)

    return router
