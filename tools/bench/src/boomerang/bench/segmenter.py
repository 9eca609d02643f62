"""`make bench-segmenter`: the segmenter's faust worker against its limits, in one run.

1. Start a Kafka broker of our own (free ports, data in build/bench, deleted afterwards) and
   create the topics under a prefix unique to the run.
2. Make a shop's history: `customers` customers over the last two years, each with 1-6
   orders (1-4 lines each, some with a coupon), product views and page views around them,
   in time order, as ingest would publish them (shared's envelopes, `store:customer` keys).
   Fit the store's scoring model on a sample of them (the leader's `fit_store`) and publish
   it to the models topic, as the leader would, so every event is scored.
3. (a) The limit: a bare aiokafka consumer (no group, every partition) reads the whole topic;
   run before and after the worker, the faster run is the limit (it hands over bytes, in
   batches of up to 10,000, and decodes nothing). For reference, a second bare consumer also
   parses every envelope as the worker does (`Envelope.from_bytes`, pydantic). The worker: `python -m
   boomerang.segmenter worker` as a process, RocksDB tables as in production, started on the
   full topic. Its events/s counts from the moment it loaded the model to the last event
   (`/metrics`), so every counted event was parsed, stepped, scored, published and saved.
   With `profile`, py-spy then samples the worker while it takes one more, smaller history
   (not measured).
4. (c) Memory: the worker's RSS when it became ready and after the history, and the size on
   disk of its RocksDB tables after a clean stop, per million customers (extrapolated).
5. (b) The sweep: the due table's changelog gets rows for more customers (not due) up to
   `sweep_customers`, as if they had been written by events; a second worker recovers every
   table from the changelogs into RocksDB (timed), and its sweep timer scans the whole due
   table: the scan's time (its own metric), then how fast the ticks it queued are applied.
Writes build/bench/segmenter.json and returns the report. Exit 0 when the run measured what it
set out to, whether or not the targets were met.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from boomerang.bench import kafka, profile
from boomerang.bench.ingest import BenchFailed, CpuMeter, _kafka_pid, _memory
from boomerang.bench.report import SEGMENTER_TARGETS, judge, machine, options_of, rate
from boomerang.devstack.history import CATALOGUE
from boomerang.devstack.kafka_broker import LocalKafka, free_port, repo_root
from boomerang.devstack.waiting import wait_until_ready
from boomerang.segmenter.adapters.faust_io import encode_due
from boomerang.segmenter.adapters.policy_files import default_policy
from boomerang.segmenter.bootstrap import MODELS, TOPICS, app_id
from boomerang.segmenter.domain import CustomerState, SegmentPolicy
from boomerang.segmenter.domain.lifecycle import step
from boomerang.segmenter.domain.scorecard import fit_store
from boomerang.segmenter.settings import SegmenterSettings
from boomerang.shared.events import Envelope, OrderLine, OrderPlaced, PageViewed, ProductViewed
from boomerang.shared.kafka import COMMERCE_EVENTS, CUSTOMER_SCORES, CUSTOMER_SEGMENTS, ensure_topics
from boomerang.shared.settings import CommonSettings

STORE = "bench-shop"
SEED = 20260301
FIT_SAMPLE = 5000  # customers the model is fitted on (the leader fits on all; the fit is not measured)
PROFILED_SHARE = 0.25  # of `customers`, for the profiled pass
ID_SPACE = uuid.UUID("0b5e7c1a-55e9-4d1e-8f61-3c7b0a9d2e41")


@dataclass(frozen=True)
class Options:
    customers: int = 20_000  # with a history each (about 5.6 events), through the worker: (a) and (c)
    sweep_customers: int = 1_000_000  # rows in the due table the sweep scans: (b)
    batch_max_events: int = 500
    profile: bool = False  # py-spy on the worker during one more, smaller history (not measured)
    timeout_s: float = 1800.0  # for any one wait (the worker to drain, to recover, to sweep)
    out_dir: Path = field(default_factory=lambda: repo_root() / "build" / "bench")


def run(options: Options, say: Callable[[str], None] = print) -> dict[str, Any]:
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # "not leader" retries while new topics settle
    out = options.out_dir
    out.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex[:10]
    load_before = os.getloadavg()[0]
    prefix = f"bench{run_id}."
    now = datetime.now(timezone.utc).replace(microsecond=0)
    started = time.monotonic()
    history = History.make(options.customers, run_id, now, tag="a")
    say(f"run {run_id}: {history.events:,} events for {options.customers:,} customers "
        f"({history.counts}) made in {time.monotonic() - started:.1f}s")
    model_json, fitted_on = _fit_model(history, now)

    broker = LocalKafka(data_dir=out / f"kafka-{run_id}", port=free_port(), controller_port=free_port())
    broker.start()
    say(f"Kafka at {broker.bootstrap}")
    data_dir = out / f"segmenter-{run_id}"
    try:
        asyncio.run(ensure_topics(broker.bootstrap, prefix, TOPICS))
        figures = _measure(options, history, model_json, broker, prefix, data_dir, now, say)
        figures["model"] = {"fitted_on_customers": fitted_on}
    finally:
        broker.reset()  # stops it and deletes its data
        _remove(data_dir)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{out / f'segmenter-{run_id}.db'}{suffix}").unlink(missing_ok=True)
    report = _report(options, run_id, history, figures, load_before)
    (out / "segmenter.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


# --- the shop's history ----------------------------------------------------------------------


@dataclass
class History:
    records: list[tuple[bytes, bytes]]  # (key, envelope bytes), in time order
    sample: list[Envelope]  # the first customers' envelopes, for the model fit
    counts: dict[str, int]

    @property
    def events(self) -> int:
        return len(self.records)

    @classmethod
    def make(cls, customers: int, run_id: str, now: datetime, *, tag: str, first: int = 0) -> History:
        """Customers `first`..`first + customers`; the same shapes on every run (fixed seed),
        envelope ids unique to the run."""
        rng = random.Random(f"{SEED}-{tag}")
        timed: list[tuple[datetime, bytes, bytes]] = []
        sample: list[Envelope] = []
        counts = {"order": 0, "product_viewed": 0, "page_viewed": 0}
        for n in range(first, first + customers):
            for seq, envelope in enumerate(_customer_history(rng, n, now)):
                envelope = envelope.model_copy(update={"id": str(uuid.uuid5(ID_SPACE, f"{run_id}:{tag}:{n}:{seq}"))})
                timed.append((envelope.time, envelope.key.encode(), envelope.to_bytes()))
                counts[_KINDS[envelope.type]] += 1
                if n - first < FIT_SAMPLE:
                    sample.append(envelope)
        timed.sort(key=lambda item: item[0])
        return cls([(key, value) for _, key, value in timed], sample, counts)


_KINDS = {OrderPlaced.event_type: "order", ProductViewed.event_type: "product_viewed", PageViewed.event_type: "page_viewed"}


def _customer_history(rng: random.Random, n: int, now: datetime) -> list[Envelope]:
    """A buyer: first order up to two years ago, then orders at their own pace (some lapse),
    each preceded by a visit and a product view or two; every fifth customer only browsed."""
    customer = f"c{n:07d}"
    wrap = lambda event, at: Envelope.wrap(event, store_id=STORE, customer_id=customer, source="bench", time=at)  # noqa: E731
    at = now - timedelta(days=rng.uniform(2, 730), seconds=rng.randrange(86_400))
    envelopes = []
    if n % 5 == 4:  # a prospect: visits, no order
        for _ in range(rng.randint(1, 3)):
            envelopes.append(wrap(_page_view(rng), at))
            at += timedelta(days=rng.expovariate(1 / 20))
        return [e for e in envelopes if e.time < now]
    pace_days = rng.choice([20, 45, 90, 180])
    for order in range(rng.choice([1, 1, 1, 2, 2, 3, 4, 6])):
        if at >= now - timedelta(hours=1):
            break
        product = rng.choice(CATALOGUE)
        envelopes.append(wrap(_page_view(rng), at - timedelta(minutes=12)))
        envelopes.append(wrap(_product_view(rng, product), at - timedelta(minutes=6)))
        envelopes.append(wrap(_order(rng, customer, order, product, at), at))
        at += timedelta(days=rng.expovariate(1 / pace_days) + 1)
    return envelopes


def _page_view(rng: random.Random) -> PageViewed:
    path = rng.choice(["/", "/collections/jazz", "/collections/rock", "/cart", "/search?q=blue"])
    return PageViewed(name="Browse", url=f"https://shop.example.com{path}", path=path, title="Shop",
                      referrer="https://www.google.com/")


def _product_view(rng: random.Random, product: tuple[str, str, str]) -> ProductViewed:
    product_id, name, category = product
    return ProductViewed(product_id=product_id, name=name, category=category,
                         price=Decimal(rng.randrange(899, 1899)) / 100,
                         url=f"https://shop.example.com/products/{product_id}")


def _order(rng: random.Random, customer: str, seq: int, first: tuple[str, str, str], at: datetime) -> OrderPlaced:
    products = [first, *rng.sample(CATALOGUE, rng.choice([0, 0, 1, 1, 2, 3]))]
    lines = [
        OrderLine(product_id=pid, sku=pid.upper(), name=name, category=category,
                  quantity=rng.choice([1, 1, 1, 2]), unit_price=Decimal(rng.randrange(899, 1899)) / 100)
        for pid, name, category in products
    ]
    subtotal = sum((line.unit_price * line.quantity for line in lines), Decimal(0))
    coupon = rng.choice([None, None, None, "WELCOME10"])
    discount = (subtotal / 10).quantize(Decimal("0.01")) if coupon else Decimal(0)
    shipping = Decimal("4.99")
    return OrderPlaced(
        order_id=f"{customer}-{seq}", placed_at=at, total=subtotal - discount + shipping, subtotal=subtotal,
        shipping=shipping, discount=discount or None, coupon=coupon, lines=lines,
        email=f"{customer}@example.com",
    )


def _fit_model(history: History, now: datetime) -> tuple[str, int]:
    """The leader's fit on the first customers' states, stepped with the domain's own `step`."""
    states: dict[str, CustomerState] = {}
    policy, lifecycle = SegmentPolicy(), default_policy()
    for envelope in sorted(history.sample, key=lambda e: e.time):
        state = states.get(envelope.key) or CustomerState(envelope.store_id, envelope.customer_id)
        states[envelope.key] = step(state, envelope, now, policy, lifecycle).state
    buyers = [s for s in states.values() if s.orders > 0]
    model = fit_store(STORE, buyers, now, min_customers=min(100, max(len(buyers), 2)))
    if model is None:
        raise BenchFailed(f"no scoring model could be fitted on {len(buyers)} customers")
    return model.to_json(), len(buyers)


