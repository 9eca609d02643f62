"""PercentileScale: where a predicted CLV stands among the store's customers."""

from __future__ import annotations

import numpy as np
import pytest

from boomerang.segmenter.domain.scoring import PercentileScale


def test_percentile_is_the_share_of_customers_below():
    scale = PercentileScale.of(np.arange(1000.0))
    assert scale.percentile(-1) == 0
    assert scale.percentile(899.5) == pytest.approx(90, abs=0.2)
    assert scale.percentile(100_000) == 100


def test_the_best_of_ten_is_top_ten_percent_and_the_second_is_not():
    scale = PercentileScale.of([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert scale.percentile(10) >= 90 > scale.percentile(9)


def test_ties_share_the_lower_percentile():
    # Most customers bought once for the same small amount: none of them is "top".
    scale = PercentileScale.of([5.0] * 95 + [50, 60, 70, 80, 90])
    assert scale.percentile(5.0) == 0
    assert scale.percentile(90) >= 95


def test_the_scale_round_trips_and_refuses_nonsense():
    scale = PercentileScale.of(np.random.default_rng(1).gamma(2.0, 50.0, 5000))
    assert PercentileScale.from_dict(scale.to_dict()) == scale
    for bad in ([], [1.0, float("nan")]):
        with pytest.raises(ValueError):
            PercentileScale.of(bad)
