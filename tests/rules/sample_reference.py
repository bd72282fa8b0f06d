"""Referees for the data rules, by enumerating every tuple of K sampled paths (tiny models).

Nothing here uses the library's formulas: the expected data of a round is the sum, over every
possible outcome of the ``K`` draws of each question (``(M**N)**K`` tuples), of the outcome's
probability times the data that outcome gives. Works in Fractions (exact) and floats.
"""

from __future__ import annotations

import itertools

import numpy as np

from rlstar_theory.mdp.model import ChainMDP
from tests.rules.pg_reference import exact_fraction_policy, paths_of


def _edges_of(path, N: int):
    return [(n, path[n], path[n + 1]) for n in range(N)]


def _question_paths(P: np.ndarray, s0: int):
    return list(paths_of(P, s0))


def _zeros(model: ChainMDP, exact: bool) -> np.ndarray:
    out = np.zeros((model.N, model.M, model.M), dtype=object if exact else float)
    if exact:
        out[...] = 0
    return out


def dedup_data(policies: list[np.ndarray], model: ChainMDP, K: int, exact: bool) -> np.ndarray:
    """Expected deduplicated data after rounds drawn from ``policies`` (cumulative union).

    Round ``j`` draws ``K`` paths per training question from ``policies[j]``; the data is the
    set of distinct correct paths of all rounds, each counted once with weight ``rho(s0)``.
    """
    rho = model.weights("train", exact=exact)
    out = _zeros(model, exact)
    for s0 in range(model.M):
        if rho[s0] == 0:
            continue
        rounds = [_question_paths(P, s0) for P in policies]
        per_round = [list(itertools.product(r, repeat=K)) for r in rounds]
        for outcome in itertools.product(*per_round):
            prob = 1
            distinct = set()
            for draws in outcome:
                for path, p in draws:
                    prob = prob * p
                    if path[-1] == model.answers[s0]:
                        distinct.add(path)
            if prob == 0:
                continue
            for path in distinct:
                for n, s, t in _edges_of(path, model.N):
                    out[n, s, t] += rho[s0] * prob
    return out


def rationalization_data(P: np.ndarray, model: ChainMDP, K: int, exact: bool) -> np.ndarray:
    """Expected data of STaR with rationalization: ``K`` attempts, then one posterior draw.

    Every correct attempt counts ``rho(s0)``; if all ``K`` fail and the question is solvable,
    one path is drawn from ``Pr(tau | S_N = y)`` (enumerated) and counts ``rho(s0)``.
    """
    rho = model.weights("train", exact=exact)
    out = _zeros(model, exact)
    for s0 in range(model.M):
        if rho[s0] == 0:
            continue
        paths = _question_paths(P, s0)
        correct = [(path, p) for path, p in paths if path[-1] == model.answers[s0]]
        solve = sum(p for _, p in correct)
        for draws in itertools.product(paths, repeat=K):
            prob = 1
            for _, p in draws:
                prob = prob * p
            if prob == 0:
                continue
            kept = [path for path, _ in draws if path[-1] == model.answers[s0]]
            if kept:
                for path in kept:
                    for n, s, t in _edges_of(path, model.N):
                        out[n, s, t] += rho[s0] * prob
            elif solve != 0:
                for path, p in correct:
                    for n, s, t in _edges_of(path, model.N):
                        out[n, s, t] += rho[s0] * prob * p / solve
    return out


def reference_data(model: ChainMDP, exact: bool) -> np.ndarray:
    """The gold chains of the training questions, each edge weighted by ``rho(s0)``."""
    rho = model.weights("train", exact=exact)
    out = _zeros(model, exact)
    for s0 in range(model.M):
        if rho[s0] != 0:
            for n, s, t in _edges_of(tuple(model.gold[s0]), model.N):
                out[n, s, t] += rho[s0]
    return out


def row_normalise(P: np.ndarray, C: np.ndarray) -> np.ndarray:
    """``C`` row-normalised, rows without mass taken from ``P`` (written out row by row)."""
    out = P.copy()
    for n in range(P.shape[0]):
        for s in range(P.shape[1]):
            total = sum(C[n, s])
            if total != 0:
                out[n, s] = C[n, s] / total
    return out


def exact_model(seed: int, M: int, N: int, split: bool = True) -> tuple[np.ndarray, ChainMDP]:
    """A Fraction policy (some zeros) and a model with random truth, rational start, a split."""
    rng = np.random.default_rng(seed)
    P = exact_fraction_policy(seed, M, N)
    weights = rng.integers(1, 4, size=M)
    start = [f"{w}/{weights.sum()}" for w in weights]
    train = None
    if split:
        train = np.ones(M, dtype=bool)
        train[rng.integers(M)] = False
    return P, ChainMDP.create(M, N, truth=rng.integers(0, M, (N, M)), start=start, train=train)
