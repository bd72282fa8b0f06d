"""Markov versus history-conditioned STaR (Q2): the per-question spurious-step rate against brute
force and against the Markov one, and the comparison's exact properties."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from rlstar_theory.mdp.history_policy import history_from_markov
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.mdp.spurious import spurious_steps
from rlstar_theory.open_questions.markov_vs_history import (
    compare_classes,
    dirichlet_around_truth,
    history_spurious_steps,
    random_truth,
    run_markov_vs_history,
)

DATA = Path(__file__).resolve().parents[2] / "figures" / "open_questions"


def test_shared_tables_give_the_markov_spurious_rates():
    gen = np.random.default_rng(0)
    truth = random_truth(5, 3, "merging", gen)
    P = dirichlet_around_truth(truth, 0.3, 2.0, gen)
    P[2, 1], P[1, 3] = np.eye(5)[2], np.eye(5)[0]  # deterministic rows: some answers unreachable
    model = ChainMDP.create(5, 3, truth=truth, train=[0, 3])
    H = history_from_markov(P)
    for split in ("train", "test"):
        a, b = history_spurious_steps(H, model, split), spurious_steps(P, model, split)
        np.testing.assert_allclose(a.spurious, b.spurious, atol=1e-13)
        np.testing.assert_allclose(a.off_gold, b.off_gold, atol=1e-13)
        np.testing.assert_allclose(a.recovered, b.recovered, atol=1e-13)


def test_history_spurious_rate_by_enumerating_paths():
    M, N = 3, 2
    gen = np.random.default_rng(1)
    truth = random_truth(M, N, "merging", gen)
    model = ChainMDP.create(M, N, truth=truth)
    H = gen.dirichlet(np.ones(M), size=(M, N, M))
    H[:, :, :, 0] *= gen.random((M, N, M)) < 0.5  # sparse tables: reachability matters
    H /= H.sum(-1, keepdims=True)
    gold = model.gold_edges()

    def reach(s0, n, s):  # can question s0 still end at its answer from S_n = s?
        if n == N:
            return s == model.answers[s0]
        return any(H[s0, n, s, t] > 0 and reach(s0, n + 1, t) for t in range(M))

    expected = np.zeros(N)
    for s0 in range(M):
        for path in itertools.product(range(M), repeat=N):
            states = (s0,) + path
            prob = np.prod([H[s0, n, states[n], states[n + 1]] for n in range(N)])
            for n in range(N):
                s, t = states[n], states[n + 1]
                if not gold[n, s, t] and reach(s0, n + 1, t):
                    expected[n] += prob / M
    np.testing.assert_allclose(history_spurious_steps(H, model).spurious, expected, atol=1e-14)


def test_compare_classes_exact_properties():
    gen = np.random.default_rng(2)
    truth = random_truth(4, 3, "merging", gen)
    P0 = dirichlet_around_truth(truth, 0.3, 10.0, gen)
    model = ChainMDP.create(4, 3, truth=truth, train=[1, 2])
    out = compare_classes(P0, model, iterations=1)
    # one STaR step on per-question tables is the posterior given success: every training
    # question then succeeds with probability 1
    assert out["history_projection"]["train_J"] == pytest.approx(1.0, abs=1e-12)
    # the memoriser answers held-out questions with P0 itself
    assert out["history_pretrained"]["test_J"] == out["pretrained"]["test_J"]
    assert out["history_pretrained"]["test_spurious"] == out["pretrained"]["test_spurious"]
    full = compare_classes(P0, ChainMDP.create(4, 3, truth=truth), iterations=2)
    assert np.isnan(full["markov"]["test_J"]) and np.isnan(full["markov"]["test_spurious"])


def test_truth_and_model_families():
    bij = random_truth(5, 2, "bijective", 0)
    np.testing.assert_array_equal(bij, np.tile(np.arange(5), (2, 1)))
    merging = random_truth(50, 2, "merging", 0)
    assert len(np.unique(merging[0])) < 50  # a random map is almost never a bijection
    P = dirichlet_around_truth(merging, 0.5, 1e6, 0)  # concentrated: close to the centre
    assert np.allclose(P.sum(-1), 1)
    assert np.allclose(P[0, np.arange(50), merging[0]], 0.5 + 0.5 / 50, atol=0.01)
    with pytest.raises(ValueError, match="kind"):
        random_truth(3, 2, "nope")
    with pytest.raises(ValueError, match="lam"):
        dirichlet_around_truth(bij, 1.0)


def test_run_labels_every_train_fraction():
    ds = run_markov_vs_history(M=3, N=2, models=2, iterations=2, progress=False)
    assert ds["train_J"].dims == ("truth", "train_fraction", "model", "family")
    assert ds["train_fraction"].values.tolist() == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert np.isnan(ds["test_J"].sel(train_fraction=1.0)).all()
    assert np.isfinite(ds["test_J"].isel(train_fraction=0)).all()


@pytest.mark.skipif(not (DATA / "markov_vs_history.json").exists(), reason="no committed data")
def test_committed_summary_matches_the_data():
    from rlstar_theory.sweeps.results import load_results

    ds = load_results(DATA / "markov_vs_history.nc")
    summary = json.loads((DATA / "markov_vs_history.json").read_text())
    mean = ds["test_J"].sel(truth="merging", family="markov").mean("model").values
    stored = np.array(summary["merging"]["markov"]["test_J"]["mean"], dtype=float)
    np.testing.assert_allclose(mean[:-1], stored[:-1], rtol=1e-5)
