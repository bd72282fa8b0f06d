"""Variable-length chains (stop and revise actions) against enumeration of every trajectory."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlstar_theory.mdp import ChainMDP
from rlstar_theory.mdp.exact import success_edges, success_probability
from rlstar_theory.mdp.operator import gradient, softmax
from rlstar_theory.mdp.variable_length import (
    LengthChain,
    extend_policy,
    length_normaliser,
    length_outcome_distribution,
    length_statistics,
    weighted_edges,
)
from rlstar_theory.rules.grpo import DrGrpo, Grpo
from rlstar_theory.rules.length_bias import length_gradient
from tests.strategies import dense_models, exact_from_weights, start_weights, truth_maps

# --- the referee: every trajectory ---------------------------------------------------------------

def trajectories(Q, chain, s0):
    """Every trajectory of positive probability from ``s0``: ``(prob, answer, length, visits)``,
    ``visits`` the ``(clock - 1, state, action)`` of each action taken."""
    M, L = chain.M, chain.budget
    out = []

    def walk(prev, s, n, prob, visits):
        if n == L:
            out.append((prob, s, L, visits))
            return
        for a in range(chain.actions):
            q = Q[n, s, a]
            if q == 0:
                continue
            step = [*visits, (n, s, a)]
            if a < M:
                walk(s, a, n + 1, prob * q, step)
            elif a == chain.stop_index:
                out.append((prob * q, s, n + 1, step))
            else:  # revise: back to the previous state, which is also the new previous
                walk(prev, prev, n + 1, prob * q, step)

    walk(s0, s0, 0, Q.flat[0] ** 0, [])
    return out


@st.composite
def length_models(draw, max_M=3, max_N=2, max_budget=3, exact=True):
    M = draw(st.integers(2, max_M))
    N = draw(st.integers(1, max_N))
    budget = draw(st.integers(1, max_budget))
    stop, revise = draw(st.booleans()), draw(st.booleans())
    truth = draw(truth_maps(M, N))
    start = exact_from_weights(draw(start_weights(M)))
    model = ChainMDP.create(M, N, truth, start)
    chain = LengthChain.create(model, budget, stop=stop, revise=revise)
    A = chain.actions
    rows = [draw(start_weights(A)) for _ in range(budget * M)]
    Q = exact_from_weights(np.array(rows).reshape(budget, M, A))
    return chain, (Q if exact else Q.astype(float))


def _brute_distribution(Q, chain):
    D = np.full((chain.M, 2, chain.budget + 1), Fraction(0), dtype=object)
    for s0 in range(chain.M):
        for prob, answer, length, _ in trajectories(Q, chain, s0):
            D[s0, int(answer == chain.model.answers[s0]), length] += prob
    return D


@settings(max_examples=40)
@given(length_models())
def test_length_outcome_distribution_equals_enumeration(case):
    chain, Q = case
    D = length_outcome_distribution(Q, chain)
    assert (D == _brute_distribution(Q, chain)).all()
    assert all(v == 1 for v in D.sum(axis=(1, 2)))


@settings(max_examples=40)
@given(length_models(), st.data())
def test_weighted_edges_equal_enumeration(case, data):
    chain, Q = case
    M, L = chain.M, chain.budget
    T = np.array(data.draw(st.lists(st.integers(-3, 3), min_size=M * 2 * (L + 1),
                                    max_size=M * 2 * (L + 1))), dtype=object).reshape(M, 2, L + 1)
    w = chain.model.weights("all", exact=True)
    expected = np.full(Q.shape, Fraction(0), dtype=object)
    for s0 in range(M):
        for prob, answer, length, visits in trajectories(Q, chain, s0):
            value = w[s0] * prob * T[s0, int(answer == chain.model.answers[s0]), length]
            for n, s, a in visits:
                expected[n, s, a] += value
    assert (weighted_edges(Q, chain, T, w) == expected).all()


def test_expected_length_with_a_constant_stop_probability():
    """Stop with probability ``q`` at every clock, budget ``L``:
    ``E|o| = sum_{n<L} n q (1-q)^(n-1) + L (1-q)^(L-1)``."""
    M, N, L, q = 3, 2, 5, Fraction(1, 3)
    model = ChainMDP.create(M, N, start=[Fraction(1, 3)] * 3)
    chain = LengthChain.create(model, L, stop=True)
    P = np.full((N, M, M), Fraction(1, 3), dtype=object)
    Q = extend_policy(P, chain, stop_before=q, stop_after=q)
    by_hand = sum(n * q * (1 - q) ** (n - 1) for n in range(1, L)) + L * (1 - q) ** (L - 1)
    stats_exact = length_outcome_distribution(Q, chain).sum(axis=1) @ np.arange(L + 1)
    assert all(v == by_hand for v in stats_exact)
    assert length_statistics(Q, chain).expected_length == pytest.approx(float(by_hand), rel=1e-14)


# --- the fixed-length chain is unchanged -------------------------------------------------------

@settings(max_examples=30)
@given(dense_models(max_M=4, max_N=3), st.booleans(), st.booleans())
def test_fixed_length_reduction_is_exact(m, with_stop, with_revise):
    """No stop and no revise with ``N_max = N`` is the fixed engine; adding a stop or revise
    column that has probability 0 changes nothing either (exactly, in Fractions)."""
    model = ChainMDP.create(m.M, m.N, m.truth, m.start_exact)
    chain = LengthChain.create(model, stop=with_stop, revise=with_revise)
    Q = extend_policy(m.P_exact, chain)
    D = length_outcome_distribution(Q, chain)
    p = success_probability(m.P_exact, model.answers)
    assert (D[:, 1, m.N] == p).all() and (D[:, 0, m.N] == 1 - p).all()
    assert (D[:, :, : m.N] == 0).all()
    T = np.zeros((m.M, 2, m.N + 1), dtype=np.int64).astype(object)
    T[:, 1, m.N] = 1
    w = model.weights("all", exact=True)
    C = weighted_edges(Q, chain, T, w)
    assert (C[..., : m.M] == success_edges(m.P_exact, w, model.answers)).all()
    assert (C[..., m.M:] == 0).all()


def _random_model(seed, M=3, N=2, budget=4, stop=True, revise=True, floor=0.05):
    rng = np.random.default_rng(seed)
    truth = np.array([rng.permutation(M) for _ in range(N)])
    model = ChainMDP.create(M, N, truth, start=rng.dirichlet(np.ones(M)))
    chain = LengthChain.create(model, budget, stop=stop, revise=revise)
    Q = rng.random((budget, M, chain.actions)) + floor
    return chain, Q / Q.sum(-1, keepdims=True)


def test_revise_with_probability_zero_is_the_chain_without_it():
    chain, Q = _random_model(1, revise=False)
    with_revise = LengthChain.create(chain.model, chain.budget, stop=True, revise=True)
    Qr = np.concatenate([Q, np.zeros(Q.shape[:-1] + (1,))], axis=-1)
    np.testing.assert_allclose(length_outcome_distribution(Qr, with_revise),
                               length_outcome_distribution(Q, chain), rtol=0, atol=1e-15)
    rule = Grpo(group_size=4, samples_per_question=4)
    g, gr = length_gradient(rule, Q, chain), length_gradient(rule, Qr, with_revise)
    np.testing.assert_allclose(gr[..., :-1], g, rtol=0, atol=1e-15)
    assert (gr[..., -1] == 0).all()


# --- GRPO's 1/|o| and Dr. GRPO's 1/L against enumeration of whole groups ------------------------

def _grad_log_prob(Q, visits):
    g = np.zeros(Q.shape)
    for n, s, a in visits:
        g[n, s] -= Q[n, s]
        g[n, s, a] += 1.0
    return g


def _standardised(r, eps=1e-4):
    centred = r - r.mean()
    if not centred.any():
        return np.zeros_like(r)
    return centred / (np.std(r, ddof=1) + eps)


def _group_gradient(Q, chain, G, advantage, h):
    """``sum_{s0} rho E[(1/G) sum_i A_i h(|o_i|) grad log pi(tau_i)]`` over every group."""
    total = np.zeros(Q.shape)
    w = chain.model.weights("train")
    for s0 in np.flatnonzero(w):
        trajs = trajectories(Q, chain, s0)
        probs = np.array([t[0] for t in trajs])
        r = np.array([float(t[1] == chain.model.answers[s0]) for t in trajs])
        lengths = np.array([t[2] for t in trajs])
        grads = np.stack([_grad_log_prob(Q, t[3]) for t in trajs])
        for group in itertools.product(range(len(trajs)), repeat=G):
            idx = np.array(group)
            A = advantage(r[idx])
            coef = A * h[lengths[idx]] / G
            total += w[s0] * probs[idx].prod() * np.tensordot(coef, grads[idx], axes=1)
    return total


@pytest.mark.parametrize("seed, G, N, budget", [(2, 2, 2, 3), (3, 2, 1, 3), (4, 3, 2, 2)])
def test_length_normalised_grpo_gradient_equals_group_enumeration(seed, G, N, budget):
    chain, Q = _random_model(seed, M=2, N=N, budget=budget)
    grpo = Grpo(group_size=G, samples_per_question=G)
    h = length_normaliser(chain, "length")
    expected = _group_gradient(Q, chain, G, _standardised, h)
    np.testing.assert_allclose(length_gradient(grpo, Q, chain), expected, rtol=0, atol=1e-13)
    dr = DrGrpo(group_size=G, samples_per_question=G)
    h_dr = length_normaliser(chain, "constant")
    expected_dr = _group_gradient(Q, chain, G, lambda r: r - r.mean(), h_dr)
    np.testing.assert_allclose(length_gradient(dr, Q, chain), expected_dr, rtol=0, atol=1e-13)


def test_gradient_equals_finite_differences_of_the_terminal_objective():
    """``C - Q rowsum(C)`` is the logit gradient of ``sum w E[T(R, |o|)]`` (``T`` fixed)."""
    chain, Q = _random_model(5, M=3, N=2, budget=4)
    rng = np.random.default_rng(0)
    T = rng.normal(size=(chain.M, 2, chain.budget + 1))
    w = chain.model.weights("all")
    got = gradient(Q, weighted_edges(Q, chain, T, w))
    theta = np.log(Q)

    def objective(th):
        return float((w[:, None, None] * length_outcome_distribution(softmax(th), chain)
                      * T).sum())

    eps = 1e-6
    fd = np.zeros_like(theta)
    for idx in np.ndindex(theta.shape):
        up, down = theta.copy(), theta.copy()
        up[idx] += eps
        down[idx] -= eps
        fd[idx] = (objective(up) - objective(down)) / (2 * eps)
    np.testing.assert_allclose(got, fd, rtol=0, atol=1e-8)


def test_dr_grpo_has_no_length_term_and_grpo_has_one():
    """Dr. GRPO's expected gradient is ``(G-1)/(G L) grad J`` whatever the lengths; GRPO's is
    not a multiple of ``grad J``. On identity padding after step N (stop or continue does not
    change the answer) Dr. GRPO's gradient is zero and GRPO's is not."""
    chain, Q = _random_model(6, M=3, N=2, budget=5)
    G = 4
    M, L = chain.M, chain.budget
    T_success = np.zeros((M, 2, L + 1))
    T_success[:, 1, 1:] = 1.0
    grad_J = gradient(Q, weighted_edges(Q, chain, T_success, chain.model.weights("train")))
    dr = length_gradient(DrGrpo(group_size=G, samples_per_question=G), Q, chain)
    np.testing.assert_allclose(dr, (G - 1) / (G * L) * grad_J, rtol=0, atol=1e-15)
    grpo = length_gradient(Grpo(group_size=G, samples_per_question=G), Q, chain)
    scale = (grpo * grad_J).sum() / (grad_J * grad_J).sum()
    assert np.abs(grpo - scale * grad_J).max() > 1e-3

    rng = np.random.default_rng(7)
    P = rng.dirichlet(np.ones(M), size=(2, M))
    padded = LengthChain.create(chain.model, budget=5, stop=True)
    Qp = extend_policy(P, padded, stop_before=0.1, stop_after=0.4)
    dr_p = length_gradient(DrGrpo(group_size=G, samples_per_question=G), Qp, padded)
    grpo_p = length_gradient(Grpo(group_size=G, samples_per_question=G), Qp, padded)
    assert np.abs(dr_p[2:]).max() < 1e-15  # clocks 3..5 come after the N = 2 reasoning steps
    assert np.abs(grpo_p[2:]).max() > 1e-3


def test_bad_input():
    model = ChainMDP.create(3, 2)
    with pytest.raises(ValueError, match="budget"):
        LengthChain.create(model, 0)
    with pytest.raises(ValueError, match="stop must be True or False"):
        LengthChain.create(model, 3, stop="yes")
    chain = LengthChain.create(model, 3, stop=True)
    with pytest.raises(ValueError, match=r"shape \(N_max, M, A\) = \(3, 3, 4\)"):
        length_outcome_distribution(np.full((3, 3, 3), 1 / 3), chain)
    with pytest.raises(ValueError, match="revise must be 0"):
        extend_policy(np.full((2, 3, 3), 1 / 3), chain, revise=0.1)
    with pytest.raises(ValueError, match="stop_before must be a probability"):
        extend_policy(np.full((2, 3, 3), 1 / 3), chain, stop_before=1.5)
    with pytest.raises(ValueError, match="normaliser"):
        length_normaliser(chain, "tokens")
    with pytest.raises(ValueError, match="terminal must have shape"):
        weighted_edges(extend_policy(np.full((2, 3, 3), 1 / 3), chain), chain,
                       np.zeros((3, 2, 3)), np.ones(3) / 3)
