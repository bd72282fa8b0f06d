"""Rules on reference data: continued SFT (an eta-limited step) and offline RFT."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from rlstar_theory import symmetric_matrix
from rlstar_theory.mdp import ChainMDP
from rlstar_theory.rules import iterate, make_rule
from rlstar_theory.rules.sft import reference_edges
from tests.rules import pg_reference as ref
from tests.rules import sample_reference as sref
from tests.rules.sample_reference import exact_model


def _sft(eta=0.5):
    return make_rule("sft", strict=True, eta=eta)


def _rft(K: int, lambda_ref=1.0):
    return make_rule("rft", strict=True, samples_per_question=K, lambda_ref=lambda_ref)


def _mix(P, R, eta):
    """(1 - eta) P + eta rownorm(R) on the rows with reference data, written out."""
    out = P.copy()
    for n in range(P.shape[0]):
        for s in range(P.shape[1]):
            total = sum(R[n, s])
            if total != 0:
                out[n, s] = (1 - eta) * P[n, s] + eta * (R[n, s] / total)
    return out


# --- reference data ---------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_edges_are_the_gold_chains_of_the_train_questions(seed):
    P, model = exact_model(seed, 4, 3)
    assert not model.train.all()
    for exact in (True, False):
        got = reference_edges(model, exact)
        want = sref.reference_data(model, exact)
        assert (got == want).all() if exact else np.allclose(got, want, rtol=0, atol=1e-15)
    assert np.all(reference_edges(model)[~model.gold_edges()] == 0)


# --- sft --------------------------------------------------------------------------------------

@pytest.mark.parametrize("eta", [Fraction(1, 2), Fraction(1, 5), 1])
def test_sft_step_in_fractions(eta):
    P, model = exact_model(3, 3, 2)
    got = _sft(eta).exact_step(model.check_policy(P), model)
    R = sref.reference_data(model, exact=True)
    assert (got.P == _mix(P, R, eta)).all()
    assert (got.train_edges == R).all()
    assert got.samples == 0


def test_sft_float_equals_fractions():
    P, model = exact_model(4, 3, 3)
    exact = _sft(0.25).exact_step(model.check_policy(P), model).P
    floats = _sft(0.25).exact_step(model.check_policy(P).astype(float), model).P
    np.testing.assert_allclose(floats, exact.astype(float), rtol=0, atol=1e-15)


def test_eta_one_is_the_mle_one_hot_on_gold_rows():
    P, model = ref.random_model(5, 4, 3)
    got = _sft(1.0).exact_step(P, model).P
    R = reference_edges(model)
    visited = R.sum(axis=-1) > 0
    np.testing.assert_array_equal(got[visited], model.gold_edges()[visited].astype(float))
    np.testing.assert_array_equal(got[~visited], P[~visited])


def test_sft_adds_support_on_the_gold_edges_only():
    """New support = old support plus the gold edges of the rows the train chains visit."""
    M, N = 4, 3
    rng = np.random.default_rng(6)
    truth = rng.integers(0, M, (N, M))
    model = ChainMDP.create(M, N, truth=truth, train=[0, 2])
    P = rng.dirichlet(np.ones(M), size=(N, M))
    P[model.gold_edges()] = 0.0  # the policy never takes a gold step
    P /= P.sum(axis=-1, keepdims=True)
    new = _sft(0.3).exact_step(P, model).P
    visited = reference_edges(model).sum(axis=-1, keepdims=True) > 0
    gained = (new > 0) & (P == 0)
    np.testing.assert_array_equal(gained, model.gold_edges() & visited)
    assert gained.any()
    assert np.all(new[P > 0] > 0)  # nothing is lost with eta < 1
    for other in ("star", "ei-dedup", "rationalization"):  # the sample-based rules cannot
        assert np.all(make_rule(other, samples_per_question=2).exact_step(P, model).P[P == 0]
                      == 0)


def test_sft_symmetric_family_recursion():
    """Identity truth, all questions train: every row is visited with gold = diagonal, so
    (1 - eta) P(lam) + eta I = P(lam') with lam' = (1 - eta) lam + eta."""
    M, eta = 5, 0.3
    lam = np.array([0.2, -0.1, 0.6])
    model = ChainMDP.create(M, 3)
    P = symmetric_matrix(lam, M)
    for _ in range(3):
        P = _sft(eta).exact_step(P, model).P
        lam = (1 - eta) * lam + eta
        np.testing.assert_allclose(P, symmetric_matrix(lam, M), rtol=0, atol=1e-15)


def test_sft_sampled_is_exact_and_draws_nothing():
    P, model = ref.random_model(7, 3, 3, split=True)
    h = iterate(_sft(), P, model, 3, mode="sampled", rng=0)
    e = iterate(_sft(), P, model, 3)
    np.testing.assert_array_equal(h.P, e.P)
    np.testing.assert_array_equal(h.samples, 0)
    assert np.all(e.wrong_step_rate[1:] == 0)  # it trains on gold steps only


@pytest.mark.parametrize("eta", [0, -0.1, 1.5, float("nan"), "half", True])
def test_bad_eta(eta):
    with pytest.raises(ValueError, match=r"eta must be a number in \(0.0, 1.0\]"):
        _sft(eta)


# --- rft --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("M", "N", "K", "lam", "seed"),
                         [(3, 2, 2, Fraction(1), 0), (2, 3, 2, Fraction(1, 3), 1),
                          (2, 2, 3, Fraction(0), 2)])
def test_rft_equals_enumerated_dedup_plus_reference(M, N, K, lam, seed):
    """Fractions: rownorm(D[P_SFT] + lambda_ref R), D by enumerating K-tuples of draws."""
    P0, model = exact_model(seed, M, N)
    P0 = model.check_policy(P0)
    rule = _rft(K, lam)
    update = rule.exact_step(P0, model, rule.init_state(P0, model))
    want = sref.dedup_data([P0], model, K, exact=True) + lam * sref.reference_data(model, True)
    assert (update.train_edges == want).all()
    assert (update.P == sref.row_normalise(P0, want)).all()
    assert update.samples == K * int(model.train.sum())


def test_rft_is_offline_from_the_initial_policy():
    """The data comes from P_SFT (the state), once: later steps reuse it and draw nothing."""
    P0, model = ref.random_model(8, 3, 3, split=True)
    K = 3
    rule = _rft(K)
    h = iterate(rule, P0, model, 3)
    np.testing.assert_array_equal(h.samples, [0] + [K * int(model.train.sum())] * 3)
    np.testing.assert_array_equal(h.P[2], h.P[1])
    np.testing.assert_array_equal(h.P[3], h.P[1])
    other, _ = ref.random_model(9, 3, 3)
    from_state = rule.exact_step(other, model, rule.init_state(P0, model))
    from_p0 = rule.exact_step(P0, model)
    np.testing.assert_array_equal(from_state.train_edges, from_p0.train_edges)


def test_rft_without_reference_at_k1_is_one_star_step():
    P0, model = exact_model(10, 3, 2)
    P0 = model.check_policy(P0)
    got = _rft(1, 0).exact_step(P0, model).P
    assert (got == make_rule("star").exact_step(P0, model).P).all()


def test_rft_reference_adds_support():
    M, N = 3, 2
    model = ChainMDP.create(M, N, truth=[[1, 2, 0], [0, 1, 2]])
    P = np.full((N, M, M), 0.5)
    P[model.gold_edges()] = 0.0  # the policy never takes a gold step
    with_ref = _rft(4, 1.0).exact_step(P, model).P
    assert np.all(with_ref[model.gold_edges()] > 0)
    without = _rft(4, 0.0).exact_step(P, model).P
    np.testing.assert_array_equal(without == 0, P == 0)


def test_rft_sampled_data_is_unbiased():
    """Mean of R sampled collections within 4.5 standard errors (empirical std / sqrt(R))."""
    P0, model = ref.random_model(11, 3, 2, split=True)
    rule = _rft(3, 0.5)
    exact = rule.exact_step(P0, model).train_edges
    gen = np.random.default_rng(12)
    draws = np.array([rule.sampled_step(P0, model, None, gen).train_edges for _ in range(500)])
    se = draws.std(axis=0, ddof=1) / np.sqrt(len(draws))
    err = np.abs(draws.mean(axis=0) - exact)
    assert np.all(err <= 4.5 * se + 1e-14), (err / np.where(se > 0, se, np.inf)).max()
    h = iterate(rule, P0, model, 2, mode="sampled", rng=0)
    drawn = 3 * int(model.train.sum())
    np.testing.assert_array_equal(h.samples, [0, drawn, drawn])
    np.testing.assert_array_equal(h.P[2], h.P[1])


@pytest.mark.parametrize("lam", [-1, float("inf"), "x"])
def test_bad_lambda_ref(lam):
    with pytest.raises(ValueError, match=r"lambda_ref must be a number in \[0.0, inf\)"):
        _rft(2, lam)
