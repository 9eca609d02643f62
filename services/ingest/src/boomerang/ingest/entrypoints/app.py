"""create_app(settings): the HTTP service, with a lifespan that owns every connection."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import timedelta

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from boomerang.ingest import metrics
from boomerang.ingest.bootstrap import Container, bootstrap
from boomerang.ingest.entrypoints.api import State, router
from boomerang.ingest.entrypoints.native import native_router
from boomerang.ingest.entrypoints.openapi import install_openapi
from boomerang.ingest.entrypoints.privacy import privacy_router
from boomerang.ingest.entrypoints.shopify import shopify_router
from boomerang.ingest.settings import IngestSettings
from boomerang.shared.db import ping
from boomerang.shared.logs import get_logger
from boomerang.shared.process import spare_the_startup_objects
from boomerang.shared.web import install_error_handlers, ops_router

log = get_logger(__name__)


def create_app(
    settings: IngestSettings | None = None, *, container: Container | None = None, server: bool = False
) -> FastAPI:
    """`server`: this app is the process (`boomerang-ingest serve`), so it may tune the garbage
    collector for it, which tests sharing a process with many apps must not."""
    settings = settings or IngestSettings()
    wired = container or bootstrap(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[State]:
        await asyncio.to_thread(wired.upgrade_schema)
        await wired.publisher.start()  # never raises: with Kafka down we answer 503 until it is back
        purger = asyncio.create_task(_purge_seen_ids(wired), name="ingest-dedup-purge")
        if server:
            spare_the_startup_objects()
        try:
            yield State(settings=settings, ingest=wired.ingest, stores=wired.stores)
        finally:
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
            await wired.publisher.stop()  # bounded; acks that came in are settled next
            if wired.in_doubt is not None:
                await wired.in_doubt.settle(timeout_s=settings.publish_timeout_s)
            await asyncio.to_thread(wired.sql.close)  # what is queued is written first
            wired.engine.dispose()

    async def database_ready() -> bool:
        return await asyncio.to_thread(ping, wired.engine)

    app = FastAPI(title="Boomerang ingest", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(shopify_router(wired))
    app.include_router(native_router(wired))
    app.include_router(privacy_router(wired))
    app.include_router(ops_router({"database": database_ready, "kafka": wired.publisher.ready}))
    app.add_middleware(RequestTimer)
    install_openapi(app)
    return app


async def _purge_seen_ids(wired: Container) -> None:
    """Message ids older than the window can never be duplicates again: drop them. Anonymous
    events older than the topic's retention are gone from Kafka too: drop them as well."""
    window = timedelta(seconds=wired.settings.dedup_window_s)
    retention = timedelta(seconds=wired.settings.anonymous_event_retention_s)
    while True:
        try:
            dropped = await wired.seen.forget_before(wired.clock() - window)
            if dropped:
                log.info("dedup_ids_purged", count=dropped)
            dropped = await wired.identities.forget_kept_before(wired.clock() - retention)
            if dropped:
                log.info("anonymous_events_purged", count=dropped)
        except Exception as exc:  # noqa: BLE001 - try again next round
            log.warning("dedup_purge_failed", error=repr(exc)[:300])
        await asyncio.sleep(wired.settings.dedup_purge_every_s)


class RequestTimer:
    """Latency per route template (`/v1/webhooks/shopify/{store}`, never the raw path, so the
    label set stays bounded), method and status; paths no route matched share "other"."""

    _METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            route = scope.get("route")  # set by the router on the scope it was handed
            # path_format drops convertors: /v1/customers/{store}/{customer_id}
            endpoint = getattr(route, "path_format", None) or "other"
            method = scope["method"] if scope["method"] in self._METHODS else "other"
            metrics.REQUEST_SECONDS.labels(endpoint, method, str(status)).observe(
                time.perf_counter() - started
            )
