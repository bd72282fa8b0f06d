"""STaR as a rule: one implementation, equal to the dense engine, the sampler and brute force."""

import numpy as np
from hypothesis import given

import rlstar_theory as rt
from rlstar_theory.bruteforce import brute_force_star_step
from rlstar_theory.mdp import ChainMDP
from rlstar_theory.rules import make_rule
from tests.strategies import dense_models


@given(dense_models(max_M=4, max_N=4))
def test_exact_star_equals_star_step(m):
    model = ChainMDP.create(m.M, m.N, m.truth, m.start)
    got = make_rule("star").exact_step(model.check_policy(m.P), model).P
    np.testing.assert_allclose(got, rt.star_step(m.P, m.truth, m.start), rtol=0, atol=1e-12)


@given(dense_models(max_M=3, max_N=3))
def test_exact_star_in_fractions_equals_brute_force(m):
    model = ChainMDP.create(m.M, m.N, m.truth, [str(v) for v in m.start_exact])
    got = make_rule("ei").exact_step(model.check_policy(m.P_exact), model).P
    assert (got == brute_force_star_step(m.P_exact, m.truth, m.start_exact)).all()


def test_tempered_star_equals_star_step():
    P = rt.symmetric_matrix([0.3, 0.1, 0.5], 6)
    model = ChainMDP.create(6, 3)
    for tau in (0.5, 1.5):
        got = make_rule("star", temperature=tau).exact_step(P, model).P
        np.testing.assert_allclose(got, rt.star_step(P, temperature=tau), atol=1e-12, rtol=0)


def test_sampled_star_is_the_finite_sample_engine():
    rng = np.random.default_rng(2)
    P = rng.random((3, 4, 4))
    P /= P.sum(-1, keepdims=True)
    model = ChainMDP.create(4, 3)
    rule = make_rule("star", samples_per_question=50, sampler="trajectories")
    got = rule.sampled_step(P, model, None, 11).P
    ref = rt.finite_sample_star_step(P, 50, rng=11).P
    np.testing.assert_array_equal(got, ref)


def test_symmetric_family_follows_the_closed_form():
    M, lam = 8, np.array([0.2, 0.05, 0.4])
    model = ChainMDP.create(M, 3)
    P = rt.symmetric_matrix(lam, M)
    step = make_rule("star").exact_step(P, model).P
    want = rt.symmetric_star_step(lam, M)
    for n in range(3):
        np.testing.assert_allclose(step[n], rt.symmetric_matrix(want[n], M)[0], atol=1e-14)
