"""The one place that wires adapters into the use cases."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy.engine import Engine

from boomerang.ingest import metrics
from boomerang.ingest.adapters.publisher import KafkaCommercePublisher
from boomerang.ingest.adapters.repositories import SqlSeenMessages, SqlStoreRepository
from boomerang.ingest.domain.mapping import Rules
from boomerang.ingest.migrations import upgrade
from boomerang.ingest.service_layer.ingest import Ingest
from boomerang.ingest.settings import IngestSettings
from boomerang.shared.db import make_engine


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Container:
    settings: IngestSettings
    engine: Engine
    stores: SqlStoreRepository
    seen: SqlSeenMessages
    publisher: KafkaCommercePublisher
    ingest: Ingest
    clock: Callable[[], datetime]

    def upgrade_schema(self) -> None:
        upgrade(self.settings.database_url)


def bootstrap(settings: IngestSettings, *, clock: Callable[[], datetime] = utc_now) -> Container:
    """Everything wired, nothing connected yet: the app's lifespan starts it."""
    engine = make_engine(settings.database_url)
    seen = SqlSeenMessages(engine)
    publisher = KafkaCommercePublisher(
        settings.common.kafka_bootstrap,
        settings.common.topic_prefix,
        timeout_s=settings.publish_timeout_s,
        on_error=metrics.PRODUCER_ERRORS.inc,
    )
    ingest = Ingest(
        seen=seen,
        publisher=publisher,
        rules=Rules(default_phone_region=settings.default_phone_region),
        dedup_window=timedelta(seconds=settings.dedup_window_s),
        clock=clock,
        new_id=lambda: str(uuid.uuid4()),
        retry_after_s=settings.retry_after_s,
    )
    return Container(settings, engine, SqlStoreRepository(engine), seen, publisher, ingest, clock)


def store_admin(settings: IngestSettings) -> SqlStoreRepository:
    """What the store-administration CLI needs: the store, no Kafka."""
    upgrade(settings.database_url)
    return SqlStoreRepository(make_engine(settings.database_url))
