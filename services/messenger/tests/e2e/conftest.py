"""The provider sandbox and the messenger as real processes, for the messenger's crash tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from boomerang.devstack.kafka_broker import free_port
from boomerang.devstack.processes import BIN, LoggedProcess
from boomerang.devstack.waiting import wait_until_ready


@pytest.fixture
def sandbox_outbox(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The sandbox as a process, its outbox in a JSON-lines file: (url, that file)."""
    port, outbox = free_port(), tmp_path / "outbox.jsonl"
    process = LoggedProcess(
        [str(BIN / "boomerang-sandbox"), "serve", "--port", str(port)],
        {"BOOMERANG_SANDBOX_OUTBOX_PATH": str(outbox)},
        tmp_path / "sandbox.log",
    )
    try:
        wait_until_ready(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}", outbox
    finally:
        process.stop()


@dataclass
class MessengerProcess:
    """How to start `boomerang-messenger serve` on the test's broker, SQLite store and sandbox;
    a test may add settings to `env` first."""

    env: dict[str, str]
    url: str
    log: Path

    def start(self) -> LoggedProcess:
        return LoggedProcess([str(BIN / "boomerang-messenger"), "serve"], self.env, self.log)


@pytest.fixture
def messenger_process(kafka_bootstrap: str, topic_prefix: str, sandbox_outbox, tmp_path: Path) -> MessengerProcess:
    sandbox, _ = sandbox_outbox
    port = free_port()
    env = {
        "BOOMERANG_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "BOOMERANG_TOPIC_PREFIX": topic_prefix,
        "BOOMERANG_LOG_LEVEL": "WARNING",
        "BOOMERANG_MESSENGER_PORT": str(port),
        "BOOMERANG_MESSENGER_DATABASE_URL": f"sqlite:///{tmp_path / 'messenger.db'}",
        "BOOMERANG_MESSENGER_GROUP_ID": f"{topic_prefix}messenger",
        "BOOMERANG_MESSENGER_SENDGRID_BASE_URL": sandbox,
        "BOOMERANG_MESSENGER_SENDGRID_LOOKUP_LAG_SECONDS": "0",  # the sandbox indexes at once
        "BOOMERANG_MESSENGER_TWILIO_BASE_URL": sandbox,
    }
    return MessengerProcess(env, f"http://127.0.0.1:{port}", tmp_path / "messenger.log")
