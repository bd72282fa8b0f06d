"""Spurious steps (off the gold map, answer still reachable) against path enumeration."""

import numpy as np
import pytest

from rlstar_theory.mdp import ChainMDP, success_edges
from rlstar_theory.mdp.metrics import wrong_step_rate
from rlstar_theory.mdp.spurious import (
    spurious_data_rate,
    spurious_edge_share,
    spurious_profile,
    spurious_steps,
)
from rlstar_theory.mdp.values import policy_values
from rlstar_theory.rules import iterate, make_rule
from tests.rules.pg_reference import random_model
from tests.rules.value_reference import enumerated_values, paths_with_prob


def _enumerated_steps(P, model, split, V_reach, threshold):
    """Per-step Pr(spurious), Pr(off gold), Pr(off gold and right at the end), by enumeration."""
    w = model.weights(split)
    out = np.zeros((3, model.N))
    for s0 in range(model.M):
        if w[s0] == 0:
            continue
        for path, prob in paths_with_prob(P, s0):
            right = path[-1] == model.answers[s0]
            for n in range(1, model.N + 1):
                off = path[n] != model.truth[n - 1][path[n - 1]]
                reach = V_reach[n, path[n], s0] > threshold
                out[:, n - 1] += w[s0] * prob * np.array([off and reach, off, off and right])
    return out


def _enumerated_data_rate(P, model, V_reach, threshold):
    """Spurious share of the steps of every successful solution of the training questions."""
    w = model.weights("train")
    spurious = total = 0.0
    for s0 in range(model.M):
        for path, prob in paths_with_prob(P, s0):
            if w[s0] == 0 or path[-1] != model.answers[s0]:
                continue
            for n in range(1, model.N + 1):
                off = path[n] != model.truth[n - 1][path[n - 1]]
                spurious += w[s0] * prob * (off and V_reach[n, path[n], s0] > threshold)
                total += w[s0] * prob
    return spurious / total


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("split", ["train", "test"])
def test_spurious_steps_equal_enumeration_with_the_policys_own_values(seed, split):
    P, model = random_model(seed, M=3, N=3, split=True)
    got = spurious_steps(P, model, split)
    ref = _enumerated_steps(P, model, split, enumerated_values(P, model), 0.0)
    np.testing.assert_allclose(got.spurious, ref[0], rtol=0, atol=1e-14)
    np.testing.assert_allclose(got.off_gold, ref[1], rtol=0, atol=1e-14)
    np.testing.assert_allclose(got.recovered, ref[2], rtol=0, atol=1e-14)
    assert got.probability == pytest.approx(ref[0].mean(), abs=1e-14)
    assert got.expected_count == pytest.approx(ref[0].sum(), abs=1e-14)


def test_sparse_policy_has_off_gold_steps_that_are_not_spurious():
    """The check above is not vacuous: some off-gold mass derails (answer unreachable)."""
    P, model = random_model(1, M=3, N=3, split=True)
    got = spurious_steps(P, model, "all")
    assert np.all(got.spurious <= got.off_gold + 1e-15)
    assert np.any(got.spurious < got.off_gold - 1e-3)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("threshold", [0.0, 0.3])
def test_reachability_by_another_policy_and_a_threshold(seed, threshold):
    P, model = random_model(seed, M=3, N=3, split=True)
    other, _ = random_model(seed + 10, M=3, N=3)
    reach = policy_values(other, model, K=2)
    V_reach = enumerated_values(other, model, K=2)
    got = spurious_steps(P, model, "train", reach=reach, threshold=threshold)
    ref = _enumerated_steps(P, model, "train", V_reach, threshold)
    np.testing.assert_allclose(got.spurious, ref[0], rtol=0, atol=1e-14)
    # the same from the raw values array
    raw = spurious_steps(P, model, "train", reach=reach.V, threshold=threshold)
    np.testing.assert_array_equal(raw.spurious, got.spurious)
    # and the data share of P's successful solutions, judged question by question
    C = success_edges(P, model.weights("train"), model.answers)
    rate = spurious_data_rate(C, P, model, reach=reach, threshold=threshold)
    assert rate == pytest.approx(_enumerated_data_rate(P, model, V_reach, threshold),
                                 abs=1e-14)


