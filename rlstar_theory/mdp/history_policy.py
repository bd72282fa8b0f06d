"""History-conditioned policies: one transition table per (question, step), and exact STaR on them.

The shared Markov policy ``P_n[s, s']`` of the chain model uses one table per step for every
question. A *history-conditioned* policy ``H`` (shape ``(M, N, M, M)``) has one table per
question and step,

.. math::

    H[s_0, n-1, s, s'] = \\Pr(S_n = s' \\mid S_{n-1} = s,\\ S_0 = s_0),

i.e. it conditions on the question ``s0``, the step ``n`` and the current state ``s_{n-1}``.
It can memorise a different path for every training question, which the shared table cannot
(the open question Q2 of RL-STaR: Markov versus full-history policies).

**Why (question, step, state) is the full history for STaR.** A full-history tabular policy picks
``S_n`` from the whole prefix ``h = (s_0, s_1, ..., s_{n-1})``. Exact STaR refits every prefix's
row to ``Pr(S_n = s' | h, success)``. Suppose the current policy depends on ``h`` only through
``(s_0, n, s_{n-1})`` (a shared Markov ``P0`` does). The reward depends on ``(s_0, S_N)`` only,
so given ``h`` the rest of the chain runs on the tables of ``s_0`` and
``Pr(success | h, S_n = s') = b_n(s')``, the backward value of question ``s_0``. The refit row is
then

.. math::

    \\frac{H[s_0, n-1, s_{n-1}, s']\\, b_n(s')}{b_{n-1}(s_{n-1})},

again a function of ``(s_0, n, s_{n-1})``; a prefix with no successful continuation
(``b_{n-1}(s_{n-1}) = 0``) keeps its row in both forms. By induction every STaR iterate of the
full-history policy from such a start *is* a per-(question, step) table on every prefix of
positive probability; unreachable prefixes stay unreachable (STaR keeps the support). So for
exact STaR this family loses nothing against full history (tests/mdp/test_history_policy.py
checks it against STaR on tables indexed by whole prefixes). This holds for refit rules; a
softmax gradient step on prefix logits scales with the prefix's probability, so prefixes that
end at the same state drift apart, and the equivalence is not claimed for gradient rules.

**Training and test questions.** STaR updates the table of each training question from its own
successful paths only:

.. math::

    H'[s_0, n-1, s, s'] = \\frac{f_{n-1}(s)\\, H[s_0, n-1, s, s']\\, b_n(s')}
        {\\sum_{b} f_{n-1}(s)\\, H[s_0, n-1, s, b]\\, b_n(b)},

with ``f_{n-1}(s) = Pr(S_{n-1} = s | s_0)`` and ``b_n(s') = Pr(S_N = y(s_0) | S_n = s')`` under
``H[s_0]``; rows without successful mass (in particular every row of a question whose success
probability is 0) keep their table. A held-out question has no table of its own that training
could have changed. Two answers are offered (``test_policy``):

* ``"projection"`` (default): test questions use the Markov projection of the trained tables
  (:func:`markov_projection`), the maximum-likelihood shared policy fitted to the trained
  policy's own trajectories on the training questions, with ``P0``'s rows where it never goes;
* ``"pretrained"``: test questions keep ``P0`` (a tabular memoriser does not transfer at all),
  so their metrics stay at ``P0``'s.

:func:`iterate_history_star` runs this for ``T`` iterations and records train/test ``J`` and
pass@k; :func:`compare_markov_history` runs it beside the shared Markov STaR from the same
``P0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rlstar_theory.mdp import metrics, operator
from rlstar_theory.mdp.exact import success_edges
from rlstar_theory.mdp.majority import maj_at_k
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.validation import (
    as_numeric_array,
    check_int,
    check_iterations,
    check_memory,
    is_exact,
    row_sum_tolerance,
)

__all__ = [
    "TEST_POLICIES",
    "HistoryStarRun",
    "MarkovVsHistory",
    "check_history_policy",
    "compare_markov_history",
    "history_answer_distribution",
    "history_from_markov",
    "history_star_step",
    "history_success_edges",
    "history_success_probability",
    "iterate_history_star",
    "markov_projection",
    "markov_star_step",
]

#: how a held-out question is answered by a history-conditioned policy
TEST_POLICIES = ("projection", "pretrained")


# --- the family ---------------------------------------------------------------------------------

def check_history_policy(H, model: ChainMDP, name: str = "H") -> np.ndarray:
    """Validate a history-conditioned policy: shape ``(M, N, M, M)``, every row stochastic.

    Float input is returned as float64 (rows must sum to 1 within
    :func:`rlstar_theory.validation.row_sum_tolerance`); an object array stays exact (rows must
    sum to exactly 1).
    """
    M, N = model.M, model.N
    exact = isinstance(H, np.ndarray) and H.dtype == object
    arr = as_numeric_array(H, name, "(M, N, M, M)")
    if arr.shape != (M, N, M, M):
        raise ValueError(f"{name} must have shape (M, N, M, M) = ({M}, {N}, {M}, {M}) for "
                         f"this model, got {np.shape(H)}")
    if exact:
        if any(v < 0 for v in arr.ravel()) or any(s != 1 for s in arr.sum(axis=-1).ravel()):
            raise ValueError(f"{name} must have entries >= 0 and rows summing to exactly 1")
        if model.start_exact is None:
            raise ValueError(f"an exact (Fraction) {name} needs an exact start distribution")
        return arr
    if not np.all(np.isfinite(arr)) or arr.min() < 0:
        raise ValueError(f"{name} must be finite with entries >= 0")
    if not (np.abs(arr.sum(axis=-1) - 1.0) <= row_sum_tolerance(M)).all():
        raise ValueError(f"{name}: every row must sum to 1 (tolerance "
                         f"{row_sum_tolerance(M):.1e})")
    return arr


def history_from_markov(P: np.ndarray) -> np.ndarray:
    """The history policy that uses the shared table for every question: ``H[s0] = P``.

    Parameters
    ----------
    P : ndarray, shape (N, M, M)
        A (validated) Markov policy, float64 or Fractions.

    Returns
    -------
    ndarray, shape (M, N, M, M)
        A copy, ``H[s0, n-1] = P_n`` for every ``s0``.
    """
    M = P.shape[-1]
    check_memory(8.0 * M * P.size, "a history policy (M, N, M, M)", "M or N")
    return np.repeat(np.asarray(P)[None], M, axis=0)


def _forward(H: np.ndarray) -> np.ndarray:
    """``f[s0, n, s] = Pr(S_n = s | S_0 = s0)`` under ``H[s0]``, ``n = 0..N``."""
    M, N = H.shape[0], H.shape[1]
    f = np.empty((M, N + 1, M), dtype=H.dtype)
    f[:, 0] = np.eye(M, dtype=np.int64).astype(H.dtype)
    for n in range(N):
        f[:, n + 1] = np.matmul(f[:, n, None, :], H[:, n])[:, 0]
    return f


def _backward(H: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """``b[s0, n, s] = Pr(S_N = y(s0) | S_n = s)`` under ``H[s0]``, ``n = 0..N``."""
    M, N = H.shape[0], H.shape[1]
    b = np.empty((M, N + 1, M), dtype=H.dtype)
    b[:, N] = (answers[:, None] == np.arange(M)).astype(np.int64).astype(H.dtype)
    for n in range(N - 1, -1, -1):
        b[:, n] = np.matmul(H[:, n], b[:, n + 1, :, None])[..., 0]
    return b


def history_success_probability(H: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """``p(s0) = Pr(S_N = y(s0) | S_0 = s0)`` under question ``s0``'s own tables; shape (M,)."""
    b = _backward(H, answers)
    return b[np.arange(H.shape[0]), 0, np.arange(H.shape[0])]


