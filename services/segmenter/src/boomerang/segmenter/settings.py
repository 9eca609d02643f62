"""Segmenter's settings, from `BOOMERANG_SEGMENTER_*` (Kafka and logging from `BOOMERANG_*`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from boomerang.shared.settings import ServiceSettings


class SegmenterSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BOOMERANG_SEGMENTER_", extra="ignore")

    port: int = 8002
    database_url: str = Field(
        default="sqlite:///build/data/segmenter.db",
        description="the snapshot store the worker writes and the query API reads; PostgreSQL in production",
    )
    api_port: int = Field(default=8005, description="the query API's port (`boomerang-segmenter api`)")
    snapshot_flush_interval_s: float = Field(
        default=1.0, gt=0, description="how often the worker writes buffered snapshots to the database"
    )
    data_dir: Path = Field(
        default=Path("build/data/segmenter"),
        description="RocksDB tables live in <data_dir>/<app id>, so topic prefixes never share files",
    )
    table_store: Literal["rocksdb", "memory"] = Field(
        default="rocksdb", description="memory is for unit tests only: it loses state on restart"
    )
    remembered_event_ids: int = Field(
        default=100, ge=1, description="envelope ids kept per customer to drop redeliveries"
    )
    remembered_order_ids: int = Field(
        default=1000, ge=1, description="order ids kept per customer so a re-sent order counts once"
    )
    policy_dir: Path | None = Field(
        default=None,
        description="lifecycle policy files, <dir>/<store id>.yaml over the default; all checked at start-up",
    )
    sweep_interval_s: float = Field(
        default=60.0, gt=0, description="how often the timer looks for customers whose segment changes with no event"
    )
    model_fit_interval_s: float = Field(
        default=3600.0, gt=0, description="how often the leader fits every store's scoring model"
    )
    model_min_customers: int = Field(
        default=100, ge=2, description="customers with an order a store needs before it gets a scoring model"
    )
    model_refresh_s: float = Field(
        default=86400.0,
        gt=0,
        description="a refit is adopted (and every customer re-scored) at least this often, moved or not",
    )
    model_adopt_moved_share: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="sooner, a refit is adopted when it moves this share of customers (RFM cell or CLV percentile)",
    )
    clock: Literal["wall", "event-time"] = Field(
        default="wall",
        description=(
            "what `now` is for the sweep, the model fits and the snapshots: wall, the real clock; event-time, "
            "the latest business time among the events this worker has read (for replaying a history)"
        ),
    )
    replication_factor: int = Field(default=1, ge=1, description="of the topics faust creates (changelogs)")
    standby_replicas: int = Field(default=1, ge=0, description="warm copies of each table partition")
    commit_interval_s: float = Field(default=2.8, gt=0, description="how often source offsets are committed")
    batch_max_events: int = Field(
        default=500, ge=1, description="messages the agents take at a time: stepped, published and saved as one batch"
    )
    batch_within_s: float = Field(
        default=0.05, gt=0, description="longest wait for a batch to fill: the latency a quiet stream adds"
    )
    publish_retry_max_s: float = Field(default=10.0, gt=0, description="longest pause between publish retries")
