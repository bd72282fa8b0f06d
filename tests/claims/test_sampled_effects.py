"""Sampled-mode claims: every measurement runs on small settings and gives a valid Measurement,
and every verdict rule says what its inputs say (including FAILS)."""

import json
import math

import numpy as np
import pytest
from matplotlib.axes import Axes

from rlstar_theory.claims import CLAIMS, load_claim_modules
from rlstar_theory.claims import sampled_effects as se
from rlstar_theory.claims.models import dirichlet_p0, standard_model
from rlstar_theory.claims.registry import CONDITIONAL, FAILS, HOLDS, VERDICTS, Measurement
from rlstar_theory.figures.style import new_figure

KEYS = ("fisft-minus-collapse", "nsr-keeps-pass-at-k", "support-never-grows",
        "entropy-performance-law", "spurious-reward-clipping")


def _check(m: Measurement, panels: int) -> None:
    assert isinstance(m, Measurement) and m.verdict in VERDICTS
    assert m.setting and m.reason
    assert any(ch.isdigit() for ch in m.reason)  # the reason quotes numbers
    json.dumps(m.numbers)  # JSON-ready (NaN allowed: the writers turn it into null)
    axes = m.plot()
    assert len(axes) == panels and all(isinstance(a, Axes) and a.has_data() for a in axes)
    fig = new_figure(3 * panels, 2)
    given = fig.subplots(1, panels, squeeze=False)[0]
    assert list(m.plot(ax=given)) == list(given)


def test_the_module_registers_its_claims():
    load_claim_modules()
    for key in KEYS:
        assert key in CLAIMS and "arXiv" in CLAIMS[key].source


def test_fisft_minus_collapse_runs():
    m = se.fisft_minus_collapse(Ks=(2, 4), epochs=(1, 8), seeds=(0, 1), iterations=3)
    _check(m, 2)
    cell = m.numbers["cells"]["fisft- K=2 E=8"]
    assert 0.0 <= cell["collapse_share"] <= 1.0 and 0.0 <= cell["J_final_mean"] <= 1.0
    assert set(m.numbers["collapse_share_fisft-_small_K"]) == {"8"}
    with pytest.raises(ValueError, match="epochs"):
        se.fisft_minus_collapse(Ks=(2,), epochs=(1,), seeds=(0, 1), iterations=1)


def test_nsr_psr_pass_at_k_runs():
    m = se.nsr_psr_pass_at_k(cells=((10.0, 4),), ks=(1, 16), seeds=(0, 1), iterations=3)
    _check(m, 1)
    row = m.numbers["cells"]["lr=10.0 K=4"]
    assert set(row["fisft-"]["delta_mean"]) == {"1", "16"}
    with pytest.raises(ValueError, match="ks must contain 1"):
        se.nsr_psr_pass_at_k(cells=((1.0, 4),), ks=(4, 16), seeds=(0, 1), iterations=1)


def test_support_never_grows_runs_and_the_structural_facts_hold():
    m = se.support_never_grows(seeds=(0, 1), iterations=4)
    _check(m, 2)
    n = m.numbers
    # these follow from the rules' definitions (ALGORITHMS.md §0.5 F7), whatever the seed
    assert n["never_grows"] and n["gradient_keeps"] and n["sft_adds"]
    assert n["rules"]["sft"]["support_max"] > n["support_P0"]


def test_entropy_performance_law_runs():
    m = se.entropy_performance_law(rules=("grpo", "star"), seeds=(0, 1), iterations=6)
    _check(m, 2)
    assert set(m.numbers["rules"]) == {"grpo", "star"}


def test_spurious_reward_clipping_runs():
    m = se.spurious_reward_clipping(epochs=(4,), seeds=(0, 1, 2), iterations=3)
    _check(m, 2)
    cell = m.numbers["cells"]["epochs=4"]
    assert len(cell["mode_drift_clipped"]) == 2 and math.isfinite(cell["z_difference"])


# --- verdict rules on synthetic numbers --------------------------------------------------------

def test_collapse_verdict():
    assert se.collapse_verdict([0.5, 0.75, 1.0]) == HOLDS
    assert se.collapse_verdict([0.25, 0.75]) == CONDITIONAL
    assert se.collapse_verdict([0.0, 0.25, 0.49]) == FAILS
    assert se.collapse_verdict([0.3], threshold=0.25) == HOLDS


