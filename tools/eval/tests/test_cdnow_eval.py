"""`make eval` on the 1/10 sample: files produced, figures sane, the published fits reproduced."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from boomerang.eval import cdnow, ceiling

DATA = Path(__file__).resolve().parents[3] / "data" / "cdnow"
SAMPLE = DATA / "CDNOW_sample.txt"


def test_roc_auc_and_top_share_by_hand() -> None:
    positive = np.array([True, True, False, False])
    assert cdnow.roc_auc(positive, np.array([0.9, 0.8, 0.1, 0.2])) == 1.0
    assert cdnow.roc_auc(positive, np.array([0.1, 0.2, 0.9, 0.8])) == 0.0
    assert cdnow.roc_auc(positive, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
    actual = np.array([0.0] * 8 + [30.0, 70.0])
    assert cdnow.top_share(np.arange(10.0), actual) == pytest.approx(0.7)


def test_both_file_layouts_load() -> None:
    sample = cdnow.load(SAMPLE)
    assert len(np.unique(sample.customer_id)) == 2357
    first300 = cdnow.load(DATA / "cdnow_first300.txt")
    assert len(first300.day) == 1046 and first300.day.min() == 0


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("eval")
    return cdnow.run(SAMPLE, SAMPLE, out, date(1997, 9, 30), date(1998, 6, 30), timing_repeats=1), out


def test_eval_writes_json_csv_and_plot(report: tuple[dict, Path]) -> None:
    result, out = report
    written = json.loads((out / "cdnow.json").read_text())
    assert written["metrics"] == pytest.approx(result["metrics"])
    assert written["protocol"]["customers"] == 2357
    assert written["protocol"]["calibration_weeks"] == pytest.approx(39.0, abs=0.2)
    assert written["protocol"]["holdout_weeks"] == pytest.approx(39.0, abs=0.2)
    with (out / "cdnow-predictions.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2357
    assert {"customer_id", "lapse_score", "predicted_holdout_purchases", "predicted_holdout_revenue", "state"} <= set(rows[0])
    assert all(0.0 < float(r["lapse_score"]) < 1.0 for r in rows)
    assert (out / "cdnow-conditional-expectations.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert written["model"]["kind"] == "boomerang.segmenter.scoring"
    assert written["protocol"]["selected_in_calibration"]["lapse_feature_set"]
    blocks = written["tracking"]
    assert [b["period"] for b in blocks] == ["calibration"] * 3 + ["holdout"] * 3
    holdout_repeats = sum(b["actual"] for b in blocks if b["period"] == "holdout")
    assert holdout_repeats == written["metrics"]["holdout_purchases_actual"]  # every holdout order is a repeat
    assert all(b["bgnbd"] > 0 for b in blocks)


def test_eval_fit_does_not_depend_on_the_holdout(tmp_path: Path) -> None:
    """The whole eval pipeline, holdout purchases scrambled: same model, same predictions."""
    rows = SAMPLE.read_text().splitlines()
    rng = np.random.default_rng(7)
    scrambled = []
    for line in rows:
        cols = line.split()
        if len(cols) >= 5 and cols[2] > "19970930":
            cols[2] = f"1998{rng.integers(1, 7):02d}{rng.integers(1, 29):02d}"
            cols[4] = f"{rng.uniform(1, 300):.2f}"
        scrambled.append(" ".join(cols))
    other = tmp_path / "scrambled.txt"
    other.write_text("\n".join(scrambled) + "\n")
    a = cdnow.run(SAMPLE, None, tmp_path / "a", date(1997, 9, 30), date(1998, 6, 30), timing_repeats=1, ceiling=False)
    b = cdnow.run(other, None, tmp_path / "b", date(1997, 9, 30), date(1998, 6, 30), timing_repeats=1, ceiling=False)
    assert a["model"] == b["model"]

    def read(d: str) -> list[tuple[str, ...]]:
        with (tmp_path / d / "cdnow-predictions.csv").open() as f:
            keys = ("customer_id", "lapse_score", "predicted_holdout_purchases", "predicted_holdout_revenue", "state")
            return [tuple(r[k] for k in keys) for r in csv.DictReader(f)]

    assert read("a") == read("b")
    assert a["metrics"]["holdout_revenue_actual"] != b["metrics"]["holdout_revenue_actual"]


def test_eval_reproduces_the_published_parameters(report: tuple[dict, Path]) -> None:
    published = report[0]["published_parameters_sample"]
    assert published["bgnbd"]["within_1_percent"]
    assert published["gamma_gamma"]["within_1_percent"]
    assert published["bgnbd"]["max_abs_relative_error"] < 0.01


def test_eval_figures_are_sane(report: tuple[dict, Path]) -> None:
    m = report[0]["metrics"]
    assert 0.70 < m["recency_auc"] < 0.85
    assert m["lapse_auc"] > m["recency_auc"] - 0.02
    assert 0.40 < m["top10_revenue_share"] <= m["perfect_foresight_top10_revenue_share"]
    assert abs(m["holdout_purchases_rel_error"]) < 0.25
    assert abs(m["holdout_purchases_rel_error"]) <= abs(m["bgnbd_holdout_purchases_rel_error"]) + 0.02
    assert report[0]["fit"]["wall_seconds_median"] < 2.0
    table = report[0]["conditional_expectations"]
    assert [row["frequency"] for row in table][:3] == ["0", "1", "2"]
    assert table[-1]["actual"] > table[0]["actual"]


def test_ceiling_features_by_hand() -> None:
    """Customer 0: orders on days 0 (two rows, merged), 7 and 21; customer 1: one order on day 14;
    a day-30 order is after `now` and ignored."""
    cal = ceiling.calibration_features(
        customer=np.array([0, 0, 0, 0, 1, 0]),
        day=np.array([0.0, 0.0, 7.0, 21.0, 14.0, 30.0]),
        amount=np.array([10.0, 5.0, 20.0, 30.0, 8.0, 99.0]),
        cds=np.array([1, 1, 3, 1, 2, 9]),
        now=28.0,
        n=2,
    )
    f = dict(zip(ceiling.FEATURES, cal.features.T, strict=True))
    assert list(cal.index) == [0, 1]
    assert cal.x.tolist() == [2.0, 0.0]
    assert cal.recency.tolist() == [1.0, 2.0]
    assert cal.age.tolist() == [4.0, 2.0]
    assert f["log1p_total_spend"] == pytest.approx(np.log1p([65.0, 8.0]))
    assert f["log1p_first_order_value"] == pytest.approx(np.log1p([15.0, 8.0]))
    assert f["log1p_last_gap_weeks"] == pytest.approx(np.log1p([2.0, 0.0]))
    assert f["log1p_mean_gap_weeks"] == pytest.approx(np.log1p([1.5, 0.0]))
    assert f["log1p_max_cds_per_order"] == pytest.approx(np.log1p([3.0, 2.0]))
    assert f["log1p_gaps_under_2_weeks"] == pytest.approx(np.log1p([1.0, 0.0]))
    assert f["one_time_buyer"].tolist() == [0.0, 1.0]


def test_eval_reports_the_cheating_ceiling_apart_from_the_model(report: tuple[dict, Path]) -> None:
    """The ceiling (trained on the holdout labels, cross-validated) is its own section, and the
    honest model is within a sane distance of it: far below would mean the model wastes what the
    history tells, far above would mean it is not honest (or the ceiling is broken)."""
    result, out = report
    c = json.loads((out / "cdnow.json").read_text())["ceiling"]
    assert "holdout labels" in c["what"] and "cross-validated" in c["what"]
    assert c["folds"] == 5 and c["design_columns"] == 1 + 17 + 17 * 18 // 2
    assert c["lapse_auc"] == max(r["lapse_auc"] for r in c["regression"] + c["cells"])
    # in-sample the lookup memorises: that is why only cross-validated figures count
    assert max(r["in_sample_lapse_auc"] for r in c["cells"]) > c["lapse_auc"]
    m = result["metrics"]
    assert c["lapse_auc"] > m["recency_auc"]
    assert abs(m["lapse_auc"] - c["lapse_auc"]) < 0.03
    assert abs(m["top10_revenue_share"] - c["top10_revenue_share"]) < 0.08
    assert c["model_minus_ceiling"]["lapse_auc"] == pytest.approx(m["lapse_auc"] - c["lapse_auc"])
    assert "ceiling" not in json.dumps(result["model"])
