"""Predicting the outcome of exact STaR from the pre-trained model alone.

The paper's prediction
    :func:`paper_prediction`: :func:`rlstar_theory.criteria.classify_start` applied to the
    model's symmetric projection (``lam_n = M delta_diag_n / (M-1)`` from the mean diagonal of
    step ``n``; weights within ``ZERO_TOL`` of 0 count as 0).

Scores from exact quantities (:func:`start_scores`; identity truth, any start distribution,
``p(s0) = (P_1 ... P_N)[s0, s0]``, ``J = sum rho(s0) p(s0)``):

``J0``
    ``J`` of the start.
``min_success``
    ``min_{s0} p(s0)`` over the questions with weight.
``lam_proj_min``
    ``min_n lam_n`` of the symmetric projection.
``others_trace_min``, ``others_trace_max``
    ``min_n`` / ``max_n`` of ``(tr(P_{n+1} ... P_N P_1 ... P_{n-1}) - 1)/(M-1)``, the trace
    generalisation of ``Lam_{-n} = prod_{k != n} lam_k`` (equal to it for the symmetric
    family, where step ``n`` moves iff ``Lam_{-n} != 0``).
``spectral_gap``
    ``1 - |mu_2|`` of the product ``P_1 ... P_N`` (``mu_2`` its second-largest eigenvalue in
    modulus; ``1 - |Lam|`` for the symmetric family).
``conditioned_excess_min``
    ``min_n [Pr(S_n = S_{n-1} | success) - 1/M]``: the diagonal excess of the data STaR trains
    on (``p'_n - 1/M`` for the symmetric family: 0 exactly for a frozen start).
``lift_min``
    ``min_n [Pr(S_n = S_{n-1} | success) - Pr(S_n = S_{n-1})]``: how much the success filter
    raises each step's correctness (``p'_n - p_n`` for the symmetric family).
``greedy_accuracy``
    ``sum rho(s0) 1[the argmax path from s0 ends at s0]``.

A score predicts "escapes" on one side of a threshold: :func:`fit_threshold` picks the
threshold and side with the best accuracy on training models, :func:`threshold_accuracy`
measures it on held-out ones with a Wilson interval (:func:`wilson_interval`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlstar_theory.criteria import classify_start
from rlstar_theory.mdp.exact import success_edges, success_probability
from rlstar_theory.open_questions.models import symmetric_projection

__all__ = [
    "PAPER_CODES",
    "SCORES",
    "ZERO_TOL",
    "ThresholdRule",
    "fit_threshold",
    "paper_prediction",
    "start_scores",
    "threshold_accuracy",
    "wilson_interval",
]

#: projected weights with ``|lam| <= ZERO_TOL`` are zero for the paper's criteria
ZERO_TOL = 1e-12
#: codes of :func:`paper_prediction`
PAPER_CODES = {1: "converges", 0: "frozen", -1: "no guarantee"}
#: names of the scores of :func:`start_scores`
SCORES = ("J0", "min_success", "lam_proj_min", "others_trace_min", "others_trace_max",
          "spectral_gap", "conditioned_excess_min", "lift_min", "greedy_accuracy")


def _batch(P) -> np.ndarray:
    P = np.asarray(P, dtype=float)
    if P.ndim != 4 or P.shape[-1] != P.shape[-2]:
        raise ValueError(f"P must have shape (B, N, M, M), got {P.shape}")
    return P


def paper_prediction(P, temperature: float = 1.0) -> np.ndarray:
    """The paper's criterion on each model's symmetric projection.

    Parameters
    ----------
    P : array_like, shape (B, N, M, M)
        Policies with identity truth.
    temperature : float
        Sampling temperature passed to :func:`~rlstar_theory.criteria.classify_start`.

    Returns
    -------
    ndarray of int64, shape (B,)
        1 where it guarantees ``P_t -> I`` (all projected weights positive, or one zero),
        0 where it predicts a fixed point with ``J = 1/M`` (two or more zeros), -1 where it
        gives no guarantee (a negative weight, or ``temperature > 1``).
    """
    P = _batch(P)
    M = P.shape[-1]
    lam = symmetric_projection(P)
    lam = np.where(np.abs(lam) <= ZERO_TOL, 0.0, np.clip(lam, -1.0 / (M - 1), 1.0))
    codes = {True: 1, False: 0, None: -1}
    return np.array([codes[classify_start(row, M, temperature).converges] for row in lam],
                    dtype=np.int64)


def _others_trace(P: np.ndarray) -> np.ndarray:
    """``(tr(P_{n+1} ... P_N P_1 ... P_{n-1}) - 1)/(M-1)`` for every ``n``; shape (B, N)."""
    B, N, M = P.shape[0], P.shape[1], P.shape[-1]
    out = np.empty((B, N))
    eye = np.broadcast_to(np.eye(M), (B, M, M))
    for n in range(N):
        prod = eye
        for k in list(range(n + 1, N)) + list(range(n)):
            prod = prod @ P[:, k]
        out[:, n] = (np.trace(prod, axis1=-2, axis2=-1) - 1.0) / (M - 1)
    return out


def start_scores(P, start=None) -> dict[str, np.ndarray]:
    """Every score of the module notes for a batch of models (identity truth).

    Parameters
    ----------
    P : array_like, shape (B, N, M, M)
    start : array_like, shape (M,), optional
        Question distribution ``rho`` (uniform by default).

    Returns
    -------
    dict
        ``{name: ndarray of shape (B,)}`` for every name in :data:`SCORES`.
    """
    P = _batch(P)
    B, N, M = P.shape[0], P.shape[1], P.shape[-1]
    rho = np.full(M, 1.0 / M) if start is None else np.asarray(start, dtype=float)
    answers = np.arange(M)
    p = success_probability(P, answers)
    J = p @ rho
    product = P[:, 0]
    for n in range(1, N):
        product = product @ P[:, n]
    mods = np.sort(np.abs(np.linalg.eigvals(product)), axis=-1)
    joint = success_edges(P, rho, answers, identity=True)  # (B, N, M, M)
    rows = np.arange(M)
    with np.errstate(invalid="ignore", divide="ignore"):
        conditioned = joint[..., rows, rows].sum(axis=-1) / J[:, None]
    # unconditional Pr(S_n = S_{n-1}) = sum_s Pr(S_{n-1} = s) P_n[s, s]
    occupancy = rho[None, :].repeat(B, axis=0)
    plain = np.empty((B, N))
    for n in range(N):
        plain[:, n] = (occupancy * P[:, n, rows, rows]).sum(axis=-1)
        occupancy = np.einsum("bs,bst->bt", occupancy, P[:, n])
    state = np.broadcast_to(rows, (B, M))
    choice = np.argmax(P, axis=-1)
    for n in range(N):
        state = np.take_along_axis(choice[:, n, :], state, axis=-1)
    greedy = (state == rows) @ rho
    trace = _others_trace(P)
    return {
        "J0": J,
        "min_success": np.where(rho > 0, p, np.inf).min(axis=-1),
        "lam_proj_min": symmetric_projection(P).min(axis=-1),
        "others_trace_min": trace.min(axis=-1),
        "others_trace_max": trace.max(axis=-1),
        "spectral_gap": 1.0 - mods[:, -2],
        "conditioned_excess_min": (conditioned - 1.0 / M).min(axis=-1),
        "lift_min": (conditioned - plain).min(axis=-1),
        "greedy_accuracy": greedy,
    }


@dataclass(frozen=True)
class ThresholdRule:
    """Predict "escapes" where ``direction * (score - threshold) > 0``.

    Attributes
    ----------
    threshold : float
    direction : int
        ``+1`` (escapes above the threshold) or ``-1`` (below).
    train_accuracy : float
        Share of the training models it classifies correctly.
    n_train : int
    """

    threshold: float
    direction: int
    train_accuracy: float
    n_train: int

    def predict(self, score) -> np.ndarray:
        """Boolean prediction "escapes" for each score."""
        return self.direction * (np.asarray(score, dtype=float) - self.threshold) > 0


def fit_threshold(score, escaped) -> ThresholdRule:
    """The threshold and side of ``score`` that best separate ``escaped`` from the rest.

    Candidates are the midpoints between consecutive distinct scores (and one below the
    smallest); both sides are tried; the best training accuracy wins, ties going to the
    larger margin to the nearest score, then to ``direction = +1``.

    Parameters
    ----------
    score : array_like, shape (n,)
        Finite scores.
    escaped : array_like of bool, shape (n,)

    Returns
    -------
    ThresholdRule
    """
    s = np.asarray(score, dtype=float)
    y = np.asarray(escaped, dtype=bool)
    if s.ndim != 1 or s.shape != y.shape or s.size == 0:
        raise ValueError(f"score and escaped must be 1-D of the same non-zero length, got "
                         f"{s.shape} and {y.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError("score must be finite")
    values = np.unique(s)
    cuts = np.concatenate([[values[0] - 1.0], (values[:-1] + values[1:]) / 2])
    gaps = np.concatenate([[1.0], np.diff(values) / 2])
    order = np.argsort(s)
    ys = y[order]
    ss = s[order]
    # number of escaped models at or below each cut, and models at or below it
    below = np.searchsorted(ss, cuts, side="right")
    esc_below = np.concatenate([[0], np.cumsum(ys)])[below]
    n, n_esc = s.size, int(y.sum())
    # direction +1: predict escape above the cut
    acc_up = ((below - esc_below) + (n_esc - esc_below)) / n
    acc_down = (esc_below + ((n - below) - (n_esc - esc_below))) / n
    best = max(acc_up.max(), acc_down.max())
    candidates = []
    for direction, acc in ((1, acc_up), (-1, acc_down)):
        for i in np.flatnonzero(acc == best):
            candidates.append((-gaps[i], -direction, cuts[i], direction))
    _, _, cut, direction = min(candidates)
    return ThresholdRule(float(cut), int(direction), float(best), int(n))


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (``(nan, nan)`` for 0 trials).

    ``(p + z^2/(2n) -+ z sqrt(p(1-p)/n + z^2/(4n^2))) / (1 + z^2/n)`` with ``p = k/n``.
    """
    if trials <= 0:
        return float("nan"), float("nan")
    p = successes / trials
    denom = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def threshold_accuracy(rule: ThresholdRule, score, escaped) -> tuple[float, float, float, int]:
    """Held-out accuracy of ``rule`` with its 95 % Wilson interval.

    Returns
    -------
    (accuracy, low, high, n)
    """
    y = np.asarray(escaped, dtype=bool)
    hits = int((rule.predict(score) == y).sum())
    lo, hi = wilson_interval(hits, y.size)
    return (hits / y.size if y.size else float("nan")), lo, hi, int(y.size)
