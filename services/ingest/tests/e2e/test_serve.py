"""`boomerang-ingest` as the demo runs it: create a store with a known key, serve, send events."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from boomerang.devstack.kafka_broker import free_port
from boomerang.devstack.waiting import wait_until_ready
from boomerang.shared.events import Envelope
from boomerang.shared.kafka import COMMERCE_EVENTS

pytestmark = pytest.mark.e2e

KEY = "demo-write-key-0123456789"


async def test_the_cli_creates_a_store_and_the_served_process_publishes(
    tmp_path: Path, kafka_bootstrap, topic_prefix
):
    port = free_port()
    env = {
        **os.environ,
        "BOOMERANG_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "BOOMERANG_TOPIC_PREFIX": topic_prefix,
        "BOOMERANG_INGEST_PORT": str(port),
        "BOOMERANG_INGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'ingest.db'}",
    }
    cli = str(Path(sys.executable).with_name("boomerang-ingest"))
    created = subprocess.run(
        [cli, "stores", "create", "demo", "--write-key", KEY],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert created.stdout.strip() == KEY

    process = subprocess.Popen([cli, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", auth=(KEY, "")) as http:
            wait_until_ready(
                f"http://127.0.0.1:{port}/readyz",
                timeout=30,
                alive=lambda: process.poll() is None,
                describe=lambda: process.stdout.read().decode(),
            )
            body = {"userId": "c1", "traits": {"email": "grace@example.com", "phone": "+1 202 555 0143"}}
            assert (await http.post("/v1/identify", json=body)).status_code == 200
            refused = await http.post("/v1/identify", json={"userId": "c1", "traits": {"email": "grace@"}})
            assert refused.json()["error"] == {
                "code": "invalid_email",
                "field": "traits.email",
                "message": refused.json()["error"]["message"],
            }
            [(key, envelope)] = await _read(kafka_bootstrap, topic_prefix, 1)
            assert key == "demo:c1" and envelope.event().email == "grace@example.com"
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0].decode()
    assert '"event": "events_ingested"' in output and '"code": "invalid_email"' in output  # JSON logs
    assert "grace@" not in output and "2025550143" not in output and "555 0143" not in output  # no PII


async def _read(bootstrap: str, prefix: str, count: int) -> list[tuple[str, Envelope]]:
    consumer = AIOKafkaConsumer(
        COMMERCE_EVENTS.named(prefix),
        bootstrap_servers=bootstrap,
        group_id=f"{prefix}e2e-reader",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        records = []
        async with asyncio.timeout(20):
            while len(records) < count:
                batch = await consumer.getmany(timeout_ms=200)
                records += [r for rs in batch.values() for r in rs]
        return [(r.key.decode(), Envelope.from_bytes(r.value)) for r in records]
    finally:
        await consumer.stop()
