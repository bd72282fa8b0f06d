"""The dense forward/backward engine against brute-force enumeration and exact arithmetic.

Random models (strategies.dense_models) are not symmetric, have zero entries, bijective and
non-bijective truth maps and start distributions with zeros, so some rows get no successful
trajectory: those must keep their previous row.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from rlstar_theory import (
    diag_excess,
    expected_return,
    iterate_dense,
    posterior,
    refit,
    robustness,
    star_step,
    temper,
)
from rlstar_theory.bruteforce import (
    brute_force_expected_return,
    brute_force_posterior,
    brute_force_star_step,
)
from rlstar_theory.dense import answer_map
from tests.strategies import dense_models, exact_from_weights

ATOL = 1e-12

#: temperatures 1/k keep exact arithmetic rational
EXACT_TEMPERATURES = st.sampled_from([Fraction(1), Fraction(1, 2), Fraction(1, 3)])


def refit_like_engine(P_old, joint):
    """ML refit of a brute-force posterior; rows with no data keep ``P_old``'s row."""
    den = joint.sum(axis=2)
    out = P_old.copy()
    for n, s in zip(*np.nonzero(den > 0), strict=True):
        out[n, s] = joint[n, s] / den[n, s]
    return out


@given(dense_models())
def test_star_step_matches_bruteforce(model):
    got = star_step(model.P, model.truth, model.start)
    ref = brute_force_star_step(model.P, model.truth, model.start)
    np.testing.assert_allclose(got, ref, rtol=0, atol=ATOL)


@given(dense_models())
def test_posterior_and_return_match_bruteforce(model):
    post = posterior(model.P, model.truth, model.start)
    ref = brute_force_posterior(model.P, model.truth, model.start)
    np.testing.assert_allclose(post.joint, ref, rtol=0, atol=ATOL)
    J = expected_return(model.P, model.truth, model.start)
    assert isinstance(J, float)
    assert abs(J - brute_force_expected_return(model.P, model.truth, model.start)) <= ATOL
    # every step's joint sums to Pr(success)
    np.testing.assert_allclose(post.joint.sum(axis=(1, 2)), post.success, rtol=0, atol=ATOL)
    assert abs(post.success - J) <= ATOL


@given(dense_models(max_M=4, max_N=3))
def test_exact_dense_equals_exact_bruteforce(model):
    got = star_step(model.P_exact, model.truth, model.start_exact)
    ref = brute_force_star_step(model.P_exact, model.truth, model.start_exact)
    assert got.dtype == object
    assert got.tolist() == ref.tolist()
    J = expected_return(model.P_exact, model.truth, model.start_exact)
    assert isinstance(J, Fraction)
    assert J == brute_force_expected_return(model.P_exact, model.truth, model.start_exact)


@given(dense_models(), EXACT_TEMPERATURES)
def test_float_matches_exact(model, tau):
    exact = star_step(model.P_exact, model.truth, model.start_exact, temperature=tau)
    flt = star_step(model.P, model.truth, model.start, temperature=float(tau))
    np.testing.assert_allclose(flt, exact.astype(float), rtol=0, atol=ATOL)
    Je = expected_return(model.P_exact, model.truth, model.start_exact, temperature=tau)
    Jf = expected_return(model.P, model.truth, model.start, temperature=float(tau))
    assert abs(Jf - float(Je)) <= ATOL


@given(dense_models(), st.sampled_from([0.3, 0.5, 2.0, 1.7]))
def test_tempered_step_is_bruteforce_on_tempered_policy(model, tau):
    """Sampling at ``tau`` = posterior under temper(P, tau); unvisited rows keep P's row."""
    got = star_step(model.P, model.truth, model.start, temperature=tau)
    joint = brute_force_posterior(temper(model.P, tau), model.truth, model.start)
    np.testing.assert_allclose(got, refit_like_engine(model.P, joint), rtol=0, atol=ATOL)


@given(dense_models())
def test_unvisited_rows_keep_their_old_row_exactly(model):
    new = star_step(model.P, model.truth, model.start)
    den = brute_force_posterior(model.P_exact, model.truth, model.start_exact).sum(axis=2)
    unvisited = np.array([[d == 0 for d in row] for row in den])
    assert np.array_equal(new[unvisited], model.P[unvisited])
    # and the visited rows are probability rows
    np.testing.assert_allclose(new.sum(axis=2), 1.0, rtol=0, atol=1e-12)
    assert np.all(new >= 0)


def test_unvisited_rows_explicit_example():
    """State 0 is never a question and never reached at step 1: its rows get no data."""
    M = 3
    P1 = np.array([[0.2, 0.3, 0.5], [0.0, 0.6, 0.4], [0.0, 0.5, 0.5]])
    P2 = np.array([[0.1, 0.1, 0.8], [0.3, 0.3, 0.4], [0.2, 0.2, 0.6]])
    P = np.stack([P1, P2])
    start = np.array([0.0, 0.5, 0.5])
    new = star_step(P, start=start)
    assert np.array_equal(new[0, 0], P1[0])  # D(0) = 0
    assert np.array_equal(new[1, 0], P2[0])  # S_1 = 0 impossible
    assert not np.allclose(new[0, 1], P1[1])  # visited rows do move
    # the answer of question 1 is 1: step 2 from state 2 only succeeds by moving to 1 or 2
    assert new[1, 2, 0] == 0.0
    exact = star_step(exact_from_weights(np.round(P * 10).astype(int)),
                      start=exact_from_weights([0, 1, 1]))
    assert exact[1, 0].tolist() == [Fraction(1, 10), Fraction(1, 10), Fraction(8, 10)]
    assert M == new.shape[1]


