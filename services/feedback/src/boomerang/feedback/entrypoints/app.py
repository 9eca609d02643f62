"""The feedback HTTP service: provider webhooks, inbound SMS, unsubscribe and survey pages in;
feedback.events.v1 out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import TypedDict

from fastapi import FastAPI

from boomerang.feedback.bootstrap import Clock, Feedback, bootstrap, utc_now
from boomerang.feedback.entrypoints.link_pages import router as link_pages_router
from boomerang.feedback.entrypoints.webhooks import router as webhooks_router
from boomerang.feedback.settings import FeedbackSettings
from boomerang.shared.kafka import PublishFailed
from boomerang.shared.logs import get_logger
from boomerang.shared.web import install_error_handlers, ops_router

log = get_logger(__name__)


class State(TypedDict):
    feedback: Feedback


def create_app(settings: FeedbackSettings | None = None, *, clock: Clock = utc_now) -> FastAPI:
    feedback = bootstrap(settings or FeedbackSettings(), clock=clock)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[State]:
        await feedback.start()
        try:
            await feedback.bus.connect()
        except PublishFailed as exc:
            # Webhooks are still taken in and stored; the relay keeps trying to reach Kafka.
            log.warning("kafka_unavailable_at_start", error=repr(exc)[:200])
        stop = asyncio.Event()
        relay = asyncio.create_task(
            feedback.relay.run(
                stop,
                interval_s=feedback.settings.relay_interval_s,
                max_backoff_s=feedback.settings.relay_max_backoff_s,
            ),
            name="feedback-outbox-relay",
        )
        log.info(
            "feedback_started",
            sendgrid_webhook=feedback.sendgrid_key is not None,
            twilio_webhook=feedback.twilio_auth_token is not None,
            signed_links=feedback.link_keys is not None,
        )
        try:
            yield {"feedback": feedback}
        finally:
            stop.set()
            with suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(relay, 10)
            await feedback.stop()

    app = FastAPI(title="Boomerang feedback", version="0.1.0", lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(ops_router({"database": feedback.database_ready, "kafka": feedback.kafka_ready}))
    app.include_router(webhooks_router)
    app.include_router(link_pages_router)
    return app