def history_answer_distribution(H: np.ndarray) -> np.ndarray:
    """``q[s0, y] = Pr(S_N = y | S_0 = s0)`` under ``H[s0]``; shape (M, M)."""
    return _forward(H)[:, -1]


def history_success_edges(H: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """Per-question success edges under each question's own tables.

    Returns
    -------
    ndarray, shape (M, N, M, M)
        ``C[s0, n-1, s, s'] = f_{n-1}(s) H[s0, n-1, s, s'] b_n(s')
        = Pr(S_{n-1} = s, S_n = s', success | s0)``.
    """
    f, b = _forward(H), _backward(H, answers)
    return f[:, :-1, :, None] * H * b[:, 1:, None, :]


def history_star_step(H: np.ndarray, model: ChainMDP) -> np.ndarray:
    """One exact STaR step of a history policy: each training question refits its own tables.

    ``H'[s0] = refit(H[s0], C[s0])`` with ``C`` from :func:`history_success_edges` for every
    training question ``s0`` with weight > 0 (rows without successful mass keep their row); the
    other questions keep their tables. The step does not depend on the size of the weights:
    each question's data trains only its own table.

    Parameters
    ----------
    H : ndarray, shape (M, N, M, M)
        Validated history policy (float64 or Fractions).
    model : ChainMDP

    Returns
    -------
    ndarray, shape (M, N, M, M)
    """
    C = history_success_edges(H, model.answers)
    new = operator.refit(H, C)
    trains = model.weights("train", exact=is_exact(H)) > 0
    return np.where(trains[:, None, None, None], new, H)


def markov_projection(H: np.ndarray, weights: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """The shared Markov policy closest to a history policy: the visitation-weighted average.

    .. math::

        \\bar P_n[s, s'] = \\frac{\\sum_{s_0} w(s_0) f_{n-1}(s_0; s) H[s_0, n-1, s, s']}
            {\\sum_{s_0} w(s_0) f_{n-1}(s_0; s)},

    ``f_{n-1}(s0; s) = Pr(S_{n-1} = s | s0)`` under ``H[s0]``; rows that no weighted question
    visits take ``fallback``'s row. This is the maximum-likelihood Markov policy for infinitely
    many trajectories of ``H`` on questions drawn from ``w``, and the Markov chain ``(w, P̄)``
    has the same one-step marginals ``Pr(S_{n-1} = s, S_n = s')`` as that mixture.

    Parameters
    ----------
    H : ndarray, shape (M, N, M, M)
    weights : ndarray, shape (M,)
        Question weights ``w >= 0`` (e.g. ``model.weights("train")``).
    fallback : ndarray, shape (N, M, M)
        Rows for the states no weighted question reaches (e.g. the pre-trained ``P0``).

    Returns
    -------
    ndarray, shape (N, M, M)
    """
    f = _forward(H)[:, :-1]  # (M, N, M): f_{n-1}(s0; s)
    num = (np.asarray(weights)[:, None, None, None] * f[..., None] * H).sum(axis=0)
    return operator.refit(fallback, num)


def markov_star_step(P: np.ndarray, model: ChainMDP) -> np.ndarray:
    """Shared Markov STaR: ``P' = refit(P, C+[rho_train])`` (``rules.Star`` at ``tau = 1``)."""
    w = model.weights("train", exact=is_exact(P))
    return operator.refit(P, success_edges(P, w, model.answers, model.identity))


# --- runs ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HistoryStarRun:
    """Exact metrics of ``T`` STaR iterations, ``t = 0..T`` (``t = 0`` is the start).

    Attributes
    ----------
    family : {"history", "markov"}
        Per-(question, step) tables or the shared Markov table.
    test_policy : str or None
        How held-out questions were answered (history family; ``None`` for Markov).
    train_J, test_J : ndarray, shape (T+1,)
        ``sum_{s0} w(s0) p(s0)`` over the train (test) questions; ``test_J`` is None when the
        model holds out no question.
    train_pass_at_k, test_pass_at_k : dict[int, ndarray]
        ``k -> sum w (1 - (1 - p)^k)``.
    train_maj_at_k, test_maj_at_k : dict[int, ndarray]
        ``k ->`` majority-vote accuracy (empty unless ``maj_ks`` were asked for).
    final : ndarray
        The last policy: ``(M, N, M, M)`` for the history family, ``(N, M, M)`` for Markov.
    """

    family: str
    test_policy: str | None
    train_J: np.ndarray
    test_J: np.ndarray | None
    train_pass_at_k: dict[int, np.ndarray]
    test_pass_at_k: dict[int, np.ndarray] | None
    train_maj_at_k: dict[int, np.ndarray]
    test_maj_at_k: dict[int, np.ndarray] | None
    final: np.ndarray = field(repr=False)

    @property
    def generalisation_gap(self) -> np.ndarray | None:
        """``train_J - test_J`` per iteration (None without test questions)."""
        return None if self.test_J is None else self.train_J - self.test_J

    def to_dict(self) -> dict:
        """JSON-ready lists."""
        def block(d):
            return None if d is None else {str(k): v.tolist() for k, v in d.items()}
        return {
            "family": self.family, "test_policy": self.test_policy,
            "train_J": self.train_J.tolist(),
            "test_J": None if self.test_J is None else self.test_J.tolist(),
            "train_pass_at_k": block(self.train_pass_at_k),
            "test_pass_at_k": block(self.test_pass_at_k),
            "train_maj_at_k": block(self.train_maj_at_k),
            "test_maj_at_k": block(self.test_maj_at_k),
        }


@dataclass(frozen=True)
class MarkovVsHistory:
    """The shared Markov STaR and the per-question STaR from one ``P0`` (the Q2 comparison)."""

    markov: HistoryStarRun
    history: HistoryStarRun

    def to_dict(self) -> dict:
        return {"markov": self.markov.to_dict(), "history": self.history.to_dict()}


class _Recorder:
    """Accumulates J, pass@k and maj@k of per-question answer distributions on one split."""

    def __init__(self, model: ChainMDP, split: str, pass_ks, maj_ks) -> None:
        self.model, self.w = model, model.weights(split)
        self.used = np.flatnonzero(self.w > 0)
        self.pass_ks, self.maj_ks = pass_ks, maj_ks
        self.J: list[float] = []
        self.passes: list[np.ndarray] = []
        self.majs: list[np.ndarray] = []

    def add(self, q: np.ndarray) -> None:
        q = np.asarray(q, dtype=float)
        p = q[np.arange(self.model.M), self.model.answers]
        self.J.append(float(p @ self.w))
        self.passes.append(metrics.pass_at_k(p, self.w, self.pass_ks))
        if self.maj_ks:
            used = self.used
            self.majs.append(maj_at_k(q[used], self.model.answers[used], self.maj_ks)
                             @ self.w[used])

    def results(self):
        passes = np.array(self.passes).reshape(len(self.J), len(self.pass_ks))
        majs = np.array(self.majs).reshape(len(self.J), len(self.maj_ks))
        return (np.array(self.J), {k: passes[:, i] for i, k in enumerate(self.pass_ks)},
                {k: majs[:, i] for i, k in enumerate(self.maj_ks)})


def _check_ks(ks, name: str, maximum: int | None = None) -> tuple[int, ...]:
    return tuple(check_int(k, name, 1, maximum) for k in ks)


def _setup(P0, model, iterations, pass_ks, maj_ks):
    T = check_iterations(iterations)
    if model is None:
        model = ChainMDP.from_policy(P0)
    P0 = model.check_policy(P0, "P0")
    return (T, model, P0, _check_ks(pass_ks, "pass_ks"), _check_ks(maj_ks, "maj_ks", 64))


def _finish(family, test_policy, recorders, final) -> HistoryStarRun:
    train_J, train_pass, train_maj = recorders[0].results()
    if len(recorders) > 1:
        test_J, test_pass, test_maj = recorders[1].results()
    else:
        test_J = test_pass = test_maj = None
    return HistoryStarRun(family=family, test_policy=test_policy, train_J=train_J,
                          test_J=test_J, train_pass_at_k=train_pass, test_pass_at_k=test_pass,
                          train_maj_at_k=train_maj, test_maj_at_k=test_maj, final=final)


def iterate_history_star(P0, model: ChainMDP | None = None, iterations: int = 10,
                         test_policy: str = "projection", pass_ks: Sequence[int] = (1, 4, 16),
                         maj_ks: Sequence[int] = (), H0=None) -> HistoryStarRun:
    """Exact STaR on the per-(question, step) family, with train and test metrics.

    Parameters
    ----------
    P0 : array_like, shape (N, M, M)
        The pre-trained shared policy; every question's tables start from it (unless ``H0``).
    model : ChainMDP, optional
        Truth maps, questions and their train/test split (identity, uniform, all train when
        omitted).
    iterations : int
        ``T >= 0``.
    test_policy : {"projection", "pretrained"}
        How a held-out question is answered: by :func:`markov_projection` of the current tables
        over the training questions (``P0``'s rows where they never go), or by ``P0``.
    pass_ks, maj_ks : sequence of int
        ``k`` of pass@k and maj@k (``k <= 64``) on both splits.
    H0 : array_like, shape (M, N, M, M), optional
        A history policy to start from instead of ``H[s0] = P0``.

    Returns
    -------
    HistoryStarRun
        ``train_J[t] = sum_{s0 in train} w(s0) p_t(s0)`` with ``p_t(s0)`` under ``H_t[s0]``;
        ``test_J[t]`` under the test policy.
    """
    if test_policy not in TEST_POLICIES:
        raise ValueError(f"test_policy must be one of {TEST_POLICIES}, got {test_policy!r}")
    T, model, P0, pass_ks, maj_ks = _setup(P0, model, iterations, pass_ks, maj_ks)
    H = history_from_markov(P0) if H0 is None else check_history_policy(H0, model, "H0")
    if is_exact(H) != is_exact(P0):
        raise ValueError("H0 and P0 must both be float64 or both exact (Fractions)")
    recorders = [_Recorder(model, "train", pass_ks, maj_ks)]
    if model.has_test:
        recorders.append(_Recorder(model, "test", pass_ks, maj_ks))
    w_train = model.weights("train", exact=is_exact(H))
    for t in range(T + 1):
        if t:
            H = history_star_step(H, model)
        recorders[0].add(history_answer_distribution(H))
        if model.has_test:
            P_test = markov_projection(H, w_train, P0) if test_policy == "projection" else P0
            recorders[1].add(metrics.answer_distribution(P_test))
    return _finish("history", test_policy, recorders, H)


def compare_markov_history(P0, model: ChainMDP | None = None, iterations: int = 10,
                           test_policy: str = "projection", pass_ks: Sequence[int] = (1, 4, 16),
                           maj_ks: Sequence[int] = ()) -> MarkovVsHistory:
    """Shared Markov STaR and per-question STaR from the same ``P0`` (RL-STaR's Q2).

    The Markov run is ``P_{t+1} = refit(P_t, C+[rho_train])`` (:func:`markov_star_step`, the
    exact step of ``rules.Star``); the history run is :func:`iterate_history_star`. Both report
    train and test J and pass@k for ``t = 0..T``.
    """
    T, model, P, pass_ks, maj_ks = _setup(P0, model, iterations, pass_ks, maj_ks)
    recorders = [_Recorder(model, "train", pass_ks, maj_ks)]
    if model.has_test:
        recorders.append(_Recorder(model, "test", pass_ks, maj_ks))
    for t in range(T + 1):
        if t:
            P = markov_star_step(P, model)
        q = metrics.answer_distribution(P)
        for rec in recorders:
            rec.add(q)
    markov = _finish("markov", None, recorders, P)
    history = iterate_history_star(P0, model, T, test_policy, pass_ks, maj_ks)
    return MarkovVsHistory(markov=markov, history=history)
