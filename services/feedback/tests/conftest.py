"""Feedback test helpers: a SendGrid-style signer, the app on a real port, the topic reader."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from boomerang.devstack.kafka_broker import free_port
from boomerang.shared.events import Envelope
from boomerang.shared.kafka import FEEDBACK_EVENTS


class SendGridSigner:
    """Signs the way SendGrid does, written here from its docs rather than taken from our code."""

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_key_b64(self) -> str:
        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    @property
    def public_key_pem(self) -> str:
        return (
            self.private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def sign(self, timestamp: str, body: bytes) -> str:
        der = self.private_key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(der).decode()

    def headers(self, body: bytes, timestamp: int) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": self.sign(str(timestamp), body),
            "X-Twilio-Email-Event-Webhook-Timestamp": str(timestamp),
        }


@pytest.fixture
def signer() -> SendGridSigner:
    return SendGridSigner()


@pytest.fixture
def other_signer() -> SendGridSigner:
    """A second, unrelated key pair: what a forger would sign with."""
    return SendGridSigner()


def sendgrid_event(
    event_id: str, kind: str = "delivered", *, timestamp: int = 1_760_000_000, **extra: Any
) -> dict[str, Any]:
    return {
        "email": "ada@example.com",
        "timestamp": timestamp,
        "event": kind,
        "sg_event_id": event_id,
        "sg_message_id": f"msg-{event_id}.filter0001",
        "smtp-id": "<abc@sandbox>",
        "boomerang_message_id": f"bm-{event_id}",
        "boomerang_store_id": "store-1",
        "boomerang_customer_id": "cust-42",
        "boomerang_flow": "winback",
        **extra,
    }


def body_of(events: list[dict[str, Any]]) -> bytes:
    return json.dumps(events).encode()


@pytest.fixture
def make_event():
    return sendgrid_event


@pytest.fixture
def encode():
    return body_of


# --- running the service for real -------------------------------------------------------------


@contextmanager
def serving(app, port: int | None = None) -> Iterator[str]:
    """The ASGI app on a real port in a thread of its own, lifespan and all."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)


@pytest.fixture
def serve() -> Callable:
    return serving


class FeedbackTopic:
    """Reads feedback.events.v1 under a test's prefix by assignment: no group, nothing committed."""

    def __init__(self, bootstrap: str, prefix: str) -> None:
        self.bootstrap = bootstrap
        self.name = FEEDBACK_EVENTS.named(prefix)

    async def count(self) -> int:
        async with self._consumer() as (consumer, partitions):
            return sum((await consumer.end_offsets(partitions)).values())

    async def read(self, expected: int, timeout_s: float = 20.0) -> list[tuple[str, Envelope]]:
        """At least `expected` records (key, envelope), or fail after the timeout."""
        records: list[tuple[str, Envelope]] = []
        async with self._consumer() as (consumer, partitions):
            await consumer.seek_to_beginning(*partitions)
            deadline = time.monotonic() + timeout_s
            while len(records) < expected and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=200)
                for batch in batches.values():
                    records += [(r.key.decode(), Envelope.from_bytes(r.value)) for r in batch]
        assert len(records) >= expected, f"{len(records)} of {expected} envelopes arrived"
        return records

    @asynccontextmanager
    async def _consumer(self) -> AsyncIterator[tuple[AIOKafkaConsumer, list[TopicPartition]]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            # The topic_prefix fixture created the topic with the catalogue's partition count.
            partitions = [TopicPartition(self.name, p) for p in range(FEEDBACK_EVENTS.partitions)]
            consumer.assign(partitions)
            yield consumer, partitions
        finally:
            await consumer.stop()


@pytest.fixture
def feedback_topic(kafka_bootstrap: str, topic_prefix: str) -> FeedbackTopic:
    return FeedbackTopic(kafka_bootstrap, topic_prefix)


async def eventually(check: Callable[[], object], timeout_s: float = 20.0, interval_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(interval_s)


@pytest.fixture
def wait_until():
    return eventually
