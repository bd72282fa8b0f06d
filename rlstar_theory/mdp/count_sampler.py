"""Sampling transition *counts* instead of trajectories (Doob h-transform), independent of K.

For one question ``s0`` with answer ``y = y(s0)`` and ``K`` sampled trajectories, the sufficient
statistics of every count-based rule (STaR/EI refit, filtered SFT with or without negatives,
token-level GRPO/PPO with advantages that depend on ``(s0, n, i, j)`` only) are the transition
counts of the successful and of the failed trajectories at each step:

.. math::

    T^+_n[i, j] = \\#\\{k : S^{(k)}_{n-1} = i,\\ S^{(k)}_n = j,\\ S^{(k)}_N = y\\},\\qquad
    T^-_n[i, j] = \\#\\{k : S^{(k)}_{n-1} = i,\\ S^{(k)}_n = j,\\ S^{(k)}_N \\ne y\\}.

Their exact joint law is sampled without the trajectories (ALGORITHMS.md §12):

1. backward success ``h_N = e_y``, ``h_{n-1} = P_n h_n`` (so ``p(s0) = h_0(s0)``), and the failure
   function ``g = 1 - h`` by the same recursion from ``g_N = 1 - e_y``;
2. ``S ~ Binomial(K, p(s0))`` successes and ``F = K - S`` failures;
3. successes move with the conditioned kernel ``Q_n[i, j] = P_n[i, j] h_n(j) / h_{n-1}(i)``,
   failures with ``g`` in place of ``h``: from ``c_0 = S e_{s0}``, draw
   ``T_n[i, :] ~ Multinomial(c_{n-1}[i], Q_n[i, :])`` for every state and set
   ``c_n = 1^T T_n`` (column sums).

This costs ``O(N M^2)`` per question whatever ``K`` is (``K = 10^9`` is as cheap as ``K = 10^3``).
Conditioned on the final answer the chain is still Markov, so given ``S`` the success paths are
i.i.d. draws of the ``h``-transformed chain, and the step-wise counts of i.i.d. Markov paths are
generated exactly by pushing the counts one multinomial per state and step.

Grouped rules (GRPO and relatives) draw each group's number of right answers ``c ~ Binomial(G, p)``;
only the histogram of ``c`` over groups matters, and every success (failure) in a group with ``c``
right answers is again an i.i.d. success-(failure-)conditioned path, so all of them are pushed in
one pass with ``c * (number of groups with c)`` trajectories: ``O(G N M^2)`` per question, whatever
the number of groups (:func:`sample_group_counts`).

Conventions: ``P`` has shape ``(N, M, M)`` with ``P[n-1] = P_n`` row-stochastic (float64; exact
object arrays are converted to float for sampling); ``answers`` has length ``M`` and holds
``y(s0)`` for every start state (``rlstar_theory.dense.answer_map(truth)``); ``questions`` are the
start states to sample (default all ``M``; repeats are allowed and are independent questions).
Randomness follows SPEC 7 (``rng`` is ``None``, an int seed or a :class:`numpy.random.Generator`).
For a given seed, the result is a deterministic function of the inputs (questions are processed
in blocks of a size fixed by ``N`` and ``M``); the per-question and the summed variants of a
sampler consume the stream identically, so with the same seed the summed result equals the
weighted sum of the per-question one.

Rounding: conditioned rows are renormalised by their own sums (``sum_j P_n[i, j] h_n(j)`` equals
``h_{n-1}(i)`` up to rounding), so they are valid probability vectors; a state whose conditioned
mass is zero is unreachable under the conditioning and never holds a count. numpy's multinomial
puts what rounding leaves over into the *last* category; if that category has probability zero,
the leftover (an event of probability ~1e-16 per draw) is moved to the row's most likely entry, so
a zero-probability edge never receives a count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.stats import binom

from rlstar_theory.validation import check_int, check_memory, check_rng, check_transition, is_exact

__all__ = [
    "CountSample",
    "SummedCountSample",
    "GroupCountSample",
    "SummedGroupCountSample",
    "backward_success",
    "push_counts",
    "sample_counts",
    "sample_counts_summed",
    "sample_group_counts",
    "sample_group_counts_summed",
]

#: working-memory budget of one block of questions (conditioned kernels and draws)
_BLOCK_BYTES = 32 * 2**20
#: largest number of samples per question (keeps every count and ``Q * K`` inside int64)
_MAX_SAMPLES = 2**62


# ----------------------------------------------------------------------------------------------
# input checks
# ----------------------------------------------------------------------------------------------

def _float_policy(P) -> np.ndarray:
    P = check_transition(P)
    return P.astype(float) if is_exact(P) else P


def _check_states(values, M: int, name: str, length: int | None = None) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of states, got shape "
                         f"{arr.shape}")
    if length is not None and arr.size != length:
        raise ValueError(f"{name} must have length M = {length} (the answer y(s0) of every "
                         f"start state), got length {arr.size}")
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integer states in [0, {M - 1}]")
    if arr.min() < 0 or arr.max() >= M:
        raise ValueError(f"{name} must hold states in [0, M-1] = [0, {M - 1}], got values in "
                         f"[{int(arr.min())}, {int(arr.max())}]")
    return arr.astype(np.int64, copy=False)


def _check_questions(questions, M: int) -> np.ndarray:
    return np.arange(M) if questions is None else _check_states(questions, M, "questions")


def _check_weights(weights, shape: tuple[int, ...], name: str) -> np.ndarray:
    try:
        arr = np.asarray(weights, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a numeric array of shape {shape}") from None
    try:
        arr = np.broadcast_to(arr, shape)
    except ValueError:
        raise ValueError(f"{name} must have shape {shape} (or broadcast to it), got "
                         f"{arr.shape}") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


# ----------------------------------------------------------------------------------------------
# backward pass and the conditioned push
# ----------------------------------------------------------------------------------------------

def _backward(P: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``H[n] = P_{n+1} ... P_N targets`` for ``n = 0..N``; ``targets`` is ``(M, Q)``.

    Returns shape ``(N+1, M, Q)`` (one stacked matmul per step for all columns).
    """
    N = P.shape[0]
    H = np.empty((N + 1,) + targets.shape, dtype=targets.dtype)
    H[N] = targets
    for n in range(N, 0, -1):
        if H.dtype == object:
            H[n - 1] = P[n - 1].dot(H[n])
        else:
            np.matmul(P[n - 1], H[n], out=H[n - 1])
    return H


