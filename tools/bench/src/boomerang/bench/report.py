"""Figures to targets: pure functions over what the run measured (no I/O, no clock)."""

from __future__ import annotations

import math
import os
import platform
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Target:
    """One promise of the issue: `figure` compared with `limit` by `at_least` or at most."""

    name: str
    figure: str  # a dotted path into the report
    limit: float
    at_least: bool
    unit: str = ""

    def judge(self, value: float) -> dict[str, Any]:
        met = value >= self.limit if self.at_least else value <= self.limit
        return {
            "figure": self.figure,
            "value": round(value, 3),
            "target": f"{'>=' if self.at_least else '<='} {self.limit:g}{self.unit}",
            "met": met,
        }


INGEST_TARGETS = (
    Target("throughput_ratio", "ratio_batch_to_raw", 0.5, at_least=True),
    Target("track_p99", "track_latency.p99_ms", 25.0, at_least=False, unit=" ms"),
    Target("peak_rss", "ingest_process.peak_rss_mb", 250.0, at_least=False, unit=" MB"),
)

SEGMENTER_TARGETS = (
    Target("throughput_ratio", "ratio_worker_to_raw", 0.1, at_least=True),
    Target("sweep_scan", "sweep.scan_seconds_per_million", 10.0, at_least=False, unit=" s"),
)

MESSENGER_TARGETS = (
    Target("throughput_ratio", "ratio_messenger_to_bare", 0.5, at_least=True),
    # Per instance: one messenger as deploy/k8s runs it (its two processes, 2 CPUs), the provider
    # elsewhere; from (c)'s CPU per send of each process (README, "Benchmarks").
    Target("instance_sends", "cpu.two_core_sends_per_s", 1000.0, at_least=True, unit="/s"),
    Target("latency_p50", "latency.p50_ms", 100.0, at_least=False, unit=" ms"),
    Target("latency_p99", "latency.p99_ms", 500.0, at_least=False, unit=" ms"),
    Target("duplicates", "reliability.duplicates", 0.0, at_least=False),
    Target("lost", "reliability.lost", 0.0, at_least=False),
)


def percentile(values: Sequence[float], share: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default); NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = share * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(latencies_s: Sequence[float]) -> dict[str, float]:
    """Milliseconds, rounded to the microsecond."""
    ms = [x * 1000 for x in latencies_s]
    figures = {
        "p50_ms": percentile(ms, 0.50),
        "p90_ms": percentile(ms, 0.90),
        "p99_ms": percentile(ms, 0.99),
        "p999_ms": percentile(ms, 0.999),
        "max_ms": max(ms) if ms else math.nan,
        "mean_ms": sum(ms) / len(ms) if ms else math.nan,
    }
    return {k: round(v, 3) for k, v in figures.items()}


def lookup(report: dict[str, Any], dotted: str) -> Any:
    value: Any = report
    for part in dotted.split("."):
        value = value[part]
    return value


def judge(report: dict[str, Any], targets: Sequence[Target] = INGEST_TARGETS) -> dict[str, Any]:
    return {t.name: t.judge(float(lookup(report, t.figure))) for t in targets}


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else math.nan


def machine(load_before: float) -> dict[str, Any]:
    """What the figures were measured on. Other work on the machine skews every figure (a ratio
    measured in the same run less so): the 1-minute load average just before says how much."""
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "kafka_jvm_opts": os.environ.get("KAFKA_JVM_OPTS", ""),
        "load_average_1m_before": round(load_before, 2),
    }


def options_of(options: Any) -> dict[str, Any]:
    """A benchmark's options (a dataclass) as JSON-ready values."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()}
