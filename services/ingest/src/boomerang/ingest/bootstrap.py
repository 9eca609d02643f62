"""The one place that wires adapters into the use cases."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy.engine import Engine

from boomerang.ingest import metrics
from boomerang.ingest.adapters.privacy import KafkaErasurePublisher
from boomerang.ingest.adapters.publisher import KafkaCommercePublisher
from boomerang.ingest.adapters.repositories import SqlIdentityRepository, SqlSeenMessages, SqlStoreRepository
from boomerang.ingest.adapters.sql_worker import SqlWorker
from boomerang.ingest.domain.mapping import Rules
from boomerang.ingest.migrations import upgrade
from boomerang.ingest.service_layer.auth import CachedWriteKeys
from boomerang.ingest.service_layer.claims import Claims
from boomerang.ingest.service_layer.in_doubt import InDoubt
from boomerang.ingest.service_layer.identity import CachedIdentities, Stitching
from boomerang.ingest.service_layer.ingest import Ingest
from boomerang.ingest.service_layer.native import NativeEvents
from boomerang.ingest.service_layer.privacy import Erasures
from boomerang.ingest.service_layer.ports import StoreRepository
from boomerang.ingest.service_layer.rate_limit import RateLimiter
from boomerang.ingest.settings import IngestSettings
from boomerang.shared.db import make_engine


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Container:
    settings: IngestSettings
    engine: Engine
    stores: StoreRepository  # key lookups cached (write_key_cache_ttl_s)
    seen: SqlSeenMessages
    publisher: KafkaCommercePublisher
    ingest: Ingest
    clock: Callable[[], datetime]
    in_doubt: InDoubt | None = None  # settled (bounded) at shutdown, after the producer stopped
    limiter: RateLimiter | None = None  # Ingest.deliver applies it; other writers call admit()
    native: NativeEvents = field(kw_only=True)
    erasures: Erasures = field(kw_only=True)
    identities: CachedIdentities = field(kw_only=True)  # links and kept anonymous events
    sql: SqlWorker = field(kw_only=True)  # the request path's SQL; closed before the engine

    def upgrade_schema(self) -> None:
        upgrade(self.settings.database_url)


def bootstrap(settings: IngestSettings, *, clock: Callable[[], datetime] = utc_now) -> Container:
    """Everything wired, nothing connected yet: the app's lifespan starts it."""
    engine = make_engine(settings.database_url)
    sql = SqlWorker(engine)  # one for the de-dup window and identity: they share commits
    seen = SqlSeenMessages(engine, sql)
    publisher = KafkaCommercePublisher(
        settings.common.kafka_bootstrap,
        settings.common.topic_prefix,
        timeout_s=settings.publish_timeout_s,
        on_error=metrics.PRODUCER_ERRORS.inc,
    )
    stores = CachedWriteKeys(SqlStoreRepository(engine), ttl_s=settings.write_key_cache_ttl_s)
    claims = Claims()
    in_doubt = InDoubt(publisher, seen=seen, claims=claims, clock=clock)
    limiter = RateLimiter(
        stores,
        default_per_s=settings.rate_limit_per_s,
        burst=settings.rate_limit_burst,
        store_ttl_s=settings.store_cache_ttl_s,
        on_limited=metrics.RATE_LIMITED.inc,
    )
    # Gauges read the live objects; with several apps in one process (tests) the last one shows.
    metrics.PRODUCER_IN_FLIGHT.set_function(lambda: publisher.in_flight)
    metrics.EVENTS_IN_DOUBT.set_function(lambda: len(in_doubt))
    identities = CachedIdentities(
        SqlIdentityRepository(engine, sql), clock=clock, ttl=timedelta(seconds=settings.identity_cache_ttl_s)
    )
    ingest = Ingest(
        seen=seen,
        publisher=in_doubt,
        rules=Rules(default_phone_region=settings.default_phone_region),
        dedup_window=timedelta(seconds=settings.dedup_window_s),
        clock=clock,
        new_id=lambda: str(uuid.uuid4()),
        retry_after_s=settings.retry_after_s,
        claims=claims,
        limiter=limiter,
        identity=Stitching(identities, max_republished=settings.identity_max_republished),
    )
    rules = Rules(default_phone_region=settings.default_phone_region)
    native = NativeEvents(ingest=ingest, rules=rules, clock=clock, new_id=lambda: str(uuid.uuid4()))
    erasures = Erasures(
        publisher=KafkaErasurePublisher(publisher),
        holders=(identities,),  # what ingest keeps per customer (identity links, kept anonymous events)
        clock=clock,
        new_id=lambda: str(uuid.uuid4()),
        retry_after_s=settings.retry_after_s,
    )
    return Container(
        settings, engine, stores, seen, publisher, ingest, clock,
        in_doubt=in_doubt, limiter=limiter, native=native, erasures=erasures, identities=identities, sql=sql,
    )  # fmt: skip


def store_admin(settings: IngestSettings) -> SqlStoreRepository:
    """What the store-administration CLI needs: the store, no Kafka."""
    upgrade(settings.database_url)
    return SqlStoreRepository(make_engine(settings.database_url))