def _indicator_columns(answers: np.ndarray, M: int, dtype=float) -> np.ndarray:
    """``(M, Q)`` matrix whose column ``q`` is ``e_{answers[q]}``."""
    E = np.zeros((M, answers.size), dtype=dtype)  # object: Python ints 0 and 1
    E[answers, np.arange(answers.size)] = 1
    return E


def backward_success(P, answers) -> np.ndarray:
    """Backward success probabilities ``h[q, n, s] = Pr(S_N = answers[q] | S_n = s)``.

    .. math::

        h_N = e_{y_q}, \\qquad h_{n-1} = P_n\\, h_n \\quad (n = N, \\dots, 1),

    computed for all questions at once as ``H_{n-1} = P_n H_n`` with ``H_N`` the ``(M, Q)``
    matrix of indicator columns. The success probability of question ``q`` started in ``s0`` is
    ``h[q, 0, s0]``.

    Parameters
    ----------
    P : array_like, shape (N, M, M)
        Row-stochastic policy, ``P[n-1] = P_n``. An object array of Fractions is computed exactly.
    answers : array_like of int, shape (Q,)
        Target final state of each question, in ``[0, M-1]``.

    Returns
    -------
    ndarray, shape (Q, N+1, M)
        float64, or object (Fractions) for exact ``P``.
    """
    P = check_transition(P)
    N, M = P.shape[0], P.shape[1]
    answers = _check_states(answers, M, "answers")
    nbytes = answers.size * (N + 1) * M * 8
    check_memory(nbytes, f"backward_success: h of shape ({answers.size}, {N + 1}, {M})",
                 "the number of answers")
    exact = is_exact(P)
    H = _backward(P, _indicator_columns(answers, M, object if exact else float))
    return np.ascontiguousarray(H.transpose(2, 0, 1))


def _success_and_failure(P: np.ndarray, answers: np.ndarray):
    """Float ``h`` and ``g = 1 - h`` (by its own recursion), each ``(N+1, M, Q)``."""
    E = _indicator_columns(answers, P.shape[1])
    return _backward(P, E), _backward(P, 1.0 - E)


