"""The segmenter's faust app: one agent over `commerce.events.v1`, one table per customer.

The table is co-partitioned with its source: both use the `store:customer` key and
shared's partition count, so every worker holds the state of exactly the customers whose
events it consumes. See service_layer.segmentation for what a crash can and cannot do.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

import faust
import mode
import numpy as np

from boomerang.segmenter import metrics
from boomerang.segmenter.adapters.models import follow_models
from boomerang.segmenter.adapters.state_codec import decode_state
from boomerang.segmenter.domain.scorecard import fit_store
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
    checked = wired.policies.check()  # an invalid policy file stops the worker here
    log.info("lifecycle_policies_checked", stores=sorted(checked), policy_dir=str(settings.policy_dir or ""))
    readiness = Readiness(app, wired.source.get_topic_name())
    queued: dict[str, tuple[datetime, float]] = {}
    rescore: set[str] = set()  # stores with a new model, whose customers the next sweep re-scores

    @app.agent(wired.source, name="segment-customers")
    async def segment_customers(stream: faust.StreamT) -> None:
        async for event in stream.events():
            message = event.message
            await wired.segmentation.handle(
                SourceRecord(message.topic, message.partition, message.offset, event.key, event.value)
            )

    @app.timer(interval=settings.sweep_interval_s, name="sweep-due-customers")
    async def sweep_due_customers() -> None:
        # Every worker sweeps its own partitions: it finds the customers due by `now` in its
        # local due table and queues a tick for each on the sweep topic, partitioned like the
        # source, so the agent below applies it while writing the co-partitioned tables.
        # A customer already queued for the same due time is not queued again until the tick
        # had time to be applied (a tick lost to a rebalance is re-sent after that).
        now, started = clock(), time.monotonic()
        try:
            found = wired.due.due(now)
        except Exception:  # noqa: BLE001 - e.g. a store closed by a rebalance; next round
            log.exception("sweep_scan_failed")
            return
        if rescore:
            # A new model is an event of its own: every customer of its store is re-scored
            # (and re-decided: VIP by CLV percentile, mid RFM) by a tick now.
            stores = tuple(f"{store}:".encode() for store in rescore)
            rescore.clear()
            keys = [raw.decode() for raw in list(wired.customers.keys()) if raw.startswith(stores)]
            for key in keys:
                await wired.sweep.send(key=key.encode(), value=now.isoformat().encode())
            log.info("rescore_queued", customers=len(keys))
        stale = started - 10 * settings.sweep_interval_s
        due = [(key, at) for key, at in found if (mark := queued.get(key)) is None or mark[0] != at or mark[1] < stale]
        for key, at in due:
            await wired.sweep.send(key=key.encode(), value=now.isoformat().encode())
            queued[key] = (at, started)
        if due:
            metrics.SWEEP_DUE.inc(len(due))
            log.info("sweep_queued", customers=len(due), scanned_s=round(time.monotonic() - started, 3))

    @app.agent(wired.sweep, name="sweep-customers")
    async def sweep_customers(stream: faust.StreamT) -> None:
        async for event in stream.events():
            key = event.key.decode()
            queued.pop(key, None)
            try:
                await wired.segmentation.sweep(key, datetime.fromisoformat(event.value.decode()))
            except Exception:  # noqa: BLE001 - one customer's failure must not stop the sweep
                log.exception("sweep_failed", partition=event.message.partition, offset=event.message.offset)

    @app.timer(interval=settings.model_fit_interval_s, on_leader=True, name="fit-scoring-models")
    async def fit_scoring_models() -> None:
        # One worker (the leader) fits every store's model on the customers it holds, and
        # publishes it to the compacted models topic that every worker follows.
        now = clock()
        by_store: dict[str, list] = {}
        try:
            for seen, (_, raw) in enumerate(wired.customers.items()):
                if raw is not None:
                    state = decode_state(raw)
                    if state.orders > 0:
                        by_store.setdefault(state.store_id, []).append(state)
                if seen % 1000 == 999:
                    await asyncio.sleep(0)
        except Exception:  # noqa: BLE001 - e.g. a store closed by a rebalance; next round
            log.exception("model_scan_failed")
            return
        for store_id, states in by_store.items():
            started = time.perf_counter()
            try:
                model = fit_store(store_id, states, now, settings.model_min_customers)
            except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
                metrics.MODEL_FIT_FAILURES.inc()
                log.warning("model_fit_failed", store_id=store_id, customers=len(states), error=str(exc)[:200])
                continue
            if model is None:
                continue
            await wired.models_topic.send(key=store_id.encode(), value=model.to_json().encode())
            metrics.MODELS_FITTED.inc()
            log.info(
                "model_fitted",
                store_id=store_id,
                customers=model.customers,
                model_id=model.model_id,
                fit_s=round(time.perf_counter() - started, 3),
            )

    @app.task
    async def follow_scoring_models() -> None:
        def loaded(model) -> None:
            if wired.models.put(model):
                rescore.add(model.store_id)
                metrics.MODELS_LOADED.inc()
                log.info("model_loaded", store_id=model.store_id, model_id=model.model_id)

        await follow_models(settings.common.kafka_bootstrap, wired.models_topic.get_topic_name(), loaded)

    @app.task
    async def announce_ready() -> None:
        # faust runs tasks once the tables are recovered: the worker can process now.
        readiness.mark_started()
        log.info("worker_ready", startup_s=round(time.monotonic() - created, 3), app_id=app.conf.id)

    @app.service
    class SnapshotFlusher(mode.Service):
        # The snapshot store's writer thread runs while the worker does; stopping flushes the rest.
        async def on_start(self) -> None:
            wired.snapshots.start()

        async def on_stop(self) -> None:
            await asyncio.to_thread(wired.snapshots.stop)

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