# --- the worker as a process -----------------------------------------------------------------


class Worker:
    """`python -m boomerang.segmenter worker` with its own port, data dir and log file."""

    def __init__(self, out: Path, data_dir: Path, bootstrap: str, prefix: str, name: str, **settings: Any) -> None:
        self.port = free_port()
        self.log_path = out / f"segmenter-{name}.log"
        self.data_dir = data_dir
        self.env = {
            **os.environ,
            "BOOMERANG_KAFKA_BOOTSTRAP": bootstrap,
            "BOOMERANG_TOPIC_PREFIX": prefix,
            "BOOMERANG_LOG_LEVEL": "WARNING",  # a line per transition would measure the log, not the worker
            "BOOMERANG_SEGMENTER_DATA_DIR": str(data_dir),
            "BOOMERANG_SEGMENTER_PORT": str(self.port),
            "BOOMERANG_SEGMENTER_DATABASE_URL": f"sqlite:///{data_dir.parent / (data_dir.name + '.db')}",
            **{f"BOOMERANG_SEGMENTER_{k.upper()}": str(v) for k, v in settings.items()},
        }
        self.process: subprocess.Popen | None = None
        self.ready_after_s = 0.0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout_s: float) -> Worker:
        started = time.monotonic()
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "boomerang.segmenter", "worker"], env=self.env, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_until_ready(f"http://127.0.0.1:{self.port}/readyz", timeout=timeout_s, alive=self.alive, describe=self.tail)
        self.ready_after_s = time.monotonic() - started
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def metrics(self) -> dict[str, float]:
        """Every sample of /metrics, labels dropped and summed (`name` -> value)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as response:
            text = response.read().decode()
        found: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("boomerang_segmenter_"):
                name, value = line.split("{", 1)[0].split(" ", 1)[0], line.rsplit(" ", 1)[1]
                found[name] = found.get(name, 0.0) + float(value)
        return found

    def wait_for(self, what: str, done: Callable[[dict[str, float]], bool], timeout_s: float) -> tuple[float, dict]:
        """Poll /metrics every 0.25 s until `done`; (when, the metrics then)."""
        deadline = time.monotonic() + timeout_s
        while True:
            if not self.alive():
                raise BenchFailed(f"the worker exited while waiting for {what}:\n{self.tail()}")
            seen = self.metrics()
            if done(seen):
                return time.perf_counter(), seen
            if time.monotonic() > deadline:
                raise BenchFailed(f"{what}: not after {timeout_s:.0f}s ({_short(seen)}):\n{self.tail()}")
            time.sleep(0.25)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


def _short(seen: dict[str, float]) -> str:
    keep = ("events_processed_total", "sweep_scanned_total", "sweep_due_total", "swept_total", "models_loaded_total")
    return ", ".join(f"{k}={seen.get(f'boomerang_segmenter_{k}', 0):g}" for k in keep)


# --- measuring -------------------------------------------------------------------------------


def _measure(
    options: Options, history: History, model_json: str, broker: LocalKafka, prefix: str, data_dir: Path,
    now: datetime, say: Callable[[str], None],
) -> dict[str, Any]:
    bootstrap, out = broker.bootstrap, options.out_dir
    commerce = COMMERCE_EVENTS.named(prefix)
    asyncio.run(kafka.raw_produce(bootstrap, MODELS.named(prefix), [(STORE.encode(), model_json.encode())]))
    asyncio.run(kafka.raw_produce(bootstrap, commerce, history.records))
    figures: dict[str, Any] = {}

    raw_runs = [asyncio.run(_raw(bootstrap, commerce))]
    say(f"(a) raw consumer: {raw_runs[0]['events_per_s']:,.0f} events/s")
    figures["raw_decoding_consumer"] = asyncio.run(_raw(bootstrap, commerce, decode=Envelope.from_bytes))
    say(f"(a) raw consumer parsing each envelope: {figures['raw_decoding_consumer']['events_per_s']:,.0f} events/s")

    quiet = {"sweep_interval_s": 3600, "model_fit_interval_s": 3600, "commit_interval_s": 2.8,
             "batch_max_events": options.batch_max_events}
    worker = Worker(out, data_dir, bootstrap, prefix, "a", **quiet)
    cpu = CpuMeter({"kafka": _kafka_pid(broker)})
    try:
        worker.start(options.timeout_s)
        ready_rss = _memory(worker.pid)["rss_mb"]
        cpu = CpuMeter({"worker": worker.pid, "kafka": _kafka_pid(broker)})
        t0, at_model = worker.wait_for("the scoring model", lambda m: m.get(_M("models_loaded_total"), 0) >= 1, 120)
        cpu.start()
        n0 = at_model.get(_M("events_processed_total"), 0)
        t1, at_end = worker.wait_for(
            f"{history.events:,} events processed",
            lambda m: m.get(_M("events_processed_total"), 0) + m.get(_M("dead_lettered_total"), 0) >= history.events,
            options.timeout_s,
        )
        used = cpu.stop()
        processed = at_end[_M("events_processed_total")] - n0
        segments = asyncio.run(kafka.end_offsets(bootstrap, CUSTOMER_SEGMENTS.named(prefix)))
        scores = asyncio.run(kafka.end_offsets(bootstrap, CUSTOMER_SCORES.named(prefix)))
        figures["worker"] = {
            "events": history.events,
            "counted_events": int(processed),
            "events_before_model_loaded": int(n0),
            "seconds": round(t1 - t0, 3),
            "events_per_s": round(rate(int(processed), t1 - t0), 1),
            "batches": int(at_end.get(_M("batch_seconds_count"), 0)),
            "mean_batch_size": round(at_end.get(_M("batch_size_sum"), 0) / max(at_end.get(_M("batch_size_count"), 1), 1), 1),
            "dead_lettered": int(at_end.get(_M("dead_lettered_total"), 0)),
            "segment_changes_published": segments,
            "scores_published": scores,
            "cpu_percent_of_one_core": used,
            "worker_cpu_ms_per_event": round(used.get("worker", 0) / 100 * (t1 - t0) * 1000 / max(processed, 1), 3),
            "ready_after_s": round(worker.ready_after_s, 1),
        }
        say(f"(a) worker: {figures['worker']['events_per_s']:,.0f} events/s "
            f"({scores:,} scores, {segments:,} segment changes published)")
        after_rss = _memory(worker.pid)
        if options.profile:
            figures["profile"] = _profile(options, worker, bootstrap, commerce, history, now, say)
    finally:
        worker.stop()
    disk = _table_sizes(data_dir / app_id(_settings(prefix)))
    figures["memory"] = _memory_figures(options.customers, ready_rss, after_rss, disk)
    say(f"(c) {figures['memory']['rss_growth_mb_per_million_customers']:,.0f} MB RSS and "
        f"{figures['memory']['disk_mb_per_million_customers']:,.0f} MB on disk per million customers")

    raw_runs.append(asyncio.run(_raw(bootstrap, commerce)))
    say(f"(a) raw consumer, again: {raw_runs[1]['events_per_s']:,.0f} events/s")
    figures["raw_consumer"] = {**max(raw_runs, key=lambda r: r["events_per_s"]), "runs": raw_runs}
    figures["plain_faust"] = _plain_faust(bootstrap, commerce, history.events, out, options.timeout_s)
    say(f"(a) plain faust agent (in-memory table, one event at a time): {figures['plain_faust']['events_per_s']:,.0f} events/s")

    figures["sweep"] = _sweep(options, broker, prefix, data_dir, now, say)
    return figures


def _M(name: str) -> str:
    return f"boomerang_segmenter_{name}"


async def _raw(bootstrap: str, topic: str, decode: Callable[[bytes], Any] | None = None) -> dict[str, Any]:
    expected = await kafka.end_offsets(bootstrap, topic)
    count, seconds = await kafka.raw_consume(bootstrap, topic, COMMERCE_EVENTS.partitions, decode=decode)
    if count != expected:
        raise BenchFailed(f"raw consumer: read {count} records, the topic holds {expected}")
    return {"events": count, "seconds": round(seconds, 3), "events_per_s": round(rate(count, seconds), 1)}


def _profile(
    options: Options, worker: Worker, bootstrap: str, commerce: str, history: History, now: datetime,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """py-spy on the worker while it takes a history of new customers (not measured)."""
    extra = History.make(max(int(options.customers * PROFILED_SHARE), 1), uuid.uuid4().hex[:10], now, tag="p",
                         first=options.customers)
    before = worker.metrics().get(_M("events_processed_total"), 0)
    collapsed = options.out_dir / "segmenter-profile.txt"
    try:
        recorder = profile.Recorder(worker.pid, collapsed)
        time.sleep(1.0)  # py-spy attaches
        asyncio.run(kafka.raw_produce(bootstrap, commerce, extra.records))
        worker.wait_for("the profiled events", lambda m: m.get(_M("events_processed_total"), 0) >= before + extra.events,
                        options.timeout_s)
        summary = profile.summarise(recorder.stop(), specific=profile.SEGMENTER_SPECIFIC, generic=profile.SEGMENTER_GENERIC)
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:  # e.g. no ptrace here
        say(f"profile: not taken ({str(exc)[:200]})")
        return {"error": str(exc)[:2000]}
    say(f"profile: {summary['samples']} samples in {collapsed}")
    return {"collapsed_stacks": str(collapsed), "events": extra.events, **summary}


def _sweep(
    options: Options, broker: LocalKafka, prefix: str, data_dir: Path, now: datetime, say: Callable[[str], None]
) -> dict[str, Any]:
    """Fill the due table (through its changelog) up to `sweep_customers`, recover it into a new
    worker's RocksDB, and time the sweep's scan and the application of the ticks it queued."""
    bootstrap = broker.bootstrap
    fillers = max(options.sweep_customers - options.customers, 0)
    changelog = f"{app_id(_settings(prefix))}-due-changelog"
    started = time.perf_counter()
    asyncio.run(_fill_due(bootstrap, changelog, fillers, now))
    say(f"(b) {fillers:,} more customers' due times in {changelog} in {time.perf_counter() - started:.1f}s")
    interval = 10.0  # one scan of the whole table every 10 s; a customer is queued again after 10 scans
    worker = Worker(options.out_dir, data_dir, bootstrap, prefix, "b", sweep_interval_s=interval,
                    model_fit_interval_s=3600, batch_max_events=options.batch_max_events)
    try:
        worker.start(options.timeout_s)
        recovered_rss = _memory(worker.pid)["rss_mb"]
        say(f"(b) worker ready (tables recovered) after {worker.ready_after_s:.1f}s")
        _, scanned = worker.wait_for("the first sweep", lambda m: m.get(_M("sweep_scan_seconds_count"), 0) >= 1,
                                     options.timeout_s)
        t_queued = time.perf_counter()
        rows = scanned.get(_M("sweep_scanned_total"), 0)
        scan_s = scanned[_M("sweep_scan_seconds_sum")]
        # Every tick this fresh worker applies comes from its sweep timer (the due customers, and a
        # re-score of every customer for the model it loaded at start): with a small table they
        # can all be applied before the first scan's metrics are read, so none is subtracted.
        # The timer counts the due customers after the scan's own metrics, then sends their ticks.
        _, queued = _until_still(worker, _M("sweep_due_total"), options.timeout_s, still_s=1.0)
        if queued > 0:
            worker.wait_for("the first tick applied", lambda m: m.get(_M("swept_total"), 0) >= 1, options.timeout_s)
        t_done, applied = _until_still(worker, _M("swept_total"), options.timeout_s)
        figures = {
            "due_table_rows_scanned": int(rows),
            "scan_seconds": round(scan_s, 3),
            "scan_rows_per_s": round(rate(int(rows), scan_s), 1),
            "scan_seconds_per_million": round(scan_s / max(rows, 1) * 1_000_000, 3),
            "due_found": int(queued),
            "ticks_applied": int(applied),
            "apply_seconds": round(t_done - t_queued, 3),
            "ticks_applied_per_s": round(rate(int(applied), t_done - t_queued), 1),
            "recovery_seconds": round(worker.ready_after_s, 1),
            "rss_after_recovery_mb": recovered_rss,
            "customers_with_state": options.customers,
            "filler_due_rows": fillers,
        }
    finally:
        worker.stop()
    say(f"(b) sweep: scanned {figures['due_table_rows_scanned']:,} due rows in {figures['scan_seconds']:.2f}s, "
        f"{figures['due_found']:,} due; {figures['ticks_applied_per_s']:,.0f} ticks applied/s")
    return figures


def _until_still(worker: Worker, name: str, timeout_s: float, still_s: float = 3.0) -> tuple[float, float]:
    """Wait until the counter stops growing for `still_s`: (when it last grew, its value)."""
    deadline = time.monotonic() + timeout_s
    last, changed = worker.metrics().get(name, 0.0), time.perf_counter()
    while time.perf_counter() - changed < still_s:
        if time.monotonic() > deadline or not worker.alive():
            raise BenchFailed(f"{name} kept changing (or the worker exited):\n{worker.tail()}")
        time.sleep(0.25)
        now = worker.metrics().get(name, 0.0)
        if now != last:
            last, changed = now, time.perf_counter()
    return changed, last


async def _fill_due(bootstrap: str, topic: str, count: int, now: datetime) -> None:
    """Rows a worker would have written for customers due next year, keyed and partitioned like
    theirs (aiokafka's default partitioner, as faust's producer uses)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    try:
        value = encode_due(now + timedelta(days=365))
        for start in range(0, count, 20_000):
            sent = [
                await producer.send(topic, value, key=f"{STORE}:filler-{n:08d}".encode())
                for n in range(start, min(start + 20_000, count))
            ]
            await asyncio.gather(*sent)
    finally:
        await producer.stop()


