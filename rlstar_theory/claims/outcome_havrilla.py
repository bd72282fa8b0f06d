"""Havrilla et al.'s claims on expert iteration, PPO, RCRL and SFT (arXiv 2403.04642), measured.

Three claims of the paper (ALGORITHMS.md §1c), each on the standard chain of
:mod:`rlstar_theory.claims.models` (``M = 6``, ``N = 3``, identity truth, six training
questions) from the shared pre-trained policies (``dirichlet``: every transition possible;
``sparse``: a quarter of the transitions, gold ones among them, outside the support):

* ``ei-ppo-sample-complexity``: EI's sample complexity is close to PPO's. Samples to reach
  ``J >= 0.9``; exact mode counts the nominal ``K = 16`` samples per question and iteration,
  sampled mode draws them (three seeds). "Close" is within a factor :data:`CLOSE_FACTOR`.
* ``rl-vs-sft-maj1-pass96``: RL raises maj@1 and pass@96 together, continued SFT raises maj@1
  but lowers pass@96 (maj@1 is greedy, as in the paper; the sampled maj@1 ``J`` is reported
  too).
* ``ei-rcrl-competitive-with-ppo``: EI and RCRL are competitive with PPO: final ``J`` after the
  same number of samples, within :data:`COMPETITIVE_MARGIN` of PPO's or better.

The gradient rules (PPO, RCRL) depend on their learning rate, so each claim is measured over a
small grid of learning rates; a verdict that holds on part of the grid is CONDITIONAL, with the
cases named in its reason. Every verdict is computed by a function of the numbers
(:func:`sample_complexity_cases`, :func:`maj_pass_cases`, :func:`competitive_cases`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from rlstar_theory.claims._outcome_runs import (
    case_verdict,
    describe_cases,
    rounded,
    rule_available,
    run,
)
from rlstar_theory.claims.registry import Measurement, claim
from rlstar_theory.figures.style import axes_row

__all__ = ["CLOSE_FACTOR", "COMPETITIVE_MARGIN", "LRS", "PASS96_TOLERANCE", "SOURCE",
           "TARGET_J", "competitive_cases", "maj_pass_cases", "measure_competitive",
           "per_policy_cases",
           "measure_maj_pass", "measure_sample_complexity", "sample_complexity_cases",
           "samples_close", "typical_samples"]

SOURCE = "Havrilla et al., arXiv 2403.04642"
#: the J that "samples to converge" is measured at
TARGET_J = 0.9
#: "close" sample complexities are within this factor of each other
CLOSE_FACTOR = 2.0
#: learning rates of the gradient rules (PPO, RCRL); their step is lr times the exact gradient
LRS: tuple[float, ...] = (3.0, 10.0, 30.0, 100.0)
#: PPO epochs mu (1: the clip is inactive and PPO is REINFORCE; 4: the clip binds)
PPO_EPOCHS: tuple[int, ...] = (1, 4)
#: iterations of the sample-complexity runs (40 x 96 = 3840 samples at most)
COMPLEXITY_ITERATIONS = 40
#: seeds of the sampled runs
SEEDS: tuple[int, ...] = (0, 1, 2)
#: samples per question of sampled EI, and learning rates of sampled PPO (K = 16)
SAMPLED_EI_K: tuple[int, ...] = (16, 64)
SAMPLED_PPO_LRS: tuple[float, ...] = (30.0, 100.0)
#: iterations and learning rate of the maj@1 / pass@96 runs
MAJ_PASS_ITERATIONS = 20
MAJ_PASS_LR = 30.0
#: SFT step sizes eta (the share of the way to the reference MLE per iteration)
SFT_ETAS: tuple[float, ...] = (0.1, 0.5)
#: a pass@96 change smaller than this counts as "unchanged" (pass@96 is near 1 at P0)
PASS96_TOLERANCE = 1e-3
#: iterations, learning rates and margin of the competitiveness runs
COMPETITIVE_ITERATIONS = 20
COMPETITIVE_LRS: tuple[float, ...] = (10.0, 30.0, 100.0)
COMPETITIVE_MARGIN = 0.02
#: seeds and learning rates of the sampled competitiveness runs (K = 16)
COMPETITIVE_SEEDS: tuple[int, ...] = tuple(range(6))
COMPETITIVE_SAMPLED_LRS: tuple[float, ...] = (30.0, 100.0)
#: the pre-trained policies the run comparisons use
POLICIES: tuple[str, ...] = ("dirichlet", "sparse")


# ---------------------------------------------------------------- claim 1: sample complexity

def samples_close(a: int | None, b: int | None, factor: float = CLOSE_FACTOR) -> bool:
    """Whether both runs reached the target and ``b / factor <= a <= b * factor``."""
    if a is None or b is None:
        return False
    return b / factor <= a <= b * factor


def typical_samples(values: Sequence[int | None]) -> int | None:
    """The median over seeds of the samples to the target, a run that never reached it counting
    as infinitely many; None when the median is infinite (half the seeds or more never did)."""
    if not values:
        raise ValueError("values must hold one result per seed, got none")
    arr = np.array([np.inf if v is None else float(v) for v in values])
    med = float(np.median(arr))
    return None if not np.isfinite(med) else int(round(med))


def sample_complexity_cases(pairs: Mapping[str, tuple[int | None, int | None]],
                            factor: float = CLOSE_FACTOR) -> dict[str, bool]:
    """Per compared pair ``(EI samples, PPO samples)``: whether they are close
    (:func:`samples_close`)."""
    return {name: samples_close(ei, ppo, factor) for name, (ei, ppo) in pairs.items()}


def _ppo_label(lr: float, epochs: int) -> str:
    return f"ppo lr={lr:g} epochs={epochs}"


def _sample_complexity_runs() -> tuple[dict, dict]:
    T = COMPLEXITY_ITERATIONS
    exact = {"ei": run("ei", "dirichlet", T), "ei-dedup": run("ei-dedup", "dirichlet", T)}
    for lr in LRS:
        for mu in PPO_EPOCHS:
            exact[_ppo_label(lr, mu)] = run("ppo", "dirichlet", T, lr=lr, epochs=mu)
    sampled = {}
    for K in SAMPLED_EI_K:
        sampled[f"ei K={K}"] = [run("ei", "dirichlet", T, "sampled", seed,
                                    samples_per_question=K) for seed in SEEDS]
    for lr in SAMPLED_PPO_LRS:
        sampled[f"ppo lr={lr:g} K=16"] = [run("ppo", "dirichlet", T, "sampled", seed, lr=lr)
                                          for seed in SEEDS]
    return exact, sampled


@claim("ei-ppo-sample-complexity", SOURCE,
       "EI's sample complexity is close to PPO's: from the same pre-trained model both need "
       "about the same number of samples to converge.")
def measure_sample_complexity() -> Measurement:
    """Samples to ``J >= 0.9`` of EI and PPO from the Dirichlet P0, exact and sampled."""
    exact, sampled = _sample_complexity_runs()
    ex = {name: h.samples_to_reach(TARGET_J) for name, h in exact.items()}
    sa = {name: [h.samples_to_reach(TARGET_J) for h in runs] for name, runs in sampled.items()}
    typical = {name: typical_samples(v) for name, v in sa.items()}
    pairs = {}
    for ei in ("ei", "ei-dedup"):
        for lr in LRS:
            for mu in PPO_EPOCHS:
                pairs[f"exact {ei} vs {_ppo_label(lr, mu)}"] = (ex[ei], ex[_ppo_label(lr, mu)])
    for K in SAMPLED_EI_K:
        for lr in SAMPLED_PPO_LRS:
            pairs[f"sampled ei K={K} vs ppo lr={lr:g}"] = (typical[f"ei K={K}"],
                                                          typical[f"ppo lr={lr:g} K=16"])
    cases = sample_complexity_cases(pairs)
    verdict = case_verdict(cases)
    ppo1 = [ex[_ppo_label(lr, 1)] for lr in LRS]
    reason = (f"Exact mode: EI reaches J >= {TARGET_J} after {ex['ei']} samples, ei-dedup after "
              f"{ex['ei-dedup']}, PPO (1 epoch) after {ppo1} samples for lr = {list(LRS)}. "
              f"Sampled mode (median of {len(SEEDS)} seeds; None = not reached in "
              f"{COMPLEXITY_ITERATIONS} iterations): {typical}. 'Close' is within "
              f"{CLOSE_FACTOR:g}x: the claim {describe_cases(cases)}.")
    setting = (f"Rules ei, ei-dedup (K = 16) and ppo (exact critic, eps_clip 0.2, epochs "
               f"{list(PPO_EPOCHS)}, lr {list(LRS)}) from the standard Dirichlet P0 (M = 6, "
               f"N = 3); {COMPLEXITY_ITERATIONS} iterations; exact mode counts the nominal 16 "
               f"samples per question and iteration (96 per iteration); sampled mode: ei with "
               f"K = {list(SAMPLED_EI_K)}, ppo with K = 16 and lr {list(SAMPLED_PPO_LRS)}, "
               f"seeds {list(SEEDS)}. Figure: J against samples.")
    numbers = {"target_J": TARGET_J, "close_factor": CLOSE_FACTOR,
               "exact_samples_to_target": ex, "sampled_samples_to_target": sa,
               "sampled_median": typical,
               "ratio_ei_to_ppo": {k: (None if a is None or b is None else a / b)
                                   for k, (a, b) in pairs.items()},
               "cases": cases}

    def plot(ax=None):
        axes = axes_row(ax, 2, width=5.2, height=4.0)
        for name, h in exact.items():
            style = "-" if "epochs=4" not in name else "--"
            lw = 2.4 if name.startswith("ei") else 1.2
            axes[0].plot(h.samples, h.J, style, lw=lw, label=name)
        for i, (name, runs) in enumerate(sampled.items()):
            for j, h in enumerate(runs):
                axes[1].plot(h.samples, h.J, color=f"C{i}", alpha=0.7,
                             label=name if j == 0 else None)
        for a, title in zip(axes, ("exact (nominal samples)", "sampled (3 seeds each)"),
                            strict=True):
            a.axhline(TARGET_J, color="gray", lw=0.8, ls=":")
            a.set_xlabel("samples drawn")
            a.set_ylabel("J (train)")
            a.set_title(title)
            a.legend(fontsize=6)
        return axes

    return Measurement(setting, rounded(numbers), verdict, reason, plot)


# ------------------------------------------------------------ claim 2: maj@1 and pass@96

def maj_pass_cases(rows: Mapping[str, Mapping[str, float]],
                   tolerance: float = PASS96_TOLERANCE) -> dict[str, bool]:
    """Whether each run moved maj@1 and pass@96 the way the claim says.

    Parameters
    ----------
    rows : mapping
        Per run: ``kind`` (``"rl"`` or ``"sft"``), ``greedy_before``, ``greedy_after``,
        ``J_before``, ``J_after``, ``pass96_before``, ``pass96_after``.
    tolerance : float
        pass@96 changes within ``tolerance`` count as unchanged.

    Returns
    -------
    dict
        maj@1 is raised when ``J`` rises and greedy maj@1 rises (or stays at 1). An RL run holds
        when it raises maj@1 and pass@96 does not fall by more than ``tolerance``; an SFT run
        holds when it raises maj@1 and pass@96 falls by more than ``tolerance``.
    """
    out = {}
    for name, r in rows.items():
        d_greedy = r["greedy_after"] - r["greedy_before"]
        raised = r["J_after"] > r["J_before"] and (
            d_greedy > 0 or (d_greedy == 0 and r["greedy_after"] == 1.0))
        d_pass = r["pass96_after"] - r["pass96_before"]
        if r["kind"] == "rl":
            out[name] = bool(raised and d_pass >= -tolerance)
        elif r["kind"] == "sft":
            out[name] = bool(raised and d_pass < -tolerance)
        else:
            raise ValueError(f"kind must be 'rl' or 'sft', got {r['kind']!r}")
    return out


def per_policy_cases(run_cases: Mapping[str, bool]) -> dict[str, bool]:
    """Group cases named ``"<policy>: <run>"`` by policy: a policy holds when all its runs do."""
    out: dict[str, bool] = {}
    for name, ok in run_cases.items():
        policy = name.split(":", 1)[0]
        out[policy] = out.get(policy, True) and bool(ok)
    return out


def _maj_pass_row(h, kind: str) -> dict:
    tr = h.train
    return {"kind": kind, "greedy_before": float(tr.greedy[0]),
            "greedy_after": float(tr.greedy[-1]), "J_before": float(tr.J[0]),
            "J_after": float(tr.J[-1]), "pass96_before": float(tr.pass_at_k[96][0]),
            "pass96_after": float(tr.pass_at_k[96][-1]),
            "pass96_min": float(tr.pass_at_k[96].min())}


@claim("rl-vs-sft-maj1-pass96", SOURCE,
       "RL fine-tuning raises maj@1 and pass@96 together, while continued SFT raises maj@1 but "
       "lowers pass@96.")
def measure_maj_pass() -> Measurement:
    """maj@1 (greedy and sampled) and pass@96 before and after RL and SFT."""
    T, lr = MAJ_PASS_ITERATIONS, MAJ_PASS_LR
    runs, rows = {}, {}
    sft_ok = rule_available("sft")
    for p0 in POLICIES:
        specs = [("ei", "rl", {}), ("ppo", "rl", {"lr": lr}), ("rcrl", "rl", {"lr": lr})]
        if sft_ok:
            specs += [("sft", "sft", {"eta": eta}) for eta in SFT_ETAS]
        for rule, kind, opts in specs:
            label = f"{p0}: {rule}" + "".join(f" {k}={v:g}" for k, v in opts.items())
            runs[label] = run(rule, p0, T, **opts)
            rows[label] = _maj_pass_row(runs[label], kind)
    run_cases = maj_pass_cases(rows)
    cases = per_policy_cases(run_cases)
    verdict = case_verdict(cases)
    rl_half = per_policy_cases({k: v for k, v in run_cases.items() if rows[k]["kind"] == "rl"})
    sft_half = per_policy_cases({k: v for k, v in run_cases.items()
                                 if rows[k]["kind"] == "sft"})

    def change(label: str) -> str:
        r = rows[label]
        return (f"{label}: greedy maj@1 {r['greedy_before']:.3f}->{r['greedy_after']:.3f}, "
                f"J {r['J_before']:.3f}->{r['J_after']:.3f}, pass@96 "
                f"{r['pass96_before']:.5f}->{r['pass96_after']:.5f}")

    missing = "" if sft_ok else (" The sft rule is not registered, so the SFT half is not "
                                 "measured yet.")
    reason = (f"After {T} iterations: " + "; ".join(change(k) for k in rows) + ". An RL run "
              f"holds when maj@1 rises and pass@96 falls by at most {PASS96_TOLERANCE:g}; an "
              f"SFT run when maj@1 rises and pass@96 falls by more than {PASS96_TOLERANCE:g}. "
              f"Per run: {describe_cases(run_cases)}. The RL half {describe_cases(rl_half)}; "
              f"the SFT half {describe_cases(sft_half) if sft_half else 'is not measured'}. "
              f"The claim (both halves on one pre-trained model) {describe_cases(cases)}."
              f"{missing}")
    setting = (f"RL: ei, ppo and rcrl (lr {lr:g}); SFT: sft (continued SFT on the gold chains, "
               f"eta {list(SFT_ETAS)}){'' if sft_ok else ' [not registered]'}; exact mode, "
               f"{T} iterations from the standard Dirichlet and sparse P0 (M = 6, N = 3, all "
               "six questions train and are evaluated: with identity truth a held-out question "
               "shares no gold transition with the training ones). maj@1 is greedy (Havrilla); "
               "the sampled maj@1 is J. Figure: pass@96 against greedy and sampled maj@1.")
    numbers = {"iterations": T, "lr": lr, "runs": rows, "run_cases": run_cases,
               "cases": cases, "sft_measured": sft_ok}

    def plot(ax=None):
        axes = axes_row(ax, 2, width=5.0, height=4.0)
        for i, (label, h) in enumerate(runs.items()):
            tr = h.train
            style = "--" if "sft" in label else "-"
            for a, x in zip(axes, (tr.greedy, tr.J), strict=True):
                a.plot(x, tr.pass_at_k[96], style, marker="o", ms=2, color=f"C{i % 10}",
                       label=label)
                a.plot(x[0], tr.pass_at_k[96][0], "k*", ms=7)
        axes[0].set_xlabel("greedy maj@1")
        axes[1].set_xlabel("sampled maj@1 (J)")
        for a in axes:
            a.set_ylabel("pass@96")
            a.legend(fontsize=5)
        axes[0].set_title("each run from P0 (star) over iterations")
        return axes

    return Measurement(setting, rounded(numbers), verdict, reason, plot)


# ------------------------------------------------------- claim 3: EI and RCRL against PPO

def competitive_cases(finals: Mapping[str, tuple[float, float, float]],
                      margin: float = COMPETITIVE_MARGIN) -> dict[str, bool]:
    """Whether each rule is competitive with PPO after the same number of samples.

    Parameters
    ----------
    finals : mapping
        Per compared pair: ``(J of the rule, J of PPO, standard error of the difference)``
        (the error is 0 in exact mode; in sampled mode the standard error of the difference of
        the seed means).
    margin : float
        How far below PPO's ``J`` a competitive rule may be.

    Returns
    -------
    dict
        ``J_rule >= J_ppo - margin - 2 se`` per pair.
    """
    return {name: bool(j >= j_ppo - margin - 2.0 * se)
            for name, (j, j_ppo, se) in finals.items()}


def _seed_mean(runs) -> tuple[float, float]:
    """Mean final J over seeds and its standard error (std with ddof 1 over sqrt(seeds))."""
    final = np.array([h.J[-1] for h in runs])
    return float(final.mean()), float(final.std(ddof=1) / np.sqrt(len(final)))


@claim("ei-rcrl-competitive-with-ppo", SOURCE,
       "Expert iteration and return-conditioned RL are competitive with PPO.")
def measure_competitive() -> Measurement:
    """Final J of EI, RCRL and PPO after the same number of samples, over learning rates,
    exact and sampled."""
    T = COMPETITIVE_ITERATIONS
    runs, finals = {}, {}
    sampled: dict = {}
    for p0 in POLICIES:
        runs[(p0, "ei")] = run("ei", p0, T)
        sampled[(p0, "ei")] = [run("ei", p0, T, "sampled", seed)
                               for seed in COMPETITIVE_SEEDS]
        for lr in COMPETITIVE_LRS:
            for rule in ("ppo", "rcrl"):
                runs[(p0, f"{rule} lr={lr:g}")] = run(rule, p0, T, lr=lr)
                if lr in COMPETITIVE_SAMPLED_LRS:
                    sampled[(p0, f"{rule} lr={lr:g}")] = [
                        run(rule, p0, T, "sampled", seed, lr=lr) for seed in COMPETITIVE_SEEDS]
        for lr in COMPETITIVE_LRS:
            ppo = f"ppo lr={lr:g}"
            for rule in ("ei", f"rcrl lr={lr:g}"):
                short = rule.split()[0]
                finals[f"exact {p0} lr={lr:g}: {short} vs ppo"] = (
                    float(runs[(p0, rule)].J[-1]), float(runs[(p0, ppo)].J[-1]), 0.0)
                if lr not in COMPETITIVE_SAMPLED_LRS:
                    continue
                mean_r, se_r = _seed_mean(sampled[(p0, rule)])
                mean_p, se_p = _seed_mean(sampled[(p0, ppo)])
                finals[f"sampled {p0} lr={lr:g}: {short} vs ppo"] = (
                    mean_r, mean_p, float(np.hypot(se_r, se_p)))
    reach = {f"{p0}: {name}": h.samples_to_reach(TARGET_J) for (p0, name), h in runs.items()}
    cases = competitive_cases(finals)
    verdict = case_verdict(cases)
    samples = int(runs[(POLICIES[0], "ei")].samples[-1])
    reason = (f"Final J after {samples} samples (rule vs PPO at the same lr; sampled: mean of "
              f"{len(COMPETITIVE_SEEDS)} seeds): "
              + "; ".join(f"{k} {a:.3f} vs {b:.3f}" for k, (a, b, _) in finals.items())
              + f". 'Competitive' is within {COMPETITIVE_MARGIN:g} of PPO's J or better (minus "
              f"twice the standard error over seeds in sampled mode): the claim "
              f"{describe_cases(cases)}.")
    setting = (f"Rules ei, rcrl (shared logits, phi per edge, one fit step of size lr) and ppo "
               f"(exact critic, 1 epoch) with lr {list(COMPETITIVE_LRS)}; {T} iterations of 16 "
               "samples per question (96 per iteration) from the standard Dirichlet and sparse "
               f"P0 (M = 6, N = 3); exact mode, and sampled mode (lr "
               f"{list(COMPETITIVE_SAMPLED_LRS)}, seeds {list(COMPETITIVE_SEEDS)}). Figure: J "
               "against samples.")
    numbers = {"iterations": T, "samples": samples, "margin": COMPETITIVE_MARGIN,
               "final_J": {k: {"rule": a, "ppo": b, "se": se}
                           for k, (a, b, se) in finals.items()},
               "exact_samples_to_J_0.9": reach,
               "exact_final_pass96": {f"{p0}: {n}": float(h.train.pass_at_k[96][-1])
                                      for (p0, n), h in runs.items()},
               "exact_final_greedy_maj1": {f"{p0}: {n}": float(h.train.greedy[-1])
                                           for (p0, n), h in runs.items()},
               "cases": cases}

    def plot(ax=None):
        axes = axes_row(ax, 2 * len(POLICIES), width=4.2, height=3.8)
        colors = {"ei": "k", "ppo": "C0", "rcrl": "C1"}
        for i, p0 in enumerate(POLICIES):
            for (q0, name), h in runs.items():
                if q0 != p0:
                    continue
                rule = name.split()[0]
                width = 1.0 if rule == "ei" else 0.6 + COMPETITIVE_LRS.index(
                    float(name.split("=")[1])) * 0.8
                axes[i].plot(h.samples, h.J, color=colors[rule], lw=width, label=name)
                for j, hs in enumerate(sampled.get((q0, name), [])):
                    axes[len(POLICIES) + i].plot(hs.samples, hs.J, color=colors[rule],
                                                 lw=width, alpha=0.6,
                                                 label=name if j == 0 else None)
            axes[i].set_title(f"exact, {p0} P0")
            axes[len(POLICIES) + i].set_title(
                f"sampled ({len(COMPETITIVE_SEEDS)} seeds), {p0} P0")
        for a in axes:
            a.set_xlabel("samples")
            a.set_ylabel("J (train)")
            a.legend(fontsize=5)
        return axes

    return Measurement(setting, rounded(numbers), verdict, reason, plot)
