"""Accuracy of the segmenter's scoring models on the CDNOW benchmark (`make eval`).

Protocol (issue 4): calibration from 1997-01-01 to CAL_END (inclusive), holdout the days after
it up to HOLDOUT_END (inclusive); same-day purchases merged; time in weeks; every customer with
a purchase in the calibration period (the full cohort: 23,570). Everything is fitted on the
calibration period only: the model learns its labels inside it (see
`boomerang.segmenter.domain.scoring.model`), nothing from the holdout is used to fit or tune.

Writes to OUT (default build/eval):
- cdnow-predictions.csv: one row per customer (id, lapse score, predicted holdout purchases and
  revenue, state, and the actual holdout purchases and revenue for convenience);
- cdnow.json: published-parameter check on the 1/10 sample, accuracy figures, targets, fit time,
  and a separate "ceiling" section (`ceiling.py`): what models trained by cheating on the holdout
  labels reach, cross-validated; computed after the predictions, it feeds nothing;
- cdnow-conditional-expectations.png: predicted vs actual holdout purchases by calibration
  frequency, as in the papers.
"""

from __future__ import annotations

import csv
import json
import statistics
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from boomerang.eval import ceiling as ceiling_estimate
from boomerang.eval.metrics import roc_auc, top_share
from boomerang.segmenter.domain import scoring
from boomerang.segmenter.domain.scoring import bgnbd, gamma_gamma

EPOCH = date(1997, 1, 1)
DEFAULT_CAL_END = date(1997, 9, 30)
DEFAULT_HOLDOUT_END = date(1998, 6, 30)
PUBLISHED_CAL_END = date(1997, 9, 30)
PUBLISHED = {
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "gamma_gamma": {"p": 6.25, "q": 3.74, "gamma": 15.44},
}
TARGETS = {
    "lapse_auc_min": 0.80,
    "top10_revenue_share_min": 0.60,
    "holdout_purchases_abs_rel_error_max": 0.05,
    "fit_seconds_max": 2.0,
}
FREQUENCY_BINS = 8  # 0..6 repeat purchases, then 7+


@dataclass(frozen=True)
class Purchases:
    customer_id: np.ndarray  # the file's customer id, one per row
    day: np.ndarray  # days since 1997-01-01
    amount: np.ndarray
    cds: np.ndarray  # CDs bought in the row (read only by the ceiling estimate)


def load(path: Path) -> Purchases:
    """Reads CDNOW_master.txt (`id date cds dollars`, a header) or CDNOW_sample.txt (`id sample_id
    date cds dollars`, no header): the customer id is the first column, the date the 8-digit
    YYYYMMDD column, the CDs the one before last, the dollar value the last."""
    ids: list[int] = []
    days: list[int] = []
    amounts: list[float] = []
    cds: list[int] = []
    epoch = EPOCH.toordinal()
    with path.open() as f:
        for line in f:
            cols = line.split()
            if len(cols) < 4 or not cols[0].isdigit():
                continue
            ymd = cols[-3]
            ids.append(int(cols[0]))
            days.append(date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:8])).toordinal() - epoch)
            amounts.append(float(cols[-1]))
            cds.append(int(cols[-2]))
    return Purchases(
        np.asarray(ids, dtype=np.int64), np.asarray(days, dtype=np.float64), np.asarray(amounts), np.asarray(cds, dtype=np.int64)
    )


def _rel(value: float, reference: float) -> float:
    return (value - reference) / reference


def _day(d: date) -> float:
    return float(d.toordinal() - EPOCH.toordinal())


def published_check(sample: Path) -> dict[str, Any]:
    """BG/NBD and Gamma-Gamma on the 1/10 sample with the published calibration period."""
    p = load(sample)
    ids, index = np.unique(p.customer_id, return_inverse=True)
    tx = scoring.Transactions.of(index, p.day, p.amount)
    s = scoring.summarise(tx, _day(PUBLISHED_CAL_END), len(ids))
    bg = bgnbd.fit(s.x, s.t_x, s.T)
    gg = gamma_gamma.fit(s.x, s.repeat_mean)
    out: dict[str, Any] = {"calibration_end": PUBLISHED_CAL_END.isoformat(), "customers": len(s)}
    for name, fitted, extra in (
        ("bgnbd", bg.params.to_dict(), {"log_likelihood": bg.log_likelihood, "published_log_likelihood": -9582.4}),
        ("gamma_gamma", gg.params.to_dict(), {"log_likelihood": gg.log_likelihood, "customers": gg.customers}),
    ):
        pub = PUBLISHED[name]
        rel = {k: _rel(fitted[k], pub[k]) for k in pub}
        out[name] = {
            "fitted": fitted,
            "published": pub,
            "relative_error": rel,
            "max_abs_relative_error": max(abs(v) for v in rel.values()),
            "within_1_percent": all(abs(v) <= 0.01 for v in rel.values()),
            **extra,
        }
    return out


