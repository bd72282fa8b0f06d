"""Random non-symmetric model families: exact mean diagonals, valid rows, bad input."""

import numpy as np
import pytest

from rlstar_theory.open_questions.models import (
    FAMILIES,
    random_models,
    row_spread,
    set_mean_diagonal,
    symmetric_projection,
    zero_step_weights,
)
from rlstar_theory.symmetric import symmetric_matrix


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("spread", [0.05, 0.4, 0.95])
def test_mean_diagonal_is_exact_and_rows_are_stochastic(family, spread):
    M, N, B = 6, 4, 20
    lam = zero_step_weights(B, N, 2, -0.05, 0.3, rng=1)
    P = random_models(family, B, M, N, lam, spread, rng=2)
    assert P.shape == (B, N, M, M)
    assert P.min() >= 0
    np.testing.assert_allclose(P.sum(axis=-1), 1.0, atol=1e-14)
    np.testing.assert_allclose(symmetric_projection(P), lam, atol=1e-14)
    assert np.all(row_spread(P) > 0)


@pytest.mark.parametrize("family", FAMILIES)
def test_zero_spread_is_the_symmetric_family(family):
    lam = np.array([0.0, 0.25, -0.1])
    P = random_models(family, 3, 5, 3, lam, 0.0, rng=0)
    for b in range(3):
        np.testing.assert_array_equal(P[b], symmetric_matrix(lam, 5))
    np.testing.assert_allclose(row_spread(P), 0.0, atol=1e-15)


def test_same_seed_same_models_and_spread_grows():
    a = random_models("dirichlet", 4, 5, 3, np.full(3, 0.2), 0.3, rng=7)
    b = random_models("dirichlet", 4, 5, 3, np.full(3, 0.2), 0.3, rng=7)
    np.testing.assert_array_equal(a, b)
    small = row_spread(random_models("planted", 200, 5, 3, np.full(3, 0.2), 0.1, rng=1))
    large = row_spread(random_models("planted", 200, 5, 3, np.full(3, 0.2), 0.6, rng=1))
    assert small.mean() < large.mean()


def test_boundary_weight_keeps_a_zero_diagonal():
    M = 4
    lam = np.array([-1.0 / (M - 1), 0.5])
    P = random_models("dirichlet", 5, M, 2, lam, 0.5, rng=3)
    np.testing.assert_allclose(P[:, 0, np.arange(M), np.arange(M)], 0.0, atol=1e-15)


def test_set_mean_diagonal_moves_up_and_down_within_the_simplex():
    rng = np.random.default_rng(0)
    X = rng.dirichlet(np.ones(5), size=(10, 5))
    target = np.linspace(0.0, 1.0, 10)
    Y = set_mean_diagonal(X, target)
    assert Y.min() >= 0
    np.testing.assert_allclose(Y.sum(axis=-1), 1.0, atol=1e-14)
    np.testing.assert_allclose(Y[:, np.arange(5), np.arange(5)].mean(axis=-1), target,
                               atol=1e-14)


def test_zero_step_weights_places_the_zeros():
    lam = zero_step_weights(50, 5, 3, 0.0, 0.2, rng=4)
    assert np.all((lam == 0.0).sum(axis=1) == 3)
    assert np.all((lam == 0.2).sum(axis=1) == 2)


@pytest.mark.parametrize("kwargs, match", [
    ({"family": "gauss"}, "family"),
    ({"spread": 0.99}, "spread"),
    ({"spread": -0.1}, "spread"),
    ({"lam": [0.2, 2.0, 0.1]}, "lam"),
    ({"lam": [0.2, 0.1]}, "lam"),
    ({"n_models": 0}, "n_models"),
])
def test_bad_input(kwargs, match):
    args = {"family": "dirichlet", "n_models": 2, "M": 4, "N": 3, "lam": [0.2, 0.2, 0.2],
            "spread": 0.1}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        random_models(**args)
