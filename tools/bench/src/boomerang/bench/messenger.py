"""`make bench-messenger`: the messenger against its limits, and its exactly-once promise, in one run.

One Kafka broker of our own and one provider sandbox process (`boomerang-sandbox serve`, its
outbox kept in a JSON-lines file the bench reads: every accepted message with its arrival time
and custom_args). Each part gets its own topic prefix, messenger database and consumer group.

(a) Throughput: `boomerang-messenger serve` as a process takes `orders` customers'
    CustomerIdentified events first (email only, so every send is a SendGrid call), then the
    bench publishes one OrderPlaced each at once; sends/s from that publish to the last receipt
    recorded as sent (its /metrics), through policy, rendering, ledger and the official SDK.
(a') The same with `replicas` messenger processes (one consumer group, one SQLite store), as a
    deployment scales out: what the machine sends when the messenger uses every core.
(b) The limit: the official SendGrid SDK alone (`SendGridAPIClient.client.mail.send.post`) pushes
    the very request bodies the messenger sent in (a) (rebuilt from the sandbox's outbox, new
    message ids) into the same sandbox, from 1 thread and from `bare_threads` threads; the
    faster is the limit. (b') The same over one kept-alive connection per thread, as the messenger
    sends (adapters.kept_alive): not the issue's limit (the SDK as it comes), reported beside it.
(c) CPU: the CPU time (/proc/<pid>/stat utime+stime) of the messenger's two processes (its event
    loop's and its SDK process's) over (a)'s window, per send. The sandbox is another process and
    network waits cost no CPU, so where the provider runs elsewhere one instance (deploy/k8s: the
    two processes, 2 CPUs) sends 1 / the busier process's CPU per send; both on one core, 1 / the
    sum.
(d) Latency: `boomerang-ingest serve` and `replicas` messengers on one prefix; identify calls first, then
    one `Order Completed` per customer on /v1/track at `latency_rate`/s (open loop); latency from
    ingest's 2xx to the receipt's arrival in the sandbox (its `received_at`, same clock).
(e) Reliability: `reliability_events` orders (customers with a phone, half of them consenting to
    SMS) and their contacts, every event published twice, the messenger SIGKILLed `kills` times
    mid-run and restarted; afterwards each message id (one per idempotency key) appears at most
    once in the sandbox and every expected receipt email and SMS is there.
(f) Floor: the official SDK's own CPU per request (the 1-thread bare run) and CSS inlining of the
    HTML (a) sent, timed alone: the per-send CPU no messenger built on that SDK can go below.
(g) Own work: (a)'s orders through the messenger's handler in this process, with providers that
    answer at once and no Kafka (`messenger_own`): what (c) costs without the SDK and Kafka.
Writes build/bench/messenger.json. Exit 0 when the run measured what it set out to, whether or not
the targets were met.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from urllib.parse import parse_qsl, urlsplit
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from sendgrid import SendGridAPIClient

from boomerang.bench import kafka, load, profile
from boomerang.bench.ingest import WRITE_KEY, BenchFailed, CpuMeter, Ingest, _basic, _kafka_pid, _memory, proc_stat
from boomerang.bench.messenger_own import own_work
from boomerang.bench.report import MESSENGER_TARGETS, judge, latency_summary, machine, options_of, rate
from boomerang.devstack.history import CATALOGUE, Purchase, identify_call, order_call
from boomerang.devstack.kafka_broker import LocalKafka, free_port, repo_root
from boomerang.devstack.postgres import LocalPostgres
from boomerang.devstack.tls import self_signed_certificate
from boomerang.devstack.waiting import wait_until_ready
from boomerang.messenger.adapters.rendering import StyleInliner
from boomerang.messenger.adapters.kept_alive import KeptAliveConnection
from boomerang.messenger.adapters.sendgrid import share_one_https_context, shared_https_context
from boomerang.messenger.domain.messages import idempotency_key, message_id_for
from boomerang.shared.events import CustomerIdentified, Envelope, OrderLine, OrderPlaced
from boomerang.shared.events.attribution import CUSTOMER_ID, FLOW, MESSAGE_ID
from boomerang.shared.kafka import COMMERCE_EVENTS

STORE = "bench-shop"
SEED = 20260401


@dataclass(frozen=True)
class Options:
    orders: int = 3000  # (a) receipts through the messenger, and (b) requests through the bare SDK
    bare_threads: int = 4  # (b) the SDK's calls block: parallel threads to find the sandbox's limit
    latency_rate: float = 200.0  # (d) orders per second through ingest
    latency_seconds: float = 10.0
    replicas: int = 2  # (a') and (d): messenger processes in one consumer group, one store
    # The replicas' shared store: one SQLite file (their writes queue behind its lock), or
    # `postgresql`, started for the run (on this 2-core machine its server processes cost more
    # than the lock: the replicas sent fewer receipts per second on it).
    replica_store: str = "sqlite"
    reliability_events: int = 10_000  # (e) triggering OrderPlaced events, each published twice
    kills: int = 2
    profile: bool = False  # py-spy on the messenger during one more, unmeasured batch of receipts after (a)
    timeout_s: float = 900.0
    out_dir: Path = field(default_factory=lambda: repo_root() / "build" / "bench")


def run(options: Options, say: Callable[[str], None] = print) -> dict[str, Any]:
    out = options.out_dir
    out.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex[:10]
    load_before = os.getloadavg()[0]
    # A SIGTERM (make interrupted, a timeout) unwinds through the finally below: no orphans.
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    broker = LocalKafka(data_dir=out / f"kafka-{run_id}", port=free_port(), controller_port=free_port())
    broker.start()
    say(f"run {run_id}: Kafka at {broker.bootstrap}")
    sandbox = Sandbox(out, run_id)
    postgres = None
    if options.replicas > 1 and options.replica_store == "postgresql":
        # Under /tmp: the postgres user must reach its data directory (a test's tmp dir is private).
        postgres = LocalPostgres(Path("/tmp") / f"boomerang-bench-pg-{run_id}", free_port())
    figures: dict[str, Any] = {}
    try:
        sandbox.start()
        if postgres is not None:
            postgres.start()
            say(f"run {run_id}: PostgreSQL for the replicas at port {postgres.port}")
        figures |= _throughput(options, broker, sandbox, run_id, say)
        if options.replicas > 1:
            figures["scaled_out"] = _scaled_out(options, broker, sandbox, run_id, say, postgres)
            figures["ratio_replicas_to_bare"] = round(
                figures["scaled_out"]["sends_per_s"] / figures["bare_sdk"]["requests_per_s"], 3
            )
        figures["latency"] = _latency(options, broker, sandbox, run_id, say, postgres)
        if options.reliability_events:  # 0 skips it (e.g. a profiling run)
            figures["reliability"] = _reliability(options, broker, sandbox, run_id, say)
        figures["sandbox_process"] = _memory(sandbox.pid)
    finally:
        sandbox.stop()
        if postgres is not None:
            postgres.stop()
            shutil.rmtree(postgres.data_dir, ignore_errors=True)
        broker.reset()  # stops it and deletes its data
        signal.signal(signal.SIGTERM, previous)
        for path in out.glob(f"messenger-{run_id}-*.db*"):
            path.unlink(missing_ok=True)
    report = _report(options, run_id, figures, load_before)
    (out / "messenger.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


# --- the processes ---------------------------------------------------------------------------


class Sandbox:
    """`boomerang-sandbox serve`, its outbox in a JSON-lines file the bench reads directly."""

    def __init__(self, out: Path, run_id: str) -> None:
        self.port = free_port()
        self.outbox_path = out / f"sandbox-outbox-{run_id}.jsonl"
        self.log_path = out / "sandbox.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        self._log = self.log_path.open("wb")
        env = {**os.environ, "BOOMERANG_SANDBOX_OUTBOX_PATH": str(self.outbox_path)}
        env.pop("BOOMERANG_SANDBOX_FEEDBACK_URL", None)  # no delivery webhooks: nobody listens
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("boomerang-sandbox")), "serve", "--port", str(self.port)],
            env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
        )
        wait_until_ready(f"{self.url}/healthz", timeout=60,
                         alive=lambda: self.process is not None and self.process.poll() is None,
                         describe=lambda: self.log_path.read_text(errors="replace")[-3000:])

    def clear(self) -> None:
        request = urllib.request.Request(f"{self.url}/outbox", method="DELETE")
        urllib.request.urlopen(request, timeout=30).close()

    def messages(self) -> list[dict[str, Any]]:
        """Every accepted message, oldest first: provider, received_at (epoch s), custom_args, subject."""
        found = []
        if not self.outbox_path.exists():
            return found
        with self.outbox_path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    m = json.loads(line)
                    found.append({
                        "provider": m["provider"], "to": m["to"], "from": m["from"], "subject": m.get("subject"),
                        "text": m.get("text"), "html": m.get("html"), "reply_to": m.get("reply_to"),
                        "headers": m.get("headers") or {}, "categories": m.get("categories") or [],
                        "custom_args": (m.get("custom_args") or {}) if m["provider"] == "sendgrid"
                        else _callback_args(m.get("status_callback")),
                        "received_at": datetime.fromisoformat(m["received_at"]).timestamp(),
                    })
        return found

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None:
            self._log.close()
        self.outbox_path.unlink(missing_ok=True)


def _callback_args(url: str | None) -> dict[str, str]:
    """An SMS carries its ids in its StatusCallback's query string, as SendGrid's custom_args do."""
    return dict(parse_qsl(urlsplit(url).query)) if url else {}


class Messenger:
    """`boomerang-messenger serve` on one prefix, database and group; restartable."""

    def __init__(
        self, out: Path, run_id: str, name: str, bootstrap: str, prefix: str, sandbox_url: str,
        store: str | None = None, database_url: str | None = None, **settings: str,
    ) -> None:
        self.port = free_port()
        self.log_path = out / f"messenger-{name}.log"
        store = store or name  # replicas share one
        self.env = {
            **os.environ,
            "BOOMERANG_KAFKA_BOOTSTRAP": bootstrap,
            "BOOMERANG_TOPIC_PREFIX": prefix,
            "BOOMERANG_LOG_LEVEL": "WARNING",  # a line per send would measure the log
            "BOOMERANG_MESSENGER_PORT": str(self.port),
            "BOOMERANG_MESSENGER_DATABASE_URL": database_url or f"sqlite:///{out / f'messenger-{run_id}-{store}.db'}",
            "BOOMERANG_MESSENGER_GROUP_ID": f"{prefix}messenger",
            "BOOMERANG_MESSENGER_SENDGRID_BASE_URL": sandbox_url,
            "BOOMERANG_MESSENGER_SENDGRID_LOOKUP_LAG_SECONDS": "0",  # the sandbox indexes at once
            "BOOMERANG_MESSENGER_TWILIO_BASE_URL": sandbox_url,
            **{f"BOOMERANG_MESSENGER_{k.upper()}": v for k, v in settings.items()},
        }
        self.group = f"{prefix}messenger"
        self.process: subprocess.Popen | None = None
        self._log = self.log_path.open("wb")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def pids(self, name: str = "messenger") -> dict[str, int]:
        """Its process and its SDK process (adapters.sdk_process), which sends for it."""
        return {name: self.pid, **{f"{name} SDK process": child for child in _children(self.pid)}}

    def start(self, timeout_s: float = 120) -> Messenger:
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("boomerang-messenger")), "serve"], env=self.env, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_until_ready(f"{self.url}/readyz", timeout=timeout_s, alive=self.alive, describe=self.tail)
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def close(self) -> None:
        self.stop()
        self._log.close()

    def metrics(self) -> dict[str, float]:
        """Samples of /metrics keyed by their full line name (labels kept)."""
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=10) as response:
            text = response.read().decode()
        found: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("boomerang_messenger_"):
                name, value = line.rsplit(" ", 1)
                found[name] = float(value)
        return found

    def counted(self, name: str, **labels: str) -> float:
        """The sum of a counter's samples whose labels include `labels`."""
        want = [f'{k}="{v}"' for k, v in labels.items()]
        return sum(v for k, v in self.metrics().items()
                   if k.startswith(f"boomerang_messenger_{name}") and all(w in k for w in want))

    def settled(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.url}/v1/stats", timeout=10) as response:
            totals = json.loads(response.read())["totals"]
        # `delayed` is not an outcome: each order's feedback request waits its 7 days.
        return {state: n for state, n in totals.items() if state != "delayed"}

    def wait_for(self, what: str, done: Callable[[], bool], timeout_s: float, every_s: float = 0.05) -> float:
        deadline = time.monotonic() + timeout_s
        while not done():
            if not self.alive():
                raise BenchFailed(f"the messenger exited while waiting for {what}:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise BenchFailed(f"{what}: not after {timeout_s:.0f}s:\n{self.tail()}")
            time.sleep(every_s)
        return time.perf_counter()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if int(proc_stat(int(entry.name))[1]) == pid:  # its parent
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


class Replicas:
    """Messenger processes in one consumer group on one store, as replicas of a deployment: the
    topic's partitions are shared among them. Started one after the other (the first migrates
    the store); counters are summed over all of them."""

    def __init__(self, members: list[Messenger]) -> None:
        self.members = members

    def start(self) -> Replicas:
        for member in self.members:
            member.start()
        return self

    def close(self) -> None:
        for member in self.members:
            member.close()

    def counted(self, name: str, **labels: str) -> float:
        return sum(member.counted(name, **labels) for member in self.members)

    def pids(self) -> dict[str, int]:
        return {k: v for i, member in enumerate(self.members) for k, v in member.pids(f"messenger {i}").items()}

    def wait_for(self, what: str, done: Callable[[], bool], timeout_s: float, every_s: float = 0.05) -> float:
        return self.members[0].wait_for(what, lambda: self._all_alive(what) and done(), timeout_s, every_s)

    def _all_alive(self, what: str) -> bool:
        for member in self.members:
            if not member.alive():
                raise BenchFailed(f"a messenger replica exited while waiting for {what}:\n{member.tail()}")
        return True


# --- events ----------------------------------------------------------------------------------


def _contact(n: int, run_id: str, *, phone: bool, sms_consent: bool) -> Envelope:
    event = CustomerIdentified(
        email=f"customer{n:06d}@example.com", first_name="Alex", last_name=f"Buyer{n}",
        phone=f"+1415{n % 10_000_000:07d}" if phone else None, sms_marketing_consent=sms_consent if phone else None,
    )
    return Envelope.wrap(event, store_id=STORE, customer_id=f"c{n:06d}", source="bench", time=datetime.now(timezone.utc),
                         id=f"{run_id}-id-{n}")


def _order(n: int, run_id: str, rng: random.Random) -> Envelope:
    lines = [
        OrderLine(product_id=pid, sku=pid.upper(), name=name, category=category,
                  quantity=rng.choice([1, 1, 2]), unit_price=Decimal(rng.randrange(899, 1899)) / 100)
        for pid, name, category in rng.sample(CATALOGUE, rng.choice([1, 1, 2, 3, 4]))
    ]
    subtotal = sum((line.unit_price * line.quantity for line in lines), Decimal(0))
    event = OrderPlaced(order_id=f"o-{n:06d}", placed_at=datetime.now(timezone.utc), total=subtotal + Decimal("4.99"),
                        subtotal=subtotal, shipping=Decimal("4.99"), lines=lines, email=f"customer{n:06d}@example.com")
    return Envelope.wrap(event, store_id=STORE, customer_id=f"c{n:06d}", source="bench", time=event.placed_at,
                         id=f"{run_id}-or-{n}")


def _records(envelopes: list[Envelope]) -> list[tuple[bytes, bytes]]:
    return [(e.key.encode(), e.to_bytes()) for e in envelopes]


def _expected_ids(store: str, customer: str, order_id: str, *channels: str) -> list[str]:
    """The message ids the receipt flow's steps name: one per idempotency key."""
    return [message_id_for(idempotency_key(store, customer, "receipt", step, order_id)) for step in channels]


# --- (a), (b), (c) ---------------------------------------------------------------------------


def _throughput(
    options: Options, broker: LocalKafka, sandbox: Sandbox, run_id: str, say: Callable[[str], None]
) -> dict[str, Any]:
    prefix = f"bench{run_id}a."
    rng = random.Random(SEED)
    n = options.orders
    topic = COMMERCE_EVENTS.named(prefix)
    contacts = [_contact(i, run_id, phone=False, sms_consent=False) for i in range(n)]
    orders = [_order(i, run_id, rng) for i in range(n)]
    sandbox.clear()
    messenger = Messenger(options.out_dir, run_id, "a", broker.bootstrap, prefix, sandbox.url)
    try:
        messenger.start()  # creates the topics
        cpu = CpuMeter({**messenger.pids(), "sandbox": sandbox.pid, "kafka": _kafka_pid(broker)})
        seconds, used = _timed_receipts(messenger, broker, topic, contacts, orders, cpu, options)
        memory = _memory(messenger.pid)
        found = _profile(options, messenger, broker, topic, run_id, say) if options.profile else None
    finally:
        messenger.close()
    sent = sandbox.messages()[:n]
    if len(sent) != n:
        raise BenchFailed(f"(a) the sandbox holds {len(sent)} messages, expected {n} receipts")
    loop_s, sdk_s = (used.get(k, 0.0) / 100 * cpu.last_wall / n for k in ("messenger", "messenger SDK process"))
    cpu_s_per_send = loop_s + sdk_s
    pipeline = {
        "orders": n,
        "sends": n,
        "seconds": round(seconds, 3),
        "sends_per_s": round(rate(n, seconds), 1),
        "cpu_percent_of_one_core": used,
        "messenger_rss_mb": memory,
        "avg_email_html_kb": round(sum(len(m["html"] or "") for m in sent) / n / 1024, 1),
        "how": "contacts consumed first; clock from publishing the orders to the n-th receipt counted as "
               "sent in the messenger's /metrics (polled every 50 ms)",
    }
    say(f"(a) messenger: {pipeline['sends_per_s']:,.0f} sends/s ({used})")
    cpu_figures = {
        "messenger_cpu_ms_per_send": round(cpu_s_per_send * 1000, 3),
        "single_core_sends_per_s": round(1 / cpu_s_per_send, 1),
        "event_loop_process_ms_per_send": round(loop_s * 1000, 3),
        "sdk_process_ms_per_send": round(sdk_s * 1000, 3),
        # Its two processes on two cores of their own: the busier one sets the pace.
        "two_core_sends_per_s": round(1 / max(loop_s, sdk_s), 1),
        "how": "CPU time (utime+stime from /proc/<pid>/stat) of the messenger's processes (the event loop's "
               "and its SDK process's) over (a)'s window divided by its sends; the sandbox, the broker and the "
               "bench are other processes and are excluded; 1 / that is the sends/s one core could carry when "
               "provider round trips cost only waiting (the SDK is blocking, so reaching it needs sends in "
               "parallel); on two cores, 1 / the busier process's share",
    }
    say(f"(c) messenger CPU {cpu_figures['messenger_cpu_ms_per_send']:.2f} ms/send "
        f"(event loop {cpu_figures['event_loop_process_ms_per_send']:.2f}, SDK process "
        f"{cpu_figures['sdk_process_ms_per_send']:.2f}): {cpu_figures['single_core_sends_per_s']:,.0f} sends/s "
        f"per core, {cpu_figures['two_core_sends_per_s']:,.0f} on two")

    floor = _floor(sent)
    bodies = [_mail_body(m, i, run_id) for i, m in enumerate(sent)]
    runs = []
    for threads in (1, options.bare_threads):
        sandbox.clear()
        runs.append(_bare(sandbox, bodies, threads))
        say(f"(b) bare SendGrid SDK, {threads} thread(s): {runs[-1]['requests_per_s']:,.0f} requests/s")
    bare = {**max(runs, key=lambda r: r["requests_per_s"]), "runs": runs,
            "client": "official SendGrid SDK (sendgrid 6.12.5, SendGridAPIClient.client.mail.send.post), "
                      "request bodies pre-built from the messenger's own sends in (a)"}
    kept_runs = []
    for threads in (1, options.bare_threads):
        sandbox.clear()
        kept_runs.append(_bare(sandbox, bodies, threads, kept_alive=True))
        say(f"(b') bare SDK over kept-alive connections, {threads} thread(s): "
            f"{kept_runs[-1]['requests_per_s']:,.0f} requests/s")
    kept = {**max(kept_runs, key=lambda r: r["requests_per_s"]), "runs": kept_runs,
            "client": "as (b), each thread's requests over one kept-alive connection (the messenger's "
                      "KeptAliveConnection in the SDK's _make_request)"}
    sandbox.clear()
    floor["sdk_cpu_ms_per_request"] = runs[0]["client_cpu_ms_per_request"]
    floor["sdk_kept_alive_cpu_ms_per_request"] = kept_runs[0]["client_cpu_ms_per_request"]
    floor["floor_ms_per_send"] = round(floor["sdk_kept_alive_cpu_ms_per_request"] + floor["css_inlining_ms_per_email"], 3)
    floor["ceiling_sends_per_s_per_core"] = round(1000 / floor["floor_ms_per_send"], 1)
    say(f"(f) the official SDK's own CPU {floor['sdk_cpu_ms_per_request']:.2f} ms/request as it comes, "
        f"{floor['sdk_kept_alive_cpu_ms_per_request']:.2f} kept alive; + CSS inlining "
        f"{floor['css_inlining_ms_per_email']:.2f} ms/email: at most {floor['ceiling_sends_per_s_per_core']:,.0f} "
        "sends/s per core before any other work")
    floor["https"] = _https_sdk(options.out_dir, run_id, bodies[:200])
    say(f"(f) over HTTPS: {floor['https']['per_connection_context_ms_per_request']:.2f} ms/request as the SDK comes, "
        f"{floor['https']['shared_context_ms_per_request']:.2f} ms with the one TLS context, "
        f"{floor['https']['kept_alive_ms_per_request']:.2f} ms kept alive as the messenger sends")
    cpu_figures["floor"] = floor
    cpu_figures["own_work"] = own_work(options.out_dir, run_id, contacts, orders)
    say(f"(g) the messenger's own work (no Kafka, no SDK): {cpu_figures['own_work']['cpu_ms_per_order']:.2f} ms/order")
    return {"messenger_pipeline": pipeline, "bare_sdk": bare, "bare_sdk_kept_alive": kept, "cpu": cpu_figures,
            **({"profile": found} if found else {}),
            "ratio_messenger_to_bare": round(pipeline["sends_per_s"] / bare["requests_per_s"], 3),
            "ratio_messenger_to_bare_kept_alive": round(pipeline["sends_per_s"] / kept["requests_per_s"], 3)}


def _timed_receipts(
    group: Messenger | Replicas, broker: LocalKafka, topic: str, contacts: list[Envelope], orders: list[Envelope],
    cpu: CpuMeter, options: Options,
) -> tuple[float, dict[str, float]]:
    """The contacts consumed first; then every order published at once, timed (wall, and the
    CPU of `cpu`'s processes) to the last receipt counted as sent."""
    n = len(orders)
    asyncio.run(kafka.raw_produce(broker.bootstrap, topic, _records(contacts)))
    group.wait_for("contacts", lambda: group.counted("events_total", type=CustomerIdentified.event_type) >= n,
                   options.timeout_s, every_s=0.2)
    cpu.start()
    started = time.perf_counter()
    asyncio.run(kafka.raw_produce(broker.bootstrap, topic, _records(orders)))
    ended = group.wait_for(f"{n:,} receipts",
                           lambda: group.counted("messages_total", flow="receipt", status="sent") >= n, options.timeout_s)
    return ended - started, cpu.stop()


def _scaled_out(
    options: Options, broker: LocalKafka, sandbox: Sandbox, run_id: str, say: Callable[[str], None],
    postgres: LocalPostgres | None,
) -> dict[str, Any]:
    """(a') as (a), with `replicas` messenger processes sharing the topic's partitions and one
    store: what the same machine sends when the messenger uses every core, as the bare SDK's
    threads do."""
    prefix = f"bench{run_id}s."
    rng = random.Random(SEED + 1)
    n, topic = options.orders, COMMERCE_EVENTS.named(prefix)
    contacts = [_contact(i, run_id, phone=False, sms_consent=False) for i in range(n)]
    orders = [_order(i, run_id, rng) for i in range(n)]
    sandbox.clear()
    url = postgres.create_database(f"messenger_{run_id}_s") if postgres else None
    messengers = Replicas([
        Messenger(options.out_dir, run_id, f"s{i}", broker.bootstrap, prefix, sandbox.url, store="s", database_url=url)
        for i in range(options.replicas)
    ])
    try:
        messengers.start()
        cpu = CpuMeter({**messengers.pids(), "sandbox": sandbox.pid, "kafka": _kafka_pid(broker)})
        seconds, used = _timed_receipts(messengers, broker, topic, contacts, orders, cpu, options)
    finally:
        messengers.close()
    sent = len(sandbox.messages())
    sandbox.clear()
    if sent != n:
        raise BenchFailed(f"(a') the sandbox holds {sent} messages, expected {n} receipts")
    figures = {"replicas": options.replicas, "orders": n, "sends": n, "seconds": round(seconds, 3),
               "sends_per_s": round(rate(n, seconds), 1), "cpu_percent_of_one_core": used,
               "store": "postgresql" if postgres else "sqlite",
               "how": "as (a), the messenger as `replicas` processes in one consumer group sharing one store "
                      "(PostgreSQL's own processes are not in the CPU figures)"}
    say(f"(a') {options.replicas} messenger replicas: {figures['sends_per_s']:,.0f} sends/s ({used})")
    return figures


def _profile(
    options: Options, messenger: Messenger, broker: LocalKafka, topic: str, run_id: str, say: Callable[[str], None]
) -> dict[str, Any]:
    """py-spy on the messenger while it sends receipts to new customers (not measured)."""
    n, rng = options.orders, random.Random(SEED + 2)
    contacts = [_contact(i, run_id, phone=False, sms_consent=False) for i in range(n, 2 * n)]
    orders = [_order(i, run_id, rng) for i in range(n, 2 * n)]
    asyncio.run(kafka.raw_produce(broker.bootstrap, topic, _records(contacts)))
    messenger.wait_for("contacts", lambda: messenger.counted("events_total", type=CustomerIdentified.event_type) >= 2 * n,
                       options.timeout_s, every_s=0.2)
    collapsed = options.out_dir / "messenger-profile.txt"
    try:
        recorder = profile.Recorder(messenger.pid, collapsed, subprocesses=True)  # and its SDK process
        time.sleep(1.0)  # py-spy attaches
        asyncio.run(kafka.raw_produce(broker.bootstrap, topic, _records(orders)))
        messenger.wait_for("the profiled receipts",
                           lambda: messenger.counted("messages_total", flow="receipt", status="sent") >= 2 * n,
                           options.timeout_s)
        summary = profile.summarise(recorder.stop(), specific=profile.MESSENGER_SPECIFIC,
                                    generic=profile.MESSENGER_GENERIC)
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:  # e.g. no ptrace here
        say(f"profile: not taken ({str(exc)[:200]})")
        return {"error": str(exc)[:2000]}
    say(f"profile: {summary['samples']} samples in {collapsed}")
    return {"collapsed_stacks": str(collapsed), "receipts": n, **summary}


def _floor(sent: list[dict[str, Any]]) -> dict[str, Any]:
    """(f) Two parts of every email send no messenger can skip, timed alone in this process: the
    messenger's CSS inlining of the very HTML it sent (an email's real size and markup); the
    official SDK's own CPU per request is the 1-thread bare run's, (b) and (b'): the floor takes
    the kept-alive one, as the messenger sends."""
    inline = StyleInliner.of()  # as the email adapter does to each email
    htmls = [m["html"] for m in sent if m["html"]]
    started = time.process_time()
    for html in htmls:
        inline(html)
    inlining_s = time.process_time() - started
    return {"emails": len(htmls), "css_inlining_ms_per_email": round(inlining_s * 1000 / max(len(htmls), 1), 3),
            "how": "CPU time of this process: CSS inlining of (a)'s HTML again (StyleInliner, as the email adapter "
                   "runs it), and the bare SDK's 1-thread run (b') over its requests; rendering the templates, the "
                   "ledger, Kafka and policy come on top"}


def _https_sdk(out: Path, run_id: str, bodies: list[dict[str, Any]]) -> dict[str, Any]:
    """(f) over HTTPS, as against the real SendGrid: the SDK's own CPU per request (this thread's
    CPU time) to a local TLS endpoint that answers at once, the client trusting the system's CA
    bundle and the endpoint's certificate, as the SDK comes (a new TLS context per connection)
    with the one context `share_one_https_context` gives every connection, and over one kept-alive
    connection (`KeptAliveConnection`), as the messenger's SDK process sends."""
    cert, key = self_signed_certificate(out, f"bench-{run_id}")
    bundle = out / f"bench-{run_id}-ca.pem"
    system = ssl.get_default_verify_paths().cafile
    bundle.write_bytes((Path(system).read_bytes() if system and Path(system).exists() else b"") + cert.read_bytes())
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Accepting)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook, trusted = ssl._create_default_https_context, os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = str(bundle)
    try:
        ssl._create_default_https_context = ssl.create_default_context  # the standard library's own
        as_it_comes = _cpu_per_post(server.server_address[1], bodies)
        share_one_https_context()
        shared = _cpu_per_post(server.server_address[1], bodies)
        kept_alive = _cpu_per_post(server.server_address[1], bodies, KeptAliveConnection(shared_https_context))
    finally:
        ssl._create_default_https_context = hook
        if trusted is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = trusted
        server.shutdown()
        server.server_close()
        for path in (cert, key, bundle):
            path.unlink(missing_ok=True)
    return {"requests": len(bodies), "per_connection_context_ms_per_request": as_it_comes,
            "shared_context_ms_per_request": shared, "kept_alive_ms_per_request": kept_alive,
            "how": "this thread's CPU time over the requests, to a TLS endpoint in this process answering 202 at "
                   "once; the CA bundle is the system's plus the endpoint's certificate"}


