"""Kafka unreachable: 503 with Retry-After, nothing recorded, and the service recovers by itself."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from boomerang.devstack.kafka_broker import free_port

from .conftest import basic, commerce_events, make_shop, serving, settings_for

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def forwarding(port: int, target: str) -> AsyncIterator[None]:
    """A TCP forwarder on `port` to the broker: Kafka 'comes back' at the address ingest knows.

    Only the bootstrap connection goes through it; the broker then advertises its own address.
    """
    host, target_port = target.split(":")

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def connect(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        broker_reader, broker_writer = await asyncio.open_connection(host, int(target_port))
        await asyncio.gather(pipe(client_reader, broker_writer), pipe(broker_reader, client_writer))

    server = await asyncio.start_server(connect, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()


async def test_without_kafka_requests_get_503_and_the_service_recovers(
    kafka_bootstrap, topic_prefix, tmp_path
):
    port = free_port()
    settings = settings_for(f"127.0.0.1:{port}", topic_prefix, tmp_path, publish_timeout_s=1, retry_after_s=3)
    shop = await make_shop(settings, "shop-a")
    event = {"userId": "u1", "messageId": "m-outage", "traits": {"email": "u1@example.com"}}

    async with serving(settings) as client:
        down = await client.post("/v1/identify", json=event, headers=basic(shop.key))
        assert (down.status_code, down.json()["error"]["code"], down.headers["Retry-After"]) == (
            503,
            "kafka_unavailable",
            "3",
        )
        assert (await client.get("/healthz")).status_code == 200
        not_ready = await client.get("/readyz")
        assert (not_ready.status_code, not_ready.json()["checks"]["kafka"]) == (503, False)

        async with forwarding(port, kafka_bootstrap):
            async with asyncio.timeout(30):
                while (await client.get("/readyz")).status_code != 200:
                    await asyncio.sleep(0.2)
            retried = await client.post("/v1/identify", json=event, headers=basic(shop.key))
            assert retried.status_code == 200
        metrics = (await client.get("/metrics")).text

    published = await commerce_events(kafka_bootstrap, topic_prefix)
    assert [e.id for _, e in published] == ["m-outage"]  # the refused attempt left no trace
    assert 'boomerang_ingest_events_rejected_total{code="kafka_unavailable",event_type="identify"}' in metrics
