"""ChainMDP: validated once, with answers, gold chains, splits and weights."""

from fractions import Fraction

import numpy as np
import pytest

from rlstar_theory.mdp import ChainMDP, split_questions


def test_answers_and_gold_chain_follow_the_truth_maps():
    truth = np.array([[1, 2, 0], [0, 0, 1]])
    model = ChainMDP.create(3, 2, truth)
    np.testing.assert_array_equal(model.gold, [[0, 1, 0], [1, 2, 1], [2, 0, 0]])
    np.testing.assert_array_equal(model.answers, [0, 1, 0])
    assert not model.identity
    assert model.gold_edges()[0, 0, 1] and not model.gold_edges()[0, 0, 0]


def test_weights_restrict_and_renormalise_by_split():
    model = ChainMDP.create(4, 1, start=["1/2", "1/4", "1/8", "1/8"], train=[0, 2])
    assert list(model.weights("train", exact=True)) == [Fraction(4, 5), 0, Fraction(1, 5), 0]
    np.testing.assert_allclose(model.weights("test"), [0, 2 / 3, 0, 1 / 3])
    np.testing.assert_allclose(model.weights("all"), [0.5, 0.25, 0.125, 0.125])
    assert model.has_test


def test_no_split_means_every_question_trains():
    model = ChainMDP.create(3, 2)
    assert model.train.all() and not model.has_test
    assert model.weights("test").sum() == 0


@pytest.mark.parametrize("kwargs, match", [
    ({"M": 1, "N": 2}, "M must be"),
    ({"M": 3, "N": 0}, "N must be"),
    ({"M": 3, "N": 1, "train": [5]}, "train indices"),
    ({"M": 3, "N": 1, "train": [False] * 3}, "at least one"),
    ({"M": 3, "N": 1, "start": [1, 0]}, "start"),
    ({"M": 3, "N": 1, "truth": [[0, 1, 3]]}, "truth"),
])
def test_bad_models_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ChainMDP.create(**kwargs)


def test_check_policy_shape_and_exactness():
    model = ChainMDP.create(2, 1, start=[0.5, 0.5])
    with pytest.raises(ValueError, match=r"shape \(N, M, M\) = \(1, 2, 2\)"):
        model.check_policy(np.full((2, 2, 2), 0.5))
    exact = np.array([[[Fraction(1, 2)] * 2] * 2], dtype=object)
    with pytest.raises(ValueError, match="exact start"):
        model.check_policy(exact)
    assert ChainMDP.create(2, 1).check_policy(exact).dtype == object


def test_split_questions_is_seeded_and_sized():
    a, b = split_questions(10, 0.3, rng=4), split_questions(10, 0.3, rng=4)
    np.testing.assert_array_equal(a, b)
    assert a.sum() == 3
    with pytest.raises(ValueError, match="train_fraction"):
        split_questions(10, 0)
