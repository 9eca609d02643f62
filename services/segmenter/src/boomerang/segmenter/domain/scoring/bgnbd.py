"""BG/NBD: the beta-geometric / negative binomial distribution model of repeat buying.

Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to the
Pareto/NBD Model", Marketing Science 24(2). While active a customer buys as a Poisson process
with rate lambda ~ Gamma(r, alpha); after each purchase they drop out with probability
p ~ Beta(a, b). A customer is summarised by (x, t_x, T): repeat purchases, weeks from first to
last purchase, weeks from first purchase to now.

The model has a blind spot the segmenter handles elsewhere: dropout only happens right after a
purchase, so a one-time buyer (x = 0) is "alive" with probability exactly 1 however long ago
they bought. `lapse.py` scores them explicitly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln, hyp2f1

from boomerang.segmenter.domain.scoring.history import FloatArray


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, float]) -> BgNbdParams:
        return cls(r=float(d["r"]), alpha=float(d["alpha"]), a=float(d["a"]), b=float(d["b"]))


@dataclass(frozen=True)
class BgNbdFit:
    params: BgNbdParams
    log_likelihood: float
    customers: int
    iterations: int
    converged: bool


def _arr(*xs: ArrayLike) -> list[FloatArray]:
    return [np.asarray(v, dtype=np.float64) for v in xs]


def _terms(r: float, alpha: float, a: float, b: float, x: FloatArray, t_x: FloatArray, T: FloatArray):
    """The three log terms of the individual likelihood (FHL 2005, eq. 6)."""
    xm = np.maximum(x, 1.0)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    a3 = np.where(x > 0, betaln(a + 1.0, b + xm - 1.0) - betaln(a, b) - (r + x) * np.log(alpha + t_x), -np.inf)
    return a1, a2, a3


def log_likelihood(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """Each customer's log-likelihood."""
    x, t_x, T = _arr(x, t_x, T)
    a1, a2, a3 = _terms(params.r, params.alpha, params.a, params.b, x, t_x, T)
    return a1 + np.logaddexp(a2, a3)


def _neg_ll_and_grad(theta: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray):
    """Negative mean log-likelihood and its gradient in log-parameters (theta = log r, alpha, a, b)."""
    r, alpha, a, b = np.exp(theta)
    a1, a2, a3 = _terms(r, alpha, a, b, x, t_x, T)
    lse = np.logaddexp(a2, a3)
    w2 = np.exp(a2 - lse)
    w3 = np.exp(a3 - lse)  # 0 where x == 0
    xm = np.maximum(x, 1.0)
    dab = digamma(a + b)
    d_abx = digamma(a + b + x)
    g_r = digamma(r + x) - digamma(r) + np.log(alpha) - w2 * np.log(alpha + T) - w3 * np.log(alpha + t_x)
    g_alpha = r / alpha - w2 * (r + x) / (alpha + T) - w3 * (r + x) / (alpha + t_x)
    g_a = w2 * (dab - d_abx) + w3 * (digamma(a + 1.0) - d_abx - digamma(a) + dab)
    g_b = w2 * (digamma(b + x) - d_abx - digamma(b) + dab) + w3 * (digamma(b + xm - 1.0) - d_abx - digamma(b) + dab)
    n = w.sum()
    ll = float(np.dot(w, a1 + lse)) / n
    grad = np.array([np.dot(w, g_r) * r, np.dot(w, g_alpha) * alpha, np.dot(w, g_a) * a, np.dot(w, g_b) * b]) / n
    return -ll, -grad


# A shop whose customers all buy at one steady rate drives the likelihood towards a Poisson with
# no heterogeneity and no dropout (r, alpha, b -> infinity, a -> 0). There the closed forms cancel
# catastrophically (expected purchases in 90 days above those in 365), so the fit stays inside
# these bounds, where a bounded model is that Poisson for every practical purpose.
PARAM_MIN, PARAM_MAX = 1e-4, 1e4


