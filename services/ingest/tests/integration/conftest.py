"""Ingest on a real port against the real broker, a store with keys, and a topic reader."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition

from boomerang.devstack.kafka_broker import free_port
from boomerang.ingest.bootstrap import store_admin
from boomerang.ingest.entrypoints.app import create_app
from boomerang.ingest.service_layer import stores
from boomerang.ingest.settings import IngestSettings
from boomerang.shared.events import Envelope
from boomerang.shared.kafka import COMMERCE_EVENTS, TopicSpec
from boomerang.shared.settings import CommonSettings


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


@asynccontextmanager
async def serving(settings: IngestSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The app under uvicorn in this event loop: real HTTP, real lifespan."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_config=None, lifespan="on", ws="none"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(20):
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        await task


def settings_for(bootstrap: str, prefix: str, tmp_path: Path, **overrides) -> IngestSettings:
    return IngestSettings(
        database_url=f"sqlite:///{tmp_path / 'ingest.db'}",
        common=CommonSettings(kafka_bootstrap=bootstrap, topic_prefix=prefix),
        **overrides,
    )


@dataclass
class Shop:
    store_id: str
    key: str
    key_id: str


async def make_shop(settings: IngestSettings, store_id: str) -> Shop:
    issued = await stores.create_store(
        store_admin(settings), store_id, name=None, chosen_key=None, now=datetime.now(timezone.utc)
    )
    return Shop(store_id, issued.key, issued.key_id)


@pytest.fixture
def settings(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> IngestSettings:
    return settings_for(kafka_bootstrap, topic_prefix, tmp_path)


@pytest.fixture
async def shop(settings: IngestSettings) -> Shop:
    return await make_shop(settings, "shop-a")


@pytest.fixture
async def client(settings: IngestSettings, shop: Shop) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(settings) as client:
        yield client


async def commerce_events(bootstrap: str, prefix: str) -> list[tuple[str, Envelope]]:
    """Everything on the prefixed commerce topic so far, as (key, envelope)."""
    return await topic_events(bootstrap, prefix, COMMERCE_EVENTS)


async def published(
    settings: IngestSettings, spec: TopicSpec = COMMERCE_EVENTS
) -> list[tuple[str, Envelope]]:
    """What the app with these settings published on `spec`'s topic so far."""
    return await topic_events(settings.common.kafka_bootstrap, settings.common.topic_prefix, spec)


async def topic_events(bootstrap: str, prefix: str, spec: TopicSpec) -> list[tuple[str, Envelope]]:
    """Everything on a prefixed topic so far, as (key, envelope).

    Reads up to the end offsets taken first: since ingest answers only after Kafka acked,
    whatever a request published is below them.
    """
    topic = spec.named(prefix)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(spec.partitions)]
        consumer.assign(partitions)
        end = await consumer.end_offsets(partitions)
        records = []
        async with asyncio.timeout(20):
            while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
                batch = await consumer.getmany(*partitions, timeout_ms=200)
                records += [r for rs in batch.values() for r in rs]
        return [(r.key.decode(), Envelope.from_bytes(r.value)) for r in records]
    finally:
        await consumer.stop()


async def raw_post(base_url: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    """A hand-written HTTP/1.1 request, for what well-behaved clients refuse to send."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": host, "Connection": "close", **headers}.items())
    writer.write(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + body)
    await writer.drain()
    async with asyncio.timeout(10):
        answer = await reader.read()
    writer.close()
    return answer