def _success_probability(h0: np.ndarray, g0: np.ndarray) -> np.ndarray:
    """``p = h_0 / (h_0 + g_0)``: ``h_0(s0)`` up to rounding, exactly 0 (1) where no success
    (failure) path exists, so a count is never pushed into a row without conditioned mass."""
    return h0 / (h0 + g0)


def _conditioned_steps(P: np.ndarray, h: np.ndarray, starts: np.ndarray, counts: np.ndarray,
                       gen: np.random.Generator) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(n, T_n)`` for ``n = 1..N``: ``T_n`` of shape ``(R, M, M)`` int64.

    ``h`` has shape ``(N+1, M, R)`` (column ``r`` conditions row ``r``; any positive rescaling per
    step and row gives the same kernel). Row ``r`` starts with ``counts[r]`` paths in
    ``starts[r]``.
    """
    N, M = P.shape[0], P.shape[1]
    R = starts.size
    c = np.zeros((R, M), dtype=np.int64)
    c[np.arange(R), starts] = counts
    for n in range(1, N + 1):
        kernel = P[n - 1][None, :, :] * h[n].T[:, None, :]  # (R, M, M): P_n[i, j] h_n(j)
        mass = kernel.sum(axis=2)
        empty = mass <= 0
        kernel /= np.where(empty, 1.0, mass)[:, :, None]
        if empty.any():
            if c[empty].any():
                raise ValueError(f"h is inconsistent with P: at step {n} a count reached a state "
                                 "i with sum_j P_n[i, j] h_n(j) = 0 (h from backward_success, "
                                 "or 1 - h, never does this)")
            kernel[empty, 0] = 1.0  # any valid row: it holds no count
        draws = gen.multinomial(c, kernel)
        # numpy gives the rounding leftover to the last category, even when it is impossible
        leak = (draws[:, :, -1] > 0) & (kernel[:, :, -1] == 0)
        if leak.any():
            rows, states = np.nonzero(leak)
            best = kernel[rows, states].argmax(axis=1)
            draws[rows, states, best] += draws[rows, states, -1]
            draws[rows, states, -1] = 0
        c = draws.sum(axis=1)
        yield n, draws


def push_counts(P, h, starts, counts, rng=None, max_bytes: int | None = None) -> np.ndarray:
    """Push ``counts`` paths per row through the ``h``-conditioned chain; return the transitions.

    Row ``r`` starts with ``c_0 = counts[r] e_{starts[r]}`` and, for ``n = 1..N``, draws

    .. math::

        T_n[i, :] \\sim \\mathrm{Multinomial}\\big(c_{n-1}[i],\\ Q_n[i, :]\\big),\\quad
        Q_n[i, j] = \\frac{P_n[i, j]\\, h_n(j)}{\\sum_k P_n[i, k]\\, h_n(k)}
                  = \\frac{P_n[i, j]\\, h_n(j)}{h_{n-1}(i)},\\quad c_n = \\mathbf 1^\\top T_n,

    one multinomial per (row, state), vectorised over rows and states. With ``h`` from
    :func:`backward_success` this is the law of the transition counts of ``counts[r]`` i.i.d.
    paths conditioned on success; with ``1 - h`` conditioned on failure; with ``h = 1``
    unconditioned.

    Parameters
    ----------
    P : array_like, shape (N, M, M)
    h : array_like, shape (R, N+1, M)
        Non-negative conditioning function per row (only its values up to a positive factor per
        row and step matter). ``counts[r] > 0`` needs ``sum_j P_1[s, j] h_1(j) > 0`` at the start.
    starts : array_like of int, shape (R,)
        Start state of each row.
    counts : array_like of int, shape (R,)
        Number of paths of each row, ``>= 0``.
    rng : None, int or numpy.random.Generator
    max_bytes : int, optional
        Memory budget for the result in bytes (default: half the available memory, see
        :func:`rlstar_theory.validation.check_memory`).

    Returns
    -------
    ndarray of int64, shape (R, N, M, M)
        ``T[r, n-1, i, j]``: paths of row ``r`` with ``s_{n-1} = i, s_n = j``.
    """
    P = _float_policy(P)
    N, M = P.shape[0], P.shape[1]
    gen = check_rng(rng)
    starts = _check_states(starts, M, "starts")
    R = starts.size
    h = np.asarray(h, dtype=float)
    if h.shape != (R, N + 1, M):
        raise ValueError(f"h must have shape (R, N+1, M) = ({R}, {N + 1}, {M}), got {h.shape}")
    if not np.all(np.isfinite(h)) or h.min() < 0:
        raise ValueError("h must be finite and >= 0")
    counts = np.asarray(counts)
    if counts.shape != (R,) or counts.dtype.kind not in "iu" or (counts < 0).any():
        raise ValueError(f"counts must be {R} non-negative integers (one per row of starts)")
    counts = counts.astype(np.int64)
    check_memory(R * N * M * M * 8, f"push_counts: counts of shape ({R}, {N}, {M}, {M})",
                 "the number of rows", limit=max_bytes)
    hT = h.transpose(1, 2, 0)
    first = (P[0][starts] * hT[1].T).sum(axis=1)
    if ((counts > 0) & (first <= 0)).any():
        raise ValueError("counts must be 0 on rows whose start state cannot reach the "
                         "conditioned outcome (sum_j P_1[start, j] h_1(j) = 0)")
    out = np.zeros((R, N, M, M), dtype=np.int64)
    for rows, n, draws in _push_rows(P, hT, starts, counts, gen):
        out[rows, n - 1] = draws
    return out


def _block_size(N: int, M: int) -> int:
    """Rows (or questions) per block: the conditioned kernels, the draws and ``h`` of one block
    stay within ``_BLOCK_BYTES``."""
    return max(1, _BLOCK_BYTES // (8 * (4 * M * M + 2 * (N + 1) * M)))


def _push_rows(P: np.ndarray, h: np.ndarray, starts: np.ndarray, counts: np.ndarray,
               gen: np.random.Generator, columns: np.ndarray | None = None,
               ) -> Iterator[tuple[np.ndarray, int, np.ndarray]]:
    """:func:`_conditioned_steps` over blocks of rows with a positive count: yields
    ``(rows, n, T_n)`` with ``rows`` the row indices of ``T_n``'s first axis. Row ``r`` is
    conditioned by column ``columns[r]`` of ``h`` (default ``r``)."""
    N, M = P.shape[0], P.shape[1]
    todo = np.flatnonzero(counts > 0)
    size = _block_size(N, M)
    for lo in range(0, todo.size, size):
        rows = todo[lo:lo + size]
        cols = rows if columns is None else columns[rows]
        for n, draws in _conditioned_steps(P, h[:, :, cols], starts[rows], counts[rows], gen):
            yield rows, n, draws


# ----------------------------------------------------------------------------------------------
# K samples per question
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CountSample:
    """Transition counts of ``K`` sampled trajectories per question, split by outcome.

    Attributes
    ----------
    questions : ndarray of int64, shape (Q,)
        Start state ``s0`` of each question.
    success_prob : ndarray, shape (Q,)
        ``p(s0) = Pr(S_N = y(s0) | S_0 = s0)`` of the sampling policy (``h_0(s0)``, float64).
    successes : ndarray of int64, shape (Q,)
        ``S ~ Binomial(K, p(s0))``: right answers among the question's ``K`` samples.
    success_counts, failure_counts : ndarray of int64, shape (Q, N, M, M)
        ``[q, n-1, i, j]``: successful (failed) samples of question ``q`` with
        ``s_{n-1} = i, s_n = j``. Each step of ``success_counts[q]`` sums to ``successes[q]``,
        each step of ``failure_counts[q]`` to ``K - successes[q]``.
    samples_drawn : int
        ``Q * K``.
    """

    questions: np.ndarray
    success_prob: np.ndarray
    successes: np.ndarray
    success_counts: np.ndarray
    failure_counts: np.ndarray
    samples_drawn: int


@dataclass(frozen=True)
class SummedCountSample:
    """Question-weighted transition counts (summed over questions).

    Attributes
    ----------
    questions, success_prob, successes, samples_drawn
        As in :class:`CountSample`.
    success_counts : ndarray of float64, shape (N, M, M)
        ``sum_q weights[q] T^+_q``.
    failure_counts : ndarray of float64, shape (N, M, M)
        ``sum_q failure_weights[q] T^-_q``.
    """

    questions: np.ndarray
    success_prob: np.ndarray
    successes: np.ndarray
    success_counts: np.ndarray
    failure_counts: np.ndarray
    samples_drawn: int


def _sample_blocks(P: np.ndarray, answers: np.ndarray, questions: np.ndarray, K: int,
                   gen: np.random.Generator):
    """Per block of questions: yield ``(block, p, S, steps)``, ``steps`` from :func:`_pushes`.

    The draw order (per block: the binomials, then the success push, then the failure push) is
    the same for every caller, which makes the per-question and summed samplers agree.
    """
    N, M = P.shape[0], P.shape[1]
    Q = questions.size
    size = _block_size(N, M)
    for lo in range(0, Q, size):
        block = np.arange(lo, min(Q, lo + size))
        s0 = questions[block]
        h, g = _success_and_failure(P, answers[s0])
        cols = np.arange(block.size)
        p = _success_probability(h[0, s0, cols], g[0, s0, cols])
        S = gen.binomial(K, p).astype(np.int64)
        yield block, p, S, _pushes(P, h, g, s0, S, K - S, gen)


def _pushes(P, h, g, starts, n_success, n_failure, gen):
    """Success then failure pushes over the rows with a positive count.

    Yields ``(outcome, rows, n, draws)`` with ``outcome`` 0 (success) or 1 (failure).
    """
    for outcome, (fn, n_paths) in enumerate(((h, n_success), (g, n_failure))):
        for rows, n, draws in _push_rows(P, fn, starts, n_paths, gen):
            yield outcome, rows, n, draws


def sample_counts(P, answers, K: int, rng=None, questions=None,
                  max_bytes: int | None = None) -> CountSample:
    """Success and failure transition counts of ``K`` trajectories per question, in ``O(N M^2)``.

    For each question ``s0`` (answer ``y = answers[s0]``), exactly in law with sampling ``K``
    trajectories and counting:

    .. math::

        S \\sim \\mathrm{Bin}(K, h_0(s_0)),\\quad
        T^\\pm_n[i, :] \\sim \\mathrm{Mult}\\big(c^\\pm_{n-1}[i],\\,
        P_n[i, :] \\odot u^\\pm_n / u^\\pm_{n-1}(i)\\big),\\quad
        c^\\pm_n = \\mathbf 1^\\top T^\\pm_n,

    with ``u^+ = h`` (:func:`backward_success`), ``u^- = 1 - h``, ``c^+_0 = S e_{s0}`` and
    ``c^-_0 = (K - S) e_{s0}``. The cost does not depend on ``K``.

    Parameters
    ----------
    P : array_like, shape (N, M, M)
        Sampling policy (temper it first for a sampling temperature).
    answers : array_like of int, shape (M,)
        ``answers[s0] = y(s0)``, e.g. ``rlstar_theory.dense.answer_map(truth)``.
    K : int
        Samples per question, ``1 <= K <= 2**62``.
    rng : None, int or numpy.random.Generator
    questions : array_like of int, shape (Q,), optional
        Start states to sample (default ``arange(M)``; a start distribution's support is
        ``np.flatnonzero(start > 0)``). Repeated states are independent questions.
    max_bytes : int, optional
        Memory budget in bytes for the two ``(Q, N, M, M)`` int64 results (default: half the
        available memory, :func:`rlstar_theory.validation.check_memory`); above it a ValueError
        points to :func:`sample_counts_summed`.

    Returns
    -------
    CountSample
    """
    P = _float_policy(P)
    N, M = P.shape[0], P.shape[1]
    answers = _check_states(answers, M, "answers", length=M)
    K = check_int(K, "K", 1, _MAX_SAMPLES, "samples per question")
    gen = check_rng(rng)
    questions = _check_questions(questions, M)
    Q = questions.size
    check_memory(2 * Q * N * M * M * 8,
                 f"sample_counts: success and failure counts of shape ({Q}, {N}, {M}, {M})",
                 "the number of questions, or use sample_counts_summed (weighted sums over "
                 "questions, shape (N, M, M))", limit=max_bytes)
    counts = np.zeros((2, Q, N, M, M), dtype=np.int64)
    p_all = np.empty(Q)
    S_all = np.empty(Q, dtype=np.int64)
    for block, p, S, steps in _sample_blocks(P, answers, questions, K, gen):
        p_all[block], S_all[block] = p, S
        for outcome, rows, n, draws in steps:
            counts[outcome, block[rows], n - 1] = draws
    return CountSample(questions=questions, success_prob=p_all, successes=S_all,
                       success_counts=counts[0], failure_counts=counts[1],
                       samples_drawn=Q * K)


def sample_counts_summed(P, answers, K: int, rng=None, questions=None, weights=None,
                         failure_weights=None) -> SummedCountSample:
    """Question-weighted success and failure counts, without a per-question array.

    .. math::

        C^+_n = \\sum_q w^+_q\\, T^+_{q,n}, \\qquad C^-_n = \\sum_q w^-_q\\, T^-_{q,n},

    with ``T^\\pm_q`` drawn as in :func:`sample_counts` (the same draws for the same seed, so
    ``C^+`` equals ``einsum('q,qnij->nij', w, sample_counts(...).success_counts)``). Memory is
    ``O(N M^2)`` plus one block of questions, whatever ``Q`` and ``K``.

    Parameters
    ----------
    P, answers, K, rng, questions
        As in :func:`sample_counts`.
    weights : array_like, shape (Q,), optional
        ``w^+_q`` per question (default 1: plain sums). The STaR refit uses ``D(s0) / K``.
    failure_weights : array_like, shape (Q,), optional
        ``w^-_q`` (default: ``weights``). Negative weights are allowed.

    Returns
    -------
    SummedCountSample
    """
    P = _float_policy(P)
    N, M = P.shape[0], P.shape[1]
    answers = _check_states(answers, M, "answers", length=M)
    K = check_int(K, "K", 1, _MAX_SAMPLES, "samples per question")
    gen = check_rng(rng)
    questions = _check_questions(questions, M)
    Q = questions.size
    w_plus = _check_weights(1.0 if weights is None else weights, (Q,), "weights")
    w_minus = w_plus if failure_weights is None else \
        _check_weights(failure_weights, (Q,), "failure_weights")
    sums = np.zeros((2, N, M, M))
    p_all = np.empty(Q)
    S_all = np.empty(Q, dtype=np.int64)
    for block, p, S, steps in _sample_blocks(P, answers, questions, K, gen):
        p_all[block], S_all[block] = p, S
        for outcome, rows, n, draws in steps:
            w = (w_plus, w_minus)[outcome][block[rows]]
            sums[outcome, n - 1] += np.tensordot(w, draws, axes=(0, 0))
    return SummedCountSample(questions=questions, success_prob=p_all, successes=S_all,
                             success_counts=sums[0], failure_counts=sums[1],
                             samples_drawn=Q * K)


# ----------------------------------------------------------------------------------------------
# grouped rules: `groups` groups of G samples per question
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GroupCountSample:
    """Counts of ``groups`` groups of ``G`` samples per question, split by the group's score.

    Attributes
    ----------
    questions, success_prob
        As in :class:`CountSample`.
    group_histogram : ndarray of int64, shape (Q, G+1)
        ``[q, c]``: groups of question ``q`` with exactly ``c`` right answers; a row is
        ``Multinomial(groups, Binomial(G, p(s0)) pmf)``.
    success_counts : ndarray of int64, shape (Q, G+1, N, M, M)
        ``[q, c, n-1, i, j]``: right samples, pooled over the groups with ``c`` right answers,
        with ``s_{n-1} = i, s_n = j``; each step sums to ``c * group_histogram[q, c]``.
    failure_counts : ndarray of int64, shape (Q, G+1, N, M, M)
        The same for wrong samples; each step sums to ``(G - c) * group_histogram[q, c]``.
    samples_drawn : int
        ``Q * groups * G``.
    """

    questions: np.ndarray
    success_prob: np.ndarray
    group_histogram: np.ndarray
    success_counts: np.ndarray
    failure_counts: np.ndarray
    samples_drawn: int


@dataclass(frozen=True)
class SummedGroupCountSample:
    """Score-and-question-weighted counts of grouped samples.

    Attributes
    ----------
    questions, success_prob, group_histogram, samples_drawn
        As in :class:`GroupCountSample`.
    success_counts : ndarray of float64, shape (N, M, M)
        ``sum_{q,c} weights[q, c] T^+_{q,c}``.
    failure_counts : ndarray of float64, shape (N, M, M)
        ``sum_{q,c} failure_weights[q, c] T^-_{q,c}``.
    """

    questions: np.ndarray
    success_prob: np.ndarray
    group_histogram: np.ndarray
    success_counts: np.ndarray
    failure_counts: np.ndarray
    samples_drawn: int


def _safe_multinomial(gen: np.random.Generator, n, pvals: np.ndarray) -> np.ndarray:
    """``gen.multinomial`` whose rounding leftover never lands on a zero-probability category."""
    draws = gen.multinomial(n, pvals)
    leak = (draws[..., -1] > 0) & (pvals[..., -1] == 0)
    if leak.any():
        idx = np.nonzero(leak)
        best = pvals[idx].argmax(axis=-1)
        draws[idx + (best,)] += draws[idx + (-1,)]
        draws[idx + (-1,)] = 0
    return draws


def _group_blocks(P: np.ndarray, answers: np.ndarray, questions: np.ndarray, groups: int,
                  G: int, gen: np.random.Generator):
    """Per block of questions: yield ``(block, p, hist, steps)``; ``steps`` yields
    ``(outcome, q_local, c, n, draws)`` with one row per pushed (question, score) pair."""
    N, M = P.shape[0], P.shape[1]
    Q = questions.size
    scores = np.arange(G + 1)
    # a block's (questions, G+1) arrays (pmf, histogram, rows to push) also stay in budget
    size = max(1, min(_block_size(N, M), _BLOCK_BYTES // (8 * 4 * (G + 1))))
    for lo in range(0, Q, size):
        block = np.arange(lo, min(Q, lo + size))
        s0 = questions[block]
        h, g = _success_and_failure(P, answers[s0])
        cols = np.arange(block.size)
        p = _success_probability(h[0, s0, cols], g[0, s0, cols])
        pmf = binom.pmf(scores[None, :], G, p[:, None])
        pmf /= pmf.sum(axis=1, keepdims=True)
        hist = _safe_multinomial(gen, groups, pmf).astype(np.int64)
        yield block, p, hist, _group_pushes(P, h, g, s0, hist, scores, G, gen)


def _group_pushes(P, h, g, s0, hist, scores, G, gen):
    for outcome, (fn, per_group) in enumerate(((h, scores), (g, G - scores))):
        n_paths = hist * per_group[None, :]  # (B, G+1)
        q_local, c = np.nonzero(n_paths > 0)  # one row per (question, score) with paths
        for rows, n, draws in _push_rows(P, fn, s0[q_local], n_paths[q_local, c], gen,
                                         columns=q_local):
            yield outcome, q_local[rows], c[rows], n, draws


def _check_groups(groups, group_size) -> tuple[int, int]:
    G = check_int(group_size, "group_size", 1, 2**20, "samples per group")
    groups = check_int(groups, "groups", 1, _MAX_SAMPLES // G, "groups per question")
    return groups, G


def sample_group_counts(P, answers, groups: int, group_size: int, rng=None, questions=None,
                        max_bytes: int | None = None) -> GroupCountSample:
    """Grouped sampling (``K = groups * G`` per question) as score histogram and split counts.

    For each question, each group's number of right answers is ``c ~ Binomial(G, p(s0))``, so the
    histogram is drawn at once,

    .. math::

        H_{q, \\cdot} \\sim \\mathrm{Multinomial}\\Big(\\text{groups},\\
        \\big(\\tbinom{G}{c} p^c (1-p)^{G-c}\\big)_{c=0..G}\\Big),

    and, the right (wrong) samples being i.i.d. success-(failure-)conditioned paths whatever group
    they are in, the ``c H_{q,c}`` right samples of all groups scoring ``c`` are pushed in one
    pass through the ``h``-conditioned chain (``(G - c) H_{q,c}`` wrong ones through ``1 - h``),
    as in :func:`sample_counts`. Cost ``O(G N M^2)`` per question, whatever ``groups`` is. A
    group rule whose per-sample weight depends on ``c`` (GRPO's normalised advantage, for
    instance) weights ``success_counts[:, c]`` and ``failure_counts[:, c]`` by it.

    Parameters
    ----------
    P, answers, rng, questions
        As in :func:`sample_counts`.
    groups : int
        Groups per question, ``>= 1``.
    group_size : int
        ``G``: samples per group, ``1 <= G <= 2**20``.
    max_bytes : int, optional
        Memory budget in bytes for the two ``(Q, G+1, N, M, M)`` int64 results (default: half
        the available memory); above it a ValueError points to
        :func:`sample_group_counts_summed`.

    Returns
    -------
    GroupCountSample
    """
    P = _float_policy(P)
    N, M = P.shape[0], P.shape[1]
    answers = _check_states(answers, M, "answers", length=M)
    groups, G = _check_groups(groups, group_size)
    gen = check_rng(rng)
    questions = _check_questions(questions, M)
    Q = questions.size
    check_memory(2 * Q * (G + 1) * N * M * M * 8,
                 f"sample_group_counts: success and failure counts of shape "
                 f"({Q}, {G + 1}, {N}, {M}, {M})",
                 "the number of questions or group_size, or use sample_group_counts_summed "
                 "(weighted sums, shape (N, M, M))", limit=max_bytes)
    counts = np.zeros((2, Q, G + 1, N, M, M), dtype=np.int64)
    p_all = np.empty(Q)
    hist_all = np.empty((Q, G + 1), dtype=np.int64)
    for block, p, hist, steps in _group_blocks(P, answers, questions, groups, G, gen):
        p_all[block], hist_all[block] = p, hist
        for outcome, q_local, c, n, draws in steps:
            counts[outcome, block[q_local], c, n - 1] = draws
    return GroupCountSample(questions=questions, success_prob=p_all, group_histogram=hist_all,
                            success_counts=counts[0], failure_counts=counts[1],
                            samples_drawn=Q * groups * G)


def sample_group_counts_summed(P, answers, groups: int, group_size: int, rng=None,
                               questions=None, weights=None,
                               failure_weights=None) -> SummedGroupCountSample:
    """Grouped sampling with per-(question, score) weights, summed: ``O(N M^2)`` memory.

    .. math::

        C^+_n = \\sum_{q}\\sum_{c=0}^{G} w^+_{q,c}\\, T^+_{q,c,n}, \\qquad
        C^-_n = \\sum_{q}\\sum_{c=0}^{G} w^-_{q,c}\\, T^-_{q,c,n},

    with ``T^\\pm_{q,c}`` drawn as in :func:`sample_group_counts` (identical draws for the same
    seed). For GRPO with 0/1 rewards, a right sample in a group scoring ``c`` has advantage
    ``(1 - c/G) / sd(c)`` and a wrong one ``-(c/G) / sd(c)``; pass those (times any question
    weight) as ``weights`` and ``failure_weights``.

    Parameters
    ----------
    P, answers, groups, group_size, rng, questions
        As in :func:`sample_group_counts`.
    weights : array_like, shape (G+1,) or (Q, G+1), optional
        ``w^+`` per score (and question); default 1.
    failure_weights : array_like, shape (G+1,) or (Q, G+1), optional
        ``w^-``; default ``weights``.

    Returns
    -------
    SummedGroupCountSample
    """
    P = _float_policy(P)
    N, M = P.shape[0], P.shape[1]
    answers = _check_states(answers, M, "answers", length=M)
    groups, G = _check_groups(groups, group_size)
    gen = check_rng(rng)
    questions = _check_questions(questions, M)
    Q = questions.size
    check_memory(8 * Q * (G + 1), f"sample_group_counts_summed: the ({Q}, {G + 1}) histogram",
                 "the number of questions or group_size")
    w_plus = _check_weights(1.0 if weights is None else weights, (Q, G + 1), "weights")
    w_minus = w_plus if failure_weights is None else \
        _check_weights(failure_weights, (Q, G + 1), "failure_weights")
    sums = np.zeros((2, N, M, M))
    p_all = np.empty(Q)
    hist_all = np.empty((Q, G + 1), dtype=np.int64)
    for block, p, hist, steps in _group_blocks(P, answers, questions, groups, G, gen):
        p_all[block], hist_all[block] = p, hist
        for outcome, q_local, c, n, draws in steps:
            w = (w_plus, w_minus)[outcome][block[q_local], c]
            sums[outcome, n - 1] += np.tensordot(w, draws, axes=(0, 0))
    return SummedGroupCountSample(questions=questions, success_prob=p_all,
                                  group_histogram=hist_all, success_counts=sums[0],
                                  failure_counts=sums[1], samples_drawn=Q * groups * G)
