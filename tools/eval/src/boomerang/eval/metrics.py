"""The accuracy figures of issue 4, shared by the eval and its ceiling estimate."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def roc_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve of `score` for the boolean `positive` (ties count one half)."""
    pos = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def top_share(predicted: np.ndarray, actual: np.ndarray, share: float = 0.10) -> float:
    """Share of the actual total held by the top `share` of customers ranked by `predicted`."""
    k = max(1, int(len(predicted) * share))
    top = np.argsort(-predicted, kind="stable")[:k]
    total = float(actual.sum())
    return float(actual[top].sum() / total) if total > 0 else float("nan")
