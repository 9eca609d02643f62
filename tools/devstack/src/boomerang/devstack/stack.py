"""The local stack as background processes: Kafka, the provider sandbox, the four services and
the segmenter's query API.

Used by `make up`/`make down`, the demo and the end-to-end tests; each stack lives in its own
directory (pids, logs, SQLite stores, keys) and may share a broker through a topic prefix.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from boomerang.devstack.kafka_broker import LocalKafka, repo_root
from boomerang.devstack.waiting import wait_until_ready
from boomerang.shared.kafka import TopicSpec, ensure_topics
from boomerang.shared.kafka.topics import ALL_TOPICS

SERVICES = ("sandbox", "ingest", "segmenter", "segmenter-api", "messenger", "feedback")
DEFAULT_PORTS = {
    "sandbox": 8025, "ingest": 8001, "segmenter": 8002, "segmenter-api": 8005, "messenger": 8003, "feedback": 8004,
}  # fmt: skip
COMMANDS = {
    "sandbox": ["boomerang-sandbox", "serve"],
    "ingest": ["boomerang-ingest", "serve"],
    "segmenter": ["boomerang-segmenter", "worker"],
    # The segmenter's query API: its own process over the snapshot store the worker writes.
    "segmenter-api": ["boomerang-segmenter", "api"],
    "messenger": ["boomerang-messenger", "serve"],
    "feedback": ["boomerang-feedback", "serve"],
}
# Whose settings (BOOMERANG_<NAME>_*, database) a process reads, when not its own; and the
# setting its port goes in. The API reads the worker's SQLite file: both run on this machine.
SETTINGS_OF = {"segmenter-api": "segmenter"}
PORT_SETTING = {"segmenter-api": "API_PORT"}
# The segmenter's table changelogs (faust names them <app id>-<table>-changelog), made before
# the worker starts. faust would make them itself, but a worker whose consumer read the
# cluster's metadata before they existed fails its first table writes (PartitionsMismatch: the
# changelog "has 0 partitions") until that metadata is refreshed. One broker: replication 1.
SEGMENTER_CHANGELOGS = tuple(
    TopicSpec(f"boomerang-segmenter-{table}-changelog", {"cleanup.policy": "compact"}) for table in ("customers", "due")
)
SANDBOX_TWILIO_AUTH_TOKEN = "sandbox-auth-token"  # the sandbox's and messenger's default
DEMO_STORE = "demo"
DEMO_WRITE_KEY = "demo-write-key-change-me"


@dataclass
class StackConfig:
    root: Path = field(default_factory=lambda: repo_root() / "build" / "stack")
    kafka_bootstrap: str | None = None  # None: run our own broker under root/kafka
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    topic_prefix: str = ""
    ports: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    store_id: str = DEMO_STORE
    write_key: str = DEMO_WRITE_KEY
    # Extra environment per service, e.g. the demo's event-time clocks:
    # {"segmenter": {"BOOMERANG_SEGMENTER_CLOCK": "event-time"}, "messenger": {...}}.
    service_settings: dict[str, dict[str, str]] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"


class StackError(RuntimeError):
    pass


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.root = config.root
        self.kafka = LocalKafka(
            data_dir=self.root / "kafka", port=config.kafka_port, controller_port=config.kafka_controller_port
        )

    @property
    def bootstrap(self) -> str:
        return self.config.kafka_bootstrap or self.kafka.bootstrap

    # -- whole stack -------------------------------------------------------------------------
    def up(self, timeout: float = 120) -> None:
        for sub in ("logs", "pids", "data", "keys"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        if self.config.kafka_bootstrap is None:
            self.kafka.start()
        asyncio.run(ensure_topics(self.bootstrap, self.config.topic_prefix, ALL_TOPICS + SEGMENTER_CHANGELOGS))
        self._make_webhook_keys()
        self._register_store()
        for name in SERVICES:
            self.start_service(name)
        for name in SERVICES:
            self.wait_ready(name, timeout)

    def down(self) -> None:
        for name in reversed(SERVICES):
            self.stop_service(name)
        if self.config.kafka_bootstrap is None:
            self.kafka.stop()

    def reset(self) -> None:
        """Stop everything and forget all state: topics, stores, outbox, keys."""
        self.down()
        shutil.rmtree(self.root, ignore_errors=True)

    def status(self) -> dict[str, str]:
        states = {name: "running" if self.pid(name) else "stopped" for name in SERVICES}
        if self.config.kafka_bootstrap is None:
            states["kafka"] = "running" if self.kafka.is_running() else "stopped"
        return states

    # -- one service -------------------------------------------------------------------------
    def env(self, name: str) -> dict[str, str]:
        c, data = self.config, self.root / "data"
        settings = SETTINGS_OF.get(name, name)
        prefix = f"BOOMERANG_{settings.upper()}_"
        env = {
            **os.environ,
            "BOOMERANG_KAFKA_BOOTSTRAP": self.bootstrap,
            "BOOMERANG_TOPIC_PREFIX": c.topic_prefix,
            f"{prefix}{PORT_SETTING.get(name, 'PORT')}": str(c.ports[name]),
            f"{prefix}DATABASE_URL": f"sqlite:///{data / settings}.db",
            # The messenger signs unsubscribe and survey links with it, feedback verifies them.
            "BOOMERANG_LINK_SIGNING_KEY": self._link_key(),
            "BOOMERANG_LINK_BASE_URL": c.url("feedback"),
        }
        sandbox = c.url("sandbox")
        per_service = {
            "sandbox": {
                "BOOMERANG_SANDBOX_FEEDBACK_URL": c.url("feedback"),
                "BOOMERANG_SANDBOX_SENDGRID_WEBHOOK_PRIVATE_KEY_PATH": str(self._private_key),
                "BOOMERANG_SANDBOX_OUTBOX_PATH": str(data / "outbox.jsonl"),
            },
            "segmenter": {"BOOMERANG_SEGMENTER_DATA_DIR": str(data / "segmenter")},
            "messenger": {
                "BOOMERANG_MESSENGER_SENDGRID_BASE_URL": sandbox,
                "BOOMERANG_MESSENGER_SENDGRID_LOOKUP_LAG_SECONDS": "0",  # the sandbox indexes at once
                "BOOMERANG_MESSENGER_TWILIO_BASE_URL": sandbox,
                "BOOMERANG_MESSENGER_GROUP_ID": f"{c.topic_prefix}boomerang-messenger",
                "BOOMERANG_MESSENGER_TWILIO_STATUS_CALLBACK_URL": f"{c.url('feedback')}/v1/webhooks/twilio/status",
            },
            "feedback": {
                "BOOMERANG_FEEDBACK_TWILIO_AUTH_TOKEN": SANDBOX_TWILIO_AUTH_TOKEN,
                "BOOMERANG_FEEDBACK_PUBLIC_BASE_URL": c.url("feedback"),
                "BOOMERANG_FEEDBACK_SENDGRID_WEBHOOK_PUBLIC_KEY": self._public_key.read_text().strip()
                if self._public_key.exists()
                else "",
            },
        }
        env.update(per_service.get(name, {}))
        env.update(c.service_settings.get(name, {}))
        return env

    def start_service(self, name: str) -> int:
        if pid := self.pid(name):
            return pid
        log = open(self.root / "logs" / f"{name}.log", "ab")
        proc = subprocess.Popen(
            [console_script(COMMANDS[name][0]), *COMMANDS[name][1:]],
            env=self.env(name),
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        (self.root / "pids" / f"{name}.pid").write_text(str(proc.pid))
        return proc.pid

    def kill_service(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Kill without grace: the e2e tests use it to crash a service mid-stream."""
        if pid := self.pid(name):
            os.killpg(pid, sig)
            _wait_gone(pid, 10)
        (self.root / "pids" / f"{name}.pid").unlink(missing_ok=True)

    def stop_service(self, name: str, grace: float = 20) -> None:
        if pid := self.pid(name):
            os.killpg(pid, signal.SIGTERM)
            if not _wait_gone(pid, grace):
                os.killpg(pid, signal.SIGKILL)
                _wait_gone(pid, 5)
        (self.root / "pids" / f"{name}.pid").unlink(missing_ok=True)

    def pid(self, name: str) -> int | None:
        path = self.root / "pids" / f"{name}.pid"
        if not path.exists():
            return None
        pid = int(path.read_text())
        return pid if _alive(pid) else None

    def wait_ready(self, name: str, timeout: float = 120) -> None:
        # the sandbox stands in for third parties and has no dependencies to be ready for
        path = "healthz" if name == "sandbox" else "readyz"
        try:
            wait_until_ready(
                f"{self.config.url(name)}/{path}",
                timeout=timeout,
                alive=lambda: self.pid(name) is not None,
                describe=lambda: self.log_tail(name),
            )
        except (RuntimeError, TimeoutError) as error:
            raise StackError(f"{name}: {error}") from error

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.root / "logs" / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    # -- set-up steps --------------------------------------------------------------------------
    @property
    def _private_key(self) -> Path:
        return self.root / "keys" / "sendgrid-webhook-private.pem"

    @property
    def _public_key(self) -> Path:
        return self.root / "keys" / "sendgrid-webhook-public.b64"

    def _link_key(self) -> str:
        """A random key per stack, made once and kept with the stack's other keys."""
        path = self.root / "keys" / "link-signing.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()

    def _make_webhook_keys(self) -> None:
        if self._private_key.exists() and self._public_key.exists():
            return
        subprocess.run(
            [console_script("boomerang-sandbox"), "keygen", "--private-key", str(self._private_key),
             "--public-key", str(self._public_key)],
            check=True, capture_output=True,
        )

    def _register_store(self) -> None:
        """Create the demo store with a known write key; a second `up` finds it already there."""
        c = self.config
        result = subprocess.run(
            [console_script("boomerang-ingest"), "stores", "create", c.store_id, "--write-key", c.write_key],
            env=self.env("ingest"), cwd=self.root, capture_output=True, text=True,
        )
        if result.returncode != 0 and "exists" not in (result.stdout + result.stderr):
            raise StackError(f"could not register store {c.store_id}: {result.stderr or result.stdout}")


def console_script(name: str) -> str:
    """Console scripts live beside the running interpreter in the project's venv."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False
