"""The one place that wires adapters into the handlers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy.engine import Engine

from boomerang.feedback.adapters.kafka import KafkaEventBus
from boomerang.feedback.adapters.repository import SqlProviderEventStore
from boomerang.feedback.domain.signatures import load_sendgrid_public_key
from boomerang.feedback.migrations import upgrade
from boomerang.feedback.service_layer.outbox import OutboxRelay
from boomerang.feedback.settings import FeedbackSettings
from boomerang.shared.db import make_engine, ping
from boomerang.shared.links import LinkKeyMissing

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Feedback:
    settings: FeedbackSettings
    engine: Engine
    store: SqlProviderEventStore
    bus: KafkaEventBus
    relay: OutboxRelay
    clock: Clock
    sendgrid_key: ec.EllipticCurvePublicKey | None
    twilio_auth_token: str | None
    link_keys: list[bytes] | None = None  # None: no BOOMERANG_LINK_SIGNING_KEY, link pages refused

    @property
    def sendgrid_tolerance(self) -> timedelta:
        return timedelta(seconds=self.settings.sendgrid_timestamp_tolerance_s)

    async def start(self) -> None:
        await asyncio.to_thread(upgrade, self.settings.database_url)

    async def stop(self) -> None:
        await self.bus.close()
        self.engine.dispose()

    async def database_ready(self) -> bool:
        return await asyncio.to_thread(ping, self.engine)

    async def kafka_ready(self) -> bool:
        return await self.bus.ping()


def bootstrap(settings: FeedbackSettings, *, clock: Clock = utc_now) -> Feedback:
    """No I/O here: the app's lifespan starts things. A bad key fails now, not on the first webhook."""
    key_text = settings.sendgrid_public_key_text()
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else None
    engine = make_engine(settings.database_url)
    store = SqlProviderEventStore(engine)
    common = settings.common
    bus = KafkaEventBus(common.kafka_bootstrap, common.topic_prefix, timeout_s=settings.publish_timeout_s)
    relay = OutboxRelay(store, bus, clock=clock, batch_size=settings.relay_batch_size)
    return Feedback(
        settings=settings,
        engine=engine,
        store=store,
        bus=bus,
        relay=relay,
        clock=clock,
        sendgrid_key=load_sendgrid_public_key(key_text) if key_text else None,
        twilio_auth_token=token or None,
        link_keys=_link_keys(settings),
    )


def _link_keys(settings: FeedbackSettings) -> list[bytes] | None:
    try:
        return settings.links.accepted_keys()
    except LinkKeyMissing:
        return None
