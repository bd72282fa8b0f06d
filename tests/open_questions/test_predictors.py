"""Predictors: scores against the closed form, the paper's criterion, threshold fitting."""

import itertools

import numpy as np
import pytest

from rlstar_theory.criteria import classify_start
from rlstar_theory.open_questions.outcomes import Outcome, run_to_outcome
from rlstar_theory.open_questions.predictors import (
    fit_threshold,
    paper_prediction,
    start_scores,
    threshold_accuracy,
    wilson_interval,
)
from rlstar_theory.symmetric import iterate_symmetric, symmetric_matrix


def test_scores_of_symmetric_models_are_the_closed_form():
    M = 7
    lams = np.array([[0.3, 0.0, 0.2], [0.5, 0.4, 0.1], [-0.05, 0.3, 0.6], [0.0, 0.0, 0.4]])
    P = np.stack([symmetric_matrix(lam, M) for lam in lams])
    s = start_scores(P)
    for b, lam in enumerate(lams):
        run = iterate_symmetric(lam, M, 1)
        others = [np.prod(np.delete(lam, n)) for n in range(3)]
        Lam = np.prod(lam)
        assert s["J0"][b] == pytest.approx(run.J[0], abs=1e-14)
        assert s["min_success"][b] == pytest.approx(run.J[0], abs=1e-14)
        assert s["lam_proj_min"][b] == pytest.approx(lam.min(), abs=1e-14)
        assert s["others_trace_min"][b] == pytest.approx(min(others), abs=1e-13)
        assert s["others_trace_max"][b] == pytest.approx(max(others), abs=1e-13)
        assert s["spectral_gap"][b] == pytest.approx(1 - abs(Lam), abs=1e-12)
        p1, p0 = run.diag_prob[1], run.diag_prob[0]
        assert s["conditioned_excess_min"][b] == pytest.approx((p1 - 1 / M).min(), abs=1e-13)
        assert s["lift_min"][b] == pytest.approx((p1 - p0).min(), abs=1e-13)


def test_paper_prediction_is_classify_start_of_the_projection():
    M = 5
    values = [0.0, 0.2, -0.1]
    lams = np.array(list(itertools.product(values, repeat=3)))
    P = np.stack([symmetric_matrix(lam, M) for lam in lams])
    P[:, :, 0, 0] += 1e-14  # projected weights within ZERO_TOL of 0 still count as 0
    P[:, :, 0, 1] -= 1e-14
    codes = paper_prediction(P)
    expected = [{True: 1, False: 0, None: -1}[classify_start(lam, M).converges]
                for lam in lams]
    np.testing.assert_array_equal(codes, expected)
    assert set(codes) == {-1, 0, 1}


def test_fit_threshold_is_the_best_cut():
    rng = np.random.default_rng(3)
    for _ in range(20):
        s = rng.integers(0, 6, size=25).astype(float)
        y = rng.random(25) < 0.5
        rule = fit_threshold(s, y)
        best = max(max(np.mean((s > c) == y), np.mean((s < c) == y))
                   for c in np.arange(-0.5, 6.0, 0.5))
        assert rule.train_accuracy == pytest.approx(best)
        assert np.mean(rule.predict(s) == y) == pytest.approx(best)


def test_fitted_boundary_holds_on_held_out_cells():
    # symmetric models: escape iff some step has Lam_{-n} > 0 (at most one zero step); fit the
    # boundary of conditioned_excess_min on half of the cells and test it on the other half
    M, N = 6, 3
    rng = np.random.default_rng(11)
    lams = []
    for n_zero in (0, 1, 2, 3):
        for _ in range(12):
            lam = rng.uniform(0.05, 0.5, N)
            lam[rng.permutation(N)[:n_zero]] = 0.0
            lams.append(lam)
    lams = np.array(lams)
    P = np.stack([symmetric_matrix(lam, M) for lam in lams])
    res = run_to_outcome("star", P, epsilon=0.01, iterations=300)
    escaped = res.outcome == Outcome.ESCAPED
    assert set(res.outcome) == {Outcome.ESCAPED, Outcome.FROZEN}
    score = start_scores(P)["conditioned_excess_min"]
    cells = rng.permutation(len(lams))
    train, test = cells[: len(cells) // 2], cells[len(cells) // 2:]
    rule = fit_threshold(score[train], escaped[train])
    acc, lo, hi, n = threshold_accuracy(rule, score[test], escaped[test])
    assert rule.train_accuracy == 1.0
    assert acc == 1.0 and n == len(test)
    assert lo < 1.0 == hi


def test_wilson_interval_known_values():
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert all(np.isnan(wilson_interval(0, 0)))


def test_fit_threshold_bad_input():
    with pytest.raises(ValueError, match="score"):
        fit_threshold([1.0, np.nan], [True, False])
    with pytest.raises(ValueError, match="same"):
        fit_threshold([1.0, 2.0], [True])
