"""`make bench-ingest`: ingest against its limit, on one broker, with one set of payloads.

1. Start a Kafka broker of our own (free ports, data in build/bench, deleted afterwards) and
   create the topics under a prefix unique to the run.
2. (a) The limit: a bare aiokafka producer with ingest's producer settings sends the very bytes
   ingest would publish for the batch payloads (mapped here with ingest's own mapping, same keys)
   as fast as it can. Run before and after (b); the faster run is the limit.
3. (b) `boomerang-ingest serve` as a real process (SQLite store made with its CLI) takes the same
   calls through `/v1/batch` from concurrent clients: full validation, de-duplication, acks=all.
   Events/s from the first request to the last 2xx; the topic's end offsets must have grown by
   exactly the events sent, or the run fails.
4. (c) Single `/v1/track` calls at a fixed rate, open loop, latency from each planned send time.
5. (d) The ingest process's peak RSS (VmHWM).
Writes build/bench/ingest.json and prints a table. Exit 0 when the run measured what it set out
to, whether or not the targets were met; non-zero only when the benchmark itself failed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import uvloop

from boomerang.bench import kafka, load, payloads, profile
from boomerang.bench.report import INGEST_TARGETS, judge, latency_summary, machine, options_of, rate
from boomerang.devstack.kafka_broker import LocalKafka, free_port, repo_root
from boomerang.devstack.waiting import wait_until_ready
from boomerang.ingest.domain.mapping import Rules, to_envelope
from boomerang.shared.kafka import COMMERCE_EVENTS, TopicSpec, ensure_topics

STORE = "bench-shop"
WRITE_KEY = "bench-write-key-0123456789abcdef"
RAW_TOPIC = TopicSpec("bench.raw.v1", partitions=COMMERCE_EVENTS.partitions)
WARMUP_EVENTS = 2000
PROFILED_TRACK_S = 5.0


class BenchFailed(Exception):
    """The benchmark could not measure honestly (a crash, errors under load, events missing)."""


@dataclass(frozen=True)
class Options:
    events: int = 20_000  # through (a) and (b)
    batch_size: int = 250  # calls per /v1/batch (about 190 KB)
    concurrency: int = 4  # batch clients
    rate: float = 500.0  # /v1/track requests per second
    seconds: float = 15.0  # of the measured open loop
    warmup_s: float = 2.0  # open loop at the same rate first, not counted
    connections: int = 64  # open-loop connection pool
    profile: bool = True  # py-spy on one more batch pass (not measured)
    out_dir: Path = field(default_factory=lambda: repo_root() / "build" / "bench")


@dataclass
class Calls:
    batch: list[dict]
    warmup: list[dict]
    track: list[dict]
    track_warmup: list[dict]
    profiled: list[dict]
    profiled_track: list[dict]


def run(options: Options, say: Callable[[str], None] = print) -> dict[str, Any]:
    out = options.out_dir
    out.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex[:10]
    load_before = os.getloadavg()[0]
    prefix = f"bench{run_id}."
    calls = _calls(options, run_id)
    say(f"run {run_id}: {len(calls.batch):,} batch calls, {len(calls.track):,} track calls")

    broker = LocalKafka(data_dir=out / f"kafka-{run_id}", port=free_port(), controller_port=free_port())
    started = time.monotonic()
    broker.start()
    say(f"Kafka at {broker.bootstrap} in {time.monotonic() - started:.1f}s")
    try:
        asyncio.run(ensure_topics(broker.bootstrap, prefix, (COMMERCE_EVENTS, RAW_TOPIC)))
        with Ingest(out, run_id, broker.bootstrap, prefix) as ingest:
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:  # as uvicorn runs ingest
                figures = runner.run(_measure(options, calls, ingest, broker, prefix, say))
    finally:
        broker.reset()  # stops it and deletes its data
    report = _report(options, run_id, figures, load_before)
    path = out / "ingest.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return report


def _calls(options: Options, run_id: str) -> Calls:
    track_count = int(options.rate * options.seconds)
    return Calls(
        batch=payloads.calls(options.events, run_id=run_id, tag="b"),
        warmup=payloads.calls(WARMUP_EVENTS, run_id=run_id, tag="w"),
        track=payloads.track_calls(track_count, run_id=run_id, tag="t"),
        track_warmup=payloads.track_calls(int(options.rate * options.warmup_s), run_id=run_id, tag="u"),
        profiled=payloads.calls(options.events if options.profile else 0, run_id=run_id, tag="p"),
        profiled_track=payloads.track_calls(
            int(options.rate * PROFILED_TRACK_S) if options.profile else 0, run_id=run_id, tag="q"
        ),
    )


class Ingest:
    """`boomerang-ingest serve` as a process, with a store made by its CLI; logs to a file."""

    def __init__(self, out: Path, run_id: str, bootstrap: str, prefix: str) -> None:
        self.port = free_port()
        self.log_path = out / "ingest.log"
        self.env = {
            **os.environ,
            "BOOMERANG_KAFKA_BOOTSTRAP": bootstrap,
            "BOOMERANG_TOPIC_PREFIX": prefix,
            "BOOMERANG_INGEST_PORT": str(self.port),
            "BOOMERANG_INGEST_DATABASE_URL": f"sqlite:///{out / f'ingest-{run_id}.db'}",
            # Capacity, not the per-store limit, is measured: the limiter still runs, but never says no.
            "BOOMERANG_INGEST_RATE_LIMIT_PER_S": "1000000",
            "BOOMERANG_INGEST_RATE_LIMIT_BURST": "1000000",
        }
        self.db_path = out / f"ingest-{run_id}.db"
        self.cli = str(Path(sys.executable).with_name("boomerang-ingest"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def __enter__(self) -> Ingest:
        created = subprocess.run(
            [self.cli, "stores", "create", STORE, "--write-key", WRITE_KEY],
            env=self.env, capture_output=True, text=True, check=False,
        )
        if created.returncode != 0:
            raise BenchFailed(f"boomerang-ingest stores create failed:\n{created.stdout}{created.stderr}")
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [self.cli, "serve"], env=self.env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )
        wait_until_ready(
            f"{self.url}/readyz", timeout=60, alive=self.alive, describe=lambda: self.log_path.read_text()[-3000:]
        )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __exit__(self, *exc_info: object) -> None:
        if self.process is not None and self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.db_path}{suffix}").unlink(missing_ok=True)


async def _measure(
    options: Options, calls: Calls, ingest: Ingest, broker: LocalKafka, prefix: str, say: Callable[[str], None]
) -> dict[str, Any]:
    bootstrap = broker.bootstrap
    commerce = COMMERCE_EVENTS.named(prefix)
    records = _published_bytes(calls.batch)
    headers = {"Authorization": _basic(WRITE_KEY), "Content-Type": "application/json"}
    figures: dict[str, Any] = {}
    cpu = CpuMeter({"ingest": ingest.pid, "kafka": _kafka_pid(broker)})

    # (a) the limit, first pass
    raw_runs = [await _raw(bootstrap, RAW_TOPIC.named(prefix), records, cpu)]
    say(f"(a) raw producer: {raw_runs[0]['events_per_s']:,.0f} events/s")

    # (b) ingest /v1/batch, after a warm-up that is not counted
    async with load.Client("127.0.0.1", ingest.port, headers, options.concurrency) as http:
        batches = _batch_requests(http, calls.batch, options.batch_size)
        warmup = _batch_requests(http, calls.warmup, options.batch_size)
        warm = await load.post_batches(http, warmup, options.concurrency)
        _no_errors("warm-up batches", warm.errors)
        before = await kafka.end_offsets(bootstrap, commerce)
        cpu.start()
        batch = await load.post_batches(http, batches, options.concurrency)
        batch_cpu = cpu.stop()
        _no_errors("/v1/batch", batch.errors)
        landed = await kafka.end_offsets(bootstrap, commerce) - before
    if landed != len(calls.batch) or batch.accepted != len(calls.batch):
        raise BenchFailed(
            f"/v1/batch: sent {len(calls.batch)}, accepted {batch.accepted}, landed in Kafka {landed}"
        )
    figures["ingest_batch"] = {
        "events": len(calls.batch),
        "requests": batch.requests,
        "batch_size": options.batch_size,
        "concurrency": options.concurrency,
        "seconds": round(batch.seconds, 3),
        "events_per_s": round(rate(len(calls.batch), batch.seconds), 1),
        "landed_in_kafka": landed,
        "deduplicated": batch.deduplicated,
        "cpu_percent_of_one_core": batch_cpu,
        # CPU per event moves less than events/s when the machine is busy with other work.
        "ingest_cpu_ms_per_event": _cpu_ms_per(batch_cpu["ingest"], cpu.last_wall, len(calls.batch)),
    }
    say(f"(b) ingest /v1/batch: {figures['ingest_batch']['events_per_s']:,.0f} events/s")

    # (a) the limit, second pass: the faster of the two is the limit
    raw_runs.append(await _raw(bootstrap, RAW_TOPIC.named(prefix), records, cpu))
    say(f"(a) raw producer, again: {raw_runs[1]['events_per_s']:,.0f} events/s")
    figures["raw_producer"] = {**max(raw_runs, key=lambda r: r["events_per_s"]), "runs": raw_runs}

    # (c) /v1/track at a fixed rate, open loop
    async with load.Client("127.0.0.1", ingest.port, headers, options.connections) as http:
        tracks = [http.request("/v1/track", json.dumps(c).encode()) for c in calls.track]
        warm_tracks = [http.request("/v1/track", json.dumps(c).encode()) for c in calls.track_warmup]
        warm_loop = await load.open_loop(http, warm_tracks, options.rate)
        _no_errors("warm-up /v1/track", warm_loop.errors)
        cpu.start()
        loop = await load.open_loop(http, tracks, options.rate)
        loop_cpu = cpu.stop()
    figures["track_latency"] = {
        "rate_per_s": options.rate,
        "planned": loop.planned,
        "ok": len(loop.latencies_s) - loop.unanswered,
        "errors": loop.errors,
        "unanswered": loop.unanswered,
        "achieved_per_s": round(rate(len(loop.latencies_s) - loop.unanswered, loop.seconds), 1),
        "late_sends": loop.late_sends,
        **latency_summary(loop.latencies_s),
        "cpu_percent_of_one_core": loop_cpu,
        "ingest_cpu_ms_per_request": _cpu_ms_per(
            loop_cpu["ingest"], cpu.last_wall, len(loop.latencies_s) - loop.unanswered
        ),
    }
    say(f"(c) /v1/track at {options.rate:g}/s: p50 {figures['track_latency']['p50_ms']:.1f} ms, "
        f"p99 {figures['track_latency']['p99_ms']:.1f} ms")

    # (d) peak memory, read before anything else runs in the process
    figures["ingest_process"] = _memory(ingest.pid)
    say(f"(d) ingest peak RSS: {figures['ingest_process']['peak_rss_mb']:.0f} MB")

    if options.profile:
        try:
            figures["profile"] = await _profile(options, calls, ingest, headers, say)
        except (OSError, RuntimeError, subprocess.SubprocessError) as exc:  # e.g. no ptrace here
            figures["profile"] = {"error": str(exc)[:2000]}
            say(f"profile: not taken ({str(exc)[:200]})")
    if not ingest.alive():
        raise BenchFailed(f"ingest exited during the run:\n{ingest.log_path.read_text()[-3000:]}")
    return figures


async def _raw(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]], cpu: CpuMeter) -> dict[str, Any]:
    before = await kafka.end_offsets(bootstrap, topic)
    cpu.start()
    seconds = await kafka.raw_produce(bootstrap, topic, records)
    used = cpu.stop()
    wall = cpu.last_wall
    landed = await kafka.end_offsets(bootstrap, topic) - before
    if landed != len(records):
        raise BenchFailed(f"raw producer: sent {len(records)}, landed in Kafka {landed}")
    return {
        "events": len(records),
        "seconds": round(seconds, 3),
        "events_per_s": round(rate(len(records), seconds), 1),
        "avg_value_bytes": round(sum(len(v) for _, v in records) / len(records), 1),
        "cpu_percent_of_one_core": used,
        "producer_cpu_ms_per_event": _cpu_ms_per(used["bench client"], wall, len(records)),
    }


async def _profile(
    options: Options, calls: Calls, ingest: Ingest, headers: dict[str, str], say: Callable[[str], None]
) -> dict[str, Any]:
    """Two more passes, not measured, with py-spy attached to the ingest process: batches as in
    (b), then single tracks at the rate of (c)."""
    found: dict[str, Any] = {}
    async with load.Client("127.0.0.1", ingest.port, headers, options.connections) as http:
        batches = _batch_requests(http, calls.profiled, options.batch_size)
        tracks = [http.request("/v1/track", json.dumps(c).encode()) for c in calls.profiled_track]
        for name, send in (
            ("batch", lambda: load.post_batches(http, batches, options.concurrency)),
            ("track", lambda: load.open_loop(http, tracks, options.rate)),
        ):
            collapsed = options.out_dir / f"ingest-profile-{name}.txt"
            recorder = profile.Recorder(ingest.pid, collapsed)
            await asyncio.sleep(1.0)  # py-spy attaches
            run = await send()
            summary = profile.summarise(await asyncio.to_thread(recorder.stop))
            _no_errors(f"profiled {name}", run.errors)
            say(f"profile of {name}: {summary['samples']} samples in {collapsed}")
            found[name] = {"collapsed_stacks": str(collapsed), **summary}
    return found


def _published_bytes(calls: list[dict]) -> list[tuple[bytes, bytes]]:
    """What ingest would publish for these calls: ingest's mapping, ingest's keys and bytes."""
    now = datetime.now(timezone.utc)
    records = []
    for call in calls:
        envelope = to_envelope(
            call, call=None, store_id=STORE, received_at=now, new_id=call["messageId"], rules=Rules()
        )
        records.append((envelope.key.encode(), envelope.to_bytes()))
    return records


def _batch_requests(http: load.Client, calls: list[dict], size: int) -> list[bytes]:
    return [
        http.request("/v1/batch", json.dumps({"batch": calls[i : i + size]}).encode())
        for i in range(0, len(calls), size)
    ]


def _basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def _no_errors(what: str, errors: dict[str, int]) -> None:
    if errors:
        raise BenchFailed(f"{what}: errors under load {errors} (a benchmark needs every request answered 2xx)")


def _memory(pid: int) -> dict[str, float]:
    """VmHWM is the kernel's own high-water mark of the resident set: no sampling to miss a peak."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )

    def mb(name: str) -> float:
        return round(int(status[name].split()[0]) / 1024, 1)  # kB

    return {"peak_rss_mb": mb("VmHWM"), "rss_mb": mb("VmRSS")}


