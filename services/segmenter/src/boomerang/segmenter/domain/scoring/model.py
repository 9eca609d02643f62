"""The customer-scoring model: fitted on the whole base by one worker, applied per customer.

`fit(transactions, now)` estimates everything from purchases on or before `now`; the result is
a frozen `ScoringModel` that serialises to plain JSON (`to_json` / `from_json`, versioned) so a
leader can fit it and every worker can apply it (`score`, `score_customer`).

What it predicts, and how:
- BG/NBD (`bgnbd.py`) for the probability a customer is still active and their expected orders;
- a dormancy correction of those expected orders: BG/NBD treats a customer who has been quiet
  for long as gone for good, but on real data many come back (on CDNOW, repeat buyers the model
  thinks are probably gone buy about twice what it expects). The correction multiplies BG/NBD's
  expectation by exp(b1 [one-time buyer] + b2 g + b3 g^2), g = 1 - p(alive) for repeat buyers,
  a Poisson regression with BG/NBD's expectation as offset, learned inside the history: BG/NBD
  fitted at `now - W`, features there, orders in the last W weeks as labels (W = the inner
  window: 13 weeks, or a third of the history if shorter). The regression's intercept (the
  overall level of that window, mostly season) is dropped, so the correction only moves
  customers relative to those BG/NBD is sure are active (g = 0). A ridge penalty worth
  `dormancy_prior_customers` customers keeps it near 1 on small bases. Same factor at any
  horizon;
- Gamma-Gamma (`gamma_gamma.py`) for the expected spend per order; predicted CLV multiplies;
- a lapse score: the probability of no order in the next `horizon` (90 days by default), a
  logistic regression learned on the same inner window. Its features are BG/NBD's own
  probability of ordering within the horizon (so the horizon carries over from the 13-week
  window to other horizons), whether the customer bought once only, the time since the last
  order relative to the customer's own cadence, the number of orders and BG/NBD's expected
  orders. One-time buyers, for whom BG/NBD's probability alive is exactly 1, get a score that
  rises with the time since their only order;
- RFM scores (`rfm.py`) against the population at fit time; historic CLV (`clv.py`).

Nothing here reads a clock or does I/O: `now` is a day number on the transactions' scale.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit

from boomerang.segmenter.domain.scoring import bgnbd, clv, gamma_gamma, glm, rfm
from boomerang.segmenter.domain.scoring.bgnbd import BgNbdParams
from boomerang.segmenter.domain.scoring.gamma_gamma import GammaGammaParams
from boomerang.segmenter.domain.scoring.history import WEEK, FloatArray, Summary, Transactions, summarise, summary_of
from boomerang.segmenter.domain.scoring.rfm import RfmEdges

MODEL_KIND = "boomerang.segmenter.scoring"
MODEL_VERSION = 1

DORMANCY_FEATURES = ("one_time_buyer", "repeat_buyer_x_p_gone", "repeat_buyer_x_p_gone_squared")
LAPSE_FEATURES = (
    "intercept",
    "logit_bgnbd_p_order_within_horizon",
    "one_time_buyer",
    "repeat_buyer_x_log1p_recency_over_mean_gap",
    "log1p_repeat_orders",
    "log_bgnbd_expected_orders_within_horizon",
)
# Used when the history is too short to learn from: the lapse score is then BG/NBD's own
# probability of no order within the horizon.
_LAPSE_FALLBACK = (0.0, 1.0, 0.0, 0.0, 0.0, 0.0)
_EPS = 1e-9


class State:
    """A simple mapping from scores to a state, for the evaluation and until the lifecycle policy
    (a per-store policy file) replaces it. First match wins:
    new (one order, within `new_within_days`), lapsed (lapse score over the configured horizon,
    90 days by default, >= `lapsed_at`), at_risk (>= `at_risk_at`), vip (predicted 365-day CLV in the top `vip_share` of the base at fit time),
    active."""

    NEW = "new"
    LAPSED = "lapsed"
    AT_RISK = "at_risk"
    VIP = "vip"
    ACTIVE = "active"


@dataclass(frozen=True)
class ScoringConfig:
    inner_window_weeks: float | None = None
    lapse_horizon_days: float = 90.0
    expected_lifetime_years: float = 3.0
    annual_discount_rate: float = 0.0
    vip_share: float = 0.10
    lapsed_at: float = 0.9
    at_risk_at: float = 0.7
    new_within_days: float = 30.0
    l2: float = 1e-4
    dormancy_prior_customers: float = 100.0
    min_customers_to_learn: int = 200

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScoringConfig:
        return cls(**d)


@dataclass(frozen=True)
class Scores:
    """Scores of the customers of a `Summary` (arrays aligned with `index`). Times are days on the
    transactions' scale; `lapse_horizon_days` says which horizon `lapse_score` is for."""

    index: np.ndarray
    now: float
    lapse_horizon_days: float
    recency_score: np.ndarray
    frequency_score: np.ndarray
    monetary_score: np.ndarray
    historic_clv: FloatArray
    p_alive: FloatArray
    expected_orders_90d: FloatArray
    expected_orders_365d: FloatArray
    expected_spend: FloatArray
    predicted_clv_365d: FloatArray
    lapse_score: FloatArray
    next_order_day: FloatArray
    state: np.ndarray

    def __len__(self) -> int:
        return len(self.index)

    def row(self, i: int) -> CustomerScores:
        return CustomerScores(
            now=self.now,
            lapse_horizon_days=self.lapse_horizon_days,
            recency_score=int(self.recency_score[i]),
            frequency_score=int(self.frequency_score[i]),
            monetary_score=int(self.monetary_score[i]),
            historic_clv=float(self.historic_clv[i]),
            p_alive=float(self.p_alive[i]),
            expected_orders_90d=float(self.expected_orders_90d[i]),
            expected_orders_365d=float(self.expected_orders_365d[i]),
            expected_spend=float(self.expected_spend[i]),
            predicted_clv_365d=float(self.predicted_clv_365d[i]),
            lapse_score=float(self.lapse_score[i]),
            next_order_day=float(self.next_order_day[i]),
            state=str(self.state[i]),
        )