def fit(x: ArrayLike, t_x: ArrayLike, T: ArrayLike, *, start: BgNbdParams | None = None) -> BgNbdFit:
    """Maximum-likelihood fit (L-BFGS-B on bounded log-parameters, analytic gradient, identical
    rows pooled)."""
    x, t_x, T = _arr(x, t_x, T)
    if len(x) == 0:
        raise ValueError("cannot fit BG/NBD on no customers")
    rows, counts = np.unique(np.stack([x, t_x, T], axis=1), axis=0, return_counts=True)
    ux, utx, uT = rows[:, 0], rows[:, 1], rows[:, 2]
    w = counts.astype(np.float64)
    p0 = start or BgNbdParams(r=1.0, alpha=max(float(np.mean(T)), 1.0), a=1.0, b=1.0)
    theta0 = np.log([p0.r, p0.alpha, p0.a, p0.b])
    res = minimize(
        _neg_ll_and_grad,
        theta0,
        args=(ux, utx, uT, w),
        jac=True,
        method="L-BFGS-B",
        bounds=[(np.log(PARAM_MIN), np.log(PARAM_MAX))] * 4,
        options={"maxiter": 500, "gtol": 1e-8, "ftol": 1e-13},
    )
    r, alpha, a, b = np.exp(res.x)
    return BgNbdFit(
        params=BgNbdParams(r=float(r), alpha=float(alpha), a=float(a), b=float(b)),
        log_likelihood=float(-res.fun * len(x)),
        customers=len(x),
        iterations=int(res.nit),
        converged=bool(res.success),
    )


def probability_alive(params: BgNbdParams, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(still active | x, t_x, T). Exactly 1 when x == 0 (see the module docstring)."""
    x, t_x, T = _arr(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    xm = np.maximum(x, 1.0)
    odds_dead = np.where(x > 0, a / (b + xm - 1.0) * np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + t_x))), 0.0)
    return 1.0 / (1.0 + odds_dead)


def expected_purchases(params: BgNbdParams, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """E[purchases in the next t weeks | x, t_x, T] (FHL 2005, eq. 10)."""
    t, x, t_x, T = _arr(t, x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    z = t / (alpha + T + t)
    hyp = hyp2f1(r + x, b + x, a + b + x - 1.0, z)
    bracket = 1.0 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp
    num = (a + b + x - 1.0) / (a - 1.0) * bracket
    xm = np.maximum(x, 1.0)
    den = 1.0 + np.where(x > 0, a / (b + xm - 1.0) * np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + t_x))), 0.0)
    return np.maximum(num / den, 0.0)


def probability_no_purchase(params: BgNbdParams, t: ArrayLike, x: ArrayLike, t_x: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(no purchase in the next t weeks | x, t_x, T).

    Given alive, lambda's posterior is Gamma(r + x, alpha + T) and an active customer can only
    drop out right after a purchase, so P(none in t | alive) = ((alpha+T)/(alpha+T+t))^(r+x).
    """
    t, x, t_x, T = _arr(t, x, t_x, T)
    alive = probability_alive(params, x, t_x, T)
    quiet = np.exp((params.r + x) * (np.log(params.alpha + T) - np.log(params.alpha + T + t)))
    return 1.0 - alive * (1.0 - quiet)


def median_weeks_to_next_purchase(params: BgNbdParams, x: ArrayLike, T: ArrayLike) -> FloatArray:
    """Median weeks from now to the next purchase of a customer who is still active.

    Solves ((alpha+T)/(alpha+T+t))^(r+x) = 1/2: t = (alpha+T) * (2^(1/(r+x)) - 1).
    """
    x, T = _arr(x, T)
    return (params.alpha + T) * np.expm1(np.log(2.0) / (params.r + x))


def expected_purchases_new_customer(params: BgNbdParams, t: ArrayLike) -> FloatArray:
    """E[X(t)] for a customer of age t with unknown history (FHL 2005, eq. 7): in-sample tracking."""
    (t,) = _arr(t)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    return (a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1.0, t / (alpha + t)))
