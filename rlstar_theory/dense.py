"""Exact RL-STaR for arbitrary transition matrices, start distribution and ground-truth maps.

Notation: ``P[n-1]`` is the step-``n`` policy ``P_n[s, s'] = Pr(S_n = s' | S_{n-1} = s)``;
``truth[n-1]`` is the ground-truth map ``g_n``; ``start`` is the question distribution ``D``;
``G = g_N o ... o g_1`` gives the right answer ``G(s_0)`` of question ``s_0``.

The posterior over paths of one exact (infinite-sample) STaR step is, for step ``n``,

.. math::

    \\Pr(S_{n-1}=s, S_n=s', \\text{success})
      = P_n[s, s'] \\sum_{s_0} D(s_0)\\, F_{n-1}[s_0, s]\\, B_n[s', G(s_0)]
      = P_n[s,s']\\; C_n[s, s'],

with the forward products ``F_{n-1} = P_1 \\cdots P_{n-1}`` and the backward products
``B_n = P_{n+1} \\cdots P_N``; ``C_n = (\\mathrm{diag}(D) F_{n-1})^T (B_n[:, G])^T`` is one
``M x M`` matrix product. The refit is the maximum-likelihood transition of the successful
trajectories, ``P'_n[s, :] = (P_n \\odot C_n)[s, :] / \\sum_{s'} (P_n \\odot C_n)[s, s']``; a row
whose state no successful trajectory visits (zero denominator) has no data and **keeps its
previous row**. The whole step costs about ``3N`` matrix products, ``O(N M^3)``, and never
enumerates trajectories.

Temperature ``tau``: the training trajectories are sampled from the tempered policy
``P_tau`` (rows ``∝ P^{1/tau}``), so the numerator and denominator above use ``P_tau``; the rows
that get no data keep the untempered previous row.

Every function also accepts an object array of :class:`fractions.Fraction` (exact arithmetic,
no rounding at all); the result is then exact too.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.exact import success_edges
from rlstar_theory.tempering import temper
from rlstar_theory.validation import (
    check_iterations,
    check_start,
    check_transition,
    check_truth,
    is_exact,
)

__all__ = [
    "DenseRun",
    "Posterior",
    "answer_map",
    "diag_excess",
    "expected_return",
    "iterate_dense",
    "posterior",
    "refit",
    "robustness",
    "Robustness",
    "star_step",
]


@dataclass(frozen=True)
class _Setup:
    """Validated ground truth and start, with the flags the fast paths need."""

    truth: np.ndarray  # (N, M)
    D: np.ndarray  # (M,)
    G: np.ndarray  # (M,) answer map
    identity: bool  # G is the identity
    uniform: bool  # D is uniform (float only)
    inverse: np.ndarray | None  # G^{-1} when G is a permutation, else None


def _prepare(P, truth, start) -> tuple[np.ndarray, _Setup]:
    P = check_transition(P)
    N, M = P.shape[0], P.shape[1]
    exact = is_exact(P)
    if truth is None:
        truth = np.broadcast_to(np.arange(M), (N, M))
        G, identity = np.arange(M), True
    else:
        truth = check_truth(truth, N, M)
        G = answer_map(truth)
        identity = bool((G == np.arange(M)).all())
    inverse = np.argsort(G) if np.bincount(G, minlength=M).max() == 1 else None
    D = check_start(start, M, exact=exact)
    return P, _Setup(truth, D, G, identity, uniform=start is None and not exact,
                     inverse=inverse)


def answer_map(truth: np.ndarray) -> np.ndarray:
    """Composite ground truth ``G = g_N o ... o g_1`` as an index array of length ``M``."""
    G = np.arange(truth.shape[1])
    for g in truth:
        G = g[G]
    return G


@dataclass(frozen=True)
class Posterior:
    """Joint probabilities of one step transition with success, under the sampling policy.

    Attributes
    ----------
    joint : ndarray, shape (N, M, M)
        ``joint[n-1, s, s'] = Pr(S_{n-1} = s, S_n = s', success)``.
    success : float or Fraction
        ``Pr(success)`` of the sampling policy; equals ``joint[n].sum()`` for every ``n``.
    """

    joint: np.ndarray
    success: object


def _posterior_checked(P: np.ndarray, setup: _Setup) -> Posterior:
    """The posterior joint of validated inputs: the success-edge operator with ``w = D``.

    ``joint = C+[D]`` of :func:`rlstar_theory.mdp.exact.success_edges` (in-place forward and
    backward products, one ``(N, M, M)`` result and two ``M x M`` buffers; see its memory
    note).
    """
    joint = success_edges(P, setup.D, setup.G, setup.identity)
    return Posterior(joint=joint, success=joint[0].sum())


def posterior(P, truth=None, start=None, temperature: float = 1.0) -> Posterior:
    """Posterior over step transitions given success, by forward/backward products.

    Parameters
    ----------
    P : array_like, shape (N, M, M)
        Row-stochastic policy (float64, or an object array of Fractions for exact arithmetic).
    truth : array_like of int, shape (N, M), optional
        Row ``n-1`` is the ground-truth map ``g_n``; ``None`` means identity maps.
    start : array_like, shape (M,), optional
        Question distribution ``D``; ``None`` means uniform.
    temperature : float
        The trajectories are sampled from the tempered policy (rows ``∝ P^{1/tau}``).

    Returns
    -------
    Posterior
        ``joint[n-1, s, s'] = P_n[s, s'] sum_{s0} D(s0) F_{n-1}[s0, s] B_n[s', G(s0)]``.
    """
    P, setup = _prepare(P, truth, start)
    return _posterior_checked(temper(P, temperature), setup)


def refit(P: np.ndarray, joint: np.ndarray) -> np.ndarray:
    """Maximum-likelihood transition rows from joint weights, keeping rows that have no data.

    Parameters
    ----------
    P : ndarray, shape (N, M, M)
        The previous policy (float64 or Fractions); supplies the rows without data.
    joint : ndarray, shape (N, M, M)
        Non-negative weights of the kept transitions, e.g. ``Posterior.joint`` (exact STaR) or
        the (weighted) counts of the kept sampled trajectories (finite-sample STaR).

    Returns
    -------
    ndarray, shape (N, M, M)
        ``joint[n, s, :] / sum_{s'} joint[n, s, s']`` where that sum is positive, else
        ``P[n, s, :]``.
    """
    return _refit(P, joint)


def _refit(P: np.ndarray, joint: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """:func:`refit`; ``out=joint`` divides in place when every row has data."""
    return operator.refit(P, joint, out=out)


def star_step(P, truth=None, start=None, temperature: float = 1.0) -> np.ndarray:
    """One exact (infinite-sample) RL-STaR step for any policy.

    Parameters
    ----------
    P : array_like, shape (N, M, M)
        Row-stochastic policy ``P_t``; ``P[n-1] = P_{t,n}``. Float64, or an object array of
        :class:`fractions.Fraction` for exact arithmetic.
    truth : array_like of int, shape (N, M), optional
        Row ``n-1`` is the ground-truth map ``g_n`` (any map ``[M] -> [M]``, bijective or not);
        ``None`` means identity maps.
    start : array_like, shape (M,), optional
        Question distribution ``D``; ``None`` means uniform.
    temperature : float
        Sampling temperature ``tau > 0`` of the training trajectories (default 1).

    Returns
    -------
    ndarray, shape (N, M, M)
        ``P_{t+1,n}[s, s'] = Pr(S_{n-1}=s, S_n=s', success) / Pr(S_{n-1}=s, success)`` under
        the tempered ``P_t``; rows never visited by a successful trajectory keep their
        previous (untempered) row.
    """
    P, setup = _prepare(P, truth, start)
    post = _posterior_checked(temper(P, temperature), setup)
    return _refit(P, post.joint, out=post.joint)  # the joint is ours: divide in place


def expected_return(P, truth=None, start=None, temperature: float = 1.0):
    """Expected return ``J(P) = sum_{s0} D(s0) (P_1 ... P_N)[s0, G(s0)]``.

    Parameters
    ----------
    P, truth, start
        As in :func:`star_step`.
    temperature : float
        Evaluate the tempered policy (rows ``∝ P^{1/tau}``) instead of ``P`` itself.

    Returns
    -------
    float (Fraction for exact input)
        Probability that the final answer is right.
    """
    P, setup = _prepare(P, truth, start)
    return _expected_return_checked(temper(P, temperature), setup)


def _expected_return_checked(Pt: np.ndarray, setup: _Setup):
    D, G = setup.D, setup.G
    # dist[s0, :] = distribution of S_n given S_0 = s0, weighted by D(s0)
    dist = D[:, None] * Pt[0]
    for n in range(1, Pt.shape[0]):
        dist = dist @ Pt[n]
    J = dist[np.arange(len(G)), G].sum()
    return J if is_exact(Pt) else float(J)


def diag_excess(P, truth=None) -> np.ndarray:
    """Mean diagonal excess per step, ``mean_s P_n[s, g_n(s)] - 1/M`` (the data generator's
    "delta", ``delta_diag``, generalised to any matrices); shape ``(N,)``."""
    P = check_transition(P)
    return _diag_excess_checked(P, check_truth(truth, P.shape[0], P.shape[1]))


def _diag_excess_checked(P: np.ndarray, truth: np.ndarray) -> np.ndarray:
    N, M = P.shape[0], P.shape[1]
    rows = np.arange(M)
    base = Fraction(1, M) if is_exact(P) else 1.0 / M
    return np.array([P[n, rows, truth[n]].mean() - base for n in range(N)],
                    dtype=object if is_exact(P) else float)


@dataclass(frozen=True)
class Robustness:
    """How clean the filtered training data are.

    Attributes
    ----------
    success : float
        ``Pr(success)`` under the sampling policy.
    p_all_correct_given_success : float
        ``Pr(every step correct | success) = sum_{s0} D(s0) prod_n P_n[s*_{n-1}, s*_n] / J``.
    p_step_wrong_given_success : ndarray, shape (N,)
        ``Pr(S_n != g_n(S_{n-1}) | success)`` for each step (``1 - p'_n`` for the symmetric
        family).
    """

    success: object
    p_all_correct_given_success: object
    p_step_wrong_given_success: np.ndarray


def _robustness_checked(P_sample, setup: _Setup, post: Posterior) -> Robustness:
    N, M = P_sample.shape[0], P_sample.shape[1]
    if post.success == 0:
        nan = np.full(N, np.nan) if not is_exact(P_sample) else np.array([None] * N, dtype=object)
        return Robustness(post.success, np.nan if not is_exact(P_sample) else None, nan)
    truth = setup.truth
    rows = np.arange(M)
    # the ground-truth trajectory of every question
    state = rows.copy()
    prob = setup.D.copy()
    for n in range(N):
        nxt = truth[n][state]
        prob = prob * P_sample[n, state, nxt]
        state = nxt
    all_correct = prob.sum() / post.success
    wrong = []
    for n in range(N):
        mask = np.ones((M, M), dtype=bool)
        mask[rows, truth[n]] = False
        wrong.append(post.joint[n][mask].sum() / post.success)
    wrong_arr = np.array(wrong, dtype=object if is_exact(P_sample) else float)
    return Robustness(post.success, all_correct, wrong_arr)


def robustness(P, truth=None, start=None, temperature: float = 1.0) -> Robustness:
    """Robustness of the training data: how often successful trajectories hold wrong steps.

    Parameters
    ----------
    P, truth, start, temperature
        As in :func:`star_step`; the data are sampled from the tempered policy.

    Returns
    -------
    Robustness
        ``Pr(all steps correct | success)`` and ``Pr(step n wrong | success)``; NaN (None for
        exact input) when no trajectory can succeed.
    """
    P, setup = _prepare(P, truth, start)
    Ps = temper(P, temperature)
    return _robustness_checked(Ps, setup, _posterior_checked(Ps, setup))


@dataclass(frozen=True)
class DenseRun:
    """Trajectory of exact RL-STaR from arbitrary matrices.

    Attributes
    ----------
    P : ndarray, shape (T+1, N, M, M)
        Policies ``P_0..P_T``.
    J : ndarray, shape (T+1,)
        Expected return of each policy itself.
    J_sampling : ndarray, shape (T+1,)
        Success rate of the tempered sampling policy (``= J`` at ``tau = 1``).
    p_all_correct_given_success : ndarray, shape (T+1,)
    p_step_wrong_given_success : ndarray, shape (T+1, N)
    delta_diag : ndarray, shape (T+1, N)
        Mean diagonal excess per step (:func:`diag_excess`).
    temperature : float
    """

    P: np.ndarray
    J: np.ndarray
    J_sampling: np.ndarray
    p_all_correct_given_success: np.ndarray
    p_step_wrong_given_success: np.ndarray
    delta_diag: np.ndarray
    temperature: float


def iterate_dense(P0, iterations: int, truth=None, start=None,
                  temperature: float = 1.0, progress: bool = False) -> DenseRun:
    """Iterate exact RL-STaR ``P_{t+1} = star_step(P_t)`` for ``T`` iterations.

    Parameters
    ----------
    P0 : array_like, shape (N, M, M)
        Pre-trained policy (float64 or an object array of Fractions).
    iterations : int
        ``T >= 0``.
    truth, start, temperature
        As in :func:`star_step`.
    progress : bool
        Show a tqdm progress bar over the iterations on stderr (default off; needs tqdm).

    Returns
    -------
    DenseRun

    Raises
    ------
    ValueError
        For bad input, or when the run's stored arrays, ``(T+1) (N M^2 + 2N + 3)`` numbers of
        8 bytes (every policy ``P_0..P_T`` and the per-iteration results), would not fit in
        the memory budget (:func:`rlstar_theory.validation.check_memory`); checked before
        anything is allocated. For exact input this counts the references only, a lower bound.
    """
    from rlstar_theory.validation import check_memory

    P, setup = _prepare(P0, truth, start)
    T = check_iterations(iterations)
    exact = is_exact(P)
    N, M = P.shape[0], P.shape[1]
    check_memory((T + 1) * (N * M * M + 2 * N + 3) * 8,
                 f"iterate_dense: storing the {T + 1:,} policies P_0..P_T of shape "
                 f"({N}, {M}, {M})", "iterations")
    dtype = object if exact else float
    Ps = np.empty((T + 1, N, M, M), dtype=P.dtype)
    Js, Jss, pall = (np.empty(T + 1, dtype=dtype) for _ in range(3))
    pwrong, dd = (np.empty((T + 1, N), dtype=dtype) for _ in range(2))
    steps = range(T + 1)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc="iterate_dense", unit="it", mininterval=0.5)
    for t in steps:
        Psample = temper(P, temperature)
        post = _posterior_checked(Psample, setup)
        rob = _robustness_checked(Psample, setup, post)
        Ps[t] = P
        # at temperature 1 the sampling policy is P itself, whose success probability is J
        Js[t] = post.success if Psample is P else _expected_return_checked(P, setup)
        Jss[t] = post.success
        pall[t] = rob.p_all_correct_given_success
        pwrong[t] = rob.p_step_wrong_given_success
        dd[t] = _diag_excess_checked(P, setup.truth)
        if t < T:
            P = refit(P, post.joint)
    return DenseRun(
        P=Ps,
        J=Js,
        J_sampling=Jss,
        p_all_correct_given_success=pall,
        p_step_wrong_given_success=pwrong,
        delta_diag=dd,
        temperature=float(temperature) if not isinstance(temperature, str) else temperature,
    )
