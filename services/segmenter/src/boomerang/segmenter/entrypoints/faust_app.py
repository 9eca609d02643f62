"""The segmenter's faust app: one agent over `commerce.events.v1` and `feedback.events.v1`
(bootstrap's `source`), one table per customer.

The table is co-partitioned with its source: both use the `store:customer` key and
shared's partition count, so every worker holds the state of exactly the customers whose
events it consumes. Both agents (source events, sweep ticks) take their messages in batches
(`stream.take_events`, up to `batch_max_events`, waiting at most `batch_within_s`). See
service_layer.segmentation for what a crash can and cannot do, and `whole_batch_or_exit` for
when faust acks a batch.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import faust
import mode
import numpy as np

from boomerang.segmenter import metrics
from boomerang.segmenter.adapters.faust_io import batch_events
from boomerang.segmenter.adapters.models import follow_models
from boomerang.segmenter.adapters.state_codec import decode_state
from boomerang.segmenter.domain.scorecard import adoption, fit_store
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
    clock = wired.clock  # the event-time watermark when settings.clock says so
    checked = wired.policies.check()  # an invalid policy file stops the worker here
    log.info("lifecycle_policies_checked", stores=sorted(checked), policy_dir=str(settings.policy_dir or ""))
    readiness = Readiness(app, wired.commerce_topic)
    queued: dict[str, tuple[datetime, float]] = {}
    rescore: set[str] = set()  # stores with a new model, whose customers the next sweep re-scores

    batch_max, within = settings.batch_max_events, settings.batch_within_s

    @app.agent(wired.source, name="segment-customers")
    async def segment_customers(stream: faust.StreamT) -> None:
        # take_events, not take: the batch needs each message's partition and offset.
        async for events in stream.take_events(batch_max, within=within):
            records = [
                SourceRecord(e.message.topic, e.message.partition, e.message.offset, e.key, e.value) for e in events
            ]
            await whole_batch_or_exit("segment", events, lambda: wired.segmentation.handle_batch(records))

    @app.timer(interval=settings.sweep_interval_s, name="sweep-due-customers")
    async def sweep_due_customers() -> None:
        # Every worker sweeps its own partitions: it finds the customers due by `now` in its
        # local due table and queues a tick for each on the sweep topic, partitioned like the
        # source, so the agent below applies it while writing the co-partitioned tables.
        # A customer already queued for the same due time is not queued again until the tick
        # had time to be applied (a tick lost to a rebalance is re-sent after that).
        now, started = clock(), time.monotonic()
        try:
            found, scanned = await wired.due.due(now)
        except Exception:  # noqa: BLE001 - e.g. a store closed by a rebalance; next round
            log.exception("sweep_scan_failed")
            return
        metrics.SWEEP_SCANNED.inc(scanned)
        metrics.SWEEP_SCAN_SECONDS.observe(time.monotonic() - started)
        # Counted before the re-score ticks below are sent (tens of seconds for a big store), so
        # the count follows the scan it came from.
        stale = started - 10 * settings.sweep_interval_s
        due = [(key, at) for key, at in found if (mark := queued.get(key)) is None or mark[0] != at or mark[1] < stale]
        metrics.SWEEP_DUE.inc(len(due))
        if rescore:
            # A new model is an event of its own: every customer of its store is re-scored
            # (and re-decided: VIP by CLV percentile, mid RFM) by a tick now.
            stores = tuple(f"{store}:".encode() for store in rescore)
            rescore.clear()
            keys = [raw.decode() for raw in list(wired.customers.keys()) if raw.startswith(stores)]
            for key in keys:
                await wired.sweep.send(key=key.encode(), value=now.isoformat().encode())
            log.info("rescore_queued", customers=len(keys))
        for key, at in due:
            await wired.sweep.send(key=key.encode(), value=now.isoformat().encode())
            queued[key] = (at, started)
        if due:
            log.info("sweep_queued", customers=len(due), scanned_s=round(time.monotonic() - started, 3))

    @app.agent(wired.sweep, name="sweep-customers")
    async def sweep_customers(stream: faust.StreamT) -> None:
        async for events in stream.take_events(batch_max, within=within):
            ticks = []
            for event in events:
                key = event.key.decode()
                queued.pop(key, None)
                ticks.append((key, datetime.fromisoformat(event.value.decode())))
            await whole_batch_or_exit("sweep", events, lambda: wired.segmentation.sweep_batch(ticks))

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
        # With several workers the leader holds a hash sample of each store's customers (its
        # partitions' share): the bar is scaled to that share, or a small store would never get
        # a model; the parameters and percentiles of a hash sample are those of the whole base.
        share = len(readiness.source_partitions()) / PARTITIONS or 1.0
        min_customers = max(2, math.ceil(settings.model_min_customers * share))
        for store_id, states in by_store.items():
            started = time.perf_counter()
            try:
                model = fit_store(store_id, states, now, min_customers)
            except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
                metrics.MODEL_FIT_FAILURES.inc()
                log.warning("model_fit_failed", store_id=store_id, customers=len(states), error=str(exc)[:200])
                continue
            if model is None:
                continue
            metrics.MODELS_FITTED.inc()
            verdict = adoption(
                wired.models.get(store_id),
                model,
                states,
                now,
                refresh_days=settings.model_refresh_s / 86400.0,
                moved_share=settings.model_adopt_moved_share,
            )
            fitted = {"store_id": store_id, "customers": model.customers, "moved": verdict.moved, "reason": verdict.reason}
            if not verdict.adopt:
                metrics.MODEL_REFITS_SKIPPED.inc()
                log.info("model_refit_skipped", **fitted, fit_s=round(time.perf_counter() - started, 3))
                continue
            await wired.models_topic.send(key=store_id.encode(), value=model.to_json().encode())
            log.info("model_fitted", **fitted, model_id=model.model_id, fit_s=round(time.perf_counter() - started, 3))

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


async def whole_batch_or_exit(
    name: str, events: Sequence[faust.EventT], handle: Callable[[], Awaitable], attempts: int = 5
) -> None:
    """Handle a batch from take_events, or end the process.

    take_events acks the batch's messages when the agent asks for the next batch, after the
    states are written, and the commit that follows includes them. But it also acks them when
    its generator is closed, which an exception (or a cancellation) out of the agent does: the
    next commit would then skip messages whose states were never written. So nothing escapes:
    the segmentation never raises for a message (bad ones are dead-lettered, publishing retries
    until Kafka takes it); anything else (faust not yet knowing a new changelog's partitions at
    start-up, a full disk) runs the batch again, as a redelivery would (duplicates are skipped
    by envelope id, ids are deterministic), and if that keeps failing, or the agent is cancelled
    mid-batch, the process ends at once, before any commit, and the batch is delivered again
    from the last committed offset."""
    with batch_events(events):
        for attempt in range(1, attempts + 1):
            try:
                await handle()
                return
            except Exception:  # noqa: BLE001 - see above
                if attempt == attempts:
                    break
                log.warning("batch_failed_retrying", agent=name, messages=len(events), attempt=attempt, exc_info=True)
                try:
                    await asyncio.sleep(0.5 * 2 ** (attempt - 1))
                except BaseException:  # noqa: BLE001 - cancelled while waiting
                    break
            except BaseException:  # noqa: BLE001 - CancelledError mid-batch
                break
        log.critical("batch_failed_exiting", agent=name, messages=len(events), exc_info=True)
        logging.shutdown()
        os._exit(70)


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
