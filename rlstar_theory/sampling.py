"""Finite-sample RL-STaR (Algorithm 1 with K sampled trajectories per question).

Each iteration samples ``K`` trajectories for every question ``s_0`` with ``D(s_0) > 0`` from the
(optionally tempered) policy, keeps those whose final answer is right, and refits every step by
maximum likelihood from the kept transitions. Each trajectory of question ``s_0`` carries weight
``D(s_0)/K`` (stratified sampling: for the uniform start this is plain counting), so

.. math::

    \\hat P_{t+1,n}[s, s'] = \\frac{\\sum_{\\text{kept}} w\\,[s_{n-1}=s, s_n=s']}
                                  {\\sum_{\\text{kept}} w\\,[s_{n-1}=s]},

which converges to :func:`rlstar_theory.dense.star_step` as ``K`` grows. Rows with no kept data
keep their previous row, as in the exact engine.

Randomness follows the Scientific Python SPEC 7 convention: ``rng`` may be ``None``, an integer
seed or a :class:`numpy.random.Generator`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlstar_theory.dense import answer_map, expected_return, refit
from rlstar_theory.tempering import temper
from rlstar_theory.validation import (
    check_int,
    check_iterations,
    check_memory,
    check_rng,
    check_start,
    check_transition,
    check_truth,
    is_exact,
)

__all__ = [
    "FiniteSampleStep",
    "FiniteSampleRun",
    "sample_trajectories",
    "finite_sample_star_step",
    "iterate_finite_sample",
    "trajectory_memory",
]

#: 8-byte work arrays of one trajectory count that sampling holds besides the paths at its peak
#: (the uniforms, the sort order and the sort's scratch, a block's uniforms and next states;
#: after sampling: the kept rows' weights, transition codes and masks), checked with tracemalloc
_WORK_ARRAYS = 5


def _check_samples(samples_per_question) -> int:
    return check_int(samples_per_question, "samples_per_question", 1)


def trajectory_memory(n_questions: int, samples_per_question: int, N: int,
                      keep: bool = True) -> int:
    """Bytes that sampling ``K`` trajectories for each of ``Q`` questions allocates at its peak.

    .. math::

        8\\,Q K \\left((N + 1)(1 + [\\text{keep}]) + 5\\right)

    the ``(Q K, N + 1)`` int64 paths, their kept copy (``keep``: at most as many rows), and
    five work arrays of ``Q K`` 8-byte numbers.
    """
    rows = int(n_questions) * int(samples_per_question)
    return 8 * rows * ((N + 1) * (2 if keep else 1) + _WORK_ARRAYS)


def _check_sampling_memory(n_questions: int, K: int, N: int, keep: bool) -> None:
    check_memory(trajectory_memory(n_questions, K, N, keep),
                 f"sampling {K:,} trajectories for each of {n_questions} questions",
                 "samples_per_question")


def sample_trajectories(P, samples_per_question: int, rng=None, start=None,
                        temperature: float = 1.0) -> np.ndarray:
    """Sample ``K`` trajectories for every question in the support of ``start``.

    Parameters
    ----------
    P : array_like, shape (N, M, M)
        Row-stochastic policy.
    samples_per_question : int
        ``K >= 1``.
    rng : None, int or numpy.random.Generator
        Source of randomness (SPEC 7); see :func:`rlstar_theory.validation.check_rng`.
    start : array_like, shape (M,), optional
        Question distribution; only its support matters here (``None``: all M questions).
    temperature : float
        Sample from the tempered policy (rows ``∝ P^{1/tau}``).

    Returns
    -------
    ndarray of int64, shape (Q * K, N + 1)
        Column 0 is the question ``s_0``, column ``n`` the state ``s_n``; the questions come in
        blocks of ``K``, in increasing order.

    Raises
    ------
    ValueError
        For bad input, or when the arrays (:func:`trajectory_memory`) would not fit in the
        memory budget (:func:`rlstar_theory.validation.check_memory`); checked before
        anything is allocated.
    """
    P = check_transition(P)
    if is_exact(P):
        P = P.astype(float)
    N, M = P.shape[0], P.shape[1]
    K = _check_samples(samples_per_question)
    D = check_start(start, M)
    gen = check_rng(rng)
    questions = np.flatnonzero(D > 0)
    _check_sampling_memory(len(questions), K, N, keep=False)
    Ps = temper(P, temperature)
    cum = np.cumsum(Ps, axis=2)
    cum[..., -1] = 1.0  # guard against rounding in the last bin
    paths = np.empty((len(questions) * K, N + 1), dtype=np.int64)
    paths[:, 0] = np.repeat(questions, K)
    for n in range(N):
        current = paths[:, n]
        u = gen.random(len(current))
        nxt = paths[:, n + 1]  # filled in place, block by block
        # trajectories grouped by their current state: the stable sort order, cut where the
        # state changes (state s occupies order[bounds[s]:bounds[s+1]])
        order = np.argsort(current, kind="stable")
        bounds = np.concatenate(([0], np.cumsum(np.bincount(current, minlength=M))))
        for s in np.flatnonzero(bounds[1:] > bounds[:-1]):
            idx = order[bounds[s]:bounds[s + 1]]
            step = np.searchsorted(cum[n, s], u[idx], side="right")
            nxt[idx] = np.minimum(step, M - 1, out=step)
    return paths


@dataclass(frozen=True)
class FiniteSampleStep:
    """One finite-sample STaR iteration.

    Attributes
    ----------
    P : ndarray, shape (N, M, M)
        Refitted policy.
    n_sampled, n_kept : int
        Trajectories drawn and trajectories kept (right final answer).
    success_rate : float
        ``D``-weighted fraction of kept trajectories (estimates ``J`` of the sampling policy).
    wrong_steps_kept : ndarray of int, shape (N,)
        How many kept trajectories have step ``n`` wrong (``s_n != g_n(s_{n-1})``).
    kept_with_wrong_step : int
        How many kept trajectories contain at least one wrong step.
    rows_without_data : int
        Rows (over all steps) that no kept trajectory visits and so keep their previous row.
    """

    P: np.ndarray
    n_sampled: int
    n_kept: int
    success_rate: float
    wrong_steps_kept: np.ndarray
    kept_with_wrong_step: int
    rows_without_data: int


def finite_sample_star_step(P, samples_per_question: int, rng=None, truth=None, start=None,
                            temperature: float = 1.0) -> FiniteSampleStep:
    """One RL-STaR iteration from ``K`` sampled trajectories per question.

    Parameters
    ----------
    P : array_like, shape (N, M, M)
        Current policy ``P_t``.
    samples_per_question : int
        ``K >= 1`` trajectories per question.
    rng : None, int or numpy.random.Generator
    truth, start, temperature
        As in :func:`rlstar_theory.dense.star_step`.

    Returns
    -------
    FiniteSampleStep
        The maximum-likelihood refit ``P_{t+1}`` from the kept trajectories' weighted counts and
        the bookkeeping of how many wrong steps the kept data hold.

    Raises
    ------
    ValueError
        For bad input, or when the sampled and kept trajectories (:func:`trajectory_memory`)
        would not fit in the memory budget; checked before sampling.
    """
    P = check_transition(P)
    if is_exact(P):
        P = P.astype(float)
    N, M = P.shape[0], P.shape[1]
    truth = check_truth(truth, N, M)
    D = check_start(start, M)
    K = _check_samples(samples_per_question)
    gen = check_rng(rng)
    _check_sampling_memory(int((D > 0).sum()), K, N, keep=True)
    paths = sample_trajectories(P, K, gen, D, temperature)
    G = answer_map(truth)
    kept = paths[paths[:, N] == G[paths[:, 0]]]
    weights = D[kept[:, 0]] / K
    counts = np.empty_like(P)
    wrong = np.empty(N, dtype=np.int64)
    any_wrong = np.zeros(len(kept), dtype=bool)
    for n in range(N):
        flat = kept[:, n] * M + kept[:, n + 1]
        counts[n] = np.bincount(flat, weights=weights, minlength=M * M).reshape(M, M)
        is_wrong = kept[:, n + 1] != truth[n][kept[:, n]]
        wrong[n] = int(is_wrong.sum())
        any_wrong |= is_wrong
    return FiniteSampleStep(
        P=refit(P, counts),
        n_sampled=len(paths),
        n_kept=len(kept),
        success_rate=float(weights.sum()),
        wrong_steps_kept=wrong,
        kept_with_wrong_step=int(any_wrong.sum()),
        rows_without_data=int((counts.sum(axis=2) == 0).sum()),
    )


@dataclass(frozen=True)
class FiniteSampleRun:
    """Finite-sample RL-STaR over ``T`` iterations.

    Attributes
    ----------
    P : ndarray, shape (T+1, N, M, M)
        Policies ``P_0..P_T``.
    J : ndarray, shape (T+1,)
        Exact expected return of each policy (the estimate's quality, not an estimate).
    steps : tuple of FiniteSampleStep
        The ``T`` sampled iterations (their counts and success rates).
    """

    P: np.ndarray
    J: np.ndarray
    steps: tuple[FiniteSampleStep, ...]


def iterate_finite_sample(P0, iterations: int, samples_per_question: int, rng=None,
                          truth=None, start=None, temperature: float = 1.0) -> FiniteSampleRun:
    """Run finite-sample RL-STaR for ``T`` iterations from ``P0``.

    Parameters
    ----------
    P0 : array_like, shape (N, M, M)
    iterations : int
        ``T >= 0``.
    samples_per_question : int
        ``K >= 1``.
    rng : None, int or numpy.random.Generator
        One generator drives all iterations, so a seed fixes the whole run.
    truth, start, temperature
        As in :func:`rlstar_theory.dense.star_step`.

    Returns
    -------
    FiniteSampleRun

    Raises
    ------
    ValueError
        For bad input, or when the stored policies (``2 (T+1) N M^2`` float64 values: the list
        and its stacked copy) or one iteration's trajectories would not fit in the memory
        budget; checked before the first iteration.
    """
    P = check_transition(P0)
    if is_exact(P):
        P = P.astype(float)
    T = check_iterations(iterations)
    K = _check_samples(samples_per_question)
    gen = check_rng(rng)
    N, M = P.shape[0], P.shape[1]
    # the T+1 policies are kept twice at the end (the list and the stacked copy)
    check_memory(2 * (T + 1) * N * M * M * P.itemsize,
                 f"iterate_finite_sample: storing the {T + 1:,} policies P_0..P_T",
                 "iterations")
    _check_sampling_memory(int((check_start(start, M) > 0).sum()), K, N, keep=True)
    Ps, Js, steps = [P], [expected_return(P, truth, start)], []
    for _ in range(T):
        step = finite_sample_star_step(P, K, gen, truth, start, temperature)
        P = step.P
        steps.append(step)
        Ps.append(P)
        Js.append(expected_return(P, truth, start))
    return FiniteSampleRun(P=np.stack(Ps), J=np.array(Js), steps=tuple(steps))
