"""Fixtures for the messenger's tests: the provider sandbox, settings, Kafka helpers."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer

from boomerang.devstack.kafka_broker import free_port
from boomerang.messenger.entrypoints.app import create_app
from boomerang.messenger.migrations import upgrade
from boomerang.messenger.settings import MessengerSettings
from boomerang.shared.db import make_engine
from boomerang.shared.events import Envelope
from boomerang.shared.kafka import COMMERCE_EVENTS, MESSAGE_EVENTS, EventPublisher
from boomerang.shared.settings import CommonSettings

T = TypeVar("T")


@dataclass
class Sandbox:
    url: str

    def outbox(self, provider: str | None = None) -> list[dict[str, Any]]:
        params = {"provider": provider} if provider else {}
        response = httpx.get(f"{self.url}/outbox.json", params=params, timeout=5)
        response.raise_for_status()
        return response.json()["messages"]

    def fault(self, provider: str, status: int, **options: Any) -> None:
        body = {"provider": provider, "status": status, **options}
        httpx.post(f"{self.url}/_sandbox/faults", json=body, timeout=5).raise_for_status()

    def pending_faults(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/_sandbox/faults", timeout=5).json()["faults"]


@pytest.fixture(autouse=True)
def _default_https_context() -> Iterator[None]:
    """Each test starts with the process's TLS context hook as the session had it: a send in
    this process's threads (`in_process`) shares one context for good (share_one_https_context),
    made with whatever CA bundle that test trusted."""
    before = ssl._create_default_https_context
    yield
    ssl._create_default_https_context = before


@contextmanager
def serving_sandbox(**uvicorn_options: Any) -> Iterator[int]:
    """The real provider sandbox app (tools/sandbox) in a uvicorn thread; its port."""
    from boomerang.sandbox.app import create_app as create_sandbox
    from boomerang.sandbox.settings import Settings as SandboxSettings

    port = free_port()
    app = create_sandbox(SandboxSettings(port=port, outbox_path=None, feedback_url=None))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none", **uvicorn_options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "sandbox did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def serve_sandbox() -> Callable[..., Any]:
    """`serving_sandbox`, for a test that needs the sandbox served its own way (over TLS)."""
    return serving_sandbox


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """The sandbox, fresh per test."""
    with serving_sandbox() as port:
        yield Sandbox(f"http://127.0.0.1:{port}")


@pytest.fixture
def engine(database_url: str):
    """The messenger's store, migrated, on each backend (`database_url` runs SQLite and PostgreSQL)."""
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def messenger_settings(
    kafka_bootstrap: str, topic_prefix: str, sandbox: Sandbox, tmp_path: Path
) -> MessengerSettings:
    return MessengerSettings(
        common=CommonSettings(kafka_bootstrap=kafka_bootstrap, topic_prefix=topic_prefix, log_json=False),
        database_url=f"sqlite:///{tmp_path / 'messenger.db'}",
        group_id=f"{topic_prefix}messenger",
        sendgrid_base_url=sandbox.url,
        sendgrid_lookup_lag_seconds=0,  # the sandbox indexes a message as it takes it
        twilio_base_url=sandbox.url,
        backoff_initial_seconds=0.05,
        backoff_max_seconds=2.0,
    )


@asynccontextmanager
async def running_messenger(settings: MessengerSettings) -> AsyncIterator[httpx.AsyncClient]:
    """The messenger app with its lifespan (consumer included), and a client for its endpoints."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://messenger") as client:
            await eventually(lambda: _ready(client), timeout=30)
            yield client


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/readyz")).status_code == 200


async def eventually(check: Callable[[], Awaitable[T] | T], timeout: float = 20, interval: float = 0.1) -> T:
    """Poll until `check` returns something truthy; fail with the last value after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value or time.monotonic() > deadline:
            assert value, f"not true after {timeout}s: {value!r}"
            return value
        await asyncio.sleep(interval)


async def produce(bootstrap: str, prefix: str, envelopes: list[Envelope]) -> None:
    publisher = EventPublisher(bootstrap, prefix)
    await publisher.start()
    try:
        await publisher.publish_many(COMMERCE_EVENTS.name, envelopes)
    finally:
        await publisher.stop()


async def read_message_events(
    bootstrap: str, prefix: str, count: int, timeout: float = 15
) -> list[tuple[bytes, Envelope]]:
    """The first `count` records of message.events.v1 as (key, envelope)."""
    consumer = AIOKafkaConsumer(
        MESSAGE_EVENTS.named(prefix), bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records: list[tuple[bytes, Envelope]] = []
    try:
        deadline = time.monotonic() + timeout
        while len(records) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records += [(r.key, Envelope.from_bytes(r.value)) for r in batch]
    finally:
        await consumer.stop()
    return records


# Test modules are imported in importlib mode and cannot import this file: helpers are fixtures.


@pytest.fixture
def wait_for() -> Callable[..., Awaitable[Any]]:
    return eventually


@pytest.fixture
def run_messenger() -> Callable[[MessengerSettings], Any]:
    return running_messenger


@pytest.fixture
def send_commerce(kafka_bootstrap: str, topic_prefix: str) -> Callable[[list[Envelope]], Awaitable[None]]:
    async def send(envelopes: list[Envelope]) -> None:
        await produce(kafka_bootstrap, topic_prefix, envelopes)

    return send


@pytest.fixture
def message_events(
    kafka_bootstrap: str, topic_prefix: str
) -> Callable[..., Awaitable[list[tuple[bytes, Envelope]]]]:
    async def read(count: int, timeout: float = 15) -> list[tuple[bytes, Envelope]]:
        return await read_message_events(kafka_bootstrap, topic_prefix, count, timeout)

    return read
