"""Exact majority-vote accuracy maj@k (ALGORITHMS.md §0.6), by generating functions.

Question ``q`` has a distribution ``q(s0, .)`` (here ``p``, a row of ``answer_dist``) over the
``M`` final answers and a right answer ``y``. ``k`` answers are drawn i.i.d. from ``p`` and the
plurality wins; a tie of ``y`` with ``t`` other answers at the top counts ``1/(t+1)`` (ties broken
uniformly at random). With ``a = p_y``, ``c`` the count of ``y`` and ``n = k - c``,

.. math::

    \\mathrm{maj@}k = \\sum_{c=1}^{k} \\binom{k}{c} a^c\\, n!\\,
        [z^n] \\int_0^1 \\prod_{j \\ne y} \\Big(\\sum_{m=0}^{c-1} \\frac{(p_j z)^m}{m!}
        + u\\,\\frac{(p_j z)^c}{c!}\\Big)\\, du ,

because ``1/(t+1) = int_0^1 u^t du`` and each other answer contributes its count ``m <= c``
(``u`` marks a tie at ``c``). For ``2c > k`` the others share ``n < c`` draws, so ``y`` wins
outright and the term is the binomial ``C(k, c) a^c (1 - a)^n``. For ``c = 1`` every other
answer drawn ties, ``t = n``, and the term is ``k! a e_n(p_{-y}) / k`` (elementary symmetric
polynomial). For ``2 <= c <= k/2`` the ``u``-polynomial has degree at most
``min(#{j != y: p_j > 0}, floor(n / c))`` and Gauss-Legendre nodes on ``[0, 1]`` integrate it
exactly.

Algorithm and cost. For each ``c`` one dynamic programme over the other answers serves every
``k`` in ``ks`` (coefficients up to ``z^(K - c)``, ``K = max(ks)``), for all questions and all
``u`` nodes at once. The others are sorted increasingly per question, and the state after the
``j``-th is stored in the scaled basis ``a_n / p_j^n``. In that basis the ``j``-th factor is the
same banded Toeplitz matrix for every question, applied after rescaling the state by
``(p_{j-1} / p_j)^n``; cut into blocks of ``c`` coefficients it is one ``(2c, c)`` matrix
product per answer. Every number involved is positive (no cancellation: the relative rounding
error grows like ``M + K`` ulps, about ``1e-14`` at ``M = K = 64`` against a 50-digit referee),
and the scaled state is bounded by ``j^n / n!`` (as ``p_i <= p_j``), so nothing overflows for
``K <= 64`` and up to :data:`MAX_POSITIVE_ANSWERS` answers. What underflows adds up to less
than ``1e-180``. Cost: ``O(Q M K^3)`` flops in about ``M K / 2`` small matrix products and
``O(Q M K^2 log K)`` element-wise work; answers of probability 0 in every question are
skipped. Memory: ``O(M K)`` per question, in blocks of questions of at most 64 MiB.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from numbers import Integral

import numpy as np

from rlstar_theory.validation import check_memory, row_sum_tolerance

__all__ = ["MAX_K", "MAX_POSITIVE_ANSWERS", "maj_at_k", "maj_at_k_limit"]

#: largest number of votes ``k`` for which :func:`maj_at_k` is exact (and allowed)
MAX_K = 64
#: most answers with positive probability per question (the scaled state stays below 1e308)
MAX_POSITIVE_ANSWERS = 1_000_000
#: most questions per block of the dynamic programme
_BLOCK = 512
#: largest ``m n k`` of one matrix product: OpenBLAS runs products below ``4 * 65536`` on one
#: thread, and threads only cost time for these small products (a lot of it on a busy machine)
_GEMM_SIZE = 131072
#: memory a block of questions may use (more answers per question: fewer questions per block)
_BLOCK_BYTES = 64 * 2**20


def _check_answer_dist(answer_dist) -> np.ndarray:
    try:
        p = np.asarray(answer_dist, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("answer_dist must be a numeric array of shape (Q, M)") from None
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 1:
        raise ValueError(f"answer_dist must have shape (Q, M) with Q >= 1 questions and M >= 1 "
                         f"answers; got shape {np.shape(answer_dist)}")
    if not np.all(np.isfinite(p)):
        raise ValueError("answer_dist must be finite (no NaN or inf)")
    if p.min() < 0:
        raise ValueError(f"answer_dist must have entries >= 0, got min {float(p.min())!r}")
    M = p.shape[1]
    tol = row_sum_tolerance(M)
    err = np.abs(p.sum(axis=1) - 1.0)
    if not (err <= tol).all():
        i = int(np.argmax(err))
        raise ValueError(f"answer_dist: every row must sum to 1 (tolerance {tol:.1e} for "
                         f"M={M}); row {i} sums to {float(p[i].sum())!r}")
    positive = int((p > 0).sum(axis=1).max())
    if positive > MAX_POSITIVE_ANSWERS:
        raise ValueError(f"answer_dist: at most {MAX_POSITIVE_ANSWERS} answers with positive "
                         f"probability per question are supported, got {positive}")
    return p


def _check_answers(answers, Q: int, M: int) -> np.ndarray:
    arr = np.asarray(answers)
    if arr.shape != (Q,) or arr.dtype.kind not in "iu":
        raise ValueError(f"answers must be an integer array of shape (Q,) = ({Q},) with values "
                         f"in [0, M-1] = [0, {M - 1}]; got shape {arr.shape}, dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= M:
        raise ValueError(f"answers must lie in [0, M-1] = [0, {M - 1}]; got values in "
                         f"[{int(arr.min())}, {int(arr.max())}]")
    return arr.astype(np.int64)


def _check_ks(ks) -> list[int]:
    allowed = f"positive integers <= {MAX_K} (the exact method's limit)"
    if isinstance(ks, (Integral, np.integer)) or not isinstance(ks, (Sequence, np.ndarray)):
        raise ValueError(f"ks must be a non-empty sequence of {allowed}, got {ks!r}")
    out = []
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, (Integral, np.integer)) or not 1 <= k <= MAX_K:
            raise ValueError(f"ks must be {allowed}, got {k!r}")
        out.append(int(k))
    if not out:
        raise ValueError(f"ks must be a non-empty sequence of {allowed}")
    return out


@lru_cache(maxsize=64)
def _unit_gauss_legendre(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on ``[0, 1]`` (exact for degree ``2 nodes - 1``)."""
    x, w = np.polynomial.legendre.leggauss(nodes)
    return (x + 1.0) / 2.0, w / 2.0