@dataclass(frozen=True)
class CustomerScores:
    now: float
    lapse_horizon_days: float
    recency_score: int
    frequency_score: int
    monetary_score: int
    historic_clv: float
    p_alive: float
    expected_orders_90d: float
    expected_orders_365d: float
    expected_spend: float
    predicted_clv_365d: float
    lapse_score: float
    next_order_day: float
    state: str


def _dormancy_design(s: Summary, params: BgNbdParams) -> FloatArray:
    repeat = (s.x > 0).astype(np.float64)
    gone = 1.0 - bgnbd.probability_alive(params, s.x, s.t_x, s.T)
    return np.column_stack([np.ones(len(s)), 1.0 - repeat, repeat * gone, repeat * gone**2])


def _lapse_design(s: Summary, params: BgNbdParams, horizon_weeks: float) -> FloatArray:
    repeat = (s.x > 0).astype(np.float64)
    p_order = 1.0 - bgnbd.probability_no_purchase(params, horizon_weeks, s.x, s.t_x, s.T)
    p_order = np.clip(p_order, _EPS, 1.0 - _EPS)
    expected = np.maximum(bgnbd.expected_purchases(params, horizon_weeks, s.x, s.t_x, s.T), _EPS)
    gap = np.where(s.x > 0, np.maximum(np.nan_to_num(s.mean_gap, nan=1.0), 1.0 / WEEK), 1.0)
    return np.column_stack(
        [
            np.ones(len(s)),
            np.log(p_order) - np.log1p(-p_order),
            1.0 - repeat,
            repeat * np.log1p(s.recency / gap),
            np.log1p(s.x),
            np.log(expected),
        ]
    )


