"""One loop for every rule: metrics, splits, modes, samples and bad input."""

import numpy as np
import pytest

import rlstar_theory as rt
from rlstar_theory.mdp import ChainMDP
from rlstar_theory.rules import iterate, make_rule


def _symmetric(lams, M):
    return rt.symmetric_matrix(lams, M)


def test_exact_star_history_matches_the_dense_run():
    P0 = _symmetric([0.2, 0.1, 0.3], 8)
    h = iterate(make_rule("star"), P0, iterations=6, maj_ks=(1, 4))
    dense = rt.iterate_dense(P0, 6)
    np.testing.assert_allclose(h.J, dense.J, atol=1e-12, rtol=0)
    np.testing.assert_allclose(h.train.maj_at_k[1], h.J, atol=1e-12, rtol=0)
    np.testing.assert_array_equal(h.samples, 16 * 8 * np.arange(7))
    assert h.test is None and h.P.shape == (7, 3, 8, 8)
    # the wrong-step rate of the data is the dense engine's mean Pr(step wrong | success)
    np.testing.assert_allclose(h.wrong_step_rate[1:],
                               dense.p_step_wrong_given_success[:-1].mean(axis=1), atol=1e-12)


def test_pass_at_k_is_the_closed_form_and_greedy_is_right_when_diagonal_dominates():
    M = 6
    P0 = _symmetric([0.3, 0.3], M)
    h = iterate(make_rule("star"), P0, iterations=0, pass_ks=(1, 5), maj_ks=())
    p = (1 + (M - 1) * 0.09) / M
    assert h.train.pass_at_k[5][0] == pytest.approx(1 - (1 - p) ** 5, abs=1e-14)
    assert h.train.greedy[0] == pytest.approx(1.0, abs=1e-15)


def test_train_test_split_reports_both():
    rng = np.random.default_rng(0)
    M, N = 5, 2
    P0 = rng.random((N, M, M))
    P0 /= P0.sum(-1, keepdims=True)
    model = ChainMDP.create(M, N, train=[0, 1, 2])
    h = iterate(make_rule("star"), P0, model, iterations=3, maj_ks=(1,))
    assert h.test is not None and h.test.J.shape == (4,)
    assert h.samples[-1] == 3 * 16 * 3  # only the 3 train questions are sampled
    assert not np.allclose(h.train.J, h.test.J)


def test_sampled_runs_are_seeded():
    P0 = _symmetric([0.3, 0.2], 4)
    a = iterate(make_rule("star", samples_per_question=8), P0, iterations=3, mode="sampled",
                rng=5, maj_ks=())
    b = iterate(make_rule("star", samples_per_question=8), P0, iterations=3, mode="sampled",
                rng=5, maj_ks=())
    np.testing.assert_array_equal(a.J, b.J)
    assert a.samples[-1] == 3 * 8 * 4


@pytest.mark.parametrize("kwargs, match", [
    ({"mode": "fast"}, "mode must be"),
    ({"iterations": -1}, "iterations"),
    ({"rng": "abc", "mode": "sampled"}, "rng"),
    ({"maj_ks": (65,)}, "maj_ks"),
])
def test_bad_arguments_are_named(kwargs, match):
    P0 = _symmetric([0.3], 3)
    with pytest.raises(ValueError, match=match):
        iterate(make_rule("star"), P0, **{"iterations": 1, **kwargs})


def test_unknown_rule_and_option():
    with pytest.raises(ValueError, match="rule must be one of"):
        make_rule("nope")
    with pytest.raises(ValueError, match="has no option"):
        make_rule("star", strict=True, group_size=4, bogus=1)
