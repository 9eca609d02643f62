"""The FastAPI application: SendGrid, Twilio, the outbox and the sandbox's own controls."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from boomerang.sandbox import api_control, api_outbox, api_sendgrid, api_twilio
from boomerang.sandbox.settings import Settings
from boomerang.sandbox.state import build_sandbox

# How long a stopping sandbox waits for webhooks under way.
DRAIN_SECONDS = 5.0


def create_app(settings: Settings | None = None) -> FastAPI:
    sandbox = build_sandbox(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await sandbox.poster.drain(DRAIN_SECONDS)
        await sandbox.http.aclose()

    app = FastAPI(title="Boomerang provider sandbox", lifespan=lifespan)
    app.state.sandbox = sandbox
    for module in (api_sendgrid, api_twilio, api_outbox, api_control):
        app.include_router(module.router)
    return app
