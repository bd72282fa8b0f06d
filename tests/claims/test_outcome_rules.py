"""Outcome-rule claims (issue 10 §5): every measurement runs and gives a valid Measurement, and
every verdict rule says what its inputs say (HOLDS, CONDITIONAL and FAILS)."""

import json

import numpy as np
import pytest
from matplotlib.axes import Axes

from rlstar_theory.claims import CLAIMS, load_claim_modules
from rlstar_theory.claims import _outcome_runs as runs
from rlstar_theory.claims import outcome_havrilla as hv
from rlstar_theory.claims import outcome_passk as pk
from rlstar_theory.claims import outcome_weights as wt
from rlstar_theory.claims.registry import CONDITIONAL, FAILS, HOLDS, VERDICTS, Measurement
from rlstar_theory.figures.style import new_figure
from rlstar_theory.mdp.exact import success_edges, success_probability
from rlstar_theory.mdp.metrics import pass_at_k
from rlstar_theory.mdp.operator import gradient

#: claim key -> number of figure panels
PANELS = {
    "ei-ppo-sample-complexity": 2, "rl-vs-sft-maj1-pass96": 2, "ei-rcrl-competitive-with-ppo": 4,
    "rl-maj-not-pass": 4, "pass-at-k-crossover": 2, "grpo-vs-fisft": 4,
    "grpo-std-reweighting": 2, "psr-nsr-differ-only-by-weight": 1, "log-vs-arcsin-ascent": 2,
}


def _check(m: Measurement, panels: int) -> None:
    assert isinstance(m, Measurement) and m.verdict in VERDICTS
    assert m.setting and m.reason and any(ch.isdigit() for ch in m.reason)
    json.dumps(m.numbers, allow_nan=False)
    axes = m.plot()
    assert len(axes) == panels and all(isinstance(a, Axes) and a.has_data() for a in axes)
    given = new_figure(3 * panels, 2).subplots(1, panels, squeeze=False)[0]
    assert list(m.plot(ax=given)) == list(given)


def test_the_modules_register_their_claims():
    load_claim_modules()
    for key in PANELS:
        assert key in CLAIMS
    for key in set(PANELS) - {"psr-nsr-differ-only-by-weight"}:
        assert "arXiv" in CLAIMS[key].source


@pytest.mark.parametrize("key", list(PANELS))
def test_each_claim_measures(key):
    load_claim_modules()
    _check(CLAIMS[key].measure(), PANELS[key])


# ------------------------------------------------------------------ shared verdict helpers

def test_case_verdict_and_description():
    assert runs.case_verdict({"a": True, "b": True}) == HOLDS
    assert runs.case_verdict({"a": True, "b": False}) == CONDITIONAL
    assert runs.case_verdict({"a": False}) == FAILS
    with pytest.raises(ValueError, match="cases"):
        runs.case_verdict({})
    text = runs.describe_cases({"a": True, "b": False, "c": True})
    assert text == "holds in 2 of 3 cases (a, c); fails in b"
    assert "and 1 more" in runs.describe_cases({str(i): True for i in range(3)}, limit=2)


def test_rounded_keeps_structure_and_rounds_floats():
    out = runs.rounded({"x": 1 / 3, "n": np.int64(4), "v": np.array([2 / 3]), "m": None,
                        "b": np.bool_(True)})
    assert out == {"x": 0.333333, "n": 4, "v": [0.666667], "m": None, "b": True}


def test_pretrained_names_are_checked():
    with pytest.raises(ValueError, match="pretrained policy must be one of"):
        runs.pretrained("nope")


# ---------------------------------------------------------------- claim 1: samples close

def test_samples_close_is_a_factor_band():
    assert hv.samples_close(100, 150) and hv.samples_close(100, 50) and hv.samples_close(100, 200)
    assert not hv.samples_close(100, 201) and not hv.samples_close(100, 49)
    assert not hv.samples_close(None, 100) and not hv.samples_close(100, None)


def test_typical_samples_is_the_median_with_unreached_as_infinite():
    assert hv.typical_samples([100, None, 200]) == 200
    assert hv.typical_samples([100, 300, 200]) == 200
    assert hv.typical_samples([None, None, 100]) is None
    with pytest.raises(ValueError, match="values"):
        hv.typical_samples([])


def test_sample_complexity_verdicts():
    close = {"a": (100, 150), "b": (400, 300)}
    far = {"c": (100, 1000), "d": (None, 100)}
    assert runs.case_verdict(hv.sample_complexity_cases(close)) == HOLDS
    assert runs.case_verdict(hv.sample_complexity_cases({**close, **far})) == CONDITIONAL
    assert runs.case_verdict(hv.sample_complexity_cases(far)) == FAILS


