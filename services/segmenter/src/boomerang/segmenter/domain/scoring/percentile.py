"""Where a customer's score stands in the store's population, as a percentile (0-100).

Fitted once with the model (`PercentileScale.of(predicted_clv_of_every_customer)`), stored as
`points` quantiles, so applying it to one customer needs neither the population nor I/O. The
percentile of a value is the share of the population strictly below it (0.1-point resolution
with the default 1,001 quantiles); ties share the lower percentile, as RFM ties share the
lower score, so a value held by most customers is never "top".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class PercentileScale:
    quantiles: tuple[float, ...]

    @classmethod
    def of(cls, values: ArrayLike, points: int = 1001) -> PercentileScale:
        a = np.asarray(values, dtype=np.float64)
        if a.ndim != 1 or len(a) == 0 or not np.all(np.isfinite(a)):
            raise ValueError("a percentile scale needs at least one finite value")
        if points < 2:
            raise ValueError("a percentile scale needs at least 2 points")
        return cls(tuple(float(q) for q in np.quantile(a, np.linspace(0.0, 1.0, points))))

    @cached_property
    def _points(self) -> np.ndarray:
        return np.asarray(self.quantiles)

    def percentile(self, value: float) -> float:
        """Percent of the population below `value`: 0 at or below the lowest, 100 above the highest."""
        return float(self.percentiles([value])[0])

    def percentiles(self, values: ArrayLike) -> np.ndarray:
        """`percentile` of each value, on arrays."""
        below = np.searchsorted(self._points, np.asarray(values, dtype=np.float64), side="left")
        return 100.0 * below / len(self.quantiles)

    def to_dict(self) -> dict[str, list[float]]:
        return {"quantiles": list(self.quantiles)}

    @classmethod
    def from_dict(cls, d: dict[str, list[float]]) -> PercentileScale:
        return cls(tuple(float(q) for q in d["quantiles"]))
