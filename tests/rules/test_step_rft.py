"""Advantage-filtered per-step RFT against path enumeration, exactly and sampled."""

import numpy as np
import pytest

from rlstar_theory.mdp import success_edges
from rlstar_theory.rules import iterate, make_rule
from rlstar_theory.rules.star import Star
from rlstar_theory.rules.step_rft import StepRft, kept_success_edges
from tests.rules.pg_reference import random_model
from tests.rules.sample_reference import exact_model, row_normalise
from tests.rules.value_reference import enumerated_step_edges, enumerated_values


def _kept_by_enumeration(P_sampler, model, V_mu, tau):
    """Correct paths of the sampler; a step counts when V^mu_n(s_n) - V^mu_{n-1}(s_{n-1}) >= tau."""
    def coefficient(s0, path, n):
        if path[-1] != model.answers[s0]:
            return 0
        return int(V_mu[n, path[n], s0] - V_mu[n - 1, path[n - 1], s0] >= tau)
    return enumerated_step_edges(P_sampler, model, coefficient)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("tau, K", [(0.0, 5), (0.1, 1), (-0.2, 3)])
def test_exact_step_equals_enumeration_with_a_frozen_prover(seed, tau, K):
    P0, model = random_model(seed, M=3, N=3, split=True)
    P1, _ = random_model(seed + 20, M=3, N=3)
    rule = StepRft(tau=tau, prover_k=K)
    state = rule.init_state(P0, model)
    update = rule.exact_step(P1, model, state)  # samples from P1, judged by BoK_K(P0)
    expected = _kept_by_enumeration(P1, model, enumerated_values(P0, model, K), tau)
    np.testing.assert_allclose(update.train_edges, expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(update.P, row_normalise(P1, expected), rtol=0, atol=1e-12)
    assert update.samples == rule.nominal_samples(model)


@pytest.mark.parametrize("seed", range(2))
def test_self_prover_uses_the_current_policy(seed):
    P0, model = random_model(seed, M=3, N=2)
    P1, _ = random_model(seed + 5, M=3, N=2)
    rule = StepRft(prover="self", prover_k=2, tau=0.05)
    update = rule.exact_step(P1, model, rule.init_state(P0, model))
    expected = _kept_by_enumeration(P1, model, enumerated_values(P1, model, 2), 0.05)
    np.testing.assert_allclose(update.train_edges, expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("seed", range(3))
def test_exact_step_is_exact_on_fraction_policies(seed):
    P, model = exact_model(seed, M=3, N=2)
    rule = StepRft(tau=0.0, prover_k=2)
    update = rule.exact_step(P, model)  # no state: P is its own frozen prover
    expected = _kept_by_enumeration(P, model, enumerated_values(P, model, 2), 0)
    assert update.train_edges.dtype == object and (update.train_edges == expected).all()
    assert (update.P == row_normalise(P, expected)).all()


def test_a_threshold_below_every_advantage_is_star():
    P, model = random_model(4, M=4, N=3, split=True)
    update = StepRft(tau=-1.0).exact_step(P, model)
    C = success_edges(P, model.weights("train"), model.answers)
    np.testing.assert_allclose(update.train_edges, C, rtol=0, atol=1e-15)
    np.testing.assert_allclose(update.P, Star().exact_step(P, model).P, rtol=0, atol=1e-15)


def test_filter_drops_steps_inside_correct_solutions():
    """The filter is not vacuous: with tau = 0 some success mass is dropped, none is added."""
    P, model = random_model(0, M=4, N=3)
    kept = StepRft(tau=0.0).exact_step(P, model).train_edges
    C = success_edges(P, model.weights("train"), model.answers)
    assert np.all(kept <= C + 1e-15)
    assert kept.sum() < C.sum() - 1e-3


def test_blocks_over_questions_give_the_same_sum():
    P, model = random_model(6, M=4, N=3)
    V_mu = enumerated_values(P, model, 2)
    w = model.weights("train")
    one = kept_success_edges(P, w, model.answers, V_mu, 0.0)
    blocks = kept_success_edges(P, w, model.answers, V_mu, 0.0, chunk_entries=16)
    np.testing.assert_allclose(blocks, one, rtol=0, atol=1e-15)


def test_sampled_step_is_unbiased_for_the_exact_kept_data():
    P0, model = random_model(2, M=3, N=2, split=True)
    P1, _ = random_model(9, M=3, N=2)
    rule = StepRft(tau=0.0, prover_k=3, samples_per_question=8)
    state = rule.init_state(P0, model)
    exact = rule.exact_step(P1, model, state).train_edges
    gen = np.random.default_rng(0)
    replicates = 400
    draws = np.array([rule.sampled_step(P1, model, state, gen).train_edges
                      for _ in range(replicates)])
    mean, spread = draws.mean(axis=0), draws.std(axis=0, ddof=1)
    z = 5.0
    assert np.all(np.abs(mean - exact) <= z * spread / np.sqrt(replicates) + 1e-12)
    # one step with 256 times the samples is within the same bound at K * 256
    big = StepRft(tau=0.0, prover_k=3, samples_per_question=8 * 256)
    one = big.sampled_step(P1, model, state, gen)
    assert np.all(np.abs(one.train_edges - exact) <= 1.2 * z * spread / 16 + 1e-12)
    assert one.samples == 8 * 256 * int(np.count_nonzero(model.weights("train")))


@pytest.mark.parametrize("mode", ["exact", "sampled"])
def test_offline_collects_once_from_the_initial_policy(mode):
    P0, model = random_model(5, M=3, N=3)
    rule = make_rule("step-rft", online=False, samples_per_question=4)
    h = iterate(rule, P0, model, iterations=3, mode=mode, rng=1, maj_ks=())
    per_round = 4 * 3
    np.testing.assert_array_equal(h.samples, [0, per_round, per_round, per_round])
    np.testing.assert_allclose(h.P[2], h.P[1], rtol=0, atol=0)  # the same data, refit again
    if mode == "exact":
        expected = _kept_by_enumeration(P0, model, enumerated_values(P0, model, 5), 0.0)
        np.testing.assert_allclose(h.P[1], row_normalise(P0, expected), rtol=0, atol=1e-12)


def test_online_runs_both_modes_through_iterate():
    P0, model = random_model(8, M=4, N=3, split=True)
    for mode in ("exact", "sampled"):
        h = iterate(make_rule("step-rft", tau=0.05), P0, model, iterations=2, mode=mode,
                    rng=0, maj_ks=())
        assert h.rule == "step-rft" and h.settings["tau"] == 0.05
        assert h.samples[-1] == 2 * 16 * int(model.train.sum())
        assert np.all(np.isfinite(h.J)) and np.all(np.isfinite(h.test.J))


@pytest.mark.parametrize("options, match", [
    ({"tau": float("nan")}, "tau must be"),
    ({"tau": "high"}, "tau must be"),
    ({"prover": "oracle"}, "prover must be"),
    ({"prover_k": 0}, "prover_k must be"),
    ({"online": "yes"}, "online must be"),
    ({"samples_per_question": 0}, "samples_per_question"),
])
def test_bad_options_are_named(options, match):
    with pytest.raises(ValueError, match=match):
        make_rule("step-rft", **options)