def test_pass_at_k_halves():
    se_small = np.full(3, 0.01)
    # negatives only: kept unless a change is below -2 s.e. (and below -PASS_FLOOR)
    assert se.nsr_keeps_pass([0.2, 0.0, -0.015], se_small)
    assert not se.nsr_keeps_pass([0.2, 0.0, -0.03], se_small)
    assert se.nsr_keeps_pass([0.1, -0.0005, -0.0009], np.zeros(3))  # under the floor
    assert not se.nsr_keeps_pass([0.1, 0.0, -0.002], np.zeros(3))
    # positives only: pass@1 up and the largest-k pass@k down, both beyond the tolerance
    assert se.psr_trades_pass([0.3, 0.1, -0.05], se_small)
    assert not se.psr_trades_pass([0.3, 0.1, -0.01], se_small)
    assert not se.psr_trades_pass([0.015, 0.1, -0.05], se_small)
    assert np.allclose(se.pass_tolerance([0.0, 0.01]), [se.PASS_FLOOR, 0.02])


def test_support_verdict():
    assert se.support_verdict(True, True, True) == HOLDS
    assert se.support_verdict(True, False, True) == CONDITIONAL
    assert se.support_verdict(True, True, False) == CONDITIONAL
    assert se.support_verdict(False, True, True) == FAILS


def test_entropy_law_verdict():
    assert se.entropy_law_verdict([0.95, 0.9]) == HOLDS
    assert se.entropy_law_verdict([0.95, 0.5]) == CONDITIONAL
    assert se.entropy_law_verdict([0.2, float("nan")]) == FAILS
    assert se.entropy_law_verdict([0.85], threshold=0.8) == HOLDS


def test_clipping_drift_verdict():
    assert se.clipping_drift_verdict([3.0, 2.5], [2.1, 4.0]) == HOLDS
    assert se.clipping_drift_verdict([3.0, -1.0], [2.1, 4.0]) == CONDITIONAL
    # clipping damps a drift away from the mode: relative effect without a drift towards it
    assert se.clipping_drift_verdict([-1.9, -1.8], [2.6, 5.0]) == FAILS
    # a drift towards the mode that clipping does not explain
    assert se.clipping_drift_verdict([4.0], [0.5]) == FAILS
    with pytest.raises(ValueError):
        se.clipping_drift_verdict([1.0, 2.0], [1.0])


# --- measurement helpers ---------------------------------------------------------------------

def test_fit_entropy_law_recovers_the_law_and_flags_too_few_points():
    H = np.linspace(1.5, 0.2, 12)
    fit = se.fit_entropy_law(H, -0.3 * np.exp(H) + 1.2)
    assert fit.a == pytest.approx(0.3, abs=1e-12) and fit.b == pytest.approx(1.2, abs=1e-12)
    assert fit.r2 == pytest.approx(1.0, abs=1e-12) and fit.ceiling == pytest.approx(0.9)
    # a J that does not follow exp(H) fits badly: J rises then falls as H falls
    bad = se.fit_entropy_law(H, np.sin(np.linspace(0, np.pi, 12)))
    assert bad.r2 < 0.1
    assert math.isnan(se.fit_entropy_law(H[:se.MIN_FIT_POINTS - 1],
                                         np.arange(se.MIN_FIT_POINTS - 1.0)).r2)
    assert math.isnan(se.fit_entropy_law(H, np.full(12, 0.4)).r2)
    with pytest.raises(ValueError, match="same length"):
        se.fit_entropy_law(H, H[:-1])


def test_moving_prefix_stops_at_the_last_change():
    H = np.array([1.0, 0.8, 0.7, 0.7, 0.7])
    J = np.array([0.1, 0.3, 0.5, 0.5, 0.5])
    assert se._moving_prefix(H, J) == 3
    assert se._moving_prefix(np.ones(4), np.zeros(4)) == 1


def test_mode_probability_matches_a_loop():
    P = dirichlet_p0(seed=3)
    mode = P.argmax(axis=-1)
    expected = np.mean([P[n, s, mode[n, s]] for n in range(P.shape[0])
                        for s in range(P.shape[1])])
    assert se.mode_probability(P, mode) == pytest.approx(expected, abs=1e-15)
    stacked = se.mode_probability(np.stack([P, P]), mode)
    assert stacked.shape == (2,) and np.allclose(stacked, expected)


def test_spurious_reward_exact_step_does_not_move():
    # the premise of claim 5: with a Bernoulli(1/2) reward the expected update is zero
    from rlstar_theory.rules import make_rule

    model, P0 = standard_model(), dirichlet_p0()
    for eps in (0.2, np.inf):
        rule = make_rule("ppo", eps_clip=eps, epochs=4, reward="bernoulli", lr=5.0)
        assert np.allclose(rule.exact_step(P0, model, P0).P, P0, atol=1e-12)
