"""Where ingest's time goes: py-spy samples of the running process, grouped into the costs we can act on.

py-spy attaches to the process from outside (no code in ingest, no restart), samples 100 times a
second the thread holding the GIL (so the shares are of the CPU the interpreter spends; waits on
sockets, locks and an idle loop are not sampled), and writes collapsed stacks (`frame;frame;...
count`, root first). `summarise` turns them into shares: per category, and per function,
cumulative (on the stack, our own code only) and self (the leaf). Each sample goes to one
category: the first of SPECIFIC that appears anywhere in its stack (so an email check inside the
mapping counts as email-validator), else the GENERIC one nearest its leaf (the server and the
event loop sit at the root of every stack, so only their own leaf time counts).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# (category, substrings of a frame's "function (file)" text)
SPECIFIC: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("logging (structlog JSON lines)", ("structlog/", "logging/__init__.py", "shared/logs.py")),
    ("metrics (prometheus_client)", ("prometheus_client/",)),
    ("email-validator (+ idna)", ("email_validator/", "idna/")),
    ("phonenumbers", ("phonenumbers/",)),
    ("SQL: de-dup window + key lookup (SQLAlchemy, sqlite3)", (
        "sqlalchemy/", "sqlmodel/", "ingest/adapters/repositories.py",
    )),
    ("Kafka: aiokafka send, batches, acks", ("aiokafka/", "shared/kafka/")),
    ("Segment message models (pydantic parse)", ("ingest/domain/messages.py",)),
    ("events + envelope (pydantic build, dump, to_bytes)", ("shared/events/", "pydantic/")),
    ("mapping (rest of ingest domain)", ("ingest/domain/",)),
    ("request body: read, gunzip, json.loads", ("ingest/entrypoints/bodies.py", "json/decoder.py")),
    ("ingest service layer (de-dup claims, outcome)", ("ingest/service_layer/",)),
)
GENERIC: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("HTTP: uvicorn, httptools, starlette, fastapi", (
        "uvicorn/", "starlette/", "fastapi/", "httptools", "h11/", "anyio/", "ingest/entrypoints/",
    )),
    ("asyncio event loop", ("asyncio/", "uvloop", "selectors.py")),
    ("threads (to_thread pool)", ("threading.py", "concurrent/futures/")),
)
# The segmenter worker's costs (`boomerang-bench segmenter --profile`).
SEGMENTER_SPECIFIC: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("logging (structlog JSON lines)", ("structlog/", "logging/__init__.py", "shared/logs.py")),
    ("metrics (prometheus_client)", ("prometheus_client/",)),
    ("state codec: CustomerState JSON (pydantic)", ("adapters/state_codec.py",)),
    ("scoring: score cards (BG/NBD, Gamma-Gamma, RFM)", ("domain/scorecard.py", "domain/scoring/", "adapters/models.py")),
    ("snapshots: records, writer thread (SQLAlchemy)", ("snapshots.py", "sqlalchemy/", "sqlmodel/")),
    ("RocksDB (rocksdict) reads and writes", ("stores/rocksdb.py", "rocksdict")),
    ("faust tables: changelog sends", ("faust/tables/",)),
    ("Kafka: aiokafka fetch, send, acks", ("aiokafka/", "faust/transport/")),
    ("events + envelope (pydantic parse, build, dump)", ("shared/events/", "pydantic/", "segment_changed (",
                                                         "customer_scored (")),
    ("domain: facts, stages, lifecycle", ("segmenter/domain/",)),
    ("segmentation service layer", ("service_layer/",)),
)
SEGMENTER_GENERIC: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("faust streams and agents", ("faust/", "mode/")),
    ("asyncio event loop", ("asyncio/", "uvloop", "selectors.py")),
    ("threads", ("threading.py", "concurrent/futures/")),
)
# The messenger's costs (`boomerang-bench messenger --profile`).
MESSENGER_SPECIFIC: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("logging (structlog JSON lines)", ("structlog/", "logging/__init__.py", "shared/logs.py")),
    ("metrics (prometheus_client)", ("prometheus_client/",)),
    ("SendGrid SDK: Mail build, JSON, urllib HTTP", (
        "sendgrid/", "python_http_client/", "urllib/request.py", "http/client.py", "adapters/sendgrid.py",
    )),
    ("Twilio SDK", ("twilio/", "adapters/twilio.py")),
    ("rendering: Jinja2, CSS inlining", ("jinja2/", "css_inline", "adapters/rendering.py", "markupsafe/")),
    ("ledger, contacts, caps: SQL (SQLAlchemy, sqlite3)", ("sqlalchemy/", "sqlmodel/", "adapters/store.py")),
    # Not shared/kafka/consumer.py: it is below every handler's stack, so it would take them all.
    ("Kafka: aiokafka fetch, outcome sends", ("aiokafka/", "shared/kafka/publisher.py", "adapters/outcomes.py")),
    ("events + envelope (pydantic parse, build, dump)", ("shared/events/", "pydantic/")),
    ("flows, policy, composing (messenger domain + service layer)", ("messenger/domain/", "messenger/service_layer/",
                                                                     "messenger/flows/", "yaml/")),
)
MESSENGER_GENERIC: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("HTTP: uvicorn, starlette (ops endpoints)", ("uvicorn/", "starlette/", "fastapi/", "httptools", "h11/")),
    ("asyncio event loop", ("asyncio/", "uvloop", "selectors.py")),
    ("threads (to_thread pool)", ("threading.py", "concurrent/futures/")),
)
OTHER = "other"
OURS = ("ingest/", "segmenter/", "messenger/", "shared/", "boomerang/")
_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def parse_collapsed(lines: Iterable[str]) -> list[tuple[list[str], int]]:
    """`a (f.py:1);b (g.py:2) 7` -> ([`a (f.py)`, `b (g.py)`], 7); line numbers dropped."""
    samples = []
    for line in lines:
        match = _LINE.match(line.strip())
        if not match:
            continue
        frames = [_without_line(f) for f in match["stack"].split(";") if f]
        samples.append((frames, int(match["count"])))
    return samples


def _without_line(frame: str) -> str:
    match = _FRAME.match(frame)
    return f"{match['function']} ({match['file']})" if match else frame


def category_of(frames: list[str], specific=SPECIFIC, generic=GENERIC) -> str:
    for name, needles in specific:
        if any(needle in frame for frame in frames for needle in needles):
            return name
    for frame in reversed(frames):
        for name, needles in generic:
            if any(needle in frame for needle in needles):
                return name
    return OTHER


def summarise(
    samples: list[tuple[list[str], int]], top: int = 25, *, specific=SPECIFIC, generic=GENERIC
) -> dict[str, Any]:
    total = sum(count for _, count in samples)
    categories: Counter[str] = Counter()
    cumulative: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, count in samples:
        categories[category_of(frames, specific, generic)] += count
        for frame in set(frames):
            cumulative[frame] += count
        if frames:
            own[frames[-1]] += count

    def shares(counter: Counter[str], limit: int | None = None) -> list[dict[str, Any]]:
        return [
            {"what": what, "percent": round(100 * n / total, 1), "samples": n}
            for what, n in counter.most_common(limit)
        ]

    ours = Counter({frame: n for frame, n in cumulative.items() if _ours(frame)})
    return {
        "samples": total,
        "by_category": shares(categories) if total else [],
        "top_cumulative_boomerang": shares(ours, top) if total else [],
        "top_self": shares(own, top) if total else [],
    }


def _ours(frame: str) -> bool:
    """Boomerang's own code, below the CLI: where a change in this repo would act."""
    return any(f"({part}" in frame for part in OURS) and "entrypoints/cli.py" not in frame


class Recorder:
    """`py-spy record` attached to a pid until stop(); the collapsed stacks land in `out`."""

    def __init__(self, pid: int, out: Path, rate: int = 100, subprocesses: bool = False) -> None:
        self.out = out
        spy = Path(sys.executable).with_name("py-spy")
        self._process = subprocess.Popen(
            [str(spy), "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw",
             "--function", "--gil", "--output", str(out), *(["--subprocesses"] if subprocesses else [])],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> list[tuple[list[str], int]]:
        """Ctrl-C makes py-spy write what it sampled; then read it back."""
        self._process.send_signal(signal.SIGINT)
        output, _ = self._process.communicate(timeout=60)
        if not self.out.exists():
            raise RuntimeError(f"py-spy wrote no profile (exit {self._process.returncode}):\n{output.decode()}")
        return parse_collapsed(self.out.read_text().splitlines())


def available() -> bool:
    return Path(sys.executable).with_name("py-spy").exists() and os.name == "posix"
