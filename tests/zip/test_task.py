"""The zip task: token strings, valid states, ground-truth bijections (numpy only)."""

import numpy as np
import pytest

from rlstar_theory.zip.task import TOKENS, ZipTask, state_tokens, zip_move


def test_paper_strings_for_n3():
    a, b = 0b101, 0b110
    assert " ".join(state_tokens(a, b, 3, 0)) == "[x] 1 0 1 [.] 1 1 0"
    assert " ".join(state_tokens(a, b, 3, 1)) == "[x] 1 0 [.] 1 1 [y] 1 0"
    assert " ".join(state_tokens(a, b, 3, 2)) == "[x] 1 [.] 1 [y] 0 1 [.] 1 0"
    assert " ".join(state_tokens(a, b, 3, 3)) == "[x] [.] [y] 1 1 [.] 0 1 [.] 1 0"


@pytest.mark.parametrize("n", [1, 2, 3])
def test_sizes_and_distinct_states(n):
    task = ZipTask(n)
    assert (task.M, task.N) == (4**n, n)
    for k in range(n + 1):
        states = task.states(k)
        assert len(set(states)) == task.M
        assert len({len(s) for s in states}) == 1  # fixed format per step
        assert all(tok in TOKENS for s in states for tok in s)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_truth_is_a_bijection_and_identity_under_the_index_convention(n):
    task = ZipTask(n)
    truth = task.truth()
    assert truth.shape == (n, 4**n)
    for g in truth:
        assert sorted(g.tolist()) == list(range(task.M))  # bijection
    np.testing.assert_array_equal(truth, np.tile(np.arange(task.M), (n, 1)))
    # the final state holds both numbers, zipped
    for q in range(task.M):
        s = task.states(0)[q]
        for _ in range(n):
            s = zip_move(s)
        assert s == task.states(n)[q]


def test_string_index_round_trip():
    task = ZipTask(2)
    for k in range(3):
        for q in range(task.M):
            toks = task.to_tokens(k, q)
            assert task.to_index(k, toks) == q
            assert task.to_index(k, " ".join(toks)) == q
    ids = task.ids(1)
    assert ids.shape == (16, len(task.states(1)[0]))


def test_bad_inputs():
    with pytest.raises(ValueError, match="n_bits"):
        ZipTask(0)
    task = ZipTask(2)
    with pytest.raises(ValueError, match="step"):
        task.states(3)
    with pytest.raises(ValueError, match="valid step-1 state"):
        task.to_index(1, "[x] 0 [.] 1")
    with pytest.raises(ValueError, match="no digit pair"):
        zip_move(task.states(2)[0])


@pytest.mark.parametrize("n", [0, 5, 2.0, True, "2"])
def test_n_bits_is_an_integer_in_1_to_4(n):
    with pytest.raises(ValueError, match=r"n_bits must be an integer in 1\.\.4 \(digits per "
                                         r"number; M = 4\*\*n states\)"):
        ZipTask(n)
    assert ZipTask(np.int64(2)).n_bits == 2 and type(ZipTask(np.int64(2)).n_bits) is int
