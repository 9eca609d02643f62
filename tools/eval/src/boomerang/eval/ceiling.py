"""The ceiling: the best any model of calibration history can do, estimated by cheating.

Models here are trained ON THE HOLDOUT LABELS (did the customer buy in the holdout, how much did
they spend) from features of the calibration history only, and scored by k-fold
cross-validation, so each customer is scored by a model that never saw their own label. No
honest model (one that may not see the holdout) should beat them by more than noise: if these
cannot reach a target, the calibration history does not carry enough to reach it.

Strictly an evaluation figure. Nothing in here is read by the segmenter's model or by any of its
choices; the eval computes it after the predictions are written.

Two estimators:
- `regression`: a logistic regression of "bought in the holdout" (lapse AUC) and a ridge
  regression of log(1 + holdout revenue) (top-10 % share) on 17 per-customer calibration
  features and all their pairwise products, at a few ridge strengths;
- `cells`: the holdout means of customers in the same cell of (repeat orders, recency, age,
  order value) bins: a non-parametric lookup, which overfits badly in-sample (reported for that
  reason: only in-sample, with thousands of cells, does it look good).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit

from boomerang.eval.metrics import roc_auc, top_share

WEEK = 7.0
FEATURES = (
    "log1p_repeat_orders",
    "recency_weeks",
    "log1p_recency_weeks",
    "age_weeks",
    "log1p_mean_order_value",
    "log1p_total_spend",
    "log1p_mean_cds_per_order",
    "log1p_first_order_value",
    "log1p_last_order_value",
    "log1p_last_gap_weeks",
    "log1p_mean_gap_weeks",
    "recency_over_mean_gap",
    "repeat_orders_per_week",
    "one_time_buyer",
    "log1p_weeks_first_to_last",
    "log1p_max_cds_per_order",
    "log1p_gaps_under_2_weeks",
)
RIDGE_STRENGTHS = (100.0, 10.0, 1.0)  # strongest first: each fit starts from the previous one
# (repeat orders capped at, recency bin weeks, age bin weeks, order-value quantile bins)
CELL_SPECS = ((20, 1.0, 100.0, 1), (20, 2.0, 4.0, 1), (10, 2.0, 2.0, 3), (15, 1.0, 1.0, 4), (30, 0.5, 1.0, 5))


@dataclass(frozen=True)
class Calibration:
    """Per-customer calibration features, rows in ascending customer index (`index`)."""

    index: np.ndarray
    features: np.ndarray  # columns as FEATURES
    x: np.ndarray
    recency: np.ndarray
    age: np.ndarray
    aov: np.ndarray


def calibration_features(
    customer: np.ndarray, day: np.ndarray, amount: np.ndarray, cds: np.ndarray, now: float, n: int
) -> Calibration:
    """Features at `now` (days) of every customer with a purchase on or before it; same-day
    purchases merged (amounts and CDs summed)."""
    keep = day <= now
    c, d, a, q = customer[keep], np.floor(day[keep]), amount[keep], cds[keep].astype(np.float64)
    order = np.lexsort((d, c))
    c, d, a, q = c[order], d[order], a[order], q[order]
    new = np.ones(len(c), dtype=bool)
    new[1:] = (c[1:] != c[:-1]) | (d[1:] != d[:-1])
    group = np.cumsum(new) - 1
    a, q = np.bincount(group, weights=a), np.bincount(group, weights=q)
    c, d = c[new], d[new]

    first = np.ones(len(c), dtype=bool)
    first[1:] = c[1:] != c[:-1]
    last = np.ones(len(c), dtype=bool)
    last[:-1] = c[1:] != c[:-1]
    starts = np.flatnonzero(first)
    index = c[first]
    orders = np.diff(np.append(starts, len(c))).astype(np.float64)
    x = orders - 1.0
    t_first, t_last = d[first] / WEEK, d[last] / WEEK
    age = now / WEEK - t_first
    t_x = t_last - t_first
    recency = age - t_x
    gap = np.zeros(len(c))
    gap[~first] = (d[~first] - d[np.flatnonzero(~first) - 1]) / WEEK
    row_of = np.cumsum(first) - 1  # each transaction's customer row
    last_gap = np.where(x > 0, gap[last], 0.0)
    mean_gap = np.where(x > 0, t_x / np.maximum(x, 1.0), 0.0)
    short_gaps = np.bincount(row_of, weights=((~first) & (gap < 2.0)).astype(np.float64), minlength=len(index))
    spend = np.bincount(row_of, weights=a, minlength=len(index))
    cds_total = np.bincount(row_of, weights=q, minlength=len(index))
    aov = spend / orders
    features = np.column_stack(
        [
            np.log1p(x),
            recency,
            np.log1p(recency),
            age,
            np.log1p(aov),
            np.log1p(spend),
            np.log1p(cds_total / orders),
            np.log1p(a[first]),
            np.log1p(a[last]),
            np.log1p(last_gap),
            np.log1p(mean_gap),
            recency / (mean_gap + 1.0),
            x / (age + 1.0),
            (x == 0).astype(np.float64),
            np.log1p(t_x),
            np.log1p(np.maximum.reduceat(q, starts)),
            np.log1p(short_gaps),
        ]
    )
    return Calibration(index=index, features=features, x=x, recency=recency, age=age, aov=aov)


def with_pairwise_products(features: np.ndarray) -> np.ndarray:
    """Intercept, the standardised features and every product of two of them (squares included).
    Standardising uses the features only, never a label."""
    z = (features - features.mean(0)) / (features.std(0) + 1e-9)
    k = z.shape[1]
    return np.hstack([np.ones((len(z), 1)), z] + [z[:, [i]] * z[:, i:] for i in range(k)])


def _fit_logistic(X: np.ndarray, y: np.ndarray, l2: float, start: np.ndarray | None = None) -> np.ndarray:
    """Ridge-penalised logistic regression (summed log-loss + l2 |beta|^2, intercept free), by
    Newton's method with step halving: a handful of passes where a quasi-Newton method needs
    thousands on these correlated product columns."""
    penalty = np.full(X.shape[1], 2.0 * l2)
    penalty[0] = 0.0

    def loss(beta: np.ndarray) -> float:
        z = X @ beta
        return float(np.sum(np.logaddexp(0.0, z) - y * z)) + 0.5 * float(penalty @ beta**2)

    beta = np.zeros(X.shape[1]) if start is None else start
    current = loss(beta)
    for _ in range(50):
        p = expit(X @ beta)
        grad = X.T @ (p - y) + penalty * beta
        hessian = (X * (p * (1.0 - p))[:, None]).T @ X + np.diag(penalty)
        step = np.linalg.solve(hessian, grad)
        if grad @ step < 1e-6:  # Newton decrement: the loss is within 1e-6 nats of its minimum
            break
        t = 1.0
        while t > 1e-6 and loss(beta - t * step) > current:
            t /= 2.0
        beta = beta - t * step
        current = loss(beta)
    return beta


def _fit_ridge(X: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    penalty = l2 * np.eye(X.shape[1])
    penalty[0, 0] = 0.0
    return np.linalg.solve(X.T @ X + penalty, X.T @ y)


def folds(n: int, k: int, seed: int) -> np.ndarray:
    """A fold number per customer, balanced, in random order."""
    return np.random.default_rng(seed).permutation(np.arange(n) % k)


def regression(
    design: np.ndarray, lapsed: np.ndarray, revenue: np.ndarray, fold: np.ndarray, strengths: tuple[float, ...]
) -> list[dict[str, float]]:
    """Cross-validated (each fold scored by a model fitted on the others) and in-sample figures,
    one row per ridge strength (each fit starts from the previous strength's solution)."""
    bought = (~lapsed).astype(np.float64)
    target = np.log1p(revenue)
    n, k = len(bought), len(strengths)
    z, v = np.zeros((k, n)), np.zeros((k, n))
    for f in np.unique(fold):
        train, test = fold != f, fold == f
        beta = None
        for i, l2 in enumerate(strengths):
            beta = _fit_logistic(design[train], bought[train], l2, beta)
            z[i, test] = design[test] @ beta
            v[i, test] = design[test] @ _fit_ridge(design[train], target[train], l2)
    rows = []
    beta = None
    for i, l2 in enumerate(strengths):
        beta = _fit_logistic(design, bought, l2, beta)
        rows.append(
            {
                "ridge_strength": l2,
                "lapse_auc": roc_auc(lapsed, -z[i]),
                "top10_revenue_share": top_share(v[i], revenue),
                "in_sample_lapse_auc": roc_auc(lapsed, -(design @ beta)),
                "in_sample_top10_revenue_share": top_share(design @ _fit_ridge(design, target, l2), revenue),
            }
        )
    return rows


def _cells(cal: Calibration, spec: tuple[int, float, float, int]) -> np.ndarray:
    x_cap, recency_weeks, age_weeks, value_bins = spec
    edges = np.quantile(cal.aov, np.linspace(0.0, 1.0, value_bins + 1)[1:-1])
    keys = np.column_stack(
        [
            np.minimum(cal.x, x_cap),
            np.floor(cal.recency / recency_weeks),
            np.floor(cal.age / age_weeks),
            np.digitize(cal.aov, edges),
        ]
    )
    return np.unique(keys, axis=0, return_inverse=True)[1].ravel()


def cells(
    cal: Calibration, lapsed: np.ndarray, revenue: np.ndarray, fold: np.ndarray, spec: tuple[int, float, float, int]
) -> dict[str, Any]:
    """Each customer scored by the holdout means of the other folds' customers in their cell (the
    overall mean for a cell the other folds do not have)."""
    cell = _cells(cal, spec)
    m = int(cell.max()) + 1
    bought = (~lapsed).astype(np.float64)

    def means(rows: np.ndarray, values: np.ndarray, default: float) -> np.ndarray:
        count = np.bincount(cell[rows], minlength=m)
        total = np.bincount(cell[rows], weights=values[rows], minlength=m)
        return np.where(count > 0, total / np.maximum(count, 1), default)

    p, v = np.zeros(len(cell)), np.zeros(len(cell))
    for f in np.unique(fold):
        train = fold != f
        p[~train] = means(train, bought, bought[train].mean())[cell[~train]]
        v[~train] = means(train, revenue, revenue[train].mean())[cell[~train]]
    everyone = np.ones(len(cell), dtype=bool)
    return {
        "cells": m,
        "repeat_orders_cap": spec[0],
        "recency_bin_weeks": spec[1],
        "age_bin_weeks": spec[2],
        "order_value_bins": spec[3],
        "lapse_auc": roc_auc(lapsed, -p),
        "top10_revenue_share": top_share(v, revenue),
        "in_sample_lapse_auc": roc_auc(lapsed, -means(everyone, bought, 0.0)[cell]),
        "in_sample_top10_revenue_share": top_share(means(everyone, revenue, 0.0)[cell], revenue),
    }


def ceiling(cal: Calibration, lapsed: np.ndarray, revenue: np.ndarray, *, k: int = 5, seed: int = 0) -> dict[str, Any]:
    """The ceiling section of cdnow.json. `lapsed` and `revenue` are the HOLDOUT labels, rows as `cal`."""
    fold = folds(len(lapsed), k, seed)
    design = with_pairwise_products(cal.features)
    reg = regression(design, lapsed, revenue, fold, RIDGE_STRENGTHS)
    cell = [cells(cal, lapsed, revenue, fold, spec) for spec in CELL_SPECS]
    cross_validated = reg + cell
    return {
        "what": (
            "the best any model of calibration history can do, estimated by cheating: trained on holdout labels, "
            f"{k}-fold cross-validated. An evaluation figure only: it never feeds the model or any tuning."
        ),
        "folds": k,
        "seed": seed,
        "features": list(FEATURES),
        "design_columns": int(design.shape[1]),
        "lapse_auc": max(r["lapse_auc"] for r in cross_validated),
        "top10_revenue_share": max(r["top10_revenue_share"] for r in cross_validated),
        "regression": reg,
        "cells": cell,
    }
