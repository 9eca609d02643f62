"""The provider sandbox as a real process, for the messenger's crash tests."""

from __future__ import annotations

from collections.abc import Iterator
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
