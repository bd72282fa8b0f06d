"""Reference implementation by enumeration of all ``M^(N+1)`` (question, path) pairs.

Only for tiny sizes: it is the referee that the forward/backward engine in
:mod:`rlstar_theory.dense` is tested against, and the baseline of the speed benchmark. It builds
the full joint probability tensor ``T[s_0, s_1, ..., s_N] = D(s_0) prod_n P_n[s_{n-1}, s_n]``
times the success indicator ``[s_N = G(s_0)]`` and sums it over the other axes.
"""

from __future__ import annotations

import numpy as np

from rlstar_theory.dense import answer_map
from rlstar_theory.validation import check_start, check_transition, check_truth, is_exact

#: refuse tensors larger than this many entries
MAX_PATHS = 50_000_000


def _joint_tensor(P: np.ndarray, truth: np.ndarray, D: np.ndarray) -> np.ndarray:
    N, M = P.shape[0], P.shape[1]
    if M ** (N + 1) > MAX_PATHS:
        raise ValueError(f"brute force enumerates M**(N+1) = {M ** (N + 1)} paths; allowed at "
                         f"most {MAX_PATHS} (use rlstar_theory.dense for larger models)")
    tensor = D.reshape((M,) + (1,) * N)
    for n in range(N):
        shape = [1] * (N + 1)
        shape[n] = M
        shape[n + 1] = M
        tensor = tensor * P[n].reshape(shape)
    success = np.zeros((M, M), dtype=tensor.dtype)
    success[np.arange(M), answer_map(truth)] = 1
    shape = [1] * (N + 1)
    shape[0] = M
    shape[N] = M
    if N == 0:  # pragma: no cover - N >= 1 is validated
        raise ValueError("N must be >= 1")
    return tensor * success.reshape(shape) if N >= 1 else tensor


def brute_force_posterior(P, truth=None, start=None) -> np.ndarray:
    """``joint[n-1, s, s'] = Pr(S_{n-1}=s, S_n=s', success)`` by summing over every path."""
    P = check_transition(P)
    N, M = P.shape[0], P.shape[1]
    truth = check_truth(truth, N, M)
    D = check_start(start, M, exact=is_exact(P))
    if N == 1:
        succ = np.zeros((M, M), dtype=P.dtype)
        succ[np.arange(M), answer_map(truth)] = 1
        return (D[:, None] * P[0] * succ)[None]
    tensor = _joint_tensor(P, truth, D)
    out = np.empty_like(P)
    for n in range(N):
        axes = tuple(a for a in range(N + 1) if a not in (n, n + 1))
        out[n] = tensor.sum(axis=axes)
    return out


def brute_force_star_step(P, truth=None, start=None) -> np.ndarray:
    """The STaR refit computed from :func:`brute_force_posterior` (unvisited rows kept)."""
    P = check_transition(P)
    joint = brute_force_posterior(P, truth, start)
    den = joint.sum(axis=2, keepdims=True)
    out = P.copy()
    for n in range(P.shape[0]):
        for s in range(P.shape[1]):
            if den[n, s, 0] > 0:
                out[n, s] = joint[n, s] / den[n, s, 0]
    return out


def brute_force_expected_return(P, truth=None, start=None):
    """``J`` as the total probability of the successful paths."""
    return brute_force_posterior(P, truth, start)[0].sum()


def enumerate_paths(P) -> tuple[np.ndarray, np.ndarray]:
    """Every path ``s_1..s_N`` and its probability from every question (tiny models only).

    Returns
    -------
    paths : ndarray of int64, shape (M**N, N)
        Row ``i`` is the path ``(s_1, ..., s_N)``, in lexicographic order.
    prob : ndarray, shape (M, M**N)
        ``prob[s0, i] = prod_n P_n[s_{n-1}, s_n]`` with ``s_0 = s0`` (Fractions stay exact).
    """
    P = np.asarray(P)
    N, M = P.shape[0], P.shape[1]
    if M ** (N + 1) > MAX_PATHS:
        raise ValueError(f"enumerating M**(N+1) = {M ** (N + 1)} (question, path) pairs; allowed "
                         f"at most {MAX_PATHS}")
    paths = np.array(np.unravel_index(np.arange(M**N), (M,) * N)).T.reshape(M**N, N)
    prob = np.empty((M, M**N), dtype=P.dtype)
    for s0 in range(M):
        prev = np.full(M**N, s0)
        value = np.ones(M**N, dtype=np.int64).astype(P.dtype)
        for n in range(N):
            value = value * P[n][prev, paths[:, n]]
            prev = paths[:, n]
        prob[s0] = value
    return paths, prob


def brute_force_success_edges(P, w, answers) -> np.ndarray:
    """``C+_n[w][s, s'] = sum_{s0} w(s0) sum_{paths through (s, s') at n ending at y(s0)} prob``
    by enumerating every path of every question (the referee of the success-edge operator)."""
    P = np.asarray(P)
    N, M = P.shape[0], P.shape[1]
    paths, prob = enumerate_paths(P)
    out = np.zeros((N, M, M), dtype=P.dtype)
    for s0 in range(M):
        good = paths[:, -1] == answers[s0]
        weight = w[s0] * prob[s0][good]
        full = np.column_stack([np.full(len(paths), s0), paths])[good]
        for n in range(N):
            for (s, t), v in zip(full[:, n:n + 2], weight, strict=True):
                out[n, s, t] += v
    return out