def _settings(prefix: str) -> SegmenterSettings:
    return SegmenterSettings(common=CommonSettings(topic_prefix=prefix))


def _table_sizes(app_dir: Path) -> dict[str, int]:
    """Bytes on disk under each table's RocksDB directories (SST files, WAL, manifests)."""
    sizes: dict[str, int] = {}
    for path in app_dir.rglob("*"):
        if path.is_file():
            table = next((part for part in path.relative_to(app_dir).parts if part.endswith(".db")), "other")
            name = table.split("-")[0] if table != "other" else "other"
            sizes[name] = sizes.get(name, 0) + path.stat().st_size
    return sizes


def _memory_figures(customers: int, ready_rss: float, after: dict[str, float], disk: dict[str, int]) -> dict[str, Any]:
    per_million = 1_000_000 / max(customers, 1)
    state_bytes = sum(size for table, size in disk.items() if table in ("customers", "due"))
    return {
        "customers": customers,
        "rss_at_ready_mb": ready_rss,
        "rss_after_mb": after["rss_mb"],
        "peak_rss_mb": after["peak_rss_mb"],
        "rss_growth_mb_per_million_customers": round((after["rss_mb"] - ready_rss) * per_million, 1),
        "disk_bytes_by_table": disk,
        "disk_mb_per_million_customers": round(state_bytes / 2**20 * per_million, 1),
        "how": (
            "RSS (/proc VmRSS) of the worker when ready and after the history, growth extrapolated "
            "linearly to 1M customers; disk: bytes of the customers and due RocksDB directories "
            "after a clean stop (SST, WAL, manifests), extrapolated the same way"
        ),
    }


