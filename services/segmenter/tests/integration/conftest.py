"""The segmenter worker as a real process against the real broker, and a raw topic reader."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from boomerang.devstack.kafka_broker import free_port
from boomerang.shared.kafka.topics import PARTITIONS


class WorkerProcess:
    """`python -m boomerang.segmenter worker` in its own session, so nothing it starts can outlive it."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.port = int(env["BOOMERANG_SEGMENTER_PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.ready_after_s: float | None = None
        self.stopped_after_s: float | None = None

    def start(self, timeout_s: float = 90) -> WorkerProcess:
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "boomerang.segmenter", "worker"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        while time.monotonic() - started < timeout_s:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    self.ready_after_s = time.monotonic() - started
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"worker not ready after {timeout_s}s:\n{self.log()}")

    def stop(self, timeout_s: float = 30) -> int:
        """SIGTERM, wait, and check that no process of its session is left."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout_s)
        self.stopped_after_s = time.monotonic() - started
        assert not session_alive(self.proc.pid), "the worker left processes behind"
        return code

    def kill(self) -> None:
        if self.proc is not None and session_alive(self.proc.pid):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", timeout=10)

    def metric(self, name: str) -> float:
        """Sum of a metric's samples (all label sets) in /metrics."""
        total = 0.0
        for line in self.get("/metrics").text.splitlines():
            if line.startswith(name) and line[len(name)] in " {":
                total += float(line.rsplit(" ", 1)[1])
        return total

    def wait_for_metric(self, name: str, at_least: float, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while self.metric(name) < at_least:
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} stayed below {at_least}:\n{self.log()}")
            time.sleep(0.1)


def session_alive(session_id: int) -> bool:
    try:
        os.killpg(session_id, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def segmenter_worker(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Makes workers (not started) for this test's prefix; kills whatever is left at the end."""
    made: list[WorkerProcess] = []

    def make(data_dir: Path | None = None) -> WorkerProcess:
        env = {
            **os.environ,
            "BOOMERANG_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "BOOMERANG_TOPIC_PREFIX": topic_prefix,
            "BOOMERANG_SEGMENTER_DATA_DIR": str(data_dir or tmp_path / "segmenter"),
            "BOOMERANG_SEGMENTER_PORT": str(free_port()),
            "BOOMERANG_SEGMENTER_COMMIT_INTERVAL_S": "0.5",
            "BOOMERANG_SEGMENTER_SWEEP_INTERVAL_S": "0.5",
            "BOOMERANG_SEGMENTER_DATABASE_URL": f"sqlite:///{tmp_path / 'segmenter.db'}",
            "BOOMERANG_SEGMENTER_SNAPSHOT_FLUSH_INTERVAL_S": "0.2",
        }
        worker = WorkerProcess(env, tmp_path / f"worker-{len(made)}.log")
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.kill()


async def read_topic(
    bootstrap: str, topic: str, *, partitions: int = PARTITIONS, idle_s: float = 1.0, timeout_s: float = 20
) -> list[ConsumerRecord]:
    """Every record of the topic, from the beginning to its current end (no consumer group)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        records: list[ConsumerRecord] = []
        async with asyncio.timeout(timeout_s):
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                for batch in (await consumer.getmany(timeout_ms=int(idle_s * 1000))).values():
                    records += batch
        return records
    finally:
        await consumer.stop()


@pytest.fixture
def topic_records(kafka_bootstrap: str) -> Callable[[str], Awaitable[list[ConsumerRecord]]]:
    """Reads a whole topic, by its full (prefixed) name."""
    return lambda topic, partitions=PARTITIONS: read_topic(kafka_bootstrap, topic, partitions=partitions)
