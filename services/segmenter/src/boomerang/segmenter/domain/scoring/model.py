"""The customer-scoring model: fitted on the whole base by one worker, applied per customer.

`fit(transactions, now)` estimates everything from purchases on or before `now`; the result is
a frozen `ScoringModel` that serialises to plain JSON (`to_json` / `from_json`, versioned) so a
leader can fit it and every worker can apply it (`score`, `score_customer`).

What it predicts, and how:
- BG/NBD (`bgnbd.py`) for the probability a customer is still active and their expected orders;
- a dormancy correction of those expected orders: BG/NBD treats a customer who has been quiet
  for long as gone for good, but on real data many come back. The correction multiplies BG/NBD's
  expectation by exp(b1 [one-time buyer] + b2 g + b3 g^2), g = 1 - p(alive) for repeat buyers,
  a Poisson regression with BG/NBD's expectation as offset, learned inside the history (BG/NBD
  refitted at `now - W`, features there, orders in the last W weeks as labels). The regression's
  intercept (the overall level of that window, mostly season) is dropped, so the correction only
  moves customers relative to those BG/NBD is sure are active (g = 0). Its ridge strength (in
  customers; a huge one means no correction) is picked by validation, see `fit`. Same factor at
  any horizon;
- Gamma-Gamma (`gamma_gamma.py`) for the expected spend per order; predicted CLV multiplies;
- a lapse score: the probability of no order in the next `horizon` (90 days by default), a
  logistic regression learned on the same kind of inner window. Its candidate features are
  BG/NBD's own probability of ordering within the horizon (so the horizon carries over from the
  window to other horizons), whether the customer bought once only, the time since the last
  order relative to the customer's own cadence (mean gap, last gap), the number of orders,
  BG/NBD's expected orders, the customer's age and order value; which set is used is picked by
  validation, see `fit`. One-time buyers, for whom BG/NBD's probability alive is exactly 1, get
  a score that rises with the time since their only order;
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

# The dormancy correction's features. Each is zero for the customers BG/NBD is sure are active
# (repeat buyers with p(alive) = 1), so dropping the regression's intercept leaves them at
# BG/NBD's level: a feature without that property (the order value was tried) shifts the whole
# base's level instead and must not be added.
DORMANCY_FEATURES = ("one_time_buyer", "repeat_buyer_x_p_gone", "repeat_buyer_x_p_gone_squared")
# Candidate dormancy feature sets (indices into the design: 0 the intercept, then DORMANCY_FEATURES).
DORMANCY_FEATURE_SETS: dict[str, tuple[int, ...]] = {"p_gone": (0, 1, 2, 3)}
# Every feature the lapse score may use; a fitted model has a coefficient for each, zero for the
# features the selected feature set leaves out.
LAPSE_FEATURES = (
    "intercept",
    "logit_bgnbd_p_order_within_horizon",
    "one_time_buyer",
    "repeat_buyer_x_log1p_recency_over_mean_gap",
    "log1p_repeat_orders",
    "log_bgnbd_expected_orders_within_horizon",
    "repeat_buyer_x_log1p_recency_over_last_gap",
    "repeat_buyer_x_log_last_gap_over_mean_gap",
    "log1p_weeks_since_first_order",
    "log_order_value",
)
# Candidate lapse feature sets (indices into LAPSE_FEATURES), chosen between by validation.
LAPSE_FEATURE_SETS: dict[str, tuple[int, ...]] = {
    "bgnbd": (0, 1),
    "bgnbd_cadence": (0, 1, 2, 3, 4, 5),
    "bgnbd_cadence_last_gap_age_spend": (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
}
# Used when the history is too short to learn from: the lapse score is then BG/NBD's own
# probability of no order within the horizon.
_LAPSE_FALLBACK = (0.0, 1.0) + (0.0,) * (len(LAPSE_FEATURES) - 2)
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
    """Settings. The learned parts' design choices are candidates, picked by `fit` with a
    validation inside the history (see `fit`): `inner_window_candidates` (weeks; None: the
    validation window only, see `fit`), `lapse_feature_sets` (names in `LAPSE_FEATURE_SETS`) and
    `dormancy_prior_candidates` (ridge strength of the dormancy correction, in customers; a huge
    value means no correction). A single candidate fixes the choice."""

    inner_window_weeks: float | None = None
    inner_window_candidates: tuple[float, ...] | None = None
    lapse_feature_sets: tuple[str, ...] = tuple(LAPSE_FEATURE_SETS)
    dormancy_feature_sets: tuple[str, ...] = tuple(DORMANCY_FEATURE_SETS)
    dormancy_prior_candidates: tuple[float, ...] = (1.0, 10.0, 100.0, 1000.0, 1e6)
    lapse_horizon_days: float = 90.0
    expected_lifetime_years: float = 3.0
    annual_discount_rate: float = 0.0
    vip_share: float = 0.10
    lapsed_at: float = 0.9
    at_risk_at: float = 0.7
    new_within_days: float = 30.0
    l2: float = 1e-4
    min_customers_to_learn: int = 200

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("inner_window_candidates", "lapse_feature_sets", "dormancy_feature_sets", "dormancy_prior_candidates"):
            d[k] = None if d[k] is None else list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScoringConfig:
        d = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        for k in ("inner_window_candidates", "lapse_feature_sets", "dormancy_feature_sets", "dormancy_prior_candidates"):
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        return cls(**d)


@dataclass(frozen=True)
class Scores:
    """Scores of the customers of a `Summary` (arrays aligned with `index`). Times are days on the
    transactions' scale; `lapse_horizon_days` says which horizon `lapse_score` is for."""

    index: np.ndarray
    now: float | FloatArray  # per row when the summary's is
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
            now=float(self.now if np.ndim(self.now) == 0 else self.now[i]),
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
    floor = 1.0 / WEEK
    gap = np.where(s.x > 0, np.maximum(np.nan_to_num(s.mean_gap, nan=1.0), floor), 1.0)
    last_gap = np.where(s.x > 0, np.maximum(np.nan_to_num(s.last_gap, nan=1.0), floor), 1.0)
    return np.column_stack(
        [
            np.ones(len(s)),
            np.log(p_order) - np.log1p(-p_order),
            1.0 - repeat,
            repeat * np.log1p(s.recency / gap),
            np.log1p(s.x),
            np.log(expected),
            repeat * np.log1p(s.recency / last_gap),
            repeat * np.log(last_gap / gap),
            np.log1p(np.maximum(s.T, 0.0)),
            np.log(np.maximum(s.aov, 1.0)),
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

    def predicted_clv(
        self,
        s: Summary,
        horizon_weeks: float = clv.WEEKS_PER_YEAR,
        *,
        factor: FloatArray | None = None,
        spend: FloatArray | None = None,
    ) -> FloatArray:
        """`factor` and `spend`: the dormancy factor and expected spend, when already computed."""
        factor = self.dormancy_factor(s) if factor is None else factor

        def orders(t: float) -> FloatArray:
            return self.bgnbd_expected_orders(s, t) * factor

        spend = self.expected_spend(s) if spend is None else spend
        return clv.predicted(orders, spend, horizon_weeks=horizon_weeks, annual_discount_rate=self.config.annual_discount_rate)

    def score(self, s: Summary, *, lapse_horizon_days: float | None = None) -> Scores:
        horizon_days = self.config.lapse_horizon_days if lapse_horizon_days is None else float(lapse_horizon_days)
        r, f, m = rfm.scores(self.rfm, s.recency, s.orders, s.aov)
        p_alive = bgnbd.probability_alive(self.bgnbd, s.x, s.t_x, s.T)
        lapse = self.lapse_score(s, horizon_days / WEEK)
        # Each is used more than once below: computed once (scoring one customer runs on every event).
        factor, spend = self.dormancy_factor(s), self.expected_spend(s)
        predicted = self.predicted_clv(s, factor=factor, spend=spend)
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
            expected_orders_90d=self.bgnbd_expected_orders(s, 90.0 / WEEK) * factor,
            expected_orders_365d=self.bgnbd_expected_orders(s, 365.0 / WEEK) * factor,
            expected_spend=spend,
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
            dormancy=tuple(float(d["dormancy"].get(k, 0.0)) for k in DORMANCY_FEATURES),
            lapse=tuple(float(d["lapse"].get(k, 0.0)) for k in LAPSE_FEATURES),
            rfm=RfmEdges.from_dict(d["rfm"]),
            vip_clv_edge=float(d["vip_clv_edge"]),
            inner_window_weeks=float(d["inner_window_weeks"]),
            diagnostics=dict(d.get("diagnostics", {})),
        )

    @classmethod
    def from_json(cls, text: str) -> ScoringModel:
        return cls.from_dict(json.loads(text))


def inner_window_weeks(history_weeks: float, config: ScoringConfig) -> float:
    """The validation window V (and default inner window): 13 weeks, or a third of the history."""
    if config.inner_window_weeks is not None:
        return float(config.inner_window_weeks)
    return float(min(13.0, max(1.0, round(history_weeks / 3.0))))


@dataclass(frozen=True)
class _Window:
    """Features at `cut` (BG/NBD refitted there) and the orders in the `weeks` after it."""

    summary: Summary
    bgnbd: BgNbdParams
    y: FloatArray
    weeks: float

    @property
    def offset(self) -> FloatArray:
        s = self.summary
        return np.log(np.maximum(bgnbd.expected_purchases(self.bgnbd, self.weeks, s.x, s.t_x, s.T), _EPS))


def _window(tx: Transactions, n: int, cut: float, weeks: float, start: BgNbdParams, config: ScoringConfig) -> _Window | None:
    """None when there is too little to learn from (too few customers, or labels of one kind)."""
    inner = summarise(tx, cut, n)
    if len(inner) < config.min_customers_to_learn or not np.any(inner.x > 0):
        return None
    y = tx.between(cut, cut + weeks * WEEK).counts(n)[0][inner.index]
    if not 0 < np.count_nonzero(y) < len(y):
        return None
    return _Window(inner, bgnbd.fit(inner.x, inner.t_x, inner.T, start=start).params, y, weeks)


def _fit_dormancy(w: _Window, features: tuple[int, ...], prior_customers: float) -> FloatArray:
    """Coefficients over the whole design (intercept first), zero outside `features`."""
    X = _dormancy_design(w.summary, w.bgnbd)[:, list(features)]
    beta = np.zeros(len(DORMANCY_FEATURES) + 1)
    beta[list(features)] = glm.fit_poisson(X, w.y, w.offset, l2=prior_customers / len(w.summary))
    return beta


def _fit_lapse(w: _Window, features: tuple[int, ...], l2: float) -> FloatArray:
    X = _lapse_design(w.summary, w.bgnbd, w.weeks)[:, list(features)]
    beta = np.zeros(len(LAPSE_FEATURES))
    beta[list(features)] = glm.fit_logistic(X, (w.y > 0).astype(np.float64), l2=l2)
    return beta


def _dormancy_loss(w: _Window, beta: FloatArray) -> float:
    """Mean Poisson deviance on `w` of the expected orders as the model predicts them: BG/NBD x
    the correction, without the regression's intercept."""
    mu = np.maximum(np.exp(w.offset + _dormancy_design(w.summary, w.bgnbd)[:, 1:] @ beta[1:]), _EPS)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(w.y > 0, w.y * np.log(w.y / mu), 0.0)
    return float(2.0 * np.mean(term - (w.y - mu)))


def _lapse_loss(w: _Window, beta: FloatArray) -> float:
    """Mean log-loss on `w` of P(an order within `w.weeks`)."""
    z = _lapse_design(w.summary, w.bgnbd, w.weeks) @ beta
    bought = (w.y > 0).astype(np.float64)
    return float(np.mean(np.logaddexp(0.0, z) - bought * z))


def fit(transactions: Transactions, now: float, config: ScoringConfig | None = None) -> ScoringModel:
    """Fit every part of the model on the purchases on or before `now` (a day number).

    Anything after `now` is dropped first. The learned parts (dormancy correction, lapse score)
    and their design choices come from the history alone, by a time-ordered nested validation:
    - V, the validation window, is `inner_window_weeks` (13 weeks, or a third of the history);
    - for each candidate inner window W, each lapse feature set and each dormancy ridge strength:
      train on features at `now - V - W` (BG/NBD refitted there) with the orders in the W weeks
      after as labels; validate on features at `now - V` with the orders in the last V weeks
      (lapse: log-loss of P(order within V), so a window must also carry over to another
      horizon; dormancy: Poisson deviance with the level matched);
    - the best (W, feature set) for the lapse score and the best (W, strength) for the dormancy
      correction are refitted on features at `now - W` with the orders in the last W weeks.
    If no candidate can be trained, the choice falls back to the first candidates at W = V; if
    that cannot be trained either, to plain BG/NBD (no correction, its own lapse probability).
    """
    config = config or ScoringConfig()
    n = transactions.n_customers
    tx = transactions.before(now)
    s = summarise(tx, now, n)
    if len(s) == 0:
        raise ValueError("no customer has ordered before now")
    bg_fit = bgnbd.fit(s.x, s.t_x, s.T)
    gg_fit = gamma_gamma.fit(s.x, s.repeat_mean)
    v = inner_window_weeks(float(s.T.max()), config)
    if config.inner_window_candidates is not None:
        candidates_w = sorted({float(w) for w in config.inner_window_candidates})
    else:
        candidates_w = [v]
    feature_sets = {name: LAPSE_FEATURE_SETS[name] for name in config.lapse_feature_sets}
    dormancy_sets = {name: DORMANCY_FEATURE_SETS[name] for name in config.dormancy_feature_sets}
    priors = tuple(float(p) for p in config.dormancy_prior_candidates)
    diagnostics: dict[str, Any] = {
        "customers": len(s),
        "bgnbd_log_likelihood": bg_fit.log_likelihood,
        "bgnbd_converged": bg_fit.converged,
        "gamma_gamma_customers": gg_fit.customers,
        "gamma_gamma_log_likelihood": gg_fit.log_likelihood,
        "gamma_gamma_converged": gg_fit.converged,
        "validation_window_weeks": v,
    }
    windows: dict[float, _Window | None] = {}

    def final(weeks: float) -> _Window | None:  # features at now - W, labels in the last W weeks
        if weeks not in windows:
            windows[weeks] = _window(tx, n, now - weeks * WEEK, weeks, bg_fit.params, config)
        return windows[weeks]

    lapse_w, lapse_set = v, next(iter(feature_sets))
    dormancy_w, dormancy_set, prior = v, next(iter(dormancy_sets)), priors[0]
    valid = final(v)
    if valid is not None:
        lapse_scores: dict[str, float] = {}
        dormancy_scores: dict[str, float] = {}
        for w in candidates_w:
            train = _window(tx, n, now - (v + w) * WEEK, w, bg_fit.params, config)
            if train is None:
                continue
            for name, features in feature_sets.items():
                lapse_scores[f"{w:g}/{name}"] = _lapse_loss(valid, _fit_lapse(train, features, config.l2))
            for dname, dfeatures in dormancy_sets.items():
                for p in priors:
                    dormancy_scores[f"{w:g}/{dname}/{p:g}"] = _dormancy_loss(valid, _fit_dormancy(train, dfeatures, p))
        if lapse_scores:
            best = min(lapse_scores, key=lapse_scores.__getitem__)
            lapse_w, lapse_set = float(best.split("/")[0]), best.split("/", 1)[1]
            best = min(dormancy_scores, key=dormancy_scores.__getitem__)
            w_text, dormancy_set, p_text = best.split("/")
            dormancy_w, prior = float(w_text), float(p_text)
        diagnostics["validation"] = {"lapse_log_loss": lapse_scores, "dormancy_deviance": dormancy_scores}

    dormancy: tuple[float, ...] = (0.0,) * len(DORMANCY_FEATURES)
    lapse: tuple[float, ...] = _LAPSE_FALLBACK
    window = v
    w_lapse, w_dormancy = final(lapse_w), final(dormancy_w)
    if w_lapse is not None and w_dormancy is not None:
        beta = _fit_dormancy(w_dormancy, dormancy_sets[dormancy_set], prior)
        dormancy = tuple(float(b) for b in beta[1:])
        lapse = tuple(float(b) for b in _fit_lapse(w_lapse, feature_sets[lapse_set], config.l2))
        window = lapse_w
        diagnostics["selected"] = {
            "lapse_window_weeks": lapse_w,
            "lapse_feature_set": lapse_set,
            "dormancy_window_weeks": dormancy_w,
            "dormancy_feature_set": dormancy_set,
            "dormancy_prior_customers": prior,
        }
        diagnostics["inner_customers"] = len(w_lapse.summary)
        diagnostics["inner_bgnbd"] = w_lapse.bgnbd.to_dict()
        diagnostics["inner_level"] = float(np.exp(beta[0]))
        diagnostics["inner_orders"] = float(w_dormancy.y.sum())
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
