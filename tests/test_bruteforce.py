"""The brute-force referee against an independent, naive path-by-path enumeration.

:mod:`rlstar_theory.bruteforce` is the reference the dense engine is tested against, so it is
itself checked here against the definition of SPEC §2 written out as a loop over every
(question, path) pair with :mod:`itertools`, in exact arithmetic (results must be equal, ==).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given

from rlstar_theory.bruteforce import (
    MAX_PATHS,
    brute_force_expected_return,
    brute_force_posterior,
    brute_force_star_step,
)
from tests.strategies import dense_models


def naive_joint(P, truth, D):
    """``joint[n-1][s][s'] = Pr(S_{n-1}=s, S_n=s', success)`` by visiting every path."""
    N, M = len(P), len(P[0])
    joint = [[[Fraction(0)] * M for _ in range(M)] for _ in range(N)]
    for s0 in range(M):
        answer = s0
        for g in truth:
            answer = int(g[answer])
        for path in itertools.product(range(M), repeat=N):
            if path[-1] != answer:
                continue
            states = (s0,) + path
            prob = Fraction(D[s0])
            for n in range(N):
                prob *= P[n][states[n]][states[n + 1]]
            for n in range(N):
                joint[n][states[n]][states[n + 1]] += prob
    return joint


def naive_star_step(P, truth, D):
    joint = naive_joint(P, truth, D)
    out = [[list(row) for row in Pn] for Pn in P]
    for n, Jn in enumerate(joint):
        for s, row in enumerate(Jn):
            den = sum(row)
            if den > 0:
                out[n][s] = [v / den for v in row]
    return out


@given(dense_models(max_M=4, max_N=3))
def test_bruteforce_posterior_equals_naive_enumeration(model):
    P = model.P_exact.tolist()
    expected = naive_joint(P, model.truth, model.start_exact.tolist())
    got = brute_force_posterior(model.P_exact, model.truth, model.start_exact)
    assert got.tolist() == expected


@given(dense_models(max_M=4, max_N=3))
def test_bruteforce_step_and_return_equal_naive(model):
    P = model.P_exact.tolist()
    D = model.start_exact.tolist()
    assert brute_force_star_step(model.P_exact, model.truth, model.start_exact).tolist() == \
        naive_star_step(P, model.truth, D)
    J = sum(sum(row) for row in naive_joint(P, model.truth, D)[0])
    assert brute_force_expected_return(model.P_exact, model.truth, model.start_exact) == J


@given(dense_models(max_M=4, max_N=3))
def test_bruteforce_float_matches_exact(model):
    exact = brute_force_star_step(model.P_exact, model.truth, model.start_exact)
    flt = brute_force_star_step(model.P, model.truth, model.start)
    np.testing.assert_allclose(flt, exact.astype(float), rtol=0, atol=1e-12)


def test_bruteforce_refuses_huge_enumerations():
    M = 8
    N = 1
    while M ** (N + 1) <= MAX_PATHS:
        N += 1
    P = np.full((N, M, M), 1.0 / M)
    with pytest.raises(ValueError, match="brute force"):
        brute_force_posterior(P)
