"""The messenger's HTTP face: ops endpoints and what it sent, around the Kafka consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

from boomerang.messenger.bootstrap import Runtime, bootstrap
from boomerang.messenger.settings import MessengerSettings
from boomerang.shared.process import spare_the_startup_objects
from boomerang.shared.web import install_error_handlers, ops_router


def create_app(settings: MessengerSettings | None = None, *, server: bool = False) -> FastAPI:
    """`server`: this app is the process (`boomerang-messenger serve`), so it may tune the
    garbage collector for it, which tests sharing a process with many apps must not."""
    settings = settings or MessengerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = bootstrap(settings)
        app.state.runtime = runtime
        await runtime.start()
        if server:
            spare_the_startup_objects()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title="Boomerang messenger", lifespan=lifespan)
    install_error_handlers(app)

    async def database() -> bool:
        return await app.state.runtime.database_ok()

    async def consumer() -> bool:
        return await app.state.runtime.consumer_ok()

    app.include_router(ops_router({"database": database, "consumer": consumer}))

    @app.get("/v1/stats")
    def stats(request: Request) -> dict[str, Any]:
        """Messages by flow, channel and status, from the ledger (so they survive restarts)."""
        runtime: Runtime = request.app.state.runtime
        rows = runtime.ledger.stats()
        totals: dict[str, int] = {}
        for row in rows:
            totals[row.state] = totals.get(row.state, 0) + row.messages
        return {
            "messages": [
                {
                    "flow": r.flow,
                    "channel": r.channel,
                    "status": r.state,
                    "reason": r.reason,
                    "count": r.messages,
                    "duplicates_avoided": r.duplicates_avoided,
                }
                for r in rows
            ],
            "totals": totals,
            "duplicates_avoided": sum(r.duplicates_avoided for r in rows),
        }

    return app
