"""Rules on variable-length chains: the fixed-length case is unchanged, GRPO's 1/|o| acts on
length and Dr. GRPO's 1/L does not."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from rlstar_theory.mdp import ChainMDP
from rlstar_theory.mdp.variable_length import LengthChain, extend_policy
from rlstar_theory.rules import iterate, make_rule
from rlstar_theory.rules.length_bias import (
    compare_length_bias,
    iterate_length,
    length_gradient,
    length_step,
    rule_normaliser,
)
from tests.strategies import dense_models

RULES = [
    ("star", {}),
    ("rationalization", {}),
    ("grpo", {"group_size": 4}),
    ("grpo", {"group_size": 3, "std": "population", "std_eps": 0.0}),
    ("dr-grpo", {"group_size": 4}),
    ("reinforce", {"baseline": "mean", "group_size": 2}),
    ("rloo", {"group_size": 4}),
    ("online-rft", {}),
    ("fisft+-", {"group_size": 4}),
]


def _split_model(seed=0, M=5, N=3):
    rng = np.random.default_rng(seed)
    truth = np.array([rng.permutation(M) for _ in range(N)])
    P = rng.random((N, M, M)) ** 2 + 0.05
    return ChainMDP.create(M, N, truth, train=[0, 1, 3]), P / P.sum(-1, keepdims=True)


@pytest.mark.parametrize("name, options", RULES, ids=[f"{n}-{o}" for n, o in RULES])
def test_fixed_length_chain_reproduces_the_rules_exact_steps(name, options):
    model, P = _split_model()
    rule = make_rule(name, strict=True, samples_per_question=12, lr=0.8, **options)
    chain = LengthChain.create(model, stop=False, revise=False)
    assert chain.is_fixed_length
    Q = P
    for _ in range(3):
        expected = rule.exact_step(Q, model).P
        Q = length_step(rule, Q, chain)
        np.testing.assert_allclose(Q, expected, rtol=0, atol=1e-13)
    run = iterate_length(rule, P, chain, 3)
    ref = iterate(rule, P, model, 3, maj_ks=())
    np.testing.assert_allclose(run.train.J, ref.train.J, rtol=0, atol=1e-13)
    np.testing.assert_allclose(run.test.J, ref.test.J, rtol=0, atol=1e-13)
    np.testing.assert_allclose(run.train.expected_length, model.N, rtol=1e-14)


@settings(max_examples=25)
@given(dense_models(max_M=3, max_N=3))
def test_star_on_the_fixed_length_chain_is_exact(m):
    """A refit rule runs in exact arithmetic and equals ``Star.exact_step`` exactly, also
    with a stop column of probability zero."""
    model = ChainMDP.create(m.M, m.N, m.truth, m.start_exact)
    star = make_rule("star")
    chain = LengthChain.create(model, stop=True)
    Q = extend_policy(m.P_exact, chain)
    new = length_step(star, Q, chain)
    assert (new[..., : m.M] == star.exact_step(m.P_exact, model).P).all()
    assert (new[..., m.M] == 0).all()


def _padded_one_question(q=1):
    M, N = 3, 2
    rng = np.random.default_rng(11)
    truth = np.array([rng.permutation(M) for _ in range(N)])
    model = ChainMDP.create(M, N, truth, train=[q])
    chain = LengthChain.create(model, budget=5, stop=True)
    P = rng.dirichlet(np.ones(M), size=(N, M))
    return chain, extend_policy(P, chain, stop_before=0.1, stop_after=0.3)


def test_grpo_makes_wrong_answers_longer_and_right_answers_shorter():
    """After the N reasoning steps the moves keep the state, so stopping at clock n or later
    gives the same outcome and only the length differs. With ``alpha_1 > 0 > alpha_0`` the
    ``1/|o|`` factor favours stopping at the right answer (``alpha_1/n > alpha_1/l``,
    ``l > n``) and continuing at a wrong one (``alpha_0/n < alpha_0/l``): the stop logit's
    gradient is positive at ``y(s0)`` and negative elsewhere. Dr. GRPO's is zero."""
    chain, Q = _padded_one_question(q=1)
    y = chain.model.answers[1]
    G = 8
    grpo = length_gradient(make_rule("grpo", group_size=G, samples_per_question=G), Q, chain)
    dr = length_gradient(make_rule("dr-grpo", group_size=G, samples_per_question=G), Q, chain)
    stop = chain.stop_index
    N = chain.model.N
    for n in range(N, chain.budget - 1):  # clocks N+1 .. N_max-1 (the last stop is free)
        for s in range(chain.M):
            if s == y:
                assert grpo[n, s, stop] > 1e-6
            else:
                assert grpo[n, s, stop] < -1e-6
    assert np.abs(dr[N:]).max() < 1e-15


def test_compare_length_bias_runs_both_and_dr_grpo_keeps_the_padding():
    chain, Q0 = _padded_one_question(q=0)
    res = compare_length_bias(Q0, chain, iterations=4, group_size=4, lr=2.0)
    assert res.grpo.normaliser == "length" and res.dr_grpo.normaliser == "constant"
    assert res.grpo.train.J.shape == (5,) and res.grpo.test is not None
    np.testing.assert_allclose(res.grpo.length_pmf.sum(axis=1), 1.0, atol=1e-13)
    run = iterate_length(make_rule("dr-grpo", group_size=4, samples_per_question=4, lr=2.0),
                         Q0, chain, 4, keep_policies=True)
    N = chain.model.N
    np.testing.assert_allclose(run.Q[:, N:], np.broadcast_to(Q0[N:], run.Q[:, N:].shape),
                               rtol=0, atol=1e-14)
    np.testing.assert_allclose(run.train.expected_length, res.dr_grpo.train.expected_length,
                               rtol=0, atol=1e-14)


def test_normaliser_defaults_and_bad_input():
    assert rule_normaliser(make_rule("grpo")) == "length"
    assert rule_normaliser(make_rule("dr-grpo")) == "constant"
    assert rule_normaliser(make_rule("rloo")) == "none"
    chain, Q = _padded_one_question()
    with pytest.raises(ValueError, match="epochs=1 and beta=0"):
        length_step(make_rule("grpo", epochs=2), Q, chain)
    with pytest.raises(ValueError, match="temperature=1"):
        length_step(make_rule("star", temperature=0.5), Q, chain)
    with pytest.raises(ValueError, match="normaliser must be one of"):
        length_step("grpo", Q, chain, normaliser="tokens")
    with pytest.raises(ValueError, match="rule must be a WeightedRule"):
        length_step(object(), Q, chain)
    with pytest.raises(ValueError, match="rule must be one of"):
        length_step("nope", Q, chain)