def test_no_success_at_all_keeps_everything():
    P = np.array([[[0.0, 1.0], [1.0, 0.0]]])  # always wrong under identity truth
    assert expected_return(P) == 0.0
    assert np.array_equal(star_step(P), P)
    rob = robustness(P)
    assert rob.success == 0.0
    assert np.isnan(rob.p_all_correct_given_success)
    assert np.all(np.isnan(rob.p_step_wrong_given_success))


@given(dense_models())
def test_star_step_does_not_mutate_input(model):
    P = model.P.copy()
    star_step(P, model.truth, model.start, temperature=0.5)
    assert np.array_equal(P, model.P)


def naive_robustness(P, truth, D):
    """All-correct mass and per-step wrong mass among successful paths, by enumeration."""
    Pe = P.astype(float)
    N, M = Pe.shape[0], Pe.shape[1]
    G = answer_map(truth)
    tot = np.zeros(())
    all_ok = 0.0
    wrong = np.zeros(N)
    for s0 in range(M):
        for path in np.ndindex(*(M,) * N):
            if path[-1] != G[s0]:
                continue
            states = (s0,) + path
            prob = D[s0] * np.prod([Pe[n, states[n], states[n + 1]] for n in range(N)])
            ok = [states[n + 1] == truth[n][states[n]] for n in range(N)]
            tot = tot + prob
            all_ok += prob * all(ok)
            wrong += prob * ~np.array(ok)
    if tot == 0:
        return 0.0, np.nan, np.full(N, np.nan)
    return float(tot), all_ok / tot, wrong / tot


@given(dense_models(max_M=4, max_N=3))
def test_robustness_matches_enumeration(model):
    J, p_all, p_wrong = naive_robustness(model.P, model.truth, model.start)
    rob = robustness(model.P, model.truth, model.start)
    assert abs(rob.success - J) <= ATOL
    if J == 0:
        assert np.isnan(rob.p_all_correct_given_success)
        return
    assert abs(rob.p_all_correct_given_success - p_all) <= 1e-10
    np.testing.assert_allclose(rob.p_step_wrong_given_success, p_wrong, rtol=0, atol=1e-10)


@given(dense_models(max_M=4, max_N=3), st.integers(0, 3), EXACT_TEMPERATURES)
def test_iterate_dense_is_repeated_star_step(model, T, tau):
    run = iterate_dense(model.P_exact, T, model.truth, model.start_exact, temperature=tau)
    P = model.P_exact
    assert run.P.shape == (T + 1, model.N, model.M, model.M)
    for t in range(T + 1):
        assert run.P[t].tolist() == P.tolist()
        assert run.J[t] == expected_return(P, model.truth, model.start_exact)
        assert run.J_sampling[t] == expected_return(P, model.truth, model.start_exact,
                                                    temperature=tau)
        assert run.delta_diag[t].tolist() == diag_excess(P, model.truth).tolist()
        P = star_step(P, model.truth, model.start_exact, temperature=tau)


@given(dense_models(max_M=4, max_N=3, zeros=False))
def test_positive_model_support_of_the_refit(model):
    """P > 0 and D > 0: every row is visited; step n < N keeps full support, the last step's
    support is exactly the set of answers G(s_0) (for N = 1: row s is one-hot at G(s))."""
    new = star_step(model.P, model.truth, model.start)
    if model.N == 1:
        assert np.array_equal(new[0], np.eye(model.M)[answer_map(model.truth)])
        return
    assert np.all(new[:-1] > 0)
    answers = np.zeros(model.M, dtype=bool)
    answers[answer_map(model.truth)] = True
    assert np.all(new[-1][:, answers] > 0)
    assert np.all(new[-1][:, ~answers] == 0)


def test_refit_normalises_rows_with_data_and_keeps_the_others():
    P = np.array([[[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [1 / 3, 1 / 3, 1 / 3]]])
    joint = np.array([[[2.0, 6.0, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 3.0]]])
    new = refit(P, joint)
    np.testing.assert_array_equal(new[0, 0], [0.25, 0.75, 0.0])
    np.testing.assert_array_equal(new[0, 1], P[0, 1])  # no data: previous row kept
    np.testing.assert_array_equal(new[0, 2], [0.0, 0.25, 0.75])
    third = np.array([[[Fraction(1, 3)] * 3] * 3], dtype=object)
    counts = np.array([[[Fraction(1), Fraction(3), Fraction(0)], [Fraction(0)] * 3,
                        [Fraction(2), Fraction(0), Fraction(2)]]], dtype=object)
    exact = refit(third, counts)
    assert list(exact[0, 0]) == [Fraction(1, 4), Fraction(3, 4), Fraction(0)]
    assert list(exact[0, 1]) == [Fraction(1, 3)] * 3  # kept, still exact
    assert list(exact[0, 2]) == [Fraction(1, 2), Fraction(0), Fraction(1, 2)]


def test_star_step_is_refit_of_the_posterior():
    rng = np.random.default_rng(3)
    P = rng.dirichlet(np.ones(5), size=(3, 5))
    truth = rng.integers(0, 5, size=(3, 5))
    post = posterior(P, truth, temperature=0.5)
    np.testing.assert_array_equal(refit(P, post.joint), star_step(P, truth, temperature=0.5))
