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
from boomerang.ingest.settings import IngestSettings
from boomerang.shared.db import ping
from boomerang.shared.logs import get_logger
from boomerang.shared.web import install_error_handlers, ops_router

log = get_logger(__name__)


def create_app(settings: IngestSettings | None = None, *, container: Container | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    wired = container or bootstrap(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[State]:
        await asyncio.to_thread(wired.upgrade_schema)
        await wired.publisher.start()  # never raises: with Kafka down we answer 503 until it is back
        purger = asyncio.create_task(_purge_seen_ids(wired), name="ingest-dedup-purge")
        try:
            yield State(settings=settings, ingest=wired.ingest, stores=wired.stores)
        finally:
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
            await wired.publisher.stop()
            wired.engine.dispose()

    async def database_ready() -> bool:
        return await asyncio.to_thread(ping, wired.engine)

    app = FastAPI(title="Boomerang ingest", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(ops_router({"database": database_ready, "kafka": wired.publisher.ready}))
    app.add_middleware(RequestTimer)
    return app


async def _purge_seen_ids(wired: Container) -> None:
    """Message ids older than the window can never be duplicates again: drop them."""
    window = timedelta(seconds=wired.settings.dedup_window_s)
    while True:
        try:
            dropped = await wired.seen.forget_before(wired.clock() - window)
            if dropped:
                log.info("dedup_ids_purged", count=dropped)
        except Exception as exc:  # noqa: BLE001 - try again next round
            log.warning("dedup_purge_failed", error=repr(exc)[:300])
        await asyncio.sleep(wired.settings.dedup_purge_every_s)


class RequestTimer:
    """Latency per endpoint and status; unknown paths share one label to bound cardinality."""

    _ENDPOINTS = frozenset({"/v1/identify", "/v1/track", "/v1/page", "/v1/batch"})

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
            path = scope["path"] if scope["path"] in self._ENDPOINTS else "other"
            metrics.REQUEST_SECONDS.labels(path, str(status)).observe(time.perf_counter() - started)
