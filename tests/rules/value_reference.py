"""Values and per-step data by enumerating continuations and whole paths (tiny models only).

Nothing here uses the library's backward products: a value is the total probability of the
continuations that end at the answer. Works in Fractions (exact) and floats.
"""

from __future__ import annotations

import itertools

import numpy as np

from rlstar_theory.mdp.model import ChainMDP


def continuations(P: np.ndarray, n: int, s: int):
    """Every continuation ``(s_n = s, s_{n+1}, ..., s_N)`` with its probability."""
    N, M = P.shape[0], P.shape[1]
    for tail in itertools.product(range(M), repeat=N - n):
        path = (s,) + tail
        prob = 1
        for k in range(N - n):
            prob = prob * P[n + k, path[k], path[k + 1]]
        yield path, prob


def enumerated_values(P: np.ndarray, model: ChainMDP, K: int = 1) -> np.ndarray:
    """``V[n, s, s0] = 1 - (1 - Pr(S_N = y(s0) | S_n = s))^K`` by summing continuations."""
    N, M = model.N, model.M
    V = np.empty((N + 1, M, M), dtype=P.dtype)
    for n in range(N + 1):
        for s in range(M):
            conts = list(continuations(P, n, s))
            for s0 in range(M):
                v = sum((prob for path, prob in conts if path[-1] == model.answers[s0]),
                        start=0 * P[0, 0, 0])
                V[n, s, s0] = 1 - (1 - v) ** K
    return V


def paths_with_prob(P: np.ndarray, s0: int):
    """Every path ``(s0, s1, ..., sN)`` with its probability."""
    yield from continuations(P, 0, s0)


def enumerated_step_edges(P: np.ndarray, model: ChainMDP, coefficient) -> np.ndarray:
    """``sum_{s0} w(s0) sum_paths prob(path) sum_n coefficient(s0, path, n) 1[edge n of path]``.

    ``w = model.weights("train")`` (exact when ``P`` holds Fractions); ``coefficient(s0, path,
    n)`` gives the weight of step ``n`` (``1..N``) of ``path`` (the full ``(s0, ..., sN)``).
    """
    exact = P.dtype == object
    w = model.weights("train", exact=exact)
    out = np.zeros(P.shape, dtype=P.dtype)
    if exact:
        out[...] = 0
    for s0 in range(model.M):
        if w[s0] == 0:
            continue
        for path, prob in paths_with_prob(P, s0):
            if prob == 0:
                continue
            for n in range(1, model.N + 1):
                c = coefficient(s0, path, n)
                if c != 0:
                    out[n - 1, path[n - 1], path[n]] += w[s0] * prob * c
    return out
