"""Finite-sample bias: the delta method against a brute-force second-order expansion and the
count sampler."""

import itertools

import numpy as np
import pytest

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.exact import success_edges
from rlstar_theory.open_questions.bias import (
    delta_method_bias,
    expected_return_of,
    sampled_bias,
)
from rlstar_theory.symmetric import symmetric_matrix
from rlstar_theory.tempering import temper


def _brute_force_c(P, rho, y, temperature=1.0):
    """(1/2) tr(Hess_C J(refit(C)) K Cov(C)): covariance by enumerating every path of every
    question, Hessian by central finite differences."""
    N, M = P.shape[0], P.shape[1]
    S = temper(P, temperature)
    D = N * M * M
    cov = np.zeros((D, D))
    mean = np.zeros(D)
    for s0 in range(M):
        ex, exx = np.zeros(D), np.zeros((D, D))
        for path in itertools.product(range(M), repeat=N):
            states = (s0,) + path
            if states[-1] != y[s0]:
                continue
            prob = np.prod([S[n, states[n], states[n + 1]] for n in range(N)])
            x = np.zeros(D)
            for n in range(N):
                x[n * M * M + states[n] * M + states[n + 1]] = 1.0
            ex += prob * x
            exx += prob * np.outer(x, x)
        cov += rho[s0] ** 2 * (exx - np.outer(ex, ex))
        mean += rho[s0] * ex

    def J(c):
        return expected_return_of(operator.refit(P, c.reshape(N, M, M)), rho, y)

    h = 1e-4
    H = np.zeros((D, D))
    eye = np.eye(D) * h
    for i in range(D):
        for j in range(i, D):
            H[i, j] = H[j, i] = (J(mean + eye[i] + eye[j]) - J(mean + eye[i] - eye[j])
                                 - J(mean - eye[i] + eye[j]) + J(mean - eye[i] - eye[j])) \
                / (4 * h * h)
    return 0.5 * float(np.sum(H * cov)), mean


@pytest.mark.parametrize("M, N, temperature", [(2, 2, 1.0), (3, 2, 1.0), (2, 3, 0.5),
                                               (3, 3, 1.0)])
def test_delta_method_matches_brute_force(M, N, temperature):
    rng = np.random.default_rng(M * 10 + N)
    P = rng.dirichlet(np.full(M, 2.0), size=(N, M))
    rho = rng.dirichlet(np.full(M, 3.0))
    y = rng.permutation(M)
    expected, mean = _brute_force_c(P, rho, y, temperature)
    exp = delta_method_bias(P, answers=y, start=rho, temperature=temperature)
    assert exp.c == pytest.approx(expected, rel=1e-5, abs=1e-8)
    assert exp.c == pytest.approx(exp.c_ratio + exp.c_cross, rel=1e-14)
    np.testing.assert_allclose(mean.reshape(N, M, M),
                               success_edges(temper(P, temperature), rho, y), atol=1e-15)
    assert exp.J_star == pytest.approx(
        expected_return_of(operator.refit(P, mean.reshape(N, M, M)), rho, y), abs=1e-15)


def test_one_step_has_no_cross_term():
    P = np.random.default_rng(1).dirichlet(np.ones(4), size=(1, 4))
    exp = delta_method_bias(P)
    assert exp.c_cross == 0.0


def test_sampler_agrees_with_the_delta_method():
    # K large enough that the O(1/K^2) remainder (about (K0/K) c at K0 ~ 30 for this model)
    # is below the Monte-Carlo error; the control variate makes that error O(1/sqrt(draws))
    P = symmetric_matrix(np.full(3, 0.3), 3)
    exp = delta_method_bias(P)
    est = sampled_bias(P, K=4096, draws=1500, rng=12)
    z = (est.scaled_bias - exp.c) / est.scaled_se
    assert abs(z) < 4.0
    # the control variate is mean zero: both estimates agree within their errors
    both = np.hypot(est.scaled_se, est.raw_scaled_se)
    assert abs(est.scaled_bias - est.raw_scaled_bias) < 4.0 * both
    assert est.scaled_se < est.raw_scaled_se / 5


def test_the_bias_shrinks_like_one_over_K():
    P = symmetric_matrix(np.full(3, 0.2), 4)
    c = delta_method_bias(P).c
    small = sampled_bias(P, K=8, draws=1000, rng=3)
    large = sampled_bias(P, K=1024, draws=1000, rng=4)
    # K * bias tends to c: at K = 8 the O(1/K) correction is far beyond the seeds' error, at
    # K = 1024 it is within it
    assert abs(small.scaled_bias - c) > 4 * small.scaled_se
    assert abs(large.scaled_bias - c) < 4 * large.scaled_se


def test_bad_input():
    P = symmetric_matrix([0.2, 0.2], 3)
    with pytest.raises(ValueError, match="answers"):
        delta_method_bias(P, answers=[0, 1, 5])
    with pytest.raises(ValueError, match="draws"):
        sampled_bias(P, K=4, draws=1)
    with pytest.raises(ValueError, match="K"):
        sampled_bias(P, K=0, draws=10)
