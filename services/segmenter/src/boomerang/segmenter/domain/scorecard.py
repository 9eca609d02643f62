"""The scoring model per store, fitted on its customers' states and applied to one customer.

Pure: states, the time and the model are passed in. Time on the models' scale is days since the
Unix epoch (`day_of`), same-day orders merged by UTC date, money the orders' net amounts
(refunds and cancellations taken off).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from datetime import datetime, timedelta, timezone

import numpy as np

from boomerang.segmenter.domain.model import CustomerState
from boomerang.segmenter.domain.scoring import PercentileScale, ScoringModel, Transactions, fit, summarise
from boomerang.segmenter.domain.scoring.model import CustomerScores
from boomerang.segmenter.domain.stages import Standing

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_DAY_S = 86400.0


def day_of(at: datetime) -> float:
    return (at - _EPOCH).total_seconds() / _DAY_S


def at_day(day: float) -> datetime:
    return _EPOCH + timedelta(days=day)


def orders_of(state: CustomerState, until: datetime | None = None) -> tuple[list[float], list[float]]:
    """(days, net amounts) of the customer's counted orders, at or before `until`."""
    days, amounts = [], []
    for record in state.order_records:
        if record.counted and record.placed_at is not None and (until is None or record.placed_at <= until):
            days.append(day_of(record.placed_at))
            amounts.append(float(record.net))
    return days, amounts


@dataclass(frozen=True)
class StoreModel:
    """A store's fitted model and where each predicted 365-day CLV stands among its customers."""

    store_id: str
    model: ScoringModel
    clv_scale: PercentileScale
    customers: int

    @cached_property
    def model_id(self) -> str:
        digest = hashlib.sha256(self.to_json().encode()).hexdigest()[:16]
        return f"{self.store_id}@{self.model.fitted_at:.3f}#{digest}"

    def to_json(self) -> str:
        return json.dumps(
            {
                "store_id": self.store_id,
                "customers": self.customers,
                "model": self.model.to_dict(),
                "clv_scale": self.clv_scale.to_dict(),
            },
            sort_keys=True,
            allow_nan=False,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> StoreModel:
        d = json.loads(text)
        return cls(d["store_id"], ScoringModel.from_dict(d["model"]), PercentileScale.from_dict(d["clv_scale"]), int(d["customers"]))


def fit_store(store_id: str, states: Iterable[CustomerState], now: datetime, min_customers: int) -> StoreModel | None:
    """Fit on every customer of the store with an order at or before `now`; None with fewer
    than `min_customers` such customers. Raises ValueError when the models cannot be fitted."""
    customers, days, amounts = [], [], []
    n = 0
    for state in states:
        d, a = orders_of(state, now)
        if not d:
            continue
        customers += [n] * len(d)
        days += d
        amounts += a
        n += 1
    if n < min_customers:
        return None
    tx = Transactions.of(customers, days, amounts)
    today = day_of(now)
    model = fit(tx, today)
    predicted = model.score(summarise(tx, today, n)).predicted_clv_365d
    if not np.all(np.isfinite(predicted)):
        raise ValueError("the fitted model predicts non-finite CLVs")
    return StoreModel(store_id, model, PercentileScale.of(predicted), n)


@dataclass(frozen=True)
class ScoreCard:
    model_id: str
    at: datetime
    scores: CustomerScores
    clv_percentile: float

    @property
    def standing(self) -> Standing:
        return Standing.of(self.scores, self.clv_percentile)

    @property
    def next_order_at(self) -> datetime | None:
        day = self.scores.next_order_day
        return at_day(day) if np.isfinite(day) else None


def score_card(state: CustomerState, store_model: StoreModel, at: datetime) -> ScoreCard | None:
    """The customer's scores at `at` under the store's model; None without an order by then."""
    days, amounts = orders_of(state, at)
    if not days:
        return None
    scores = store_model.model.score_customer(days, amounts, day_of(at))
    if scores is None:
        return None
    return ScoreCard(store_model.model_id, at, scores, store_model.clv_scale.percentile(scores.predicted_clv_365d))