@dataclass(frozen=True)
class ScoringModel:
    fitted_at: float
    config: ScoringConfig
    bgnbd: BgNbdParams
    gamma_gamma: GammaGammaParams
    dormancy: tuple[float, ...]
    lapse: tuple[float, ...]
    rfm: RfmEdges
    vip_clv_edge: float
    inner_window_weeks: float
    diagnostics: dict[str, Any] = field(default_factory=dict)

    # --- predictions over arrays -------------------------------------------------------------
    def bgnbd_expected_orders(self, s: Summary, horizon_weeks: float) -> FloatArray:
        return bgnbd.expected_purchases(self.bgnbd, horizon_weeks, s.x, s.t_x, s.T)

    def dormancy_factor(self, s: Summary) -> FloatArray:
        return np.exp(_dormancy_design(s, self.bgnbd)[:, 1:] @ np.asarray(self.dormancy))

    def expected_orders(self, s: Summary, horizon_weeks: float) -> FloatArray:
        """Expected orders in the next `horizon_weeks`: BG/NBD with the dormancy correction."""
        return self.bgnbd_expected_orders(s, horizon_weeks) * self.dormancy_factor(s)

    def expected_spend(self, s: Summary) -> FloatArray:
        return gamma_gamma.expected_spend(self.gamma_gamma, s.x, s.repeat_mean)

    def lapse_score(self, s: Summary, horizon_weeks: float) -> FloatArray:
        """P(no order in the next `horizon_weeks`)."""
        return 1.0 - expit(_lapse_design(s, self.bgnbd, horizon_weeks) @ np.asarray(self.lapse))

    def predicted_clv(self, s: Summary, horizon_weeks: float = clv.WEEKS_PER_YEAR) -> FloatArray:
        factor = self.dormancy_factor(s)

        def orders(t: float) -> FloatArray:
            return self.bgnbd_expected_orders(s, t) * factor

        return clv.predicted(
            orders, self.expected_spend(s), horizon_weeks=horizon_weeks, annual_discount_rate=self.config.annual_discount_rate
        )

    def score(self, s: Summary, *, lapse_horizon_days: float | None = None) -> Scores:
        horizon_days = self.config.lapse_horizon_days if lapse_horizon_days is None else float(lapse_horizon_days)
        r, f, m = rfm.scores(self.rfm, s.recency, s.orders, s.aov)
        p_alive = bgnbd.probability_alive(self.bgnbd, s.x, s.t_x, s.T)
        lapse = self.lapse_score(s, horizon_days / WEEK)
        predicted = self.predicted_clv(s)
        c = self.config
        lapse_now = lapse if horizon_days == c.lapse_horizon_days else self.lapse_score(s, c.lapse_horizon_days / WEEK)
        state = np.full(len(s), State.ACTIVE, dtype=object)
        state[predicted >= self.vip_clv_edge] = State.VIP
        state[lapse_now >= c.at_risk_at] = State.AT_RISK
        state[lapse_now >= c.lapsed_at] = State.LAPSED
        state[(s.x == 0) & (s.T * WEEK <= c.new_within_days)] = State.NEW
        return Scores(
            index=s.index,
            now=s.now,
            lapse_horizon_days=horizon_days,
            recency_score=r,
            frequency_score=f,
            monetary_score=m,
            historic_clv=clv.historic(s.aov, s.orders, s.T, c.expected_lifetime_years),
            p_alive=p_alive,
            expected_orders_90d=self.expected_orders(s, 90.0 / WEEK),
            expected_orders_365d=self.expected_orders(s, 365.0 / WEEK),
            expected_spend=self.expected_spend(s),
            predicted_clv_365d=predicted,
            lapse_score=lapse,
            next_order_day=s.now + WEEK * bgnbd.median_weeks_to_next_purchase(self.bgnbd, s.x, s.T),
            state=state,
        )

    def score_customer(self, order_days: ArrayLike, order_amounts: ArrayLike, now: float) -> CustomerScores | None:
        """One customer's scores from their orders (days and amounts); None without any order."""
        s = summary_of(order_days, order_amounts, now)
        return self.score(s).row(0) if len(s) else None

    # --- serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": MODEL_KIND,
            "version": MODEL_VERSION,
            "fitted_at": self.fitted_at,
            "config": self.config.to_dict(),
            "bgnbd": self.bgnbd.to_dict(),
            "gamma_gamma": self.gamma_gamma.to_dict(),
            "dormancy": dict(zip(DORMANCY_FEATURES, self.dormancy, strict=True)),
            "lapse": dict(zip(LAPSE_FEATURES, self.lapse, strict=True)),
            "rfm": self.rfm.to_dict(),
            "vip_clv_edge": self.vip_clv_edge,
            "inner_window_weeks": self.inner_window_weeks,
            "diagnostics": self.diagnostics,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, allow_nan=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScoringModel:
        if d.get("kind") != MODEL_KIND:
            raise ValueError(f"not a scoring model: kind={d.get('kind')!r}")
        if d.get("version") != MODEL_VERSION:
            raise ValueError(f"unsupported scoring model version {d.get('version')!r} (this code reads {MODEL_VERSION})")
        return cls(
            fitted_at=float(d["fitted_at"]),
            config=ScoringConfig.from_dict(d["config"]),
            bgnbd=BgNbdParams.from_dict(d["bgnbd"]),
            gamma_gamma=GammaGammaParams.from_dict(d["gamma_gamma"]),
            dormancy=tuple(float(d["dormancy"][k]) for k in DORMANCY_FEATURES),
            lapse=tuple(float(d["lapse"][k]) for k in LAPSE_FEATURES),
            rfm=RfmEdges.from_dict(d["rfm"]),
            vip_clv_edge=float(d["vip_clv_edge"]),
            inner_window_weeks=float(d["inner_window_weeks"]),
            diagnostics=dict(d.get("diagnostics", {})),
        )

    @classmethod
    def from_json(cls, text: str) -> ScoringModel:
        return cls.from_dict(json.loads(text))


