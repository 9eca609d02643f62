"""Customer lifetime value: the simple historic formula and the model-based 365-day prediction.

Historic CLV = average order value x purchase frequency x expected lifetime, where
- average order value = revenue / orders (all of the customer's orders so far),
- purchase frequency = orders per year over the customer's tenure (first order to now), counting
  at least one year of tenure so that a customer who just ordered once is not extrapolated to an
  order a day,
- expected lifetime = a number of years the shop sets (default 3, a common rule of thumb).
It describes the past; the predicted CLV below is the forecast.

Predicted 365-day CLV = expected orders in the next 365 days x expected spend per order (the
spend model's conditional mean). Undiscounted by default: over one year the difference is small
and the figure stays easy to explain. With an annual discount rate d the expected orders of each
week k ahead are discounted by (1 + d)^(-k/52).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from boomerang.segmenter.domain.scoring.history import FloatArray

WEEKS_PER_YEAR = 365.25 / 7.0


def historic(aov: ArrayLike, orders: ArrayLike, tenure_weeks: ArrayLike, expected_lifetime_years: float) -> FloatArray:
    aov_, orders_, tenure = (np.asarray(v, dtype=np.float64) for v in (aov, orders, tenure_weeks))
    per_year = orders_ / np.maximum(tenure / WEEKS_PER_YEAR, 1.0)
    return aov_ * per_year * float(expected_lifetime_years)


def predicted(
    expected_orders: Callable[[float], FloatArray],
    spend: ArrayLike,
    *,
    horizon_weeks: float = WEEKS_PER_YEAR,
    annual_discount_rate: float = 0.0,
) -> FloatArray:
    """`expected_orders(t)` gives expected orders in the next t weeks for every customer."""
    spend_ = np.asarray(spend, dtype=np.float64)
    if annual_discount_rate <= 0.0:
        return expected_orders(horizon_weeks) * spend_
    steps = int(np.ceil(horizon_weeks))
    total = np.zeros_like(spend_)
    previous = np.zeros_like(spend_)
    for k in range(1, steps + 1):
        t = min(float(k), horizon_weeks)
        cumulative = expected_orders(t)
        total += (cumulative - previous) / (1.0 + annual_discount_rate) ** (t / WEEKS_PER_YEAR)
        previous = cumulative
    return total * spend_