def _remove(path: Path) -> None:
    if path.exists():
        subprocess.run(["rm", "-rf", str(path)], check=False)


def _report(
    options: Options, run_id: str, history: History, figures: dict[str, Any], load_before: float
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "benchmark": "segmenter",
        "run_id": run_id,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(load_before),
        "options": options_of(options),
        "history": {"customers": options.customers, "events": history.events, **history.counts},
        **figures,
        "ratio_worker_to_raw": round(figures["worker"]["events_per_s"] / figures["raw_consumer"]["events_per_s"], 4),
        # Not the target's figure (that is the bare consumer's, above): against a consumer that
        # at least parses what it reads.
        "ratio_worker_to_raw_decoding": round(
            figures["worker"]["events_per_s"] / figures["raw_decoding_consumer"]["events_per_s"], 4
        ),
        # Not a target: how far the segmenter's own work is from the framework's floor.
        "ratio_worker_to_plain_faust": round(figures["worker"]["events_per_s"] / figures["plain_faust"]["events_per_s"], 4),
        "ratio_plain_faust_to_raw": round(figures["plain_faust"]["events_per_s"] / figures["raw_consumer"]["events_per_s"], 4),
    }
    report["targets"] = judge(report, SEGMENTER_TARGETS)
    return report


def _plain_faust(bootstrap: str, topic: str, events: int, out: Path, timeout_s: float) -> dict[str, Any]:
    """The plain faust agent (`plain_faust`) over the same topic: the framework's own ceiling."""
    result = out / "plain-faust.json"
    result.unlink(missing_ok=True)
    data_dir = out / f"plain-faust-{uuid.uuid4().hex[:8]}"
    with (out / "plain-faust.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "boomerang.bench.plain_faust", bootstrap, topic, str(events), str(result), str(data_dir)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    _remove(data_dir)
    if not result.is_file():
        raise BenchFailed(f"the plain faust agent did not finish:\n{(out / 'plain-faust.log').read_text(errors='replace')[-2000:]}")
    measured = json.loads(result.read_text())
    return {**measured, "events_per_s": round(rate(measured["events"], measured["seconds"]), 1)}
