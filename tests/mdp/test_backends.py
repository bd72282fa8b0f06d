"""The exact engines on numpy and on torch (CPU, float64) through array-api-compat agree."""

import sys

import numpy as np
import pytest

from rlstar_theory.mdp import backward_values, forward_products, success_edges
from rlstar_theory.mdp.batched import (
    answer_entropy_batched,
    expected_return_batched,
    greedy_correct_batched,
    pass_at_k_batched,
    policy_entropy_batched,
    posterior_batched,
    star_step_batched,
    success_probability_batched,
    support_size_batched,
    wrong_step_rate_batched,
)
from rlstar_theory.mdp.exact import success_probability

torch = pytest.importorskip("torch")
pytest.importorskip("array_api_compat")

TOL = 1e-12


def batch(B=4, N=3, M=5, seed=0):
    rng = np.random.default_rng(seed)
    P = rng.random((B, N, M, M)) ** 3
    P[rng.random(P.shape) < 0.2] = 0.0
    P[..., 0] += 1e-3
    P /= P.sum(axis=-1, keepdims=True)
    truth = np.concatenate([
        np.array([[rng.permutation(M) for _ in range(N)] for _ in range(B // 2)]),
        rng.integers(0, M, (B - B // 2, N, M)),
    ])
    start = rng.dirichlet(np.ones(M), B)
    return P, truth, start


def close(tensor, array):
    assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float64
    np.testing.assert_allclose(tensor.numpy(), array, rtol=0, atol=TOL)


@pytest.mark.parametrize("answers_kind", ["identity", "shared", "per model"])
def test_kernels_agree(answers_kind):
    P, truth, start = batch()
    B, N, M = P.shape[:3]
    rng = np.random.default_rng(1)
    answers = {"identity": np.arange(M), "shared": rng.permutation(M),
               "per model": rng.integers(0, M, (B, M))}[answers_kind]
    Pt = torch.from_numpy(P)
    identity = answers_kind == "identity"
    close(success_edges(Pt, torch.from_numpy(start), torch.from_numpy(answers), identity),
          success_edges(P, start, answers, identity))
    # weights and answers given as numpy arrays are moved to the tensor's device
    close(success_edges(Pt, start, answers, identity), success_edges(P, start, answers, identity))
    close(success_probability(Pt, answers), success_probability(P, answers))
    close(forward_products(Pt), forward_products(P))
    close(backward_values(Pt, answers), backward_values(P, answers))


@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_batched_engines_agree(tau):
    P, truth, start = batch(seed=2)
    Pt = torch.from_numpy(P)
    for t in (truth, torch.from_numpy(truth), None):
        close(star_step_batched(Pt, t, start, tau), star_step_batched(P, t, start, tau))
        close(expected_return_batched(Pt, t, start, tau),
              expected_return_batched(P, t, start, tau))
        post_t, post = posterior_batched(Pt, t, start, tau), posterior_batched(P, t, start, tau)
        close(post_t.joint, post.joint)
        close(post_t.success, post.success)
    close(success_probability_batched(Pt, truth), success_probability_batched(P, truth))
    close(pass_at_k_batched(Pt, [1, 4], truth, start), pass_at_k_batched(P, [1, 4], truth, start))


def test_metrics_agree():
    P, truth, start = batch(seed=3)
    Pt = torch.from_numpy(P)
    close(policy_entropy_batched(Pt), policy_entropy_batched(P))
    close(answer_entropy_batched(Pt, start), answer_entropy_batched(P, start))
    edges = posterior_batched(P, truth).joint
    close(wrong_step_rate_batched(torch.from_numpy(edges), truth),
          wrong_step_rate_batched(edges, truth))
    assert (support_size_batched(Pt).numpy() == support_size_batched(P)).all()
    assert (greedy_correct_batched(Pt, truth).numpy() == greedy_correct_batched(P, truth)).all()


def test_float32_tensors_run_in_float32():
    P, truth, start = batch(seed=4)
    P32 = torch.from_numpy(P).to(torch.float32)
    P32 = P32 / P32.sum(dim=-1, keepdim=True)  # rows off by float32 rounding: accepted
    step = star_step_batched(P32, truth, start)
    assert step.dtype == torch.float32
    np.testing.assert_allclose(step.numpy(), star_step_batched(P, truth, start), atol=1e-5)


def test_bad_tensors_name_the_argument():
    with pytest.raises(ValueError, match="P must hold real floating-point numbers"):
        star_step_batched(torch.ones((2, 1, 3, 3), dtype=torch.int64))
    P = torch.full((2, 1, 3, 3), 1 / 3, dtype=torch.float64)
    P[1, 0, 2, 2] = float("nan")
    with pytest.raises(ValueError, match="P must be finite"):
        star_step_batched(P)
    P[1, 0, 2, 2] = 0.5
    with pytest.raises(ValueError, match="model 1, step 1, row 2 sums to"):
        star_step_batched(P)


def test_numpy_never_needs_array_api_compat(monkeypatch):
    P, truth, start = batch(seed=5)
    expected = star_step_batched(P, truth, start)
    monkeypatch.setitem(sys.modules, "array_api_compat", None)  # import fails from now on
    np.testing.assert_array_equal(star_step_batched(P, truth, start), expected)
    with pytest.raises(ValueError, match=r"need array-api-compat; install with .*\[array\]"):
        star_step_batched(torch.from_numpy(P))
