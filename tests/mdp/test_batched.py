"""Batched exact engines: each model of a batch gets what the unbatched engine gives it."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlstar_theory import expected_return, posterior, star_step
from rlstar_theory.mdp import ChainMDP, metrics, success_probability
from rlstar_theory.mdp.batched import (
    answer_distribution_batched,
    answer_entropy_batched,
    exact_step_batched,
    expected_return_batched,
    greedy_correct_batched,
    maj_at_k_batched,
    pass_at_k_batched,
    policy_entropy_batched,
    posterior_batched,
    star_step_batched,
    success_probability_batched,
    support_size_batched,
    wrong_step_rate_batched,
)
from rlstar_theory.mdp.majority import maj_at_k
from rlstar_theory.rules.base import WeightedRule
from rlstar_theory.rules.registry import RULES, make_rule
from tests.strategies import (
    exact_from_weights,
    float_from_weights,
    matrix_weights,
    sizes,
    start_weights,
    truth_maps,
)

TOL = 1e-14


def random_batch(B, N, M, seed, zeros=True):
    """Policies with zero entries, and a state no trajectory reaches at step 1 in model 0
    (so row 0 of its step 2 gets no data) when N >= 2."""
    rng = np.random.default_rng(seed)
    P = rng.random((B, N, M, M)) ** 3
    if zeros:
        P[rng.random(P.shape) < 0.2] = 0.0
        P[..., 0] += 1e-3  # every row keeps some mass
        P[0, 0, :, 0] = 0.0
        P[0, 0, :, 1] += 0.5
    return P / P.sum(axis=-1, keepdims=True)


def truth_cases(B, N, M, seed):
    rng = np.random.default_rng(seed)
    perms = np.array([[rng.permutation(M) for _ in range(N)] for _ in range(B)])
    maps = rng.integers(0, M, (B, N, M))  # arbitrary maps: not bijective
    return {
        "identity": None,
        "shared permutation": perms[0],
        "shared map": maps[0],
        "per-model permutations": perms,
        "per-model maps": maps,
        "mixed": np.concatenate([perms[: B // 2], maps[B // 2:]]),
    }


def start_cases(B, M, seed):
    rng = np.random.default_rng(seed)
    per_model = rng.dirichlet(np.ones(M), B)
    per_model[0, 1] = 0.0  # a question without weight
    per_model[0] /= per_model[0].sum()
    return {"uniform": None, "shared": per_model[1], "per model": per_model}


def model_truth(truth, b):
    return None if truth is None else (truth if truth.ndim == 2 else truth[b])


def model_start(start, b):
    return None if start is None else (start if start.ndim == 1 else start[b])


@pytest.mark.parametrize("N", [1, 2, 5])
@pytest.mark.parametrize("truth_kind", list(truth_cases(2, 1, 2, 0)))
def test_batched_equals_separate_calls(N, truth_kind):
    B, M = 6, 5
    P = random_batch(B, N, M, seed=N)
    truth = truth_cases(B, N, M, seed=10 + N)[truth_kind]
    for start in start_cases(B, M, seed=20 + N).values():
        for tau in (1.0, 0.5):
            step = star_step_batched(P, truth, start, tau)
            post = posterior_batched(P, truth, start, tau)
            J = expected_return_batched(P, truth, start, tau)
            assert step.shape == (B, N, M, M) and J.shape == (B,)
            for b in range(B):
                args = (P[b], model_truth(truth, b), model_start(start, b), tau)
                np.testing.assert_allclose(step[b], star_step(*args), rtol=0, atol=TOL)
                one = posterior(*args)
                np.testing.assert_allclose(post.joint[b], one.joint, rtol=0, atol=TOL)
                assert abs(post.success[b] - one.success) <= TOL
                assert abs(J[b] - expected_return(*args)) <= TOL


def test_rows_without_data_keep_their_row():
    B, N, M = 3, 3, 4
    P = random_batch(B, N, M, seed=1)
    step = star_step_batched(P)
    # model 0: no trajectory is in state 0 after step 1, so row 0 of step 2 has no data
    assert posterior_batched(P).joint[0, 1, 0].sum() == 0
    np.testing.assert_array_equal(step[0, 1, 0], P[0, 1, 0])
    assert not np.allclose(step[1:, 1, 0], P[1:, 1, 0])


def test_success_probability_and_shared_policy():
    B, N, M = 4, 3, 6
    P = random_batch(B, N, M, seed=2)
    truth = truth_cases(B, N, M, seed=3)["per-model maps"]
    p = success_probability_batched(P, truth)
    for b in range(B):
        answers = ChainMDP.create(M, N, truth[b]).answers
        np.testing.assert_allclose(p[b], success_probability(P[b], answers), rtol=0, atol=TOL)
    # one policy under B different truths: the same as broadcasting it
    shared = np.broadcast_to(P[0], (B, N, M, M))
    J = expected_return_batched(shared, truth)
    for b in range(B):
        assert abs(J[b] - expected_return(P[0], truth[b])) <= TOL


@st.composite
def exact_batches(draw, max_B=3, max_M=3, max_N=3):
    """``B`` models of one size, as integer weights (exact and float copies)."""
    M, N = draw(sizes(max_M, max_N))
    B = draw(st.integers(1, max_B))
    w = np.stack([draw(matrix_weights(M, N)) for _ in range(B)])
    truth = np.stack([draw(truth_maps(M, N)) for _ in range(B)])
    sw = np.stack([np.array(draw(start_weights(M))) for _ in range(B)])
    return w, truth, sw


@settings(max_examples=30)
@given(exact_batches())
def test_exact_batch_equals_per_model_fractions(batch):
    w, truth, sw = batch
    P, D = exact_from_weights(w), exact_from_weights(sw)
    step = star_step_batched(P, truth, D)
    J = expected_return_batched(P, truth, D)
    passes = pass_at_k_batched(P, [1, 3], truth, D)
    for b in range(len(w)):
        assert (step[b] == star_step(P[b], truth[b], D[b])).all()
        assert J[b] == expected_return(P[b], truth[b], D[b])
        assert isinstance(J[b], Fraction)
        p = success_probability(P[b], ChainMDP.create(P.shape[-1], P.shape[1], truth[b]).answers)
        for i, k in enumerate([1, 3]):
            assert passes[b, i] == sum(D[b] * (1 - (1 - p) ** k))
    # the float batch agrees with the exact one
    Pf, Df = float_from_weights(w), float_from_weights(sw)
    np.testing.assert_allclose(star_step_batched(Pf, truth, Df), step.astype(float), rtol=0,
                               atol=TOL)


def test_exact_temperature_batch():
    w = np.array([[[[1, 2], [3, 1]], [[2, 2], [0, 1]]], [[[1, 0], [1, 1]], [[1, 3], [2, 1]]]])
    P = exact_from_weights(w)
    step = star_step_batched(P, temperature=Fraction(1, 2))
    for b in range(2):
        assert (step[b] == star_step(P[b], temperature=Fraction(1, 2))).all()


def test_metrics_equal_per_model_metrics():
    B, N, M = 4, 3, 5
    P = random_batch(B, N, M, seed=4)
    truth = truth_cases(B, N, M, seed=5)["mixed"]
    start = start_cases(B, M, seed=6)["per model"]
    ks = [1, 2, 5]
    q = answer_distribution_batched(P)
    passes = pass_at_k_batched(P, ks, truth, start)
    majs = maj_at_k_batched(P, ks, truth, start)
    greedy = greedy_correct_batched(P, truth)
    entropy = policy_entropy_batched(P)
    answer_entropy = answer_entropy_batched(P, start)
    support = support_size_batched(P)
    edges = posterior_batched(P, truth, start).joint
    wrong = wrong_step_rate_batched(edges, truth)
    for b in range(B):
        model = ChainMDP.create(M, N, truth[b], start[b])
        qb = metrics.answer_distribution(P[b])
        np.testing.assert_allclose(q[b], qb, rtol=0, atol=TOL)
        p = metrics.per_question_success(qb, model)
        np.testing.assert_allclose(passes[b], metrics.pass_at_k(p, start[b], ks), rtol=0,
                                   atol=TOL)
        np.testing.assert_allclose(majs[b], maj_at_k(qb, model.answers, ks) @ start[b],
                                   rtol=0, atol=TOL)
        np.testing.assert_array_equal(greedy[b], metrics.greedy_correct(P[b], model))
        assert abs(entropy[b] - metrics.policy_entropy(P[b])) <= TOL
        assert abs(answer_entropy[b] - metrics.answer_entropy(qb, start[b])) <= TOL
        assert support[b] == metrics.support_size(P[b])
        assert abs(wrong[b] - metrics.wrong_step_rate(edges[b], model)) <= TOL
    assert np.isnan(wrong_step_rate_batched(np.zeros((2, N, M, M)))).all()


WEIGHTED = [name for name, cls in RULES.items() if issubclass(cls, WeightedRule)]


@pytest.mark.parametrize("name", WEIGHTED)
def test_rule_exact_step_batched_equals_separate_steps(name):
    B, N, M = 3, 3, 4
    P = random_batch(B, N, M, seed=7)
    truth = truth_cases(B, N, M, seed=8)["shared map"]
    model = ChainMDP.create(M, N, truth, start=start_cases(B, M, 9)["shared"], train=[0, 1, 3])
    rule = make_rule(name)
    update = exact_step_batched(rule, P, model)
    for b in range(B):
        one = rule.exact_step(P[b], model)
        np.testing.assert_allclose(update.P[b], one.P, rtol=0, atol=TOL)
        np.testing.assert_allclose(update.train_edges[b], one.train_edges, rtol=0, atol=TOL)


def test_rule_exact_step_batched_fractions():
    w = np.array([[[[1, 2, 0], [3, 1, 1], [0, 0, 1]]] * 2, [[[2, 1, 1], [1, 1, 0], [1, 4, 1]]] * 2])
    P = exact_from_weights(w)
    model = ChainMDP.create(3, 2, truth=[[1, 0, 2], [0, 2, 1]], start=["1/2", "1/3", "1/6"])
    update = exact_step_batched(make_rule("star"), P, model)
    for b in range(2):
        assert (update.P[b] == make_rule("star").exact_step(P[b], model).P).all()


@pytest.mark.parametrize("name, options", [("ei-dedup", {}), ("sft", {}), ("ppo", {}),
                                           ("rcrl", {}), ("grpo", {"epochs": 2})])
def test_rules_without_batched_step_are_refused(name, options):
    model = ChainMDP.create(3, 2)
    P = np.full((2, 2, 3, 3), 1 / 3)
    with pytest.raises(ValueError, match="no batched exact step"):
        exact_step_batched(make_rule(name, **options), P, model)


def test_rule_batch_must_fit_the_model():
    with pytest.raises(ValueError, match=r"P must have shape \(B, N, M, M\) = \(B, 2, 3, 3\)"):
        exact_step_batched(make_rule("star"), np.full((2, 3, 3, 3), 1 / 3),
                           ChainMDP.create(3, 2))


def good_batch():
    return np.full((3, 2, 4, 4), 0.25)


@pytest.mark.parametrize("kwargs, pattern", [
    ({"P": np.full((2, 4, 4), 0.25)}, r"P must have shape \(B, N, M, M\)"),
    ({"P": np.full((3, 2, 4, 3), 1 / 3)}, r"P must have shape \(B, N, M, M\)"),
    ({"P": [["a"]]}, "P must be a numeric array"),
    ({"P": np.where(np.arange(4) == 0, np.nan, good_batch())}, "P must be finite"),
    ({"P": good_batch() + np.array([-0.3, 0.3, 0, 0])}, "P must have entries >= 0"),
    ({"P": good_batch() * np.where(np.arange(3) == 2, 1.01, 1.0)[:, None, None, None]},
     r"P: every row must sum to 1 .* model 2, step 1, row 0"),
    ({"truth": np.full((2, 4), 4)}, r"truth must hold state labels in \[0, M-1\] = \[0, 3\]"),
    ({"truth": np.zeros((3, 2, 4)) - 1}, r"truth .* model 0, step 1, state 0 maps to -1"),
    ({"truth": np.zeros((2, 2, 4), dtype=int)}, r"truth must have shape \(N, M\) = \(2, 4\)"),
    ({"truth": np.full((2, 4), 0.5)}, "truth must hold integer state labels"),
    ({"start": np.ones(4)}, r"start must sum to 1"),
    ({"start": np.array([[0.25] * 4, [0.25] * 4, [0.5, 0.5, 0.5, -0.5]])},
     "start must have finite entries >= 0"),
    ({"start": np.array([[0.25] * 4, [0.25] * 4, [0.5, 0.5, 0.5, 0.0]])},
     "model 2's start sums to 1.5"),
    ({"start": np.full(3, 1 / 3)}, r"start must have shape \(M,\) = \(4,\)"),
    ({"temperature": 0.0}, "temperature must be a finite number > 0"),
])
def test_bad_batches_name_the_argument(kwargs, pattern):
    args = {"P": good_batch(), "truth": None, "start": None, "temperature": 1.0, **kwargs}
    with pytest.raises(ValueError, match=pattern):
        star_step_batched(**args)


def test_bad_exact_batch_and_ks():
    P = exact_from_weights(np.ones((2, 1, 3, 3), dtype=int))
    P[1, 0, 2, 2] = Fraction(1, 2)
    with pytest.raises(ValueError, match="sum to exactly 1 .* model 1, step 1, row 2"):
        star_step_batched(P)
    with pytest.raises(ValueError, match="temperature must be 1/k"):
        star_step_batched(P[:1], temperature=0.4)
    with pytest.raises(ValueError, match="ks must be an integer >= 1"):
        pass_at_k_batched(good_batch(), [1, 0])


def test_memory_is_checked_before_allocating(monkeypatch):
    from rlstar_theory import validation

    monkeypatch.setattr(validation, "ALWAYS_ALLOWED_BYTES", 0)
    monkeypatch.setattr(validation, "memory_budget", lambda: 1000.0)
    with pytest.raises(ValueError, match="reduce the batch size B"):
        star_step_batched(good_batch())