def inner_window_weeks(history_weeks: float, config: ScoringConfig) -> float:
    if config.inner_window_weeks is not None:
        return float(config.inner_window_weeks)
    return float(min(13.0, max(1.0, round(history_weeks / 3.0))))


def fit(transactions: Transactions, now: float, config: ScoringConfig | None = None) -> ScoringModel:
    """Fit every part of the model on the purchases on or before `now` (a day number)."""
    config = config or ScoringConfig()
    n = transactions.n_customers
    s = summarise(transactions, now, n)
    if len(s) == 0:
        raise ValueError("no customer has ordered before now")
    bg_fit = bgnbd.fit(s.x, s.t_x, s.T)
    gg_fit = gamma_gamma.fit(s.x, s.repeat_mean)
    window = inner_window_weeks(float(s.T.max()), config)
    cut = now - window * WEEK
    inner = summarise(transactions, cut, n)
    diagnostics: dict[str, Any] = {
        "customers": len(s),
        "bgnbd_log_likelihood": bg_fit.log_likelihood,
        "bgnbd_converged": bg_fit.converged,
        "gamma_gamma_customers": gg_fit.customers,
        "gamma_gamma_log_likelihood": gg_fit.log_likelihood,
        "gamma_gamma_converged": gg_fit.converged,
        "inner_customers": len(inner),
    }
    dormancy: tuple[float, ...] = (0.0,) * len(DORMANCY_FEATURES)
    lapse: tuple[float, ...] = _LAPSE_FALLBACK
    if len(inner) >= config.min_customers_to_learn and np.any(inner.x > 0):
        bought, _ = transactions.between(cut, now).counts(n)
        y = bought[inner.index]
        if 0 < np.count_nonzero(y) < len(y):
            bg_inner = bgnbd.fit(inner.x, inner.t_x, inner.T, start=bg_fit.params).params
            expected = bgnbd.expected_purchases(bg_inner, window, inner.x, inner.t_x, inner.T)
            beta = glm.fit_poisson(
                _dormancy_design(inner, bg_inner),
                y,
                np.log(np.maximum(expected, _EPS)),
                l2=config.dormancy_prior_customers / len(inner),
            )
            dormancy = tuple(float(v) for v in beta[1:])
            lapse = tuple(float(v) for v in glm.fit_logistic(_lapse_design(inner, bg_inner, window), (y > 0).astype(np.float64), l2=config.l2))
            diagnostics["inner_bgnbd"] = bg_inner.to_dict()
            diagnostics["inner_level"] = float(np.exp(beta[0]))
            diagnostics["inner_orders"] = float(y.sum())
    model = ScoringModel(
        fitted_at=float(now),
        config=config,
        bgnbd=bg_fit.params,
        gamma_gamma=gg_fit.params,
        dormancy=dormancy,
        lapse=lapse,
        rfm=RfmEdges.of(s.recency, s.orders, s.aov),
        vip_clv_edge=math.inf,
        inner_window_weeks=window,
        diagnostics=diagnostics,
    )
    edge = float(np.quantile(model.predicted_clv(s), 1.0 - config.vip_share)) if config.vip_share > 0 else math.inf
    return ScoringModel(**{**model.__dict__, "vip_clv_edge": edge})
