"""The generic weight-and-mode machinery every WeightedRule inherits."""

from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats

from rlstar_theory.mdp import ChainMDP, success_edges
from rlstar_theory.mdp.operator import gradient
from rlstar_theory.rules.base import (
    WeightedRule,
    binomial_expectation,
    binomial_pmf,
    sampled_edges,
)


def test_binomial_pmf_matches_scipy_including_the_edges():
    p = np.array([0.0, 1e-12, 0.3, 0.999, 1.0])
    for n in (0, 1, 7, 64, 500):
        want = stats.binom.pmf(np.arange(n + 1), n, p[:, None])
        np.testing.assert_allclose(binomial_pmf(n, p), want, rtol=1e-10, atol=1e-14)


def test_binomial_expectation_of_identity_is_the_mean():
    p = np.linspace(0, 1, 7)
    np.testing.assert_allclose(binomial_expectation(lambda k: k, 9, p), 9 * p, atol=1e-12)


@dataclass(frozen=True)
class _MeanBaseline(WeightedRule):
    name = "test-mean-baseline"
    mode = "gradient"

    def advantage(self, c, r):
        return np.asarray(r, dtype=float) - np.asarray(c, dtype=float) / self.group_size


def test_generic_weight_is_alpha1_minus_alpha0():
    # a = r - c/G: alpha1 - alpha0 = 1 - 1/G for every p (ALGORITHMS.md §3d, Dr. GRPO)
    rule = _MeanBaseline(samples_per_question=8, group_size=4)
    np.testing.assert_allclose(rule.question_weight(np.linspace(0, 1, 11)), 0.75, atol=1e-14)


@pytest.mark.parametrize("sampler", ["counts", "trajectories"])
def test_sampled_gradient_is_unbiased_for_the_exact_gradient(sampler):
    rng = np.random.default_rng(0)
    N, M = 2, 3
    P = rng.random((N, M, M)) + 0.2
    P /= P.sum(-1, keepdims=True)
    model = ChainMDP.create(M, N, truth=rng.integers(0, M, (N, M)))
    rule = _MeanBaseline(samples_per_question=200, group_size=4)
    exact = gradient(P, success_edges(P, rule.weights(P, model), model.answers))
    draws = np.stack([gradient(P, sampled_edges(P, model, 200, 4, rule.advantage,
                                                 np.random.default_rng(seed), sampler)[0])
                      for seed in range(400)])
    se = draws.std(axis=0, ddof=1) / np.sqrt(len(draws))
    z = np.abs(draws.mean(axis=0) - exact) / np.where(se > 0, se, 1.0)
    assert z.max() < 4.5  # 18 entries: a 4.5-sigma bound fails with probability ~1e-4
    assert np.abs(draws.mean(axis=0) - exact)[se == 0].max(initial=0) < 1e-15


def test_hyper_parameters_are_checked():
    with pytest.raises(ValueError, match="multiple of group_size"):
        _MeanBaseline(samples_per_question=6, group_size=4)
    with pytest.raises(ValueError, match="lr"):
        _MeanBaseline(lr=-1.0)
    with pytest.raises(ValueError, match="samples_per_question"):
        _MeanBaseline(samples_per_question=0)