def _fit_timed(tx: scoring.Transactions, now: float, repeats: int = 3) -> tuple[scoring.ScoringModel, dict[str, float]]:
    model = scoring.fit(tx, now)  # warm-up: first calls into scipy's special functions
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        model = scoring.fit(tx, now)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return model, {
        "wall_seconds_median": statistics.median(walls),
        "wall_seconds_min": min(walls),
        "cpu_seconds_median": statistics.median(cpus),
        "repeats": repeats,
    }


def tracking(
    params: bgnbd.BgNbdParams, s: scoring.Summary, tx: scoring.Transactions, now: float, end: float
) -> list[dict[str, Any]]:
    """Repeat purchases of the calibration customers in thirds of the calibration and of the
    holdout, actual against BG/NBD's unconditional expectation given only each customer's first
    purchase day (the papers' tracking plot, in blocks): shows whether the calibration's own
    trend points towards the holdout's level."""
    first_week = s.now / scoring.WEEK - s.T
    weeks, customers = np.unique(first_week, return_counts=True)
    first_day = np.full(tx.n_customers, np.inf)
    first_day[s.index] = first_week * scoring.WEEK
    repeat = tx.day > first_day[tx.customer] + 0.5  # days are whole; first_week carries rounding

    def expected(day: float) -> float:
        age = np.maximum(day / scoring.WEEK - weeks, 0.0)
        return float(customers @ bgnbd.expected_purchases_new_customer(params, age))

    edges = [*np.linspace(0.0, now, 4)[:-1], *np.linspace(now, end, 4)]
    rows = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        actual = float(np.count_nonzero(repeat & (tx.day > a) & (tx.day <= b)))
        predicted = expected(b) - expected(a)
        rows.append(
            {
                "period": "calibration" if b <= now else "holdout",
                "weeks": [float(a / scoring.WEEK), float(b / scoring.WEEK)],
                "actual": actual,
                "bgnbd": predicted,
                "bgnbd_rel_error": _rel(predicted, actual) if actual else float("nan"),
            }
        )
    return rows


