"""Two small generalised linear models, fitted by BFGS with a light ridge penalty.

Small and explainable on purpose: a handful of named coefficients that serialise as JSON.
The first column of a design matrix is the intercept and is not penalised.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from boomerang.segmenter.domain.scoring.history import FloatArray


def _penalty(beta: FloatArray, l2: float) -> tuple[float, FloatArray]:
    mask = np.ones_like(beta)
    mask[0] = 0.0
    return l2 * float(np.sum((beta * mask) ** 2)), 2.0 * l2 * beta * mask


def fit_logistic(X: FloatArray, y: FloatArray, *, l2: float = 1e-4) -> FloatArray:
    """Coefficients maximising the mean Bernoulli log-likelihood of y (0/1) under sigmoid(X @ beta)."""
    n = len(y)

    def objective(beta: FloatArray):
        z = X @ beta
        loss = float(np.mean(np.logaddexp(0.0, z) - y * z))
        grad = X.T @ (expit(z) - y) / n
        pen, dpen = _penalty(beta, l2)
        return loss + pen, grad + dpen

    res = minimize(objective, np.zeros(X.shape[1]), jac=True, method="BFGS", options={"maxiter": 500, "gtol": 1e-7})
    return res.x


def fit_poisson(X: FloatArray, y: FloatArray, offset: FloatArray, *, l2: float = 1e-4) -> FloatArray:
    """Coefficients of a Poisson regression y ~ exp(offset + X @ beta)."""
    n = len(y)

    def objective(beta: FloatArray):
        eta = offset + X @ beta
        mu = np.exp(eta)
        loss = float(np.mean(mu - y * eta))
        grad = X.T @ (mu - y) / n
        pen, dpen = _penalty(beta, l2)
        return loss + pen, grad + dpen

    res = minimize(objective, np.zeros(X.shape[1]), jac=True, method="BFGS", options={"maxiter": 500, "gtol": 1e-7})
    return res.x