# ---------------------------------------------------------- claim 2: maj@1 and pass@96

def _row(kind, greedy=(0.2, 0.8), J=(0.2, 0.7), pass96=(0.9, 0.95)):
    return {"kind": kind, "greedy_before": greedy[0], "greedy_after": greedy[1],
            "J_before": J[0], "J_after": J[1], "pass96_before": pass96[0],
            "pass96_after": pass96[1]}


def test_maj_pass_cases_follow_the_claim():
    rows = {
        "m: rl up": _row("rl"),
        "m: rl pass saturated": _row("rl", pass96=(1.0, 0.9995)),
        "m: rl pass down": _row("rl", pass96=(0.9, 0.8)),
        "m: rl greedy down": _row("rl", greedy=(0.8, 0.6)),
        "m: rl greedy stays at one": _row("rl", greedy=(1.0, 1.0)),
        "m: sft trade-off": _row("sft", pass96=(0.9, 0.8)),
        "m: sft no trade-off": _row("sft"),
    }
    cases = hv.maj_pass_cases(rows)
    assert cases == {"m: rl up": True, "m: rl pass saturated": True, "m: rl pass down": False,
                     "m: rl greedy down": False, "m: rl greedy stays at one": True,
                     "m: sft trade-off": True, "m: sft no trade-off": False}
    with pytest.raises(ValueError, match="kind"):
        hv.maj_pass_cases({"x": _row("other")})


def test_per_policy_cases_need_every_run_of_a_policy():
    grouped = hv.per_policy_cases({"a: ei": True, "a: sft": False, "b: ei": True, "b: sft": True})
    assert grouped == {"a": False, "b": True}
    assert runs.case_verdict(grouped) == CONDITIONAL


# -------------------------------------------------------- claim 3: competitive with PPO

def test_competitive_cases_use_the_margin_and_the_seed_error():
    finals = {"better": (0.9, 0.8, 0.0), "just within": (0.79, 0.8, 0.0),
              "behind": (0.7, 0.8, 0.0), "behind but noisy": (0.7, 0.8, 0.05)}
    assert hv.competitive_cases(finals, margin=0.02) == {
        "better": True, "just within": True, "behind": False, "behind but noisy": True}


# ------------------------------------------------------- claim 4: maj@k but not pass@k

def _passk_row(**change):
    row = {"maj_before": [0.2, 0.3], "maj_after": [0.6, 0.9], "pass_large_before": 0.99,
           "pass_large_after": 0.99, "pass_inf_before": 1.0, "pass_inf_after": 1.0,
           "support_before": 100, "support_after": 100}
    row.update(change)
    return row


def test_maj_not_pass_cases():
    cases = pk.maj_not_pass_cases({
        "holds": _passk_row(),
        "pass@256 falls": _passk_row(pass_large_after=0.9),
        "pass@256 rises": _passk_row(pass_large_before=0.5, pass_large_after=0.9),
        "maj falls somewhere": _passk_row(maj_after=[0.6, 0.2]),
        "maj flat": _passk_row(maj_after=[0.2, 0.3]),
        "support grows": _passk_row(support_after=101),
        "pass@inf grows": _passk_row(pass_inf_before=0.5),
    })
    assert cases == {"holds": True, "pass@256 falls": True, "pass@256 rises": False,
                     "maj falls somewhere": False, "maj flat": False, "support grows": False,
                     "pass@inf grows": False}


def test_pass_at_infinity_counts_the_questions_with_a_path():
    m = runs.model()
    P = runs.pretrained("dirichlet").copy()
    P[-1, :, 0] = 0.0  # no question can end at answer 0: question 0 fails surely
    P[-1] /= P[-1].sum(axis=-1, keepdims=True)
    assert pk.pass_at_infinity(P) == pytest.approx(5 / 6, abs=1e-15)
    assert success_probability(P, m.answers)[0] == 0.0


# --------------------------------------------------------------- claim 8: the crossover

def test_crossover_k_on_two_questions():
    ks = np.arange(1, 201)
    w = np.array([0.5, 0.5])
    base = pass_at_k(np.array([0.3, 0.1]), w, ks)
    trained = pass_at_k(np.array([0.9, 0.02]), w, ks)
    # independent scan: the first k where the base's failures are fewer
    first = next(k for k in ks if 0.5 * (0.7**k + 0.9**k) < 0.5 * (0.1**k + 0.98**k) - 1e-12)
    assert pk.crossover_k(base, trained, ks) == first
    assert pk.crossover_k(trained, trained, ks) is None
    with pytest.raises(ValueError, match="one shape"):
        pk.crossover_k(base, trained[:-1], ks)


