"""`boomerang-bench segmenter` end to end at a tiny size: the report has every figure, and the
figures are sane (not fast: speed is the benchmark's business, not a test's)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from boomerang.bench.cli import app

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def test_the_segmenter_bench_writes_every_figure(tmp_path):
    result = CliRunner().invoke(
        app, ["segmenter", "--customers", "150", "--sweep-customers", "1000", "--no-profile", "--out-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "segmenter.json").read_text())

    worker, raw = report["worker"], report["raw_consumer"]
    assert report["history"]["customers"] == 150
    assert report["history"]["order"] > 0 and report["history"]["page_viewed"] > 0
    assert worker["counted_events"] + worker["events_before_model_loaded"] == report["history"]["events"]
    assert worker["events_per_s"] > 0 and raw["events_per_s"] > 0 and worker["dead_lettered"] == 0
    assert worker["scores_published"] > 0 and worker["segment_changes_published"] > 0  # scored and segmented
    assert report["ratio_worker_to_raw"] == pytest.approx(worker["events_per_s"] / raw["events_per_s"], abs=1e-3)
    decoding = report["raw_decoding_consumer"]  # the same topic, every envelope parsed
    assert decoding["events"] == report["history"]["events"] and decoding["events_per_s"] > 0
    assert report["ratio_worker_to_raw_decoding"] == pytest.approx(worker["events_per_s"] / decoding["events_per_s"], abs=1e-3)
    plain = report["plain_faust"]  # the reference faust agent read every event of the same topic
    assert plain["events"] == report["history"]["events"] and plain["events_per_s"] > 0

    sweep = report["sweep"]
    # every customer's due row and the fillers are scanned; some of the history's customers are due
    assert sweep["filler_due_rows"] == 850
    assert 850 < sweep["due_table_rows_scanned"] <= 1000
    assert 0 < sweep["due_found"] <= 150 and sweep["ticks_applied"] > 0 and sweep["scan_seconds"] > 0

    memory = report["memory"]
    assert memory["rss_after_mb"] > 0 and memory["disk_bytes_by_table"]["customers"] > 0
    assert memory["disk_mb_per_million_customers"] > 0
    assert set(report["targets"]) == {"throughput_ratio", "sweep_scan"}
    assert "segmenter benchmark" in result.output
