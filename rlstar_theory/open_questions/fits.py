"""Small regression fits for the open questions: binomial logistic regression and log-log OLS.

* :func:`fit_logistic`: ``events_i ~ Binomial(trials_i, sigma(x_i . beta))`` by Newton's method
  (iteratively reweighted least squares), with the inverse Fisher information as covariance.
* :func:`fit_linear`: ordinary least squares ``y = X beta + eps`` with classical standard
  errors; a power law ``y = C prod_k x_k^{b_k}`` is the linear fit of ``log y`` on ``log x_k``.
* :func:`percentile_interval`: a bootstrap percentile interval.

No dependency beyond numpy and scipy; every function checks its input and raises ValueError.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit
from scipy.stats import t as student_t

__all__ = ["LinearFit", "LogisticFit", "fit_linear", "fit_logistic", "percentile_interval"]


@dataclass(frozen=True)
class LogisticFit:
    """Maximum-likelihood binomial logistic regression ``p_i = sigma(X_i . beta)``.

    Attributes
    ----------
    coef : ndarray, shape (k,)
        ``beta``.
    cov : ndarray, shape (k, k)
        ``(X^T W X)^{-1}`` with ``W = diag(n_i p_i (1 - p_i))`` at the fit.
    deviance : float
        ``2 sum_i [e_i log(e_i / (n_i p_i)) + (n_i - e_i) log((n_i - e_i) / (n_i (1 - p_i)))]``.
    pearson_dispersion : float
        ``sum_i (e_i - n_i p_i)^2 / (n_i p_i (1 - p_i)) / (m - k)`` (about 1 when the model
        holds; NaN when ``m <= k``).
    converged : bool
        Newton's method met its tolerance (False under complete separation, where the MLE is
        infinite and the coefficients only grow).
    """

    coef: np.ndarray
    cov: np.ndarray
    deviance: float
    pearson_dispersion: float
    converged: bool

    @property
    def stderr(self) -> np.ndarray:
        """``sqrt(diag(cov))``."""
        return np.sqrt(np.diag(self.cov))

    def predict(self, X) -> np.ndarray:
        """``sigma(X beta)``."""
        return expit(np.asarray(X, dtype=float) @ self.coef)


def _check_design(X, name: str = "X") -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (observations x covariates), "
                         f"got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return X


def fit_logistic(X, events, trials, max_iter: int = 100, tol: float = 1e-10) -> LogisticFit:
    """Binomial logistic regression by Newton's method.

    Maximises ``sum_i e_i log p_i + (n_i - e_i) log(1 - p_i)``, ``p_i = sigma(X_i . beta)``,
    with the step ``beta += (X^T W X)^{-1} X^T (e - n p)`` (halved while the likelihood does not
    increase).

    Parameters
    ----------
    X : array_like, shape (m, k)
        Design matrix (include a column of ones for an intercept).
    events, trials : array_like, shape (m,)
        ``0 <= e_i <= n_i``, ``n_i >= 1``.
    max_iter : int
        Newton iterations at most.
    tol : float
        Stop when the largest step is below ``tol``.

    Returns
    -------
    LogisticFit
    """
    X = _check_design(X)
    m, k = X.shape
    e = np.asarray(events, dtype=float)
    n = np.asarray(trials, dtype=float)
    if e.shape != (m,) or n.shape != (m,):
        raise ValueError(f"events and trials must have shape ({m},), got {e.shape} and {n.shape}")
    if not (np.all(n >= 1) and np.all(e >= 0) and np.all(e <= n)):
        raise ValueError("trials must be >= 1 and events in [0, trials]")

    def loglik(beta):
        eta = X @ beta
        return float(np.sum(e * -np.logaddexp(0.0, -eta) + (n - e) * -np.logaddexp(0.0, eta)))

    beta = np.zeros(k)
    rate = np.clip(e.sum() / n.sum(), 1e-6, 1 - 1e-6)
    if np.allclose(X[:, 0], 1.0):
        beta[0] = np.log(rate / (1 - rate))
    current = loglik(beta)
    converged = False
    for _ in range(max_iter):
        p = expit(X @ beta)
        W = n * p * (1 - p) + 1e-12
        step = np.linalg.solve(X.T @ (W[:, None] * X) + 1e-12 * np.eye(k), X.T @ (e - n * p))
        scale = 1.0
        while scale > 1e-8:
            trial = beta + scale * step
            value = loglik(trial)
            if value >= current - 1e-12:
                break
            scale /= 2
        beta, current = trial, value
        if np.max(np.abs(scale * step)) < tol:
            converged = True
            break
    p = expit(X @ beta)
    W = n * p * (1 - p)
    cov = np.linalg.pinv(X.T @ (W[:, None] * X))
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.where(e > 0, e * np.log(e / (n * p)), 0.0)
        t2 = np.where(n - e > 0, (n - e) * np.log((n - e) / (n * (1 - p))), 0.0)
        pearson = np.where(W > 0, (e - n * p) ** 2 / W, 0.0)
    dispersion = float(pearson.sum() / (m - k)) if m > k else float("nan")
    return LogisticFit(coef=beta, cov=cov, deviance=float(2 * np.sum(t1 + t2)),
                       pearson_dispersion=dispersion, converged=converged)


@dataclass(frozen=True)
class LinearFit:
    """Ordinary least squares ``y = X beta + eps``.

    Attributes
    ----------
    coef : ndarray, shape (k,)
        ``beta = (X^T X)^{-1} X^T y``.
    stderr : ndarray, shape (k,)
        ``sqrt(diag(s^2 (X^T X)^{-1}))``, ``s^2 = |y - X beta|^2 / (m - k)``.
    dof : int
        Residual degrees of freedom ``m - k``.
    r2 : float
        ``1 - |y - X beta|^2 / |y - mean(y)|^2``.
    residual_sd : float
        ``s``.
    """

    coef: np.ndarray
    stderr: np.ndarray
    dof: int
    r2: float
    residual_sd: float

    def interval(self, level: float = 0.95) -> np.ndarray:
        """Student-t intervals ``coef +- t_{(1+level)/2, dof} stderr``, shape ``(k, 2)``."""
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level!r}")
        half = student_t.ppf(0.5 + level / 2, self.dof) * self.stderr
        return np.stack([self.coef - half, self.coef + half], axis=1)


def fit_linear(X, y) -> LinearFit:
    """Least squares of ``y`` on the columns of ``X`` (include a column of ones for an
    intercept); needs more observations than columns."""
    X = _check_design(X)
    y = np.asarray(y, dtype=float)
    m, k = X.shape
    if y.shape != (m,) or not np.all(np.isfinite(y)):
        raise ValueError(f"y must be {m} finite numbers, got shape {y.shape}")
    if m <= k:
        raise ValueError(f"need more observations ({m}) than coefficients ({k})")
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    s2 = float(resid @ resid / (m - k))
    cov = s2 * np.linalg.pinv(X.T @ X)
    total = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(resid @ resid) / total if total > 0 else float("nan")
    return LinearFit(coef=coef, stderr=np.sqrt(np.diag(cov)), dof=m - k, r2=r2,
                     residual_sd=float(np.sqrt(s2)))


def percentile_interval(samples, level: float = 0.95, axis: int = 0) -> np.ndarray:
    """Bootstrap percentile interval: the ``(1-level)/2`` and ``(1+level)/2`` quantiles of
    ``samples`` along ``axis`` (NaNs ignored), stacked on a new last axis."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    arr = np.asarray(samples, dtype=float)
    q = np.nanquantile(arr, [0.5 - level / 2, 0.5 + level / 2], axis=axis)
    return np.moveaxis(q, 0, -1)
