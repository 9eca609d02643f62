"""The worker's HTTP side, served by faust's web server on BOOMERANG_SEGMENTER_PORT.

`/v1/segments/{store}` counts from the *local* table: the partitions this worker owns.
With one worker that is every customer; with several, each answers for its share only.
It scans the store's customers on every call. Both are fine for the walking skeleton;
a snapshot store with a proper query API replaces it later.
"""

from __future__ import annotations

import asyncio
import re

import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST

from boomerang.segmenter.adapters.state_codec import decode_state
from boomerang.segmenter.domain.reports import SegmentSizes
from boomerang.shared.errors import error_body
from boomerang.shared.metrics import render

STORE_ID = re.compile(r"^[^:\s]{1,64}$")
SCAN_YIELD_EVERY = 500


class Readiness:
    """Ready = started, tables recovered, not rebalancing, source partitions assigned."""

    def __init__(self, app: faust.App, source_topic: str) -> None:
        self._app = app
        self._source_topic = source_topic
        self._started = False

    def mark_started(self) -> None:
        self._started = True

    def source_partitions(self) -> list[int]:
        if not self._started:
            return []
        return sorted(tp.partition for tp in self._app.consumer.assignment() if tp.topic == self._source_topic)

    def checks(self) -> dict[str, bool]:
        return {
            "worker_started": self._started,
            "tables_recovered": self._started and self._recovered(),
            "partitions_assigned": bool(self.source_partitions()),
        }

    def _recovered(self) -> bool:
        # `completed` is set by the first recovery and never cleared: a later rebalance
        # shows as `rebalancing`, then `in_recovery` while changelogs are read again.
        recovery = self._app.tables.recovery
        return recovery.completed.is_set() and not recovery.in_recovery and not self._app.rebalancing


def install_views(app: faust.App, customers: faust.Table, readiness: Readiness) -> None:
    @app.page("/healthz")
    async def healthz(web: View, request: Request) -> Response:
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web: View, request: Request) -> Response:
        checks = readiness.checks()
        ready = all(checks.values())
        return web.json(
            {"status": "ready" if ready else "not_ready", "checks": checks}, status=200 if ready else 503
        )

    @app.page("/metrics")
    async def metrics(web: View, request: Request) -> Response:
        payload, _ = render()
        # aiohttp refuses a charset inside content_type=, so the header is set as is.
        return web.bytes(payload, headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/v1/segments/{store}")
    async def segment_counts(web: View, request: Request, store: str) -> Response:
        if not STORE_ID.match(store):
            return web.json(error_body("invalid_field", "not a store id", "store"), status=400)
        if not readiness.checks()["tables_recovered"]:
            return web.json(error_body("unavailable", "customer state is being restored"), status=503)
        sizes = await _sizes_for(customers, store)
        return web.json(
            {
                "store_id": store,
                "customers": sizes.customers,
                "segments": dict(sorted(sizes.segments.items())),
                "scope": {"worker_partitions": readiness.source_partitions()},
            }
        )


async def _sizes_for(customers: faust.Table, store: str) -> SegmentSizes:
    prefix = f"{store}:".encode()
    sizes = SegmentSizes()
    for seen, (key, raw) in enumerate(customers.items()):
        if key.startswith(prefix) and raw is not None:
            state = decode_state(raw)
            if state.store_id == store:
                sizes.add(state)
        if seen % SCAN_YIELD_EVERY == SCAN_YIELD_EVERY - 1:
            await asyncio.sleep(0)  # a big table must not freeze the worker's event loop
    return sizes