def test_crossover_cases():
    rows = {"holds": {"pass1_base": 0.2, "pass1_trained": 0.5, "crossover": 12},
            "no crossover": {"pass1_base": 0.2, "pass1_trained": 0.5, "crossover": None},
            "no small-k win": {"pass1_base": 0.5, "pass1_trained": 0.4, "crossover": 1}}
    cases = pk.crossover_cases(rows)
    assert cases == {"holds": True, "no crossover": False, "no small-k win": False}
    assert runs.case_verdict(cases) == CONDITIONAL


# -------------------------------------------------------------- claim 5: GRPO vs F-ISFT

def test_grpo_fisft_cases():
    cases = wt.grpo_fisft_cases({
        "holds": {"grpo": 0.80, "fisft+-": 0.81, "fisft+": 0.70},
        "fisft+- far": {"grpo": 0.80, "fisft+-": 0.90, "fisft+": 0.70},
        "fisft+ does not lag": {"grpo": 0.80, "fisft+-": 0.80, "fisft+": 0.79},
    })
    assert cases == {"holds": True, "fisft+- far": False, "fisft+ does not lag": False}


# ------------------------------------------------------ claim 6: GRPO's std re-weighting

def test_reweighting_cases():
    good = {"hard_over_mid": 1.3, "easy_over_mid": 1.3, "shift_to_extreme": 0.01,
            "total_gain_dr_grpo": 1.0}
    cases = wt.reweighting_cases({
        "holds": good,
        "flat weight": {**good, "hard_over_mid": 1.0, "easy_over_mid": 1.0},
        "gain moves to the middle": {**good, "shift_to_extreme": -0.01},
    })
    assert cases == {"holds": True, "flat weight": False, "gain moves to the middle": False}


def test_grpo_with_two_samples_is_dr_grpo_up_to_scale():
    # c_2(p) is constant (a mixed group of two has one std), so at equal total weight the two
    # steps coincide and no gain moves
    step = wt._one_step_gains(runs.pretrained("dirichlet"), 2)
    assert np.abs(np.subtract(step["gain_grpo"], step["gain_dr_grpo"])).max() < 1e-15


def test_extreme_half_takes_the_questions_farthest_from_one_half():
    mask = wt._extreme_half(np.array([0.5, 0.05, 0.6, 0.97, 0.45, 0.3]))
    assert mask.tolist() == [False, True, False, True, False, True]


# ------------------------------------------------------------ claim 7: PSR against NSR

def _psr(residual, diff=0.0):
    return {"same_weight_gradient_max_diff": diff, "rescaled_step_max_diff": diff,
            "rule_step_max_diff": diff, "global_rescale_residual": residual}


def test_psr_nsr_verdict():
    assert wt.psr_nsr_verdict(_psr(1e-15), _psr(0.3)) == (HOLDS, [])
    verdict, failed = wt.psr_nsr_verdict(_psr(1e-15), _psr(1e-9))
    assert verdict == FAILS and "varied: global_rescale_residual" in failed[0]
    verdict, failed = wt.psr_nsr_verdict(_psr(1e-15, diff=1e-6), _psr(0.3))
    assert verdict == FAILS and len(failed) == 3
    assert wt.psr_nsr_verdict(_psr(1e-3), _psr(0.3))[0] == FAILS


# ----------------------------------------------------- claim 9: log p and arcsin sqrt(p)

def test_ascent_cases():
    cases = wt.ascent_cases({"holds": {"max_ratio_deviation": 0.01, "gradient_rel_error": 0.02},
                             "weight off": {"max_ratio_deviation": 0.2, "gradient_rel_error": 0.0},
                             "gradient off": {"max_ratio_deviation": 0.0,
                                              "gradient_rel_error": 0.1}})
    assert cases == {"holds": True, "weight off": False, "gradient off": False}


def test_finite_difference_gradient_of_J_is_the_success_edge_gradient():
    m = runs.model()
    P = runs.pretrained("dirichlet")
    rho = m.weights("train")

    def J(Q):
        return float(rho @ success_probability(Q, m.answers))

    fd = wt.softmax_potential_gradient(P, J)
    exact = gradient(P, success_edges(P, rho, m.answers, m.identity))
    assert np.abs(fd - exact).max() < 1e-8
