"""Percentiles and targets: the arithmetic the benchmark's verdicts rest on."""

from __future__ import annotations

import math

from boomerang.bench.report import INGEST_TARGETS, judge, latency_summary, percentile


def test_percentiles_interpolate_between_ranks_like_numpy():
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 0.5) == 50.5
    assert percentile(values, 0.99) == 99.01
    assert percentile([7.0], 0.99) == 7.0
    assert math.isnan(percentile([], 0.5))


def test_latencies_are_reported_in_milliseconds():
    summary = latency_summary([0.001, 0.002, 0.003, 0.004])
    assert summary["p50_ms"] == 2.5
    assert summary["max_ms"] == 4.0
    assert summary["mean_ms"] == 2.5


def test_each_target_is_judged_from_the_report():
    report = {
        "ratio_batch_to_raw": 0.62,
        "track_latency": {"p99_ms": 31.0},
        "ingest_process": {"peak_rss_mb": 250.0},
    }
    verdicts = judge(report, INGEST_TARGETS)
    assert verdicts["throughput_ratio"] == {
        "figure": "ratio_batch_to_raw", "value": 0.62, "target": ">= 0.5", "met": True,
    }
    assert verdicts["track_p99"]["met"] is False and verdicts["track_p99"]["target"] == "<= 25 ms"
    assert verdicts["peak_rss"]["met"] is True  # at most 250 MB: 250 is within