@lru_cache(maxsize=256)
def _block_step_matrices(c: int, nodes: tuple[float, ...]) -> np.ndarray:
    """Per node ``u``, the ``(c, 2c)`` matrix ``[A | B(u)]`` of one factor in blocks of ``c``.

    Multiplying a series by ``g_c(z; u) = sum_{m<c} z^m/m! + u z^c/c!`` maps coefficient block
    ``b`` (coefficients ``bc .. bc+c-1``) to ``Y[b] A + Y[b-1] B(u)`` with
    ``A[i, s] = 1/(s-i)!`` (``s >= i``) and ``B[i, s] = w_{s+c-i}`` (``s <= i``), where
    ``w_m = 1/m!`` for ``m < c`` and ``w_c = u/c!`` (the diagonal of ``B``).
    """
    i, s = np.indices((c, c))
    w = np.array([1.0 / math.factorial(m) for m in range(c)])
    A = np.where(s >= i, w[np.clip(s - i, 0, c - 1)], 0.0)
    B = np.where(s < i, w[np.clip(s + c - i, 0, c - 1)], 0.0)
    out = np.empty((len(nodes), c, 2 * c))
    out[:, :, :c] = A
    out[:, :, c:] = B
    out[:, np.arange(c), c + np.arange(c)] = np.asarray(nodes)[:, None] / math.factorial(c)
    out.flags.writeable = False
    return out


