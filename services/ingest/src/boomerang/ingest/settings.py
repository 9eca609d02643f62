"""Ingest's settings, from `BOOMERANG_INGEST_*` (Kafka and logging from `BOOMERANG_*`)."""

from __future__ import annotations

import phonenumbers
from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from boomerang.shared.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BOOMERANG_INGEST_", extra="ignore")

    port: int = 8001
    database_url: str = "sqlite:///build/data/ingest.db"
    keep_alive_s: float = Field(
        default=75,
        gt=0,
        description="an idle keep-alive connection is closed after this long; longer than a load "
        "balancer's idle timeout (60 s on most), else it may send a request on a connection we just closed",
    )
    max_event_bytes: int = Field(default=32 * 1024, description="body limit of /v1/identify, /track, /page")
    max_batch_bytes: int = Field(default=500 * 1024, description="body limit of /v1/batch")
    max_batch_events: int = 2500
    max_shopify_body_bytes: int = Field(
        default=1024 * 1024, description="body limit of Shopify webhooks (orders with many lines are large)"
    )
    dedup_window_s: float = Field(
        default=24 * 3600, gt=0, description="a repeated messageId is a duplicate this long"
    )
    dedup_purge_every_s: float = Field(
        default=600, gt=0, description="how often ids older than the window go"
    )
    publish_timeout_s: float = Field(
        default=5.0, gt=0, description="wait this long for Kafka's ack, then 503"
    )
    retry_after_s: int = 5
    rate_limit_per_s: float = Field(
        default=1000, gt=0, description="events per second per store, unless the store has its own (per replica)"
    )
    rate_limit_burst: int = Field(
        default=2500, gt=0, description="events a store may send at once; at least a full batch"
    )
    store_cache_ttl_s: float = Field(
        default=30, ge=0, description="how long a store's rate limit is cached before it is read again"
    )
    write_key_cache_ttl_s: float = Field(
        default=10,
        ge=0,
        description="how long a replica trusts a write key it looked up: a key revoked elsewhere "
        "(the CLI, another replica) is still accepted here for up to this long; 0 looks up every request",
    )
    default_phone_region: str = Field(default="US", description="region of phone numbers without +country")
    anonymous_event_retention_s: float = Field(
        default=30 * 24 * 3600,
        gt=0,
        description="anonymous events are kept this long, to publish again once the visitor is identified "
        "(commerce.events.v1's retention)",
    )
    identity_cache_ttl_s: float = Field(
        default=300, ge=0, description="how long a replica trusts an identity link it read"
    )
    identity_max_republished: int = Field(
        default=1000, ge=0, description="at most this many of a visitor's newest events are published again"
    )

    @field_validator("default_phone_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a region phonenumbers knows (e.g. US, GB, NL)")
        return value.upper()
