"""Each rule's samples to J >= target (Q3): STaR on symmetric models against the closed form, the
sample count convention, and the committed distribution against its summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rlstar_theory.claims.models import symmetric_p0
from rlstar_theory.open_questions.rule_samples import (
    RuleSamples,
    random_pretrained_models,
    rule_samples_to_target,
    samples_for_rule,
)
from rlstar_theory.symmetric import iterate_symmetric

DATA = Path(__file__).resolve().parents[2] / "figures" / "open_questions"


def test_star_on_symmetric_models_hits_when_the_closed_form_does():
    lams = [0.15, 0.3, 0.6]
    P = np.stack([symmetric_p0(6, 3, lam) for lam in lams])
    hit, final_J, per_iteration = samples_for_rule("star", P, target=0.9, max_iterations=40)
    expected = [int(np.argmax(iterate_symmetric(np.full(3, lam), 6, 40).J >= 0.9))
                for lam in lams]
    np.testing.assert_array_equal(hit, expected)
    assert per_iteration == 16 * 6  # K = 16 nominal samples for each of the 6 questions
    assert np.all(final_J >= 0.9)


def test_a_model_that_never_gets_there_has_infinite_samples():
    P = np.stack([symmetric_p0(6, 3, 0.0), symmetric_p0(6, 3, 0.5)])  # lam = 0: a fixed point
    hit, _, _ = samples_for_rule("star", P, max_iterations=30)
    assert hit[0] == -1 and hit[1] > 0


def test_random_models_are_reproducible_and_valid():
    P, lam = random_pretrained_models(5, seed=3)
    Q, lam2 = random_pretrained_models(5, seed=3)
    np.testing.assert_array_equal(P, Q)
    np.testing.assert_array_equal(lam, lam2)
    assert P.shape == (5, 3, 6, 6) and np.allclose(P.sum(-1), 1) and (P > 0).all()
    assert np.all((0.1 <= lam) & (lam <= 0.5))
    with pytest.raises(ValueError, match="lam_range"):
        random_pretrained_models(2, lam_range=(0.5, 0.1))


def test_small_comparison_and_its_dataset_round_trip():
    result = rule_samples_to_target(["star", "grpo"], models=6, max_iterations=30)
    finite = np.isfinite(result.samples)
    np.testing.assert_array_equal(result.samples[finite],
                                  (result.hit_iteration * result.per_iteration[:, None])[finite])
    assert np.all(result.hit_iteration[~finite] == -1)
    back = RuleSamples.from_dataset(result.to_dataset())
    np.testing.assert_array_equal(back.samples, result.samples)
    assert back.rules == ("star", "grpo")
    q = result.quantiles()
    assert set(q) == {"star", "grpo"} and 0 <= q["star"]["reached"] <= 1


@pytest.mark.skipif(not (DATA / "rule_samples.json").exists(), reason="no committed data")
def test_committed_distribution_matches_its_summary():
    from rlstar_theory.sweeps.results import load_results

    summary = json.loads((DATA / "rule_samples.json").read_text())
    result = RuleSamples.from_dataset(load_results(DATA / "rule_samples.nc"))
    assert result.samples.shape[1] == summary["models"] == 1000
    for rule, entry in result.quantiles().items():
        assert entry["reached"] == pytest.approx(summary["rules"][rule]["reached"], abs=1e-9)
        for q, value in entry["quantiles"].items():
            stored = summary["rules"][rule]["quantiles"][q]
            assert (stored is None and not np.isfinite(value)) or value == pytest.approx(stored)
