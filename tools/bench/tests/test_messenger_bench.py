"""`boomerang-bench messenger` end to end at a tiny size: the report has every figure, and the
figures are sane (not fast: speed is the benchmark's business, not a test's)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from boomerang.bench.cli import app

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def test_the_messenger_bench_writes_every_figure(tmp_path):
    result = CliRunner().invoke(app, [
        "messenger", "--orders", "40", "--latency-rate", "20", "--latency-seconds", "1",
        "--reliability-events", "40", "--kills", "1", "--out-dir", str(tmp_path),
    ])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "messenger.json").read_text())

    pipeline, bare, cpu = report["messenger_pipeline"], report["bare_sdk"], report["cpu"]
    assert pipeline["sends"] == 40 and pipeline["sends_per_s"] > 0
    assert [run["requests"] for run in bare["runs"]] == [40, 40]  # the same bodies, every one landed
    assert report["ratio_messenger_to_bare"] == pytest.approx(pipeline["sends_per_s"] / bare["requests_per_s"], abs=1e-3)
    kept = report["bare_sdk_kept_alive"]
    assert [run["requests"] for run in kept["runs"]] == [40, 40]
    assert report["ratio_messenger_to_bare_kept_alive"] == pytest.approx(
        pipeline["sends_per_s"] / kept["requests_per_s"], abs=1e-3
    )
    assert cpu["messenger_cpu_ms_per_send"] > 0
    assert cpu["single_core_sends_per_s"] == pytest.approx(1000 / cpu["messenger_cpu_ms_per_send"], rel=1e-2)
    # Both of the messenger's processes are counted: the event loop's and its SDK process's.
    assert {"messenger", "messenger SDK process"} <= set(pipeline["cpu_percent_of_one_core"])
    assert cpu["messenger_cpu_ms_per_send"] == pytest.approx(
        cpu["event_loop_process_ms_per_send"] + cpu["sdk_process_ms_per_send"], abs=2e-3
    )
    assert cpu["two_core_sends_per_s"] >= cpu["single_core_sends_per_s"]
    # (g) ran the same workload: a receipt email per order, with neither Kafka nor the SDK in the figure
    assert cpu["own_work"]["orders"] == cpu["own_work"]["emails_sent"] == 40
    assert cpu["own_work"]["cpu_ms_per_order"] > 0
    https = cpu["floor"]["https"]
    assert https["requests"] == 40 and 0 < https["shared_context_ms_per_request"]
    assert https["per_connection_context_ms_per_request"] > 0 and https["kept_alive_ms_per_request"] > 0

    latency = report["latency"]
    assert latency["orders"] == latency["receipts"] == 20 and 0 < latency["p50_ms"] <= latency["p99_ms"]

    reliability = report["reliability"]
    assert reliability["expected_messages"] == 60  # 40 emails, 20 SMS
    assert len(reliability["kills"]) == 1
    assert reliability["duplicates"] == 0 and reliability["lost"] == 0 and reliability["unexpected"] == 0
    assert set(report["targets"]) == {"throughput_ratio", "instance_sends", "latency_p50", "latency_p99",
                                      "duplicates", "lost"}
