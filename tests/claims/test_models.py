"""The standard pre-trained models of the claims."""

import numpy as np
import pytest

from rlstar_theory.claims.models import (
    STANDARD_LAM,
    dirichlet_p0,
    sparse_p0,
    standard_model,
    symmetric_p0,
)
from rlstar_theory.symmetric import symmetric_matrix


def test_standard_model_and_symmetric_policy():
    model = standard_model()
    assert (model.M, model.N) == (6, 3) and model.identity and model.train.all()
    assert np.allclose(symmetric_p0(), symmetric_matrix([STANDARD_LAM] * 3, 6))
    model.check_policy(symmetric_p0(), "P0")


def test_dirichlet_policy_is_fixed_by_its_seed_and_centred_on_the_symmetric_policy():
    P = dirichlet_p0()
    standard_model().check_policy(P, "P0")
    assert np.array_equal(P, dirichlet_p0()) and not np.array_equal(P, dirichlet_p0(seed=1))
    # mean of many draws -> the symmetric centre: each entry's mean has s.d. <= 0.5/sqrt(11 R)
    R = 400
    mean = np.mean([dirichlet_p0(seed=s) for s in range(R)], axis=0)
    assert np.abs(mean - symmetric_p0()).max() < 5 * 0.5 / np.sqrt(11 * R)


def test_sparse_policy_has_zeros_and_no_empty_row():
    P = sparse_p0()
    standard_model().check_policy(P, "P0")
    assert (P == 0).any() and ((P > 0).sum(axis=-1) >= 1).all()
    assert np.array_equal(P, sparse_p0())
    assert (sparse_p0(zero_share=0.0) > 0).all()


@pytest.mark.parametrize("kwargs, match", [
    ({"concentration": 0.0}, "concentration"),
    ({"lam": 1.0}, "lam"),
])
def test_dirichlet_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        dirichlet_p0(**kwargs)


def test_sparse_bad_share():
    with pytest.raises(ValueError, match="zero_share"):
        sparse_p0(zero_share=1.0)