@pytest.mark.parametrize("seed", range(3))
def test_own_reachability_makes_every_off_gold_success_step_spurious(seed):
    """Default reach and threshold 0: the data share is the wrong-step rate of success data."""
    P, model = random_model(seed, M=4, N=3, split=True)
    C = success_edges(P, model.weights("train"), model.answers)
    rate = spurious_data_rate(C, P, model)
    assert rate == pytest.approx(wrong_step_rate(C, model), abs=1e-14)
    assert rate == pytest.approx(
        _enumerated_data_rate(P, model, enumerated_values(P, model), 0.0), abs=1e-14)


def test_edges_without_success_mass_count_when_some_training_question_can_still_finish():
    # identity truth, N = 1: after step 1 the answer y(s0) = s0 is reachable only at s0
    P = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]])
    model = ChainMDP.create(3, 1, train=[0, 1])  # question 2 is held out
    data = np.zeros((1, 3, 3))
    data[0, 0, 0] = 2.0  # gold
    data[0, 0, 1] = 1.0  # off gold, P never takes it; y(1) = 1 is a training answer: spurious
    data[0, 0, 2] = 1.0  # off gold; only the test question 2 ends at 2: not spurious
    h = spurious_edge_share(P, model)
    np.testing.assert_array_equal(h[0, 0], [0.0, 1.0, 0.0])
    assert spurious_data_rate(data, P, model) == pytest.approx(0.25, abs=1e-15)
    assert np.isnan(spurious_data_rate(np.zeros((1, 3, 3)), P, model))


def test_iterate_records_spurious_steps_and_data_rates():
    P0, model = random_model(3, M=4, N=3, split=True)
    rule = make_rule("star")
    h = iterate(rule, P0, model, iterations=3, maj_ks=())
    assert np.isnan(h.spurious_data_rate[0])
    for t in range(4):
        for split, metrics in (("train", h.train), ("test", h.test)):
            expected = spurious_steps(h.P[t], model, split).probability
            assert metrics.spurious_steps[t] == pytest.approx(expected, abs=1e-15)
        if t:
            edges = rule.exact_step(h.P[t - 1], model).train_edges
            assert h.spurious_data_rate[t] == pytest.approx(
                spurious_data_rate(edges, h.P[t - 1], model), abs=1e-15)
    np.testing.assert_allclose(h.spurious_data_rate[1:], h.wrong_step_rate[1:], atol=1e-14)
    d = h.to_dict()
    assert len(d["spurious_data_rate"]) == 4 and len(d["test"]["spurious_steps"]) == 4


def test_sampled_data_use_the_exact_edge_share():
    P0, model = random_model(4, M=4, N=3, split=True)
    h = iterate(make_rule("star", samples_per_question=8), P0, model, iterations=2,
                mode="sampled", rng=0, maj_ks=())
    # sampled success edges lie where P has success mass, so the default share is the
    # off-gold indicator there and the rate is the data's wrong-step rate
    np.testing.assert_allclose(h.spurious_data_rate[1:], h.wrong_step_rate[1:], atol=1e-14)
    profile = spurious_profile(P0, model)
    assert profile.per_question.shape == (3, 3, 4) and profile.edge_share.shape == (3, 4, 4)


@pytest.mark.parametrize("kwargs, match", [
    ({"threshold": 1.0}, "threshold must be"),
    ({"threshold": -0.1}, "threshold must be"),
    ({"reach": np.zeros((2, 3, 3))}, "reach must be"),
    ({"split": "dev"}, "split must be"),
])
def test_bad_input_is_named(kwargs, match):
    P, model = random_model(0, M=3, N=2)
    with pytest.raises(ValueError, match=match):
        spurious_steps(P, model, **kwargs)


def test_bad_edges_shape_is_named():
    P, model = random_model(0, M=3, N=2)
    with pytest.raises(ValueError, match="edges must have shape"):
        spurious_data_rate(np.zeros((3, 3)), P, model)
