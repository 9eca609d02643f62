"""A local single-node Kafka broker (KRaft) for tests and the dev stack.

A thin wrapper around ``scripts/kafka.sh``, which resolves the broker's jars from Maven Central
(cached), formats storage once and waits until the broker really serves Kafka requests. Standard
library only, so it can be imported before anything else is installed.

    broker = LocalKafka(data_dir=Path("build/kafka"), port=free_port(), controller_port=free_port())
    broker.start()          # idempotent; a stopped dir restarts with its data
    ... broker.bootstrap ...  # "127.0.0.1:<port>"
    broker.stop()
"""

from __future__ import annotations

import functools
import math
import os
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

__all__ = ["LocalKafka", "fetch", "free_port", "repo_root"]

SCRIPT = Path("scripts") / "kafka.sh"
# Extra time allowed on top of the readiness timeout for a cold jar fetch through Maven.
FETCH_ALLOWANCE_S = 600.0

_handed_out: set[int] = set()


def free_port() -> int:
    """An unused TCP port on 127.0.0.1 (never the same one twice in this process)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise RuntimeError("could not find a free TCP port")


@functools.cache
def repo_root() -> Path:
    """The Boomerang checkout: $BOOMERANG_REPO_ROOT, or the nearest parent holding scripts/kafka.sh
    (searched from this file, then from the working directory)."""
    if env := os.environ.get("BOOMERANG_REPO_ROOT"):
        root = Path(env).resolve()
        if (root / SCRIPT).is_file():
            return root
        raise RuntimeError(f"BOOMERANG_REPO_ROOT={env} has no {SCRIPT}")
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for candidate in (start, *start.parents):
            if (candidate / SCRIPT).is_file():
                return candidate
    raise RuntimeError(
        f"cannot find the Boomerang repo ({SCRIPT}); set BOOMERANG_REPO_ROOT"
    )


def _script() -> str:
    return str(repo_root() / SCRIPT)


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["bash", _script(), *args],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = _text(exc.stdout) + _text(exc.stderr)
        raise RuntimeError(
            f"scripts/kafka.sh {' '.join(args)} timed out after {timeout:.0f}s\n{out}"
        ) from exc


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def fetch(timeout: float = FETCH_ALLOWANCE_S) -> None:
    """Resolve and cache the broker's jars (no-op when already cached); e.g. to warm up CI."""
    result = _run(["fetch"], timeout)
    if result.returncode != 0:
        raise RuntimeError(
            f"scripts/kafka.sh fetch failed:\n{result.stdout}{result.stderr}"
        )


@dataclass
class LocalKafka:
    """One broker+controller JVM whose config, data, logs and pid file live in ``data_dir``."""

    data_dir: Path
    port: int = 9092
    controller_port: int = 9093
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return Path(self.data_dir) / "logs" / "server.log"

    def _dir_args(self) -> list[str]:
        return ["--dir", str(Path(self.data_dir).resolve())]

    def start(self, timeout: float = 120) -> None:
        """Start the broker (fetching jars and formatting storage if needed) and return once it
        serves requests. A no-op when it already runs on this dir. Raises RuntimeError with the
        script's output (including the broker's log tail) on failure."""
        args = [
            "start",
            "--port",
            str(self.port),
            "--controller-port",
            str(self.controller_port),
            *self._dir_args(),
            "--timeout",
            str(max(1, math.ceil(timeout))),
        ]
        for key, value in self.settings.items():
            args += ["--set", f"{key}={value}"]
        result = _run(args, timeout + FETCH_ALLOWANCE_S)
        if result.returncode != 0:
            raise RuntimeError(
                f"Kafka did not start on {self.bootstrap} (dir {self.data_dir}, exit {result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL after 30 s); its data stays for the next start."""
        result = _run(["stop", *self._dir_args()], 60)
        if result.returncode != 0:
            raise RuntimeError(
                f"stopping Kafka in {self.data_dir} failed:\n{result.stdout}{result.stderr}"
            )

    def reset(self) -> None:
        """Stop the broker and delete its dir."""
        result = _run(["reset", *self._dir_args()], 60)
        if result.returncode != 0:
            raise RuntimeError(
                f"resetting Kafka in {self.data_dir} failed:\n{result.stdout}{result.stderr}"
            )

    def is_running(self) -> bool:
        return _run(["status", *self._dir_args()], 30).returncode == 0

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