def _threshold_coefficients(scales: np.ndarray, zero_steps: list[np.ndarray | None], c: int,
                            length: int, nodes: np.ndarray) -> np.ndarray:
    """Scaled coefficients ``[z^n] prod_j g_c(p_j z; u) / sigma^n`` for ``n < length``.

    The other answers ``p_j`` are sorted increasingly per question and ``sigma`` is the largest;
    ``g_c(x; u) = sum_{m<c} x^m/m! + u x^c/c!``. ``scales[j, n, q] = (p_{j-1}/p_j)^n`` with a
    last row of zeros (see :func:`_scale_powers`); ``zero_steps[j]`` marks the questions with
    ``p_j = 0`` (None when there are none).

    The state is kept as ``X[r, s, b, q]`` = coefficient ``b c + s`` for node ``r``: ``nb``
    blocks of ``c`` and padding blocks that stay zero, so one factor is one stacked
    ``(2c, c) @ (c, blocks Q)`` product (:func:`_block_step_matrices`) and one contiguous
    shifted add. The product is cut into groups of blocks small enough that a BLAS call stays
    single-threaded (:data:`_GEMM_SIZE`). Returns shape ``(len(nodes), Q, length)``.
    """
    R, (J, _, Q) = len(nodes), scales.shape
    nb = -(-length // c)
    groups = -(-(nb + 1) // max(1, _GEMM_SIZE // (2 * c * c * Q)))  # matrix products
    per_group = -(-(nb + 1) // groups)  # blocks in each
    nbp = groups * per_group  # >= nb + 1: at least one padding block
    exponent = np.arange(c)[:, None] + c * np.arange(nbp)[None, :]
    exponent[:, nb:] = scales.shape[1] - 1  # padding blocks read the zero row
    step_scales = scales[:, exponent]  # (J, c, nbp, Q)
    ABt = np.ascontiguousarray(
        np.swapaxes(_block_step_matrices(c, tuple(map(float, nodes))), 1, 2))[:, None]
    size = c * nbp * Q
    out = np.zeros((R, 2 * c, nbp * Q))
    out[:, 0, :Q] = 1.0  # e_0: coefficient 0 (block 0, offset 0) of every question
    Y = np.empty((R, c, nbp * Q))
    # views of the fixed buffers
    X = out[:, :c].reshape(R, c, nbp, Q)
    Y4 = Y.reshape(R, c, nbp, Q)
    Y_groups = Y.reshape(R, c, groups, per_group * Q).transpose(0, 2, 1, 3)
    out_groups = out.reshape(R, 2 * c, groups, per_group * Q).transpose(0, 2, 1, 3)
    flat = out.reshape(R, 2 * size)
    state, carry = flat[:, Q:size], flat[:, size:2 * size - Q]
    for j in range(J):
        np.multiply(X, step_scales[j], out=Y4)
        np.matmul(ABt, Y_groups, out=out_groups)
        np.add(state, carry, out=state)  # block b of the B part goes to block b + 1
        zero = zero_steps[j]
        if zero is not None:  # a zero-probability answer multiplies by 1: the state stays e_0
            X[:, :, :, zero] = 0.0
            X[:, 0, 0, zero] = 1.0
    return X[:, :, :nb].transpose(0, 3, 2, 1).reshape(R, Q, c * nb)[:, :, :length]


def _scale_powers(others: np.ndarray, K: int) -> np.ndarray:
    """``S[j, n, q] = (p_{j-1} / p_j)^n`` for ``n < K`` (``p_{-1} = 0``, ``0^0 = 1``; 0 where
    ``p_j = 0``) and ``S[j, K, q] = 0``, for ``others`` (Q, J) sorted increasingly per row.

    ``r^(8h + l) = r^(8h) r^l``: 16 correctly rounded powers per ratio instead of ``K``.
    """
    Q, J = others.shape
    prev = np.concatenate([np.zeros((Q, 1)), others[:, :-1]], axis=1)
    ratio = np.divide(prev, others, out=np.zeros_like(others), where=others > 0).T[:, None, :]
    high = -(-K // 8)
    low_pow = np.power(ratio, np.arange(8, dtype=float)[None, :, None])  # (J, 8, Q)
    high_pow = np.power(ratio, 8.0 * np.arange(high)[None, :, None])  # (J, high, Q)
    S = np.zeros((J, 8 * high + 1, Q))
    np.multiply(high_pow[:, :, None, :], low_pow[:, None, :, :],
                out=S[:, :8 * high].reshape(J, high, 8, Q))
    S[:, K] = 0.0
    return S[:, :K + 1]


def _maj_block(p: np.ndarray, answers: np.ndarray, ks: list[int]) -> np.ndarray:
    """maj@k for a block of questions (validated inputs); shape ``(len(ks), Q)``."""
    Q, M = p.shape
    rows = np.arange(Q)
    a = p[rows, answers]
    mask = np.ones((Q, M), dtype=bool)
    mask[rows, answers] = False
    others = np.sort(p[mask].reshape(Q, M - 1), axis=1)
    rest = others.sum(axis=1)
    npos = (others > 0).sum(axis=1)
    others = others[:, M - 1 - int(npos.max()):]  # columns that are zero in every row add nothing
    sigma = others[:, -1] if others.shape[1] else np.zeros(Q)
    K = max(ks)
    out = np.zeros((len(ks), Q))
    # y wins outright: c > k/2
    for i, k in enumerate(ks):
        for c in range(k // 2 + 1, k + 1):
            out[i] += math.comb(k, c) * a**c * rest**(k - c)
    if K < 2 or others.shape[1] == 0:
        return out
    scales = _scale_powers(others, K)
    zero_steps = [z.nonzero()[0] if z.any() else None for z in (others == 0).T]
    with np.errstate(divide="ignore"):
        log_a, log_sigma = np.log(a), np.log(sigma)
    for c in range(1, K // 2 + 1):
        length = K - c + 1
        if c == 1:  # every other answer drawn ties with y: weight 1/(n+1), no u integral
            nodes, weights = np.ones(1), np.ones(1)
        else:
            degree = min(int(npos.max()), (K - c) // c)
            nodes, weights = _unit_gauss_legendre(degree // 2 + 1)
        X = _threshold_coefficients(scales, zero_steps, c, length, nodes)
        T = np.tensordot(weights, X, axes=1)  # (Q, length)
        for i, k in enumerate(ks):
            n = k - c
            if n < c:
                continue
            tn = T[:, n] / (n + 1) if c == 1 else T[:, n]
            log_pref = (math.log(math.comb(k, c)) + math.lgamma(n + 1)
                        + c * log_a + n * log_sigma)
            with np.errstate(divide="ignore", invalid="ignore"):
                term = np.exp(log_pref + np.log(tn))
            out[i] += np.where(tn > 0, term, 0.0)
    return out


def maj_at_k(answer_dist, answers, ks) -> np.ndarray:
    """Exact majority-vote accuracy of ``k`` i.i.d. answers, for every ``k`` in ``ks``.

    For question ``q`` with answer distribution ``p = answer_dist[q]`` and right answer
    ``y = answers[q]``, entry ``[i, q]`` is, with ``k = ks[i]`` and ``N_j`` the number of the
    ``k`` draws equal to ``j`` (multinomial),

    .. math::

        \\mathrm{maj@}k = \\mathbb E\\Big[\\frac{\\mathbb 1[N_y = \\max_j N_j]}
                                          {\\#\\{j : N_j = \\max_i N_i\\}}\\Big]
        = \\sum_{c=1}^{k}\\binom{k}{c} p_y^c\\,(k-c)!\\,[z^{k-c}]\\int_0^1
          \\prod_{j\\ne y}\\Big(\\sum_{m<c}\\frac{(p_j z)^m}{m!} + u\\frac{(p_j z)^c}{c!}\\Big)du,

    the probability that ``y`` wins the plurality vote with ties broken uniformly at random (a
    tie of ``y`` with ``t`` others counts ``1/(t+1)``). ``maj@1 = p_y`` exactly and
    ``maj@2 = p_y``. Exact up to float64 rounding (no sampling): a dynamic programme over the
    other answers' counts, see the module docstring.

    Parameters
    ----------
    answer_dist : array_like, shape (Q, M)
        Row ``q`` is the distribution ``q(s0, .)`` of the final answer of question ``q``
        (``F_N[s0]``); finite, ``>= 0``, rows summing to 1 within
        :func:`~rlstar_theory.validation.row_sum_tolerance`. Rows are used as given (not
        renormalised).
    answers : array_like of int, shape (Q,)
        The right answer ``y`` of each question, in ``[0, M-1]``.
    ks : sequence of int
        Numbers of votes, each in ``1..MAX_K`` (= 64); any order, repeats allowed.

    Returns
    -------
    ndarray, shape (len(ks), Q)
        ``maj@ks[i]`` of question ``q`` at ``[i, q]``.

    Raises
    ------
    ValueError
        Naming ``answer_dist``, ``answers`` or ``ks`` when one is out of range.

    Notes
    -----
    One call costs ``O(Q M K^3)`` flops for ``K = max(ks)``, shared by all ``ks`` (about
    90 ms of one core at ``Q = M = K = 64``, 5 ms at ``Q = M = 8``, ``K = 64``). Answers of
    probability 0 in every question cost nothing. Floating-point error: about ``1e-14``
    relative at ``M = K = 64``.
    """
    p = _check_answer_dist(answer_dist)
    Q, M = p.shape
    y = _check_answers(answers, Q, M)
    k_list = _check_ks(ks)
    K = max(k_list)
    # per question: the powers (p_{j-1}/p_j)^n and their per-c copy, O(M K), and the state
    per_question = 8 * (M * (3 * K + 2) + 3 * K * K)
    c_max = max(1, K // 2)  # questions per block: one block of c_max fits one small product
    block = max(1, min(Q, _BLOCK, _BLOCK_BYTES // per_question, _GEMM_SIZE // (2 * c_max**2)))
    check_memory(block * per_question, "maj_at_k: the dynamic programme of a block of questions",
                 "the number of answers M")
    out = np.empty((len(k_list), Q))
    for start in range(0, Q, block):
        rows = slice(start, start + block)
        out[:, rows] = _maj_block(p[rows], y[rows], k_list)
    return out


def maj_at_k_limit(answer_dist, answers) -> np.ndarray:
    """The ``k -> infinity`` limit of maj@k: ``1[y = argmax p] / #argmax p``.

    .. math::

        \\lim_{k\\to\\infty}\\mathrm{maj@}k = \\frac{\\mathbb 1[p_y = \\max_j p_j]}
                                                {\\#\\{j : p_j = \\max_i p_i\\}} .

    By the law of large numbers the most likely answer wins the vote with probability tending
    to 1. When ``d`` answers share the maximum exactly, one of them wins with probability
    tending to 1 and, by symmetry, each with probability ``1/d``. Ties are exact float
    equality: answers that differ in the last bit are not tied (the limit jumps there).

    Parameters
    ----------
    answer_dist : array_like, shape (Q, M)
        Answer distributions, checked as in :func:`maj_at_k`.
    answers : array_like of int, shape (Q,)
        The right answers, in ``[0, M-1]``.

    Returns
    -------
    ndarray, shape (Q,)
        The limit per question, in ``{0} U {1/d : d = 1..M}``.
    """
    p = _check_answer_dist(answer_dist)
    Q, M = p.shape
    y = _check_answers(answers, Q, M)
    top = p.max(axis=1)
    wins = p[np.arange(Q), y] == top
    return np.where(wins, 1.0 / (p == top[:, None]).sum(axis=1), 0.0)
