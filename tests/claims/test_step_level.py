"""Step-level claims (issue 11 §5): every measurement runs on small settings and gives a valid
Measurement; the exact statistics agree with path enumeration; every verdict rule says what its
inputs say (HOLDS, CONDITIONAL and FAILS)."""

import itertools
import json

import numpy as np
import pytest
from matplotlib.axes import Axes

from rlstar_theory.claims import CLAIMS, load_claim_modules
from rlstar_theory.claims import _step_runs as sr
from rlstar_theory.claims import step_level as sl
from rlstar_theory.claims.models import dirichlet_p0, standard_model
from rlstar_theory.claims.registry import VERDICTS, Measurement
from rlstar_theory.figures.style import new_figure
from rlstar_theory.mdp.exact import success_probability
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.mdp.values import policy_values
from rlstar_theory.rules.iterate import iterate
from rlstar_theory.rules.registry import make_rule

KEYS = ("spurious-steps-derail", "step-credit-8x", "pav-5x", "pav-q-rewards-trivial-steps",
        "data-scaling-regimes", "grpo-length-bias")


def _check(m: Measurement, panels: int) -> None:
    assert isinstance(m, Measurement) and m.verdict in VERDICTS
    assert m.setting and m.reason and any(ch.isdigit() for ch in m.reason)
    json.dumps(m.numbers)  # JSON-ready (NaN is written as null by the writers)
    axes = m.plot()
    assert len(axes) == panels and all(isinstance(a, Axes) and a.has_data() for a in axes)
    given = new_figure(3 * panels, 2).subplots(1, panels, squeeze=False)[0]
    assert list(m.plot(ax=given)) == list(given)


def _paths(model: ChainMDP):
    """Every (question, path) of a tiny model: ``(s0, (s_0, ..., s_N))``."""
    for s0 in range(model.M):
        for rest in itertools.product(range(model.M), repeat=model.N):
            yield s0, (s0,) + rest


def _path_probability(P, path) -> float:
    return float(np.prod([P[n, path[n], path[n + 1]] for n in range(len(path) - 1)]))


def _random_policy(M: int, N: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.ones(M), size=(N, M))


def test_the_module_registers_its_claims_under_issue_11():
    load_claim_modules()
    for key in KEYS:
        assert key in CLAIMS and CLAIMS[key].issue == 11 and "arXiv" in CLAIMS[key].source


# --- models and loops --------------------------------------------------------------------------

def test_split_model_shares_answers_but_not_gold_states():
    m = sr.split_model(6, 3)
    train, test = np.flatnonzero(m.train), np.flatnonzero(m.test)
    assert list(train) == [0, 1, 2] and list(test) == [3, 4, 5]
    assert sorted(m.answers[test]) == sorted(m.answers[train])
    # before the last step a test question's gold states are its own start state
    assert set(m.gold[test, :-1].ravel()).isdisjoint(m.gold[train, :-1].ravel())
    with pytest.raises(ValueError, match="M must be even"):
        sr.split_model(5, 3)


def test_gold_centred_p0_swaps_each_rows_gold_entry_with_its_diagonal():
    m = sr.shift_model(5, 2)
    P = sr.gold_centred_p0(m, seed=3)
    D = dirichlet_p0(5, 2, seed=3)
    rows = np.arange(5)
    for n in range(2):
        g = m.truth[n]
        np.testing.assert_array_equal(P[n, rows, g], D[n, rows, rows])
        np.testing.assert_array_equal(P[n, rows, rows], D[n, rows, g])
    np.testing.assert_allclose(P.sum(-1), 1.0)
    # on the identity chain it is the standard Dirichlet policy
    np.testing.assert_array_equal(sr.gold_centred_p0(standard_model(), seed=0), dirichlet_p0())