def _plot(path: Path, table: list[dict[str, Any]], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [row["frequency"] for row in table]
    xs = np.arange(len(table))
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    ax.plot(xs, [r["actual"] for r in table], "k-o", label="actual")
    ax.plot(xs, [r["model"] for r in table], "C0--s", label="model (BG/NBD + dormancy correction)")
    ax.plot(xs, [r["bgnbd"] for r in table], "C1:^", label="BG/NBD")
    ax.set_xticks(xs, labels)
    ax.set_xlabel("repeat purchases in the calibration period")
    ax.set_ylabel("mean purchases in the holdout period")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run(
    data: Path,
    sample: Path | None,
    out: Path,
    cal_end: date = DEFAULT_CAL_END,
    holdout_end: date = DEFAULT_HOLDOUT_END,
    timing_repeats: int = 3,
    ceiling: bool = True,
) -> dict[str, Any]:
    if not EPOCH < cal_end < holdout_end:
        raise ValueError("need 1997-01-01 < CAL_END < HOLDOUT_END")
    now, end = _day(cal_end), _day(holdout_end)
    horizon_days = end - now
    horizon_weeks = horizon_days / scoring.WEEK

    p = load(data)
    keep = p.day >= 0
    ids, index = np.unique(p.customer_id[keep], return_inverse=True)
    tx = scoring.Transactions.of(index, p.day[keep], p.amount[keep])
    model, timing = _fit_timed(tx, now, timing_repeats)
    s = scoring.summarise(tx, now, len(ids))

    scores = model.score(s, lapse_horizon_days=horizon_days)
    lapse = scores.lapse_score
    purchases = model.expected_orders(s, horizon_weeks)
    spend = model.expected_spend(s)
    revenue = purchases * spend
    bg_purchases = model.bgnbd_expected_orders(s, horizon_weeks)
    bg_revenue = bg_purchases * spend
    bg_no_purchase = bgnbd.probability_no_purchase(model.bgnbd, horizon_weeks, s.x, s.t_x, s.T)

    bought, spent = tx.between(now, end).counts(len(ids))
    actual_n, actual_v = bought[s.index], spent[s.index]
    lapsed = actual_n == 0

    table = []
    for k in range(FREQUENCY_BINS):
        rows = s.x >= k if k == FREQUENCY_BINS - 1 else s.x == k
        if not rows.any():
            continue
        table.append(
            {
                "frequency": f"{k}+" if k == FREQUENCY_BINS - 1 else str(k),
                "customers": int(rows.sum()),
                "actual": float(actual_n[rows].mean()),
                "model": float(purchases[rows].mean()),
                "bgnbd": float(bg_purchases[rows].mean()),
            }
        )

    metrics = {
        "lapse_auc": roc_auc(lapsed, lapse),
        "recency_auc": roc_auc(lapsed, s.recency),
        "bgnbd_p_no_purchase_auc": roc_auc(lapsed, bg_no_purchase),
        "top10_revenue_share": top_share(revenue, actual_v),
        "bgnbd_gg_top10_revenue_share": top_share(bg_revenue, actual_v),
        "perfect_foresight_top10_revenue_share": top_share(actual_v, actual_v),
        "holdout_purchases_actual": float(actual_n.sum()),
        "holdout_purchases_predicted": float(purchases.sum()),
        "holdout_purchases_rel_error": _rel(float(purchases.sum()), float(actual_n.sum())),
        "bgnbd_holdout_purchases_predicted": float(bg_purchases.sum()),
        "bgnbd_holdout_purchases_rel_error": _rel(float(bg_purchases.sum()), float(actual_n.sum())),
        "holdout_revenue_actual": float(actual_v.sum()),
        "holdout_revenue_predicted": float(revenue.sum()),
        "holdout_revenue_rel_error": _rel(float(revenue.sum()), float(actual_v.sum())),
        "bgnbd_gg_holdout_revenue_predicted": float(bg_revenue.sum()),
        "customers_with_holdout_purchase": int((~lapsed).sum()),
    }
    targets = {
        "lapse_auc_at_least_0.80": metrics["lapse_auc"] >= TARGETS["lapse_auc_min"],
        "lapse_auc_above_recency": metrics["lapse_auc"] > metrics["recency_auc"],
        "top10_revenue_share_at_least_0.60": metrics["top10_revenue_share"] >= TARGETS["top10_revenue_share_min"],
        "holdout_purchases_within_5_percent": abs(metrics["holdout_purchases_rel_error"]) <= TARGETS["holdout_purchases_abs_rel_error_max"],
        "fit_at_most_2_seconds": timing["wall_seconds_median"] <= TARGETS["fit_seconds_max"],
    }

    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "cdnow-predictions.csv"
    with csv_path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "customer_id",
                "lapse_score",
                "predicted_holdout_purchases",
                "predicted_holdout_revenue",
                "state",
                "actual_holdout_purchases",
                "actual_holdout_revenue",
            ]
        )
        for i in range(len(s)):
            w.writerow(
                [
                    int(ids[s.index[i]]),
                    f"{lapse[i]:.6f}",
                    f"{purchases[i]:.6f}",
                    f"{revenue[i]:.4f}",
                    scores.state[i],
                    int(actual_n[i]),
                    f"{actual_v[i]:.2f}",
                ]
            )
    png_path = out / "cdnow-conditional-expectations.png"
    _plot(png_path, table, f"CDNOW: calibration to {cal_end.isoformat()}, holdout to {holdout_end.isoformat()}")

    # Only now, with every prediction made and written, the cheating ceiling: it reads the
    # holdout labels and nothing it computes goes back into the model.
    ceiling_section = None
    if ceiling:
        cal = ceiling_estimate.calibration_features(index, p.day[keep], p.amount[keep], p.cds[keep], now, len(ids))
        if not np.array_equal(cal.index, s.index):
            raise AssertionError("ceiling features and the model's summary disagree on the customers")
        ceiling_section = ceiling_estimate.ceiling(cal, lapsed, actual_v)
        ceiling_section["model_minus_ceiling"] = {
            "lapse_auc": metrics["lapse_auc"] - ceiling_section["lapse_auc"],
            "top10_revenue_share": metrics["top10_revenue_share"] - ceiling_section["top10_revenue_share"],
        }

    states, counts = np.unique(scores.state.astype(str), return_counts=True)
    report: dict[str, Any] = {
        "data": str(data),
        "protocol": {
            "calibration": [EPOCH.isoformat(), cal_end.isoformat()],
            "holdout": [date.fromordinal(cal_end.toordinal() + 1).isoformat(), holdout_end.isoformat()],
            "calibration_weeks": now / scoring.WEEK,
            "holdout_weeks": horizon_weeks,
            "customers": len(s),
            "same_day_purchases_merged": True,
            "time_unit": "week",
            "inner_window_weeks": model.inner_window_weeks,
            "validation_window_weeks": model.diagnostics.get("validation_window_weeks"),
            "selected_in_calibration": model.diagnostics.get("selected"),
            "validation_scores": model.diagnostics.get("validation"),
        },
        "published_parameters_sample": published_check(sample) if sample is not None else None,
        "metrics": metrics,
        "targets": {"thresholds": TARGETS, "met": targets},
        "ceiling": ceiling_section,
        "fit": {"customers": len(s), **timing},
        "conditional_expectations": table,
        "tracking": tracking(model.bgnbd, s, tx, now, end),
        "states": {str(k): int(v) for k, v in zip(states, counts, strict=True)},
        "model": model.to_dict(),
        "files": {"predictions": str(csv_path), "plot": str(png_path)},
    }
    (out / "cdnow.json").write_text(json.dumps(report, indent=2, sort_keys=False, allow_nan=True) + "\n")
    return report


