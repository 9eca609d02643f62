"""The running worker fills the snapshot store, and the query API answers from it."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from boomerang.segmenter.adapters.snapshots import SqlSnapshots
from boomerang.segmenter.entrypoints.api import create_app
from boomerang.segmenter.service_layer.segmentation import segment_changed_id
from boomerang.segmenter.settings import SegmenterSettings
from boomerang.shared.db import make_engine
from boomerang.shared.kafka import COMMERCE_EVENTS, EventPublisher

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


async def test_the_worker_writes_customers_and_transitions_the_api_serves(
    kafka_bootstrap, topic_prefix, segmenter_worker, envelopes
):
    worker = segmenter_worker().start()
    database_url = worker.env["BOOMERANG_SEGMENTER_DATABASE_URL"]
    now = datetime.now(timezone.utc)
    first = envelopes.order("300", customer_id="c1", placed_at=now - timedelta(days=3), id="c1-order-1")
    second = envelopes.order("250", customer_id="c1", placed_at=now - timedelta(hours=20), id="c1-order-2")
    visit = envelopes.page_view(customer_id="c3", at=now - timedelta(hours=1))
    publisher = EventPublisher(kafka_bootstrap, topic_prefix)
    await publisher.start()
    try:
        for envelope in (first, second, first, visit):  # `first` twice: a redelivery
            await publisher.publish(COMMERCE_EVENTS.name, envelope)
    finally:
        await publisher.stop()

    engine = make_engine(database_url)
    snapshots = SqlSnapshots(engine)
    try:
        deadline = time.monotonic() + 60
        while True:
            c1 = snapshots.customer("store-1", "c1")
            if c1 is not None and c1.snapshot.profile["orders"] == 2 and snapshots.customer("store-1", "c3"):
                break
            assert time.monotonic() < deadline, worker.log()
            await asyncio.sleep(0.2)
    finally:
        engine.dispose()
    assert (c1.snapshot.lifecycle, c1.snapshot.value_tier, c1.snapshot.profile["net_revenue"]) == ("new", "vip", "550")
    assert sorted((t.to_segment, t.id) for t in c1.transitions) == [
        ("new", segment_changed_id("store-1:c1", "new", "c1-order-1")),
        ("vip", segment_changed_id("store-1:c1", "vip", "c1-order-2")),
    ]

    app = create_app(SegmenterSettings(database_url=database_url))
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://segmenter") as client:
            sizes = (await client.get("/v1/segments/store-1")).json()
            customer = (await client.get("/v1/customers/store-1/c1")).json()
    assert (sizes["customers"], sizes["lifecycle"], sizes["value"]) == (2, {"new": 1, "prospect": 1}, {"regular": 1, "vip": 1})
    assert sizes["movement"]["24h"]["vip"]["entered"] == 1 and sizes["movement"]["7d"]["new"]["entered"] == 1
    assert [t["to_segment"] for t in customer["transitions"]] == ["vip", "new"]
    assert worker.metric("boomerang_segmenter_snapshots_written_total") >= 1
    assert worker.stop() == 0
