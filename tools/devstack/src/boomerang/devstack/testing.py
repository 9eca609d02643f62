"""Pytest plugin: one real Kafka broker and one PostgreSQL server per test session.

Tests isolate themselves with a unique topic prefix (and consumer group) each,
so the broker is shared and starts once. Set BOOMERANG_TEST_KAFKA_BOOTSTRAP to
reuse a broker you already run.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from boomerang.devstack.kafka_broker import LocalKafka, free_port, repo_root
from boomerang.devstack.postgres import LocalPostgres
from boomerang.shared.kafka import ensure_topics


def _say(request: pytest.FixtureRequest, line: str) -> None:
    """Print past pytest's capture, so the run's output shows the real broker and database."""
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> Iterator[str]:
    if existing := os.environ.get("BOOMERANG_TEST_KAFKA_BOOTSTRAP"):
        _say(request, f"[boomerang] using the running Kafka broker at {existing}")
        yield existing
        return
    data_dir = repo_root() / "build" / "test" / f"kafka-{os.getpid()}"
    broker = LocalKafka(data_dir=data_dir, port=free_port(), controller_port=free_port())
    started = time.monotonic()
    broker.start()
    _say(request, f"[boomerang] Apache Kafka 4.3.1 (KRaft) started at {broker.bootstrap} "
                  f"in {time.monotonic() - started:.1f}s from {data_dir}")
    try:
        yield broker.bootstrap
    finally:
        broker.reset()  # stops it and deletes its data


@pytest.fixture
def topic_prefix(kafka_bootstrap: str) -> str:
    """A fresh prefix with every topic of ARCHITECTURE.md created under it."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    asyncio.run(ensure_topics(kafka_bootstrap, prefix))
    return prefix


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest) -> Iterator[LocalPostgres]:
    data_dir = Path("/tmp") / f"boomerang-test-pg-{os.getpid()}"
    server = LocalPostgres(data_dir=data_dir, port=free_port())
    server.start()
    _say(request, f"[boomerang] PostgreSQL started on 127.0.0.1:{server.port}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: LocalPostgres) -> str:
    """A new empty database on the session's PostgreSQL server."""
    return postgres_server.create_database(f"t{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on both backends: SQLite (default) and PostgreSQL (production)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")
