"""The segmenter's faust app: one agent over `commerce.events.v1`, one table per customer.

The table is co-partitioned with its source: both use the `store:customer` key and
shared's partition count, so every worker holds the state of exactly the customers whose
events it consumes. See service_layer.segmentation for what a crash can and cannot do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import faust

from boomerang.segmenter.bootstrap import app_id, utc_now, wire
from boomerang.segmenter.entrypoints.web import Readiness, install_views
from boomerang.segmenter.service_layer.ports import SourceRecord
from boomerang.segmenter.settings import SegmenterSettings
from boomerang.shared.kafka.topics import PARTITIONS
from boomerang.shared.logs import get_logger

log = get_logger(__name__)


def create_faust_app(settings: SegmenterSettings, *, clock: Callable[[], datetime] = utc_now) -> faust.App:
    created = time.monotonic()
    app = faust.App(app_id(settings), **faust_config(settings))
    wired = wire(app, settings, clock)
    readiness = Readiness(app, wired.source.get_topic_name())

    @app.agent(wired.source, name="segment-customers")
    async def segment_customers(stream: faust.StreamT) -> None:
        async for event in stream.events():
            message = event.message
            await wired.segmentation.handle(
                SourceRecord(message.topic, message.partition, message.offset, event.key, event.value)
            )

    @app.task
    async def announce_ready() -> None:
        # faust runs tasks once the tables are recovered: the worker can process now.
        readiness.mark_started()
        log.info("worker_ready", startup_s=round(time.monotonic() - created, 3), app_id=app.conf.id)

    install_views(app, wired.customers, readiness)
    return app


def faust_config(settings: SegmenterSettings) -> dict:
    memory = settings.table_store == "memory"
    return {
        "broker": [f"kafka://{host.strip()}" for host in settings.common.kafka_bootstrap.split(",")],
        "store": "memory://" if memory else "rocksdb://",
        "datadir": str(settings.data_dir.absolute() / app_id(settings)),
        "topic_partitions": PARTITIONS,
        "topic_replication_factor": settings.replication_factor,
        "table_standby_replicas": settings.standby_replicas,
        "consumer_auto_offset_reset": "earliest",
        "broker_commit_interval": settings.commit_interval_s,
        "producer_acks": -1,
        "web_port": settings.port,
        "web_bind": settings.host,
        "web_host": settings.host,
        # faust's /table/ views would serve customer state to anyone who can reach the port.
        "web_tables_enabled": False,
        "web_router_enabled": False,
        "autodiscover": False,
    }
