"""The broker stops and restarts under load: every event answered 2xx is in Kafka exactly once.

Clients behave like a Segment library: unique messageIds, and on 503 (or a dropped connection)
the same request again, with the same ids, until it gets a 2xx. The test has a broker of its
own, since it stops it.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from aiokafka.errors import KafkaError

from boomerang.devstack.kafka_broker import LocalKafka, free_port
from boomerang.ingest.adapters.publisher import KafkaCommercePublisher
from boomerang.shared.events import Envelope, PageViewed
from boomerang.shared.kafka import PublishFailed, ensure_topics

from .conftest import basic, commerce_events, make_shop, serving, settings_for

pytestmark = pytest.mark.integration

CLIENTS = 8
LOAD_BEFORE_STOP_S = 3.0
LOAD_AFTER_RESTART_S = 3.0
GIVE_UP_AFTER_S = 45.0  # a request still without a 2xx by then fails the test


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalKafka]:
    kafka = LocalKafka(data_dir=tmp_path / "kafka", port=free_port(), controller_port=free_port())
    kafka.start()
    try:
        yield kafka
    finally:
        kafka.reset()


@dataclass
class Tally:
    acked: list[str] = field(default_factory=list)  # every messageId answered 2xx
    refused: Counter[str] = field(default_factory=Counter)  # 503s and connection errors


@dataclass
class Load:
    client: httpx.AsyncClient
    key: str
    tally: Tally
    sending: asyncio.Event  # cleared: no new requests (retries go on)
    ids: Iterator[int] = field(default_factory=itertools.count)

    async def run(self, worker: int) -> None:
        for n in itertools.count():
            if not self.sending.is_set():
                return
            if n % 3 == 2:
                ids = [f"w{worker}-{next(self.ids)}" for _ in range(5)]
                body = {"batch": [{"type": "track", **_event(i)} for i in ids]}
                await self._until_accepted("/v1/batch", body, ids)
            else:
                message_id = f"w{worker}-{next(self.ids)}"
                await self._until_accepted("/v1/track", _event(message_id), [message_id])

    async def _until_accepted(self, path: str, body: dict, ids: list[str]) -> None:
        give_up = time.monotonic() + GIVE_UP_AFTER_S
        while time.monotonic() < give_up:
            try:
                answer = await self.client.post(path, json=body, headers=basic(self.key))
            except httpx.TransportError as exc:
                self.tally.refused[type(exc).__name__] += 1
                await asyncio.sleep(0.2)
                continue
            if answer.status_code == 503:
                self.tally.refused["503"] += 1
                await asyncio.sleep(min(float(answer.headers["Retry-After"]), 1.0))
                continue
            assert answer.status_code == 200, answer.text
            self.tally.acked += ids
            return
        raise AssertionError(f"{path} {ids} got no 2xx within {GIVE_UP_AFTER_S}s")


async def _deduplicated(client: httpx.AsyncClient) -> float:
    """Events answered as duplicates so far: here, retries whose first attempt landed late."""
    families = text_string_to_metric_families((await client.get("/metrics")).text)
    name = "boomerang_ingest_events_deduplicated_total"
    return sum(s.value for family in families for s in family.samples if s.name == name)


def _event(message_id: str) -> dict:
    return {"userId": f"cust-{message_id}", "messageId": message_id, "event": "Product Viewed",
            "properties": {"product_id": "mug"}}


async def _restart(broker: LocalKafka) -> None:
    await asyncio.to_thread(broker.stop)
    await asyncio.to_thread(broker.start)  # away for as long as the JVM takes to start again


@pytest.fixture
async def ingest(broker: LocalKafka, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, str, str]]:
    prefix = "restart."
    await ensure_topics(broker.bootstrap, prefix)
    settings = settings_for(
        broker.bootstrap, prefix, tmp_path, publish_timeout_s=1, retry_after_s=1, rate_limit_per_s=1_000_000
    )
    shop = await make_shop(settings, "shop-a")
    async with serving(settings) as client:
        yield client, shop.key, prefix


async def test_every_acknowledged_event_is_in_kafka_exactly_once_across_a_broker_restart(broker, ingest):
    client, key, prefix = ingest
    deduplicated_before = await _deduplicated(client)
    tally, sending = Tally(), asyncio.Event()
    sending.set()
    load = Load(client, key, tally, sending)
    workers = [asyncio.create_task(load.run(n)) for n in range(CLIENTS)]

    await asyncio.sleep(LOAD_BEFORE_STOP_S)
    acked_before_stop = len(tally.acked)
    outage = asyncio.create_task(_restart(broker))
    while not outage.done():  # new clients keep coming while the broker is away, not only retries
        workers.append(asyncio.create_task(load.run(len(workers))))
        await asyncio.sleep(0.5)
    await outage
    refused_while_down = sum(tally.refused.values())
    await asyncio.sleep(LOAD_AFTER_RESTART_S)
    sending.clear()
    async with asyncio.timeout(GIVE_UP_AFTER_S + 5):
        await asyncio.gather(*workers)
    deduplicated = await _deduplicated(client) - deduplicated_before

    in_kafka = Counter(envelope.id for _, envelope in await commerce_events(broker.bootstrap, prefix))
    twice = {message_id: n for message_id, n in in_kafka.items() if n > 1}
    assert twice == {}, f"{len(twice)} ids published more than once"
    assert len(tally.acked) == len(set(tally.acked))  # the load itself never reused an id
    assert set(in_kafka) == set(tally.acked)  # nothing 2xx is missing, nothing else landed
    # The outage was real: requests before it went through, during it were refused, and some
    # retries were answered as duplicates because their first attempt landed after its 503.
    assert acked_before_stop > 0
    assert refused_while_down > 0 and tally.refused["503"] > 0
    assert deduplicated > 0
    assert len(tally.acked) > acked_before_stop


async def test_with_the_broker_gone_a_timed_out_record_stays_pending_and_stopping_is_bounded(broker):
    prefix = "gone."
    await ensure_topics(broker.bootstrap, prefix)
    kafka = KafkaCommercePublisher(broker.bootstrap, prefix, timeout_s=1)
    await kafka.start()
    await kafka.publish([_envelope("before")])
    await asyncio.to_thread(broker.stop)

    with pytest.raises(PublishFailed) as caught:
        await kafka.publish([_envelope("during")])
    [sent] = caught.value.sent  # handed to the producer: it may still land, so it is not failed
    assert (sent.index, sent.ack.done(), kafka.in_flight) == (0, False, 1)
    async with asyncio.timeout(10):  # aiokafka alone would wait for the broker forever
        await kafka.stop()
    assert isinstance(sent.ack.exception(), KafkaError) and kafka.in_flight == 0


def _envelope(message_id: str) -> Envelope:
    return Envelope.wrap(
        PageViewed(path="/"), store_id="s1", customer_id="c1", source="test",
        time=datetime(2025, 3, 1, tzinfo=timezone.utc), id=message_id,
    )
