"""Several epochs of a gradient rule on one sampled batch (RepeatedBatch)."""

import numpy as np
import pytest

from rlstar_theory.claims.models import dirichlet_p0, sparse_p0, standard_model
from rlstar_theory.claims.repeated_batch import RepeatedBatch
from rlstar_theory.mdp import operator
from rlstar_theory.rules import make_rule
from rlstar_theory.rules.base import sampled_edges
from rlstar_theory.rules.iterate import iterate

MODEL = standard_model()


def _inner(name="fisft-", K=4, lr=5.0, **options):
    return make_rule(name, samples_per_question=K, group_size=K, lr=lr, **options)


@pytest.mark.parametrize("sampler", ["counts", "trajectories"])
def test_one_epoch_is_the_inner_rule(sampler):
    inner = _inner(sampler=sampler)
    P = dirichlet_p0()
    mine = RepeatedBatch(inner=inner, epochs=1).sampled_step(P, MODEL, None,
                                                             np.random.default_rng(5))
    theirs = inner.sampled_step(P, MODEL, None, np.random.default_rng(5))
    assert np.allclose(mine.P, theirs.P, rtol=0, atol=1e-14)
    assert mine.samples == theirs.samples
    exact = RepeatedBatch(inner=inner, epochs=1).exact_step(P, MODEL)
    assert np.allclose(exact.P, inner.exact_step(P, MODEL).P, rtol=0, atol=1e-14)


def test_epochs_are_gradient_steps_on_the_same_counts():
    inner = _inner("fisft+-", sampler="trajectories")
    P = dirichlet_p0(seed=2)
    scale = float(inner.scale(MODEL))
    edges, _ = sampled_edges(P, MODEL, 4, 4, lambda c, r: scale * inner.advantage(c, r),
                             np.random.default_rng(9), "trajectories")
    expected = P
    for _ in range(3):
        expected = operator.gradient_step(expected, edges, inner.lr)
    got = RepeatedBatch(inner=inner, epochs=3).sampled_step(P, MODEL, None,
                                                            np.random.default_rng(9)).P
    assert np.allclose(got, expected, rtol=0, atol=1e-13)
    rule = RepeatedBatch(inner=inner, epochs=2)
    mean_edges = rule.expected_edges(P, MODEL)
    twice = operator.gradient_step(operator.gradient_step(P, mean_edges, inner.lr),
                                   mean_edges, inner.lr)
    assert np.allclose(rule.exact_step(P, MODEL).P, twice, rtol=0, atol=1e-13)
    # the visit term has zero gradient at P: one step equals the inner rule's exact step
    assert np.allclose(operator.gradient(P, mean_edges),
                       operator.gradient(P, inner.exact_step(P, MODEL).train_edges),
                       rtol=0, atol=1e-15)


def test_zeros_stay_zero_and_rows_stay_distributions():
    P0 = sparse_p0()
    h = iterate(RepeatedBatch(inner=_inner(lr=20.0), epochs=8), P0, MODEL, 5, mode="sampled",
                rng=0, maj_ks=())
    assert (h.P[:, P0 == 0] == 0).all()
    assert np.allclose(h.P.sum(axis=-1), 1.0, atol=1e-12)
    assert h.rule == "fisft- x8" and h.settings["epochs"] == 8


@pytest.mark.parametrize("name", ["fisft-", "fisft+-", "grpo"])
def test_expected_edges_are_the_mean_of_the_sampled_counts(name):
    # every epoch after the first sees the counts themselves, not only their gradient at P
    inner = _inner(name, K=4)
    P = dirichlet_p0(seed=1)
    scale = float(inner.scale(MODEL))
    rng = np.random.default_rng(0)
    R = 400
    draws = np.array([sampled_edges(P, MODEL, 4, 4, lambda c, r: scale * inner.advantage(c, r),
                                    rng)[0] for _ in range(R)])
    expected = RepeatedBatch(inner=inner, epochs=2).expected_edges(P, MODEL)
    se = draws.std(axis=0, ddof=1) / np.sqrt(R)
    z = np.abs(draws.mean(axis=0) - expected) / np.where(se > 0, se, 1.0)
    assert z.max() < 4.5  # 108 entries: a Gaussian max |z| exceeds 4.5 with prob. < 1e-3
    assert np.array_equal(se == 0, expected == 0)


def test_sampled_step_tends_to_the_exact_step_as_K_grows():
    # the multi-epoch step is continuous in the counts, so its error shrinks like 1/sqrt(K)
    P = dirichlet_p0()
    errors = {}
    for K in (64, 16384):
        rule = RepeatedBatch(inner=_inner(K=K, lr=10.0), epochs=4)
        exact = rule.exact_step(P, MODEL).P
        errors[K] = np.mean([np.abs(rule.sampled_step(P, MODEL, None, seed).P - exact).max()
                             for seed in range(12)])
    # sqrt(16384 / 64) = 16; a bias in the exact step would stop the error from shrinking
    assert errors[64] / errors[16384] > 8.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="inner must be a gradient-mode"):
        RepeatedBatch(inner=make_rule("star"), epochs=2)
    with pytest.raises(ValueError, match="inner must be a gradient-mode"):
        RepeatedBatch(epochs=2)
    with pytest.raises(ValueError, match="epochs"):
        RepeatedBatch(inner=_inner(), epochs=0)
    with pytest.raises(ValueError, match="epochs"):
        RepeatedBatch(inner=_inner(), epochs=2.0)
