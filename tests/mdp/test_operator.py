"""Refit and gradient modes of the success-edge operator."""

import numpy as np

from rlstar_theory.mdp import ChainMDP, success_edges, success_probability
from rlstar_theory.mdp.operator import gradient, gradient_step, logits, refit, softmax


def _policy(rng, N, M, zeros=False):
    P = rng.random((N, M, M)) ** 2
    if zeros:
        P[rng.random(P.shape) < 0.3] = 0.0
        P[..., 0] += 1e-3
    return P / P.sum(-1, keepdims=True)


def test_gradient_equals_finite_differences_of_weighted_success():
    rng = np.random.default_rng(0)
    N, M = 3, 4
    P = _policy(rng, N, M)
    model = ChainMDP.create(M, N, truth=rng.integers(0, M, (N, M)))
    w = rng.random(M)
    G = gradient(P, success_edges(P, w, model.answers))
    theta, h = logits(P), 1e-6
    for idx in [(0, 1, 2), (1, 3, 0), (2, 0, 3), (1, 2, 2)]:
        up, down = theta.copy(), theta.copy()
        up[idx] += h
        down[idx] -= h
        f_up = w @ success_probability(softmax(up), model.answers)
        f_down = w @ success_probability(softmax(down), model.answers)
        assert abs((f_up - f_down) / (2 * h) - G[idx]) < 1e-8


def test_gradient_step_keeps_zeros_and_rows_stochastic():
    rng = np.random.default_rng(1)
    P = _policy(rng, 2, 5, zeros=True)
    C = success_edges(P, np.full(5, 0.2), np.arange(5))
    P2 = gradient_step(P, C, lr=3.0)
    assert ((P == 0) == (P2 == 0)).all()
    np.testing.assert_allclose(P2.sum(-1), 1.0, atol=1e-15)
    assert (P2 != P).any()


def test_refit_keeps_rows_without_data():
    P = np.array([[[0.5, 0.5], [0.25, 0.75]]])
    C = np.array([[[2.0, 6.0], [0.0, 0.0]]])
    np.testing.assert_array_equal(refit(P, C), [[[0.25, 0.75], [0.25, 0.75]]])