class _Accepting(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # a connection stays open unless the client asks to close it

    def do_POST(self) -> None:  # noqa: N802 - the standard library's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(202)
        self.send_header("X-Message-Id", "https")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


def _cpu_per_post(port: int, bodies: list[dict[str, Any]], connection: KeptAliveConnection | None = None) -> float:
    send = _mail_send(SendGridAPIClient("SG.bench", host=f"https://127.0.0.1:{port}"), connection).post
    send(request_body=bodies[0], timeout=10)
    started = time.thread_time()
    for body in bodies:
        send(request_body=body, timeout=10)
    return round((time.thread_time() - started) * 1000 / len(bodies), 3)


def _mail_body(m: dict[str, Any], i: int, run_id: str) -> dict[str, Any]:
    """SendGrid v3 Mail Send JSON for a message the sandbox received (a new message id)."""
    args = {**m["custom_args"], MESSAGE_ID: f"{run_id}-bare-{i}"}
    content = [{"type": "text/plain", "value": m["text"]}]
    if m["html"]:
        content.append({"type": "text/html", "value": m["html"]})
    body = {
        "from": {"email": m["from"]},
        "personalizations": [{"to": [{"email": to} for to in m["to"]], "custom_args": args}],
        "subject": m["subject"],
        "content": content,
        "categories": m["categories"],
        "headers": m["headers"],
    }
    if m["reply_to"]:
        body["reply_to"] = {"email": m["reply_to"]}
    return body


def _bare(sandbox: Sandbox, bodies: list[dict[str, Any]], threads: int, kept_alive: bool = False) -> dict[str, Any]:
    """The SDK alone, one client per thread, each thread taking the next body when done."""
    clients = [SendGridAPIClient("SG.bench", host=sandbox.url) for _ in range(threads)]
    connections = [KeptAliveConnection(shared_https_context) if kept_alive else None for _ in range(threads)]
    shares = [bodies[t::threads] for t in range(threads)]

    def push(t: int) -> int:
        send = _mail_send(clients[t], connections[t]).post
        for body in shares[t]:
            send(request_body=body, timeout=10)
        return len(shares[t])

    started, cpu_started = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(threads) as pool:
        done = sum(pool.map(push, range(threads)))
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    landed = len(sandbox.messages())
    if landed != done:
        raise BenchFailed(f"(b) pushed {done} requests, the sandbox holds {landed}")
    for connection in connections:
        if connection is not None:
            connection.close()
    return {"threads": threads, "requests": done, "seconds": round(seconds, 3),
            "requests_per_s": round(rate(done, seconds), 1),
            "client_cpu_ms_per_request": round(cpu_s * 1000 / done, 3)}


def _mail_send(client: SendGridAPIClient, connection: KeptAliveConnection | None) -> Any:
    """The SDK's mail/send endpoint; over `connection` when given, as the messenger wires it."""
    endpoint = client.client.mail.send
    return connection.carry(endpoint) if connection is not None else endpoint


# --- (d) -------------------------------------------------------------------------------------


def _latency(
    options: Options, broker: LocalKafka, sandbox: Sandbox, run_id: str, say: Callable[[str], None],
    postgres: LocalPostgres | None = None,
) -> dict[str, Any]:
    prefix = f"bench{run_id}d."
    count = int(options.latency_rate * options.latency_seconds)
    customers = range(1, count + 1)
    identifies = []
    for n in customers:
        call = identify_call(n, datetime.now(timezone.utc))
        for trait in ("phone", "sms_consent"):  # the email receipt is measured: no SMS in between
            call["traits"].pop(trait, None)
        call["messageId"] = f"{run_id}-identify-{n}"
        identifies.append(call)
    rng = random.Random(SEED)
    orders = []
    for n in customers:
        call = order_call(Purchase(customer=n, day=datetime.now(timezone.utc), cds=rng.choice([1, 1, 2, 3]),
                                   value=Decimal(rng.randrange(999, 4999)) / 100, seq=0))
        call.pop("type")
        call["messageId"] = f"{run_id}-order-{n}"
        orders.append(call)
    sandbox.clear()
    headers = {"Authorization": _basic(WRITE_KEY), "Content-Type": "application/json"}
    url = postgres.create_database(f"messenger_{run_id}_d") if postgres else None
    messengers = Replicas([
        Messenger(options.out_dir, run_id, f"d{i}", broker.bootstrap, prefix, sandbox.url, store="d", database_url=url)
        for i in range(options.replicas)
    ])
    try:
        with Ingest(options.out_dir, run_id, broker.bootstrap, prefix) as ingest:
            messengers.start()
            cpu = CpuMeter(
                {**messengers.pids(), "ingest": ingest.pid, "sandbox": sandbox.pid, "kafka": _kafka_pid(broker)}
            )
            accepted = asyncio.run(
                _post_latency_run(ingest.port, headers, identifies, orders, options, messengers, cpu)
            )
            say(f"(d) {len(accepted):,} orders accepted by ingest at {options.latency_rate:g}/s")
            messengers.wait_for(f"{count:,} receipts",
                                lambda: messengers.counted("messages_total", flow="receipt", status="sent") >= count,
                                options.timeout_s, every_s=0.2)
            used = cpu.stop()
            ingest_alive = ingest.alive()
    finally:
        messengers.close()
    if not ingest_alive:
        raise BenchFailed("ingest exited during the latency run")
    arrived = {m["custom_args"].get(CUSTOMER_ID): m["received_at"] for m in sandbox.messages()
               if m["custom_args"].get(FLOW) == "receipt" and m["provider"] == "sendgrid"}
    latencies = [arrived[c] - t for c, t in accepted.items() if c in arrived]
    missing = len(accepted) - len(latencies)
    if missing:
        raise BenchFailed(f"(d) {missing} accepted orders have no receipt in the sandbox")
    figures = {"rate_per_s": options.latency_rate, "orders": count, "receipts": len(latencies),
               "messenger_replicas": options.replicas, "store": "postgresql" if postgres else "sqlite",
               # From the first order to the last receipt: the cores the whole stack asked for.
               "cpu_percent_of_one_core": used, "cores_busy": round(sum(used.values()) / 100, 2),
               **latency_summary(latencies),
               "how": "wall clock when ingest answered 2xx to the order's /v1/track, to the sandbox's received_at "
                      "of its receipt email (same machine, same clock); contacts identified beforehand; the "
                      "messenger as `messenger_replicas` processes in one consumer group sharing one store (PostgreSQL's "
                      "own processes are not in the CPU figures)"}
    sandbox.clear()
    say(f"(d) order accepted -> receipt in the sandbox: p50 {figures['p50_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms")
    return figures


async def _post_latency_run(
    port: int, headers: dict[str, str], identifies: list[dict], orders: list[dict], options: Options,
    messenger: Messenger | Replicas, cpu: CpuMeter,
) -> dict[str, float]:
    """Identify calls in batches (waited for), then orders open loop: customer -> epoch accepted."""
    async with load.Client("127.0.0.1", port, headers, 64) as http:
        batches = [http.request("/v1/batch", json.dumps({"batch": identifies[i : i + 250]}).encode())
                   for i in range(0, len(identifies), 250)]
        run = await load.post_batches(http, batches, 2)
        if run.errors or run.accepted != len(identifies):
            raise BenchFailed(f"(d) identify batches: {run.accepted} accepted, errors {run.errors}")
        await asyncio.to_thread(
            messenger.wait_for, "contacts",
            lambda: messenger.counted("events_total", type=CustomerIdentified.event_type) >= len(identifies), options.timeout_s,
            0.2)
        accepted: dict[str, float] = {}
        errors: Counter[str] = Counter()

        async def one(call: dict) -> None:
            answer = await http.send(http.request("/v1/track", json.dumps(call).encode()))
            if answer.status == 200:
                accepted[call["userId"]] = time.time()
            else:
                errors[str(answer.status)] += 1

        start = time.perf_counter() + 0.05
        cpu.start()
        tasks = []
        for i, call in enumerate(orders):
            delay = start + i / options.latency_rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(call)))
        await asyncio.gather(*tasks)
    if errors:
        raise BenchFailed(f"(d) /v1/track errors: {dict(errors)}")
    return accepted


