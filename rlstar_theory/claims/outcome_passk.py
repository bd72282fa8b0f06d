"""Claims about pass@k at large k after outcome-reward RL (issue 10 §5), measured exactly.

* ``rl-maj-not-pass`` (DeepSeekMath, arXiv 2402.03300, via 003/004): RL improves maj@k but not
  pass@k at large k. The exact model explains why (ALGORITHMS.md §0.5 F7): a rule that trains
  on its own samples never adds a transition, so ``pass@inf = sum rho 1[p > 0]`` cannot rise.
* ``pass-at-k-crossover`` (Yue et al., arXiv 2504.13837): RL beats the base model at small k,
  but the base model wins pass@k at large k. The crossover ``k`` of each rule is read off the
  exact curves ``pass@k = sum rho (1 - (1 - p)^k)`` for every integer ``k <= K_MAX``.

Both run on the standard chain (:mod:`rlstar_theory.claims.models`: ``M = 6``, ``N = 3``) from
the shared Dirichlet P0 (full support) and sparse P0 (a quarter of the transitions, gold ones
among them, outside the support), exact mode. Each verdict is computed by a function of the
numbers (:func:`maj_not_pass_cases`, :func:`crossover_k`, :func:`crossover_cases`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from rlstar_theory.claims._outcome_runs import (
    case_verdict,
    describe_cases,
    model,
    pass_curve,
    rounded,
    run,
)
from rlstar_theory.claims.registry import Measurement, claim
from rlstar_theory.figures.style import axes_row
from rlstar_theory.mdp.exact import success_probability
from rlstar_theory.mdp.majority import maj_at_k
from rlstar_theory.mdp.metrics import answer_distribution, support_size

__all__ = ["CROSSOVER_RULES", "K_MAX", "crossover_cases", "crossover_k", "maj_not_pass_cases",
           "measure_crossover", "measure_maj_not_pass", "pass_at_infinity"]

#: the pre-trained policies both claims use
POLICIES: tuple[str, ...] = ("dirichlet", "sparse")
#: iterations and learning rate of every run (gradient rules step lr times the exact gradient)
ITERATIONS = 30
LR = 30.0
#: rules of the DeepSeekMath claim
MAJ_RULES: tuple[str, ...] = ("grpo", "reinforce", "star")
#: k of maj@k (exact up to 64) and of pass@k in the DeepSeekMath claim
MAJ_KS: tuple[int, ...] = (1, 4, 16, 64)
PASS_KS: tuple[int, ...] = (1, 4, 16, 64, 256)
#: "large k" of pass@k, and the gains that count as an improvement
LARGE_K = 256
MAJ_GAIN = 0.01
PASS_GAIN = 0.01
#: rules of Yue et al.'s comparison, and the largest k scanned for a crossover
CROSSOVER_RULES: tuple[str, ...] = ("star", "reinforce", "grpo", "dr-grpo", "ppo", "rcrl",
                                    "online-rft", "fisft+-")
K_MAX = 4096
#: base pass@k must exceed the RL one by more than this to count as a win (rounding)
CROSSOVER_TOLERANCE = 1e-12


def _options(rule: str) -> dict:
    return {} if rule == "star" else {"lr": LR}


def pass_at_infinity(P: np.ndarray) -> float:
    """``pass@inf = sum rho 1[p(s0) > 0]`` on the standard model."""
    m = model()
    p = success_probability(np.asarray(P, dtype=float), m.answers)
    return float(m.weights("train") @ (p > 0))


def _maj(P: np.ndarray) -> np.ndarray:
    m = model()
    w = m.weights("train")
    return maj_at_k(answer_distribution(np.asarray(P, dtype=float)), m.answers, MAJ_KS) @ w


# ----------------------------------------------------------- claim 4: maj@k but not pass@k

def maj_not_pass_cases(rows: Mapping[str, Mapping[str, object]],
                       maj_gain: float = MAJ_GAIN, pass_gain: float = PASS_GAIN
                       ) -> dict[str, bool]:
    """Whether each run improved maj@k but not pass@k at large k, and kept its support.

    Parameters
    ----------
    rows : mapping
        Per run: ``maj_before``/``maj_after`` (lists over :data:`MAJ_KS`),
        ``pass_large_before``/``pass_large_after`` (pass@:data:`LARGE_K`),
        ``pass_inf_before``/``pass_inf_after`` and ``support_before``/``support_after``.
    maj_gain, pass_gain : float
        The smallest change that counts as an improvement.

    Returns
    -------
    dict
        A run holds when maj@k does not fall for any k and rises by at least ``maj_gain`` for
        some k, pass@LARGE_K rises by less than ``pass_gain``, and neither pass@inf nor the
        support grows (F7).
    """
    out = {}
    for name, r in rows.items():
        d_maj = np.asarray(r["maj_after"], float) - np.asarray(r["maj_before"], float)
        maj_up = bool((d_maj >= -1e-12).all() and d_maj.max() >= maj_gain)
        pass_flat = r["pass_large_after"] - r["pass_large_before"] < pass_gain
        kept = (r["pass_inf_after"] <= r["pass_inf_before"] + 1e-12
                and r["support_after"] <= r["support_before"])
        out[name] = bool(maj_up and pass_flat and kept)
    return out


@claim("rl-maj-not-pass", "DeepSeekMath, arXiv 2402.03300 (via 003/004)",
       "RL improves maj@k but not pass@k at large k: it boosts the right answer already among "
       "the top-k rather than enlarging what the model can solve (support preservation, F7).")
def measure_maj_not_pass() -> Measurement:
    """maj@k, pass@k, pass@inf and support before and after GRPO, REINFORCE and STaR."""
    rows, hists = {}, {}
    for p0 in POLICIES:
        for rule in MAJ_RULES:
            h = run(rule, p0, ITERATIONS, **_options(rule))
            P0, PT = h.P[0], h.P[-1]
            label = f"{p0}: {rule}"
            hists[label] = h
            curve0, curveT = pass_curve(P0, PASS_KS), pass_curve(PT, PASS_KS)
            rows[label] = {
                "maj_before": _maj(P0).tolist(), "maj_after": _maj(PT).tolist(),
                "pass_before": curve0.tolist(), "pass_after": curveT.tolist(),
                "pass_large_before": float(curve0[-1]), "pass_large_after": float(curveT[-1]),
                "pass_inf_before": pass_at_infinity(P0), "pass_inf_after": pass_at_infinity(PT),
                "support_before": support_size(P0), "support_after": support_size(PT),
            }
    cases = maj_not_pass_cases(rows)
    verdict = case_verdict(cases)

    def line(label: str) -> str:
        r = rows[label]
        return (f"{label}: maj@{MAJ_KS[-1]} {r['maj_before'][-1]:.3f}->{r['maj_after'][-1]:.3f}, "
                f"pass@1 {r['pass_before'][0]:.3f}->{r['pass_after'][0]:.3f}, pass@{LARGE_K} "
                f"{r['pass_large_before']:.4f}->{r['pass_large_after']:.4f}, pass@inf "
                f"{r['pass_inf_before']:.3f}->{r['pass_inf_after']:.3f}, support "
                f"{r['support_before']}->{r['support_after']}")

    reason = (f"After {ITERATIONS} iterations: " + "; ".join(line(k) for k in rows)
              + f". A run holds when maj@k rises by at least {MAJ_GAIN:g} for some k in "
              f"{list(MAJ_KS)} and falls for none, pass@{LARGE_K} rises by less than "
              f"{PASS_GAIN:g}, and pass@inf and the support do not grow: the claim "
              f"{describe_cases(cases)}.")
    setting = (f"Rules grpo (G = 8) and reinforce (lr {LR:g}) and star (refit), exact mode, "
               f"{ITERATIONS} iterations from the standard Dirichlet and sparse P0 (M = 6, "
               f"N = 3). maj@k exact for k in {list(MAJ_KS)}; pass@k for k in {list(PASS_KS)}; "
               "pass@inf = sum rho 1[p > 0]. Figure: pass@k and maj@k before and after.")
    numbers = {"iterations": ITERATIONS, "lr": LR, "maj_ks": list(MAJ_KS),
               "pass_ks": list(PASS_KS), "runs": rows, "cases": cases}

    def plot(ax=None):
        axes = axes_row(ax, 2 * len(POLICIES), width=4.0, height=3.6)
        for i, p0 in enumerate(POLICIES):
            a_pass, a_maj = axes[2 * i], axes[2 * i + 1]
            first = rows[f"{p0}: {MAJ_RULES[0]}"]
            a_pass.plot(PASS_KS, first["pass_before"], "k-o", lw=2.2, label="P0")
            a_maj.plot(MAJ_KS, first["maj_before"], "k-o", lw=2.2, label="P0")
            for j, rule in enumerate(MAJ_RULES):
                r = rows[f"{p0}: {rule}"]
                a_pass.plot(PASS_KS, r["pass_after"], "-o", color=f"C{j}", label=rule)
                a_maj.plot(MAJ_KS, r["maj_after"], "-o", color=f"C{j}", label=rule)
            a_pass.set_ylabel("pass@k")
            a_maj.set_ylabel("maj@k")
            a_pass.set_title(f"pass@k, {p0} P0, t = {ITERATIONS}")
            a_maj.set_title(f"maj@k, {p0} P0, t = {ITERATIONS}")
            for a in (a_pass, a_maj):
                a.set_xscale("log", base=2)
                a.set_xlabel("k")
                a.legend(fontsize=6)
        return axes

    return Measurement(setting, rounded(numbers), verdict, reason, plot)


# --------------------------------------------------------------- claim 8: the crossover k

def crossover_k(base: np.ndarray, trained: np.ndarray, ks: np.ndarray,
                tolerance: float = CROSSOVER_TOLERANCE) -> int | None:
    """The smallest ``k`` at which the base model's pass@k beats the trained one's.

    Parameters
    ----------
    base, trained : ndarray, shape (len(ks),)
        pass@k of the base and of the trained policy at each ``k``.
    ks : ndarray of int
        Increasing ``k``.
    tolerance : float
        The base must be ahead by more than this (float rounding near pass@k = 1).

    Returns
    -------
    int or None
        None when the base never wins up to ``ks[-1]``.
    """
    base, trained, ks = np.asarray(base), np.asarray(trained), np.asarray(ks)
    if not (base.shape == trained.shape == ks.shape):
        raise ValueError(f"base, trained and ks must have one shape, got {base.shape}, "
                         f"{trained.shape} and {ks.shape}")
    wins = np.flatnonzero(base - trained > tolerance)
    return int(ks[wins[0]]) if wins.size else None


def crossover_cases(rows: Mapping[str, Mapping[str, object]]) -> dict[str, bool]:
    """Per run: whether RL wins pass@1 and the base wins pass@k at some larger ``k``.

    ``rows`` maps a run to ``pass1_base``, ``pass1_trained`` and ``crossover`` (int or None).
    """
    return {name: bool(r["pass1_trained"] > r["pass1_base"] and r["crossover"] is not None
                       and r["crossover"] > 1)
            for name, r in rows.items()}


def _crossover_text(row: Mapping[str, object]) -> str:
    if row["crossover"] is not None:
        return f"crossover k = {row['crossover']}"
    text = f"no crossover up to k = {K_MAX}"
    if row["first_iteration_with_crossover"] is not None:
        text += f" (a transient one from t = {row['first_iteration_with_crossover']})"
    return text


@claim("pass-at-k-crossover", "Yue et al., arXiv 2504.13837",
       "RL-trained models beat their base model at small k, but the base model wins pass@k at "
       "large k; the rules (six RLVR algorithms) behave about the same.")
def measure_crossover() -> Measurement:
    """Exact pass@k curves of the base and of each rule after training, and their crossover."""
    ks = np.arange(1, K_MAX + 1)
    rows, curves = {}, {}
    for p0 in POLICIES:
        for rule in CROSSOVER_RULES:
            h = run(rule, p0, ITERATIONS, **_options(rule))
            base = pass_curve(h.P[0], ks)
            trained = pass_curve(h.P[-1], ks)
            first = next((t for t in range(1, h.iterations + 1)
                          if crossover_k(base, pass_curve(h.P[t], ks), ks) is not None), None)
            label = f"{p0}: {rule}"
            curves[label] = (base, trained)
            rows[label] = {"pass1_base": float(base[0]), "pass1_trained": float(trained[0]),
                           "crossover": crossover_k(base, trained, ks),
                           "first_iteration_with_crossover": first,
                           "J_final": float(h.J[-1]),
                           "pass256_base": float(base[255]),
                           "pass256_trained": float(trained[255])}
    cases = crossover_cases(rows)
    verdict = case_verdict(cases)
    summary = "; ".join(f"{k}: pass@1 {r['pass1_base']:.3f}->{r['pass1_trained']:.3f}, "
                        f"{_crossover_text(r)}" for k, r in rows.items())
    found = [r["crossover"] for r in rows.values() if r["crossover"] is not None]
    spread = (f" The crossovers lie at k = {min(found)}..{max(found)}." if found else "")
    reason = (f"After {ITERATIONS} iterations: {summary}.{spread} A rule holds when it wins "
              f"pass@1 and the base wins pass@k at some k <= {K_MAX} at the end of the run: the "
              f"claim {describe_cases(cases)}.")
    setting = (f"Rules {', '.join(CROSSOVER_RULES)} (gradient rules lr {LR:g}; grpo, dr-grpo and "
               f"fisft+- with G = 8), exact mode, {ITERATIONS} iterations from the standard "
               f"Dirichlet and sparse P0 (M = 6, N = 3); pass@k exact for every k = 1..{K_MAX}. "
               "Figure: pass@k(trained) - pass@k(base) against k.")
    numbers = {"iterations": ITERATIONS, "lr": LR, "k_max": K_MAX, "runs": rows,
               "cases": cases}

    def plot(ax=None):
        axes = axes_row(ax, len(POLICIES), width=5.2, height=4.0)
        for a, p0 in zip(axes, POLICIES, strict=True):
            for j, rule in enumerate(CROSSOVER_RULES):
                base, trained = curves[f"{p0}: {rule}"]
                a.plot(ks, trained - base, color=f"C{j}", label=rule)
                k_cross = rows[f"{p0}: {rule}"]["crossover"]
                if k_cross is not None:
                    a.plot(k_cross, 0.0, "o", color=f"C{j}", ms=5)
            a.axhline(0.0, color="k", lw=0.8)
            a.set_xscale("log", base=2)
            a.set_xlabel("k")
            a.set_ylabel("pass@k(trained) - pass@k(base)")
            a.set_title(f"{p0} P0, t = {ITERATIONS} (dots: crossover)")
            a.legend(fontsize=6)
        return axes

    return Measurement(setting, rounded(numbers), verdict, reason, plot)