def test_j_curve_matches_iterate_and_stops_at_the_target():
    m, P0 = standard_model(), dirichlet_p0()
    rule = make_rule("reinforce", lr=10.0)
    h = iterate(rule, P0, m, 6, pass_ks=(1,), maj_ks=())
    curve = sr.j_curve(rule, P0, m, 6)
    np.testing.assert_allclose(curve.J, h.J, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(curve.samples, h.samples)
    # just below J_3: the two loops agree to 1e-12, not to the last bit
    target = float(h.J[3]) - 1e-9
    assert h.J[2] < target
    short = sr.j_curve(rule, P0, m, 6, target=target)
    assert len(short.J) == 4 and short.samples_to_reach(target) == h.samples_to_reach(target)
    assert short.samples_to_reach(2.0) is None
    sampled = sr.j_curve(rule, P0, m, 2, mode="sampled", rng=0)
    again = sr.j_curve(rule, P0, m, 2, mode="sampled", rng=0)
    np.testing.assert_array_equal(sampled.J, again.J)
    with pytest.raises(ValueError, match="mode"):
        sr.j_curve(rule, P0, m, 2, mode="both")


def test_monotone_gain_can_say_no():
    assert sr.monotone_gain([0.1, 0.2, 0.3], 0.0, 0.1)
    assert not sr.monotone_gain([0.1, 0.12], 0.0, 0.1)  # too little gain
    assert not sr.monotone_gain([0.1, 0.05, 0.3], 0.01, 0.1)  # a drop beyond the tolerance
    assert sr.monotone_gain([0.1, 0.05, 0.3], [0.1, 0.1], 0.1)  # within it
    with pytest.raises(ValueError, match="at least 2 points"):
        sr.monotone_gain([0.1], 0.0, 0.0)


# --- claim 1 -----------------------------------------------------------------------------------

def test_off_gold_weighted_star_is_star_at_kappa_one_and_gold_only_at_zero():
    m = sr.split_model(4, 2)
    P = _random_policy(4, 2, 0)
    star = make_rule("star").exact_step(P, m)
    one = sl.OffGoldWeightedStar(kappa=1.0).exact_step(P, m)
    np.testing.assert_allclose(one.P, star.P, rtol=0, atol=1e-12)
    zero = sl.OffGoldWeightedStar(kappa=0.0).exact_step(P, m)
    assert zero.train_edges[~m.gold_edges()].sum() == 0 and zero.train_edges.sum() > 0
    with pytest.raises(ValueError, match="kappa"):
        sl.OffGoldWeightedStar(kappa=1.5)


def test_prover_spurious_rate_matches_path_enumeration():
    m = sr.split_model(4, 2)
    P, P_mu = _random_policy(4, 2, 1), _random_policy(4, 2, 2)
    V = policy_values(P_mu, m, 3).V
    w = m.weights("train")
    total = negative = 0.0
    for s0, path in _paths(m):
        if w[s0] == 0 or path[-1] != m.answers[s0]:
            continue
        weight = w[s0] * _path_probability(P, path)
        for n in range(1, m.N + 1):
            total += weight
            negative += weight * (V[n, path[n], s0] - V[n - 1, path[n - 1], s0] < 0)
    assert sl.prover_spurious_rate(P, m, V) == pytest.approx(negative / total, abs=1e-12)


def test_spurious_steps_derail_runs():
    m = sl.spurious_steps_derail(seeds=(0,), iterations=3, kappas=(0.0, 1.0), rft_k=2)
    _check(m, 3)
    rows = m.numbers["gap_vs_spurious_rate"]["0"]
    assert rows[0]["spurious_data_rate"] == 0.0 and rows[1]["spurious_data_rate"] > 0.0
    assert 0.0 <= rows[1]["prover_spurious_rate"] <= 1.0
    assert len(m.numbers["cases"]) == 3


# --- claim 2 -----------------------------------------------------------------------------------

def test_first_reaching_and_efficiency_verdicts():
    assert sl.first_reaching((2, 4, 8), [0.1, 0.3, 0.2], 0.25) == 4
    assert sl.first_reaching((2, 4, 8), [0.1, 0.2, 0.2], 0.25) is None
    assert sl.efficiency_holds(8.0, sl.EIGHTFOLD_FLOOR)
    assert not sl.efficiency_holds(1.0, sl.EIGHTFOLD_FLOOR)
    assert not sl.efficiency_holds(None, sl.EIGHTFOLD_FLOOR)


def test_step_credit_efficiency_runs():
    m = sl.step_credit_efficiency(Ks=(2, 4), seeds=(0, 1), dpo_steps=5)
    _check(m, 2)
    assert m.numbers["samples_drawn"]["rft"] == [6, 12]
    assert set(m.numbers["targets"]) == {"0.5", "1.0"}
    # the target at q = 1 is RFT's best mean, which RFT therefore reaches
    assert m.numbers["targets"]["1.0"]["samples"]["rft"] is not None


# --- claim 3 -----------------------------------------------------------------------------------

def test_prefers_complementary_can_say_no():
    assert sl.prefers_complementary([1.0, 2.0, 1.5])
    assert sl.prefers_complementary([None, 2.0, 1.0])  # never reached counts as 0
    assert not sl.prefers_complementary([2.0, 1.5, 1.0])  # the weakest prover is best
    assert not sl.prefers_complementary([1.0, 1.5, 2.0])  # the strongest prover is best
    assert not sl.prefers_complementary([1.98, 2.0, 1.0])  # an end within the margin
    assert not sl.prefers_complementary([None, None, None])
    with pytest.raises(ValueError, match="at least 3"):
        sl.prefers_complementary([1.0, 2.0])


def test_pav_efficiency_runs():
    m = sl.pav_efficiency(alphas=(3.0,), prover_ks=(1, 4, 64), lrs=(30.0,), max_iterations=40,
                          sampled_seeds=(0, 1), sampled_iterations=3)
    _check(m, 2)
    row = m.numbers["pav"]["lr=30 same step alpha=3"]
    assert len(row["samples"]) == 3 and row["pav_lr"] == 30.0
    assert m.numbers["pav"]["lr=30 matched step alpha=3"]["pav_lr"] == 7.5
    assert len(m.numbers["cases"]) == 6


# --- claim 4 -----------------------------------------------------------------------------------

def test_trivial_step_statistics_match_path_enumeration():
    m = ChainMDP.create(3, 2, truth=[[1, 2, 0], [0, 0, 1]])
    P, P_mu = _random_policy(3, 2, 4), _random_policy(3, 2, 5)
    V = policy_values(P_mu, m, 2).V
    w = m.weights("train")
    sums = dict.fromkeys(("none", "prog", "q_none", "q_prog", "a_none", "a_prog", "q_fail",
                          "a_fail", "fail"), 0.0)
    for s0, path in _paths(m):
        weight = w[s0] * _path_probability(P, path)
        failed = path[-1] != m.answers[s0]
        sums["fail"] += weight * failed
        for n in range(1, m.N + 1):
            q = V[n, path[n], s0]
            a = q - V[n - 1, path[n - 1], s0]
            kind = "none" if a <= 1e-12 else "prog"
            sums[kind] += weight
            sums[f"q_{kind}"] += weight * q
            sums[f"a_{kind}"] += weight * a
            sums["q_fail"] += weight * q * failed
            sums["a_fail"] += weight * a * failed
    st = sl.trivial_step_statistics(P, m, V)
    assert st.no_progress_probability == pytest.approx(sums["none"] / m.N, abs=1e-12)
    assert st.q_pay_no_progress == pytest.approx(sums["q_none"] / sums["none"], abs=1e-12)
    assert st.q_pay_progress == pytest.approx(sums["q_prog"] / sums["prog"], abs=1e-12)
    assert st.a_pay_no_progress == pytest.approx(sums["a_none"] / sums["none"], abs=1e-12)
    assert st.a_pay_progress == pytest.approx(sums["a_prog"] / sums["prog"], abs=1e-12)
    assert st.q_share_no_progress == pytest.approx(
        sums["q_none"] / (sums["q_none"] + sums["q_prog"]), abs=1e-12)
    assert st.q_return_failed == pytest.approx(sums["q_fail"] / sums["fail"], abs=1e-12)
    assert st.a_return_failed == pytest.approx(sums["a_fail"] / sums["fail"], abs=1e-12)
    assert sums["fail"] == pytest.approx(1 - w @ success_probability(P, m.answers))


def test_pav_q_rewards_trivial_steps_runs():
    m = sl.pav_q_rewards_trivial_steps(prover_ks=(4,), iterations=3)
    _check(m, 3)
    assert set(m.numbers["cases"]) == {"K = 4: Q pays no-progress steps",
                                       "K = 4: Q-trained policy takes more no-progress steps"}
    st = m.numbers["static"]["4"]
    assert st["a_pay_no_progress"] <= 0 < st["q_pay_no_progress"]


# --- claim 5 -----------------------------------------------------------------------------------

def test_data_scaling_regimes_runs():
    m = sl.data_scaling_regimes(sft_iterations=1, rft_ks=(1, 4), rl_ks=(2, 4),
                                rl_seeds=(0, 1), rl_iterations=2, rl_lrs=(30.0,))
    _check(m, 3)
    assert len(m.numbers["sft"]["J_all"]) == 6
    distinct = m.numbers["rft"]["distinct_correct_per_question"]
    assert 0 < distinct[0] < distinct[1] <= 4  # at most K distinct correct solutions
    assert len(m.numbers["cases"]) == 3


# --- claim 6 -----------------------------------------------------------------------------------

def test_length_at_interpolates_along_new_highs():
    J = [0.1, 0.3, 0.2, 0.5]
    L = [4.0, 5.0, 9.0, 6.0]
    assert sl.length_at(J, L, 0.2) == pytest.approx(4.5)
    assert sl.length_at(J, L, 0.4) == pytest.approx(5.5)  # the dip at t = 2 is skipped
    assert np.isnan(sl.length_at(J, L, 0.6)) and np.isnan(sl.length_at(J, L, 0.05))


def test_length_bias_verdict_can_say_no():
    assert sl.length_bias_holds(0.2, 0.1, 0.1) == (True, True, True)
    assert sl.length_bias_holds(0.0, -0.1, 0.01) == (False, False, False)
    assert sl.length_bias_holds(0.2, float("nan"), 0.1) == (True, False, True)


def test_grpo_length_bias_runs():
    m = sl.grpo_length_bias(lrs=(10.0,), iterations=3, reference_iterations=6)
    _check(m, 2)
    row = m.numbers["by_lr"]["10.0"]
    assert row["grpo_length"][0] == pytest.approx(row["Dr. GRPO"]["length"][0])
    assert len(m.numbers["cases"]) == 3


def test_falls_behind_and_trivial_step_verdicts_can_say_no():
    assert sl.falls_behind([0.0, 0.2, 0.4])
    assert not sl.falls_behind([0.1, 0.3, 0.12])  # the gap closed again
    assert not sl.falls_behind([0.3, 0.1])

    def stats(p_none=0.1, q_none=0.5, q_prog=0.8, a_none=-0.1):
        return sl.TrivialStepStats(p_none, q_none, q_prog, a_none, 0.2, 0.4, 0.5, -0.2)

    assert sl.rewards_trivial(stats())
    assert not sl.rewards_trivial(stats(q_none=0.1))  # Q tells the two kinds apart
    assert not sl.rewards_trivial(stats(a_none=0.1))
    assert sl.learns_trivial(stats(p_none=0.3), stats(p_none=0.1))
    assert not sl.learns_trivial(stats(p_none=0.1), stats(p_none=0.1))