app = typer.Typer(add_completion=False, help=__doc__)


@app.command()
def main_command(
    cal_end: Annotated[str, typer.Option(help="last day of the calibration period")] = DEFAULT_CAL_END.isoformat(),
    holdout_end: Annotated[str, typer.Option(help="last day of the holdout period")] = DEFAULT_HOLDOUT_END.isoformat(),
    data: Annotated[Path, typer.Option(help="the full cohort")] = Path("data/cdnow/CDNOW_master.txt"),
    sample: Annotated[Path, typer.Option(help="the 1/10 sample, for the published-parameter check")] = Path(
        "data/cdnow/CDNOW_sample.txt"
    ),
    out: Annotated[Path, typer.Option(help="output directory")] = Path("build/eval"),
    ceiling: Annotated[bool, typer.Option(help="estimate the ceiling (trained on holdout labels, cross-validated)")] = True,
) -> None:
    report = run(data, sample, out, date.fromisoformat(cal_end), date.fromisoformat(holdout_end), ceiling=ceiling)
    m, t = report["metrics"], report["targets"]["met"]
    pub = report["published_parameters_sample"]

    def mark(ok: bool) -> str:
        return "ok  " if ok else "MISS"

    print(f"CDNOW eval: calibration to {cal_end}, holdout to {holdout_end}, {report['fit']['customers']} customers")
    if pub:
        print(
            f"  sample BG/NBD max rel. error {pub['bgnbd']['max_abs_relative_error']:.4%}, "
            f"Gamma-Gamma {pub['gamma_gamma']['max_abs_relative_error']:.4%}"
        )
    print(f"  {mark(t['lapse_auc_at_least_0.80'])} lapse AUC {m['lapse_auc']:.4f} (recency {m['recency_auc']:.4f}, BG/NBD {m['bgnbd_p_no_purchase_auc']:.4f}; target 0.80)")
    print(
        f"  {mark(t['top10_revenue_share_at_least_0.60'])} top 10% revenue share {m['top10_revenue_share']:.4f} "
        f"(BG/NBD x GG {m['bgnbd_gg_top10_revenue_share']:.4f}, perfect foresight {m['perfect_foresight_top10_revenue_share']:.4f}; target 0.60)"
    )
    print(
        f"  {mark(t['holdout_purchases_within_5_percent'])} holdout purchases {m['holdout_purchases_predicted']:.0f} predicted vs "
        f"{m['holdout_purchases_actual']:.0f} actual ({m['holdout_purchases_rel_error']:+.2%}; BG/NBD {m['bgnbd_holdout_purchases_rel_error']:+.2%})"
    )
    print(
        f"  {mark(t['fit_at_most_2_seconds'])} fit {report['fit']['wall_seconds_median']:.3f} s wall (median of {report['fit']['repeats']}), "
        f"{report['fit']['cpu_seconds_median']:.3f} s CPU"
    )
    c = report["ceiling"]
    if c:
        print(
            f"  ceiling (cheating: trained on holdout labels, {c['folds']}-fold cross-validated): "
            f"lapse AUC {c['lapse_auc']:.4f}, top 10% revenue share {c['top10_revenue_share']:.4f}"
        )
    print(f"  wrote {out / 'cdnow.json'}, {report['files']['predictions']}, {report['files']['plot']}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
