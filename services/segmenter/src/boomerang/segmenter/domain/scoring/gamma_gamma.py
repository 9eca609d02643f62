"""Gamma-Gamma model of spend per transaction.

Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer Base Analysis",
Journal of Marketing Research 42(4); Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary
Value". A customer's transaction values are Gamma(p, nu) with nu ~ Gamma(q, gamma) across
customers. Fitted, as in the note, on customers with at least one repeat transaction, with
`m` the mean value of their repeat transactions; customers whose repeat mean is not positive
(CDNOW has 0-dollar rows) are left out of the fit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.special import digamma, gammaln

from boomerang.segmenter.domain.scoring.history import FloatArray


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, float]) -> GammaGammaParams:
        return cls(p=float(d["p"]), q=float(d["q"]), gamma=float(d["gamma"]))

    @property
    def population_mean(self) -> float:
        """E[spend per transaction] of a customer we know nothing about: p * gamma / (q - 1)."""
        return self.p * self.gamma / (self.q - 1.0) if self.q > 1.0 else float("nan")


@dataclass(frozen=True)
class GammaGammaFit:
    params: GammaGammaParams
    log_likelihood: float
    customers: int
    converged: bool


def usable(x: ArrayLike, m: ArrayLike) -> np.ndarray:
    """Customers the spend model is fitted on: a repeat transaction, a positive repeat mean."""
    x, m = np.asarray(x, dtype=np.float64), np.asarray(m, dtype=np.float64)
    return (x > 0) & (m > 0)


def _neg_ll_and_grad(theta: FloatArray, x: FloatArray, m: FloatArray):
    p, q, g = np.exp(theta)
    px = p * x
    ll = gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(g) + (px - 1.0) * np.log(m) + px * np.log(x) - (px + q) * np.log(g + m * x)
    d_p = x * (digamma(px + q) - digamma(px) + np.log(m) + np.log(x) - np.log(g + m * x))
    d_q = digamma(px + q) - digamma(q) + np.log(g) - np.log(g + m * x)
    d_g = q / g - (px + q) / (g + m * x)
    n = len(x)
    return -float(ll.sum()) / n, -np.array([d_p.sum() * p, d_q.sum() * q, d_g.sum() * g]) / n


def fit(x: ArrayLike, m: ArrayLike) -> GammaGammaFit:
    """Maximum-likelihood fit on the customers `usable` selects."""
    x, m = np.asarray(x, dtype=np.float64), np.asarray(m, dtype=np.float64)
    keep = usable(x, m)
    x, m = x[keep], m[keep]
    if len(x) < 2:
        raise ValueError("the spend model needs at least two customers with repeat purchases")
    theta0 = np.log([1.0, 1.0, max(float(np.mean(m)), 1e-3)])
    res = minimize(
        _neg_ll_and_grad,
        theta0,
        args=(x, m),
        jac=True,
        method="BFGS",
        options={"maxiter": 500, "gtol": 1e-8},
    )
    p, q, g = np.exp(res.x)
    return GammaGammaFit(
        params=GammaGammaParams(p=float(p), q=float(q), gamma=float(g)),
        log_likelihood=float(-res.fun * len(x)),
        customers=len(x),
        converged=bool(res.success),
    )


def expected_spend(params: GammaGammaParams, x: ArrayLike, m: ArrayLike) -> FloatArray:
    """E[spend per transaction | x transactions averaging m]: a weighted mean of the population
    mean and the customer's own mean. Customers without usable history get the population mean."""
    x, m = np.asarray(x, dtype=np.float64), np.asarray(m, dtype=np.float64)
    ok = usable(x, m)
    xs, ms = np.where(ok, x, 1.0), np.where(ok, m, 1.0)
    own = params.p * (params.gamma + xs * ms) / (params.p * xs + params.q - 1.0)
    return np.where(ok, own, params.population_mean)