def _cpu_ms_per(percent_of_one_core: float, seconds: float, count: int) -> float:
    return round(percent_of_one_core / 100 * seconds * 1000 / max(count, 1), 3)


def _kafka_pid(broker: LocalKafka) -> int | None:
    try:
        return int((Path(broker.data_dir) / "kafka.pid").read_text().strip())
    except (OSError, ValueError):
        return None


class CpuMeter:
    """CPU used by each process (and by this client) between start and stop, in % of one core:
    on a small machine the broker, ingest and the load share the cores, and this shows how."""

    _TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, pids: dict[str, int | None]) -> None:
        self._pids = {name: pid for name, pid in pids.items() if pid}
        self._started: dict[str, float] = {}
        self._wall = 0.0
        self.last_wall = 0.0  # seconds between the last start and stop

    def _now(self) -> dict[str, float]:
        used = {name: _cpu_seconds(pid, self._TICK) for name, pid in self._pids.items()}
        return {**used, "bench client": time.process_time()}

    def start(self) -> None:
        self._started, self._wall = self._now(), time.perf_counter()

    def stop(self) -> dict[str, float]:
        wall = self.last_wall = time.perf_counter() - self._wall
        now = self._now()
        return {name: round(100 * (now[name] - self._started[name]) / wall, 1) for name in now}


def proc_stat(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command (which may hold spaces): state, ppid, ...;
    OSError when the process is gone."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _cpu_seconds(pid: int, tick: int) -> float:
    try:
        fields = proc_stat(pid)
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / tick  # utime, stime


def _report(options: Options, run_id: str, figures: dict[str, Any], load_before: float) -> dict[str, Any]:
    raw = figures["raw_producer"]["events_per_s"]
    report: dict[str, Any] = {
        "benchmark": "ingest",
        "run_id": run_id,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(load_before),
        "options": options_of(options),
        "producer": {"acks": kafka.ACKS, "enable_idempotence": True, "linger_ms": kafka.LINGER_MS},
        **figures,
        "ratio_batch_to_raw": round(figures["ingest_batch"]["events_per_s"] / raw, 3),
    }
    report["targets"] = judge(report, INGEST_TARGETS)
    return report
