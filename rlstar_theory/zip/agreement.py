"""How far the transformer follows the tabular model: returns per split, predicted against
learned changes, and what moves in rows that get no data (numpy and scipy only).

Every function takes ``(N, M, M)`` float64 matrices: ``P_prev`` (learned before the
iteration), ``P_pred`` (the rule's exact step from ``P_prev``) and ``P`` (learned after it).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import stats

from rlstar_theory.mdp.exact import success_probability
from rlstar_theory.mdp.model import ChainMDP

__all__ = ["MOVED", "change_agreement", "data_free_rows", "raw_matrices", "row_changes",
           "split_returns"]

#: a predicted change below this (in probability) counts as none (float rounding of a step
#: whose gradient is zero)
MOVED = 1e-12


def split_returns(P: np.ndarray, model: ChainMDP, prefix: str = "J") -> dict:
    """``J`` on the training questions (``{prefix}_train``) and, when some are held out, on
    the test questions (``{prefix}_test``): ``sum_{s0 in split} rho(s0) p(s0) / rho(split)``
    with ``p(s0) = (P_1 ... P_N)[s0, y(s0)]``.

    ``P`` may be sub-stochastic (:func:`raw_matrices`): mass that leaves the valid states then
    counts as a failure.
    """
    p = success_probability(np.asarray(P, dtype=float), model.answers)
    out = {f"{prefix}_train": float(p @ model.weights("train"))}
    if model.has_test:
        out[f"{prefix}_test"] = float(p @ model.weights("test"))
    return out


def raw_matrices(P: np.ndarray, valid_mass: np.ndarray) -> np.ndarray:
    """``Q_n[s, s'] = P_n[s, s'] v_n[s]``: the model's probabilities of the valid strings,
    without the renormalisation over valid states (rows sum to the valid mass ``v <= 1``)."""
    return np.asarray(P, dtype=float) * np.asarray(valid_mass, dtype=float)[..., None]


def data_free_rows(edges: np.ndarray) -> np.ndarray:
    """``(N, M)`` mask of the rows with no training data (``sum_b |E_n[s, b]| = 0``)."""
    return np.abs(np.asarray(edges, dtype=float)).sum(axis=-1) == 0


def _agreement(pred: np.ndarray, learned: np.ndarray) -> dict:
    moved = np.abs(pred) > MOVED
    n = int(moved.sum())
    if n < 3:
        return {"entries": n, "sign_agreement": None, "spearman": None, "slope": None}
    x, y = pred[moved], learned[moved]
    with warnings.catch_warnings():  # a constant input has no ranks: reported as None
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        rho = stats.spearmanr(x, y).statistic
    return {"entries": n,
            "sign_agreement": float(np.mean(np.sign(x) == np.sign(y))),
            "spearman": None if not np.isfinite(rho) else float(rho),
            "slope": float((x @ y) / (x @ x))}


def change_agreement(P_prev: np.ndarray, P_pred: np.ndarray, P: np.ndarray) -> dict:
    """Predicted against learned change of every transition probability.

    With ``d_pred = P_pred - P_prev`` and ``d = P - P_prev``, over the entries the prediction
    moves (``|d_pred| > 1e-12``):

    * ``sign_agreement``: fraction with ``sign(d) = sign(d_pred)``;
    * ``spearman``: Spearman's rank correlation of ``d_pred`` and ``d``
      (:func:`scipy.stats.spearmanr`);
    * ``slope``: least-squares slope through the origin, ``<d_pred, d> / <d_pred, d_pred>``
      (how much larger the learned step is than the predicted one);
    * ``entries``: how many entries were compared.

    Returns the whole-policy values plus ``per_step``, a list with the same for each step.
    ``None`` where fewer than 3 entries move (or the ranks are constant).
    """
    d_pred = np.asarray(P_pred, dtype=float) - P_prev
    d = np.asarray(P, dtype=float) - P_prev
    out = _agreement(d_pred.ravel(), d.ravel())
    out["per_step"] = [_agreement(d_pred[n].ravel(), d[n].ravel()) for n in range(d.shape[0])]
    return out


def row_changes(P_prev: np.ndarray, P_pred: np.ndarray, P: np.ndarray,
                no_data: np.ndarray) -> dict:
    """Total-variation change of the rows with and without training data.

    ``TV_n[s] = (1/2) sum_{s'} |P_n[s, s'] - P_prev,n[s, s']|``. The tabular model leaves a
    row without data unchanged (refit keeps it, a zero gradient does not move it), so a
    learned change there comes from parameters shared with other rows. Returns
    ``rows_without_data`` (count), ``tv_learned_without_data``, ``tv_learned_with_data`` and
    ``tv_pred_with_data`` (means over those rows; ``None`` for an empty set).
    """
    tv = 0.5 * np.abs(np.asarray(P, dtype=float) - P_prev).sum(axis=-1)
    tv_pred = 0.5 * np.abs(np.asarray(P_pred, dtype=float) - P_prev).sum(axis=-1)
    mean = lambda v, m: float(v[m].mean()) if m.any() else None  # noqa: E731
    return {"rows_without_data": int(no_data.sum()),
            "tv_learned_without_data": mean(tv, no_data),
            "tv_learned_with_data": mean(tv, ~no_data),
            "tv_pred_with_data": mean(tv_pred, ~no_data)}

