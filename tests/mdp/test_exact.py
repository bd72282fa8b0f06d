"""The success-edge operator against path enumeration, exactly and in floats, batched."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from rlstar_theory.bruteforce import brute_force_success_edges, enumerate_paths
from rlstar_theory.mdp import ChainMDP, backward_values, forward_products, success_edges
from rlstar_theory.mdp.exact import success_probability
from tests.strategies import dense_models, start_weights


@given(dense_models(max_M=3, max_N=3), st.data())
def test_success_edges_exact_equals_enumeration(m, data):
    w = np.array([int(v) for v in data.draw(start_weights(m.M))], dtype=object)
    answers = ChainMDP.create(m.M, m.N, m.truth).answers
    got = success_edges(m.P_exact, w, answers)
    assert (got == brute_force_success_edges(m.P_exact, w, answers)).all()


@given(dense_models(max_M=4, max_N=4))
def test_success_edges_float_matches_exact(m):
    model = ChainMDP.create(m.M, m.N, m.truth, m.start)
    got = success_edges(m.P, model.start, model.answers, model.identity)
    ref = success_edges(m.P_exact, m.start_exact, model.answers).astype(float)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-14)


@given(dense_models(max_M=4, max_N=3, bijective=True))
def test_identity_flag_is_only_a_shortcut(m):
    model = ChainMDP.create(m.M, m.N)  # identity truth
    fast = success_edges(m.P, m.start, model.answers, identity=True)
    slow = success_edges(m.P, m.start, model.answers, identity=False)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-15)


def test_batched_equals_separate_calls():
    rng = np.random.default_rng(3)
    B, N, M = 5, 4, 6
    P = rng.random((B, N, M, M)) ** 2
    P /= P.sum(-1, keepdims=True)
    w = rng.random((B, M))
    answers = rng.integers(0, M, (B, M))
    got = success_edges(P, w, answers)
    for b in range(B):
        np.testing.assert_allclose(got[b], success_edges(P[b], w[b], answers[b]), atol=1e-15,
                                   rtol=0)
    p = success_probability(P, answers)
    for b in range(B):
        np.testing.assert_allclose(p[b], success_probability(P[b], answers[b]), atol=1e-15)


@given(dense_models(max_M=3, max_N=3))
def test_values_and_success_probability_by_enumeration(m):
    answers = ChainMDP.create(m.M, m.N, m.truth).answers
    paths, prob = enumerate_paths(m.P_exact)
    p = np.array([prob[s0][paths[:, -1] == answers[s0]].sum() for s0 in range(m.M)],
                 dtype=object)
    assert (success_probability(m.P_exact, answers) == p).all()
    V = backward_values(m.P_exact, answers)
    assert all(V[0][s0, s0] == p[s0] for s0 in range(m.M))
    F = forward_products(m.P_exact)
    assert all((F[n + 1] == F[n].dot(m.P_exact[n])).all() for n in range(m.N))
    # C+_n[w] sums to sum_s0 w(s0) p(s0) at every step
    C = success_edges(m.P_exact, m.start_exact, answers)
    for n in range(m.N):
        assert C[n].sum() == (m.start_exact * p).sum()