# --- (e) -------------------------------------------------------------------------------------


def _reliability(
    options: Options, broker: LocalKafka, sandbox: Sandbox, run_id: str, say: Callable[[str], None]
) -> dict[str, Any]:
    prefix = f"bench{run_id}r."
    n = options.reliability_events
    rng = random.Random(SEED + 1)
    contacts = [_contact(i, run_id, phone=True, sms_consent=i % 2 == 0) for i in range(n)]
    orders = [_order(i, run_id, rng) for i in range(n)]
    expected = set()
    for i in range(n):
        steps = ("email", "sms") if i % 2 == 0 else ("email",)
        expected.update(_expected_ids(STORE, f"c{i:06d}", f"o-{i:06d}", *steps))
    settled_target = 2 * n  # every email and every SMS step sent or suppressed (no consent)
    sandbox.clear()
    # The SMS's ids ride in its StatusCallback's query; the sandbox's /healthz answers its status
    # posts 405 at once, and the sandbox does not retry a 4xx.
    messenger = Messenger(options.out_dir, run_id, "r", broker.bootstrap, prefix, sandbox.url,
                          twilio_status_callback_url=f"{sandbox.url}/healthz")
    started = time.perf_counter()
    kills = []
    try:
        messenger.start()
        records = _records(contacts + orders)
        asyncio.run(kafka.raw_produce(broker.bootstrap, COMMERCE_EVENTS.named(prefix), records + records))
        say(f"(e) {len(records) * 2:,} events published ({n:,} orders and their contacts, each twice)")
        for k in range(options.kills):
            at = settled_target * (k + 1) // (options.kills + 1)
            messenger.wait_for(f"{at:,} settled", lambda at=at: sum(messenger.settled().values()) >= at,
                               options.timeout_s, every_s=0.1)
            settled_then = sum(messenger.settled().values())
            messenger.kill()
            kills.append({"after_settled": settled_then, "at_s": round(time.perf_counter() - started, 1)})
            say(f"(e) SIGKILL {k + 1} after {settled_then:,} settled")
            messenger.start()
        messenger.wait_for("every message settled",
                           lambda: sum(messenger.settled().values()) >= settled_target, options.timeout_s, every_s=0.5)
        messenger.wait_for("every event consumed",
                           lambda: asyncio.run(_lag(broker.bootstrap, messenger.group, COMMERCE_EVENTS.named(prefix))) == 0,
                           options.timeout_s, every_s=0.5)
        totals = messenger.settled()
        stats = _stats(messenger)
    finally:
        messenger.close()
    seconds = time.perf_counter() - started
    seen = Counter(m["custom_args"].get(MESSAGE_ID) for m in sandbox.messages())
    duplicates = {mid: c for mid, c in seen.items() if c > 1}
    lost = expected - set(seen)
    figures = {
        "triggering_events": n,
        "events_published": 4 * n,
        "redelivered": "every event published twice",
        "kills": kills,
        "expected_messages": len(expected),
        "provider_calls": sum(seen.values()),
        "distinct_message_ids": len(seen),
        "duplicates": len(duplicates),
        "lost": len(lost),
        "unexpected": len(set(seen) - expected),
        "ledger_totals": totals,
        "duplicates_avoided": stats.get("duplicates_avoided"),
        "seconds": round(seconds, 1),
        "exactly_once": not duplicates and not lost,
        "how": "message ids (one per idempotency key, carried in custom_args / the SMS callback) counted "
               "in the sandbox's outbox; expected: a receipt email per order, an SMS per consenting customer",
    }
    say(f"(e) {figures['provider_calls']:,} provider calls for {len(expected):,} expected messages: "
        f"{len(duplicates)} duplicates, {len(lost)} lost")
    sandbox.clear()
    return figures


async def _lag(bootstrap: str, group: str, topic: str) -> int:
    ends_total = await kafka.end_offsets(bootstrap, topic)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    done = sum(meta.offset for tp, meta in committed.items() if tp.topic == topic and meta.offset >= 0)
    return ends_total - done


def _stats(messenger: Messenger) -> dict[str, Any]:
    with urllib.request.urlopen(f"{messenger.url}/v1/stats", timeout=10) as response:
        return json.loads(response.read())


# --- the report ------------------------------------------------------------------------------


def _report(options: Options, run_id: str, figures: dict[str, Any], load_before: float) -> dict[str, Any]:
    report: dict[str, Any] = {
        "benchmark": "messenger",
        "run_id": run_id,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(load_before),
        "options": options_of(options),
        **figures,
    }
    measured = [t for t in MESSENGER_TARGETS if t.figure.split(".")[0] in report]
    report["targets"] = judge(report, measured)
    return report
