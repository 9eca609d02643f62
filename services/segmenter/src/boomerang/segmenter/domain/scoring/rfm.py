"""RFM scores, 1 (worst) to 5 (best) each, against a population.

- Recency: weeks since the last order; fewer is better.
- Frequency: number of orders (same-day orders count once).
- Monetary: average order value (not total spend, so M does not repeat F).

Edges are the population's 20/40/60/80% quantiles, computed once (`RfmEdges.of`) and applied to
any customer (`scores`). Ties are common (most customers have one order): a value equal to an
edge gets the lower score, so every one-order customer has F = 1, and a customer who ordered
today has R = 5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

QUANTILES = (0.2, 0.4, 0.6, 0.8)


@dataclass(frozen=True)
class RfmEdges:
    recency: tuple[float, ...]
    frequency: tuple[float, ...]
    monetary: tuple[float, ...]

    @classmethod
    def of(cls, recency: ArrayLike, frequency: ArrayLike, monetary: ArrayLike) -> RfmEdges:
        def edges(v: ArrayLike) -> tuple[float, ...]:
            a = np.asarray(v, dtype=np.float64)
            if len(a) == 0:
                return (0.0, 0.0, 0.0, 0.0)
            return tuple(float(e) for e in np.quantile(a, QUANTILES))

        return cls(recency=edges(recency), frequency=edges(frequency), monetary=edges(monetary))

    def to_dict(self) -> dict[str, list[float]]:
        return {"recency": list(self.recency), "frequency": list(self.frequency), "monetary": list(self.monetary)}

    @classmethod
    def from_dict(cls, d: dict[str, list[float]]) -> RfmEdges:
        return cls(
            recency=tuple(float(v) for v in d["recency"]),
            frequency=tuple(float(v) for v in d["frequency"]),
            monetary=tuple(float(v) for v in d["monetary"]),
        )


def _above(edges: tuple[float, ...], v: ArrayLike) -> np.ndarray:
    """How many edges lie strictly below each value (0..4)."""
    return np.searchsorted(np.asarray(edges), np.asarray(v, dtype=np.float64), side="left")


def scores(edges: RfmEdges, recency: ArrayLike, frequency: ArrayLike, monetary: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(R, F, M) scores, each an int array of 1..5."""
    r = 5 - _above(edges.recency, recency)
    f = 1 + _above(edges.frequency, frequency)
    m = 1 + _above(edges.monetary, monetary)
    return r.astype(np.int64), f.astype(np.int64), m.astype(np.int64)
