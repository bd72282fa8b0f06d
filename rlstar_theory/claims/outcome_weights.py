"""Claims about the per-question weights of the outcome-reward rules (issue 10 §5), measured.

In exact mode every outcome-reward gradient rule is one weight ``w(p)`` on ``grad p`` per
question (ALGORITHMS.md §0.4): the rules differ only in how they weigh hard and easy questions.
Four claims follow from that, each measured on the standard chain of
:mod:`rlstar_theory.claims.models` (``M = 6``, ``N = 3``):

* ``grpo-vs-fisft`` (Samineni et al., arXiv 2505.13697): GRPO is about as good as filtered SFT
  on positives and negatives (F-ISFT+-), and F-ISFT+ (positives only) lags it. Exact runs at
  the same learning rates.
* ``grpo-std-reweighting`` (Liu et al., Dr. GRPO, arXiv 2503.20783): GRPO's per-question std
  normalisation up-weights questions that are too hard or too easy; Dr. GRPO weighs all
  questions alike. The weights ``c_G(p)/N`` against ``(G-1)/(G N)``, and the measured shift of
  one step's gain towards the questions with ``p`` far from 1/2.
* ``psr-nsr-differ-only-by-weight`` (ALGORITHMS.md §0.5 F3): in exact single-step mode,
  positive-only and negative-only updates differ only through ``w(p)``.
* ``log-vs-arcsin-ascent`` (Davis & Recht, arXiv 2510.13651): rejection sampling ascends
  ``log p`` (weight ``1/p``), GRPO ascends ``arcsin sqrt(p)`` (weight ``1/sqrt(p(1-p))``). The
  rules' exact weights (``question_weight``) against those targets, and the rules' exact
  gradients against finite differences of the two potentials.

Each verdict is computed by a function of the numbers (:func:`grpo_fisft_cases`,
:func:`reweighting_cases`, :func:`psr_nsr_verdict`, :func:`ascent_cases`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from rlstar_theory.claims._outcome_runs import (
    case_verdict,
    describe_cases,
    model,
    pretrained,
    rounded,
    run,
)
from rlstar_theory.claims.registry import FAILS, HOLDS, Measurement, claim
from rlstar_theory.figures.style import axes_row
from rlstar_theory.mdp import operator
from rlstar_theory.mdp.exact import success_edges, success_probability
from rlstar_theory.rules.base import binomial_expectation
from rlstar_theory.rules.critic import visit_edges
from rlstar_theory.rules.registry import make_rule

__all__ = ["ascent_cases", "grpo_fisft_cases", "measure_ascent", "measure_grpo_fisft",
           "measure_psr_nsr", "measure_reweighting", "psr_nsr_verdict", "reweighting_cases",
           "softmax_potential_gradient"]

#: the pre-trained policies of the run comparison
POLICIES: tuple[str, ...] = ("dirichlet", "sparse")
#: group size of GRPO and F-ISFT in the run comparison
GROUP = 8


def _rule(name: str, G: int, **options):
    """Rule ``name`` with group size ``G`` (``K = max(16, G)`` samples per question)."""
    return make_rule(name, strict=True, group_size=G, samples_per_question=max(16, G), **options)


# ------------------------------------------------------------- claim 5: GRPO vs F-ISFT+-

GRPO_FISFT_LRS: tuple[float, ...] = (10.0, 30.0, 100.0)
GRPO_FISFT_ITERATIONS = 20
#: "about the same" final J: within this; "lags": behind GRPO by more than this
APPROX_MARGIN = 0.02
LAG_MARGIN = 0.02
#: the same lr for every rule, or lr scaled so that every rule's total weight at P0 is GRPO's
LR_CONVENTIONS: tuple[str, ...] = ("same lr", "equal weight")


def grpo_fisft_cases(finals: Mapping[str, Mapping[str, float]],
                     approx: float = APPROX_MARGIN, lag: float = LAG_MARGIN) -> dict[str, bool]:
    """Per setting with final ``J`` of ``grpo``, ``fisft+-`` and ``fisft+``: whether
    ``|J_grpo - J_fisft+-| <= approx`` and ``J_fisft+ < J_grpo - lag``."""
    return {name: bool(abs(f["grpo"] - f["fisft+-"]) <= approx and f["fisft+"] < f["grpo"] - lag)
            for name, f in finals.items()}


@claim("grpo-vs-fisft", "Samineni et al., arXiv 2505.13697",
       "GRPO performs about as well as iterative filtered SFT on positives and negatives "
       "(F-ISFT+-), and F-ISFT+ (positives only) lags behind it.")
def measure_grpo_fisft() -> Measurement:
    """Final J of GRPO, F-ISFT+- and F-ISFT+ at the same learning rates, exact mode."""
    T = GRPO_FISFT_ITERATIONS
    rules = ("grpo", "fisft+-", "fisft+")
    m = model()
    hists, finals, auc, scale = {}, {}, {}, {}
    for p0 in POLICIES:
        P0 = pretrained(p0)
        total = {r: float(_rule(r, GROUP).weights(P0, m).sum()) for r in rules}
        scale[p0] = {r: total["grpo"] / total[r] for r in rules}
        for lr in GRPO_FISFT_LRS:
            for convention in LR_CONVENTIONS:
                label = f"{p0} lr={lr:g} {convention}"
                for rule in rules:
                    factor = scale[p0][rule] if convention == LR_CONVENTIONS[1] else 1.0
                    hists[(label, rule)] = run(rule, p0, T, lr=lr * factor, group_size=GROUP)
                finals[label] = {r: float(hists[(label, r)].J[-1]) for r in rules}
                auc[label] = {r: float(hists[(label, r)].J.mean()) for r in rules}
    cases = grpo_fisft_cases(finals)
    verdict = case_verdict(cases)
    reason = (f"Final J after {T} iterations (grpo / fisft+- / fisft+): "
              + "; ".join(f"{k} {f['grpo']:.3f} / {f['fisft+-']:.3f} / {f['fisft+']:.3f}"
                          for k, f in finals.items())
              + ". At P0 GRPO's total weight sum rho w is "
              + ", ".join(f"{p0}: {1 / s['fisft+-']:.2f}x less than fisft+-'s and "
                          f"{1 / s['fisft+']:.2f}x less than fisft+'s" for p0, s in scale.items())
              + f", so at one learning rate the F-ISFT rules take larger steps; the "
              f"'{LR_CONVENTIONS[1]}' runs divide their lr by that factor. 'About the same' is "
              f"|J_grpo - J_fisft+-| <= {APPROX_MARGIN:g} and 'lags' is J_fisft+ < J_grpo - "
              f"{LAG_MARGIN:g}: the claim {describe_cases(cases)}.")
    setting = (f"Rules grpo (unbiased std, eps 1e-4), fisft+- and fisft+ (loss averaged within "
               f"each sign group), G = {GROUP}, K = 16, one gradient step per iteration with lr "
               f"{list(GRPO_FISFT_LRS)}, either the same lr for all three ('{LR_CONVENTIONS[0]}')"
               f" or each rule's lr scaled so that its total weight sum rho w at P0 equals "
               f"GRPO's ('{LR_CONVENTIONS[1]}'); exact mode, {T} iterations from the standard "
               "Dirichlet and sparse P0 (M = 6, N = 3). Figure: J against iterations.")
    numbers = {"iterations": T, "group_size": GROUP, "final_J": finals, "mean_J": auc,
               "lr_scale_equal_weight": scale, "cases": cases}

    def plot(ax=None):
        axes = axes_row(ax, len(POLICIES) * len(LR_CONVENTIONS), width=4.2, height=3.8)
        panels = [(p0, c) for p0 in POLICIES for c in LR_CONVENTIONS]
        for a, (p0, convention) in zip(axes, panels, strict=True):
            for j, rule in enumerate(rules):
                for i, lr in enumerate(GRPO_FISFT_LRS):
                    h = hists[(f"{p0} lr={lr:g} {convention}", rule)]
                    a.plot(np.arange(T + 1), h.J, color=f"C{j}", lw=0.8 + 0.8 * i,
                           label=f"{rule} lr={lr:g}")
            a.set_xlabel("iteration")
            a.set_ylabel("J (train)")
            a.set_title(f"{p0} P0, {convention} (G = {GROUP})")
            a.legend(fontsize=5)
        return axes

    return Measurement(setting, rounded(numbers), verdict, reason, plot)


# ------------------------------------------------------- claim 6: GRPO's std re-weighting

REWEIGHT_GROUPS: tuple[int, ...] = (2, 4, 8, 16, 64)
#: the p of a very hard, a medium and a very easy question
P_HARD, P_MID, P_EASY = 0.05, 0.5, 0.95
#: the mid-training policy: this many REINFORCE iterations (lr 30) from the Dirichlet P0
MID_TRAINING_ITERATIONS = 5


def _extreme_half(p: np.ndarray) -> np.ndarray:
    """Mask of the questions whose ``|p - 1/2|`` is above the median (ties: stable order)."""
    order = np.argsort(-np.abs(p - 0.5), kind="stable")
    mask = np.zeros(p.shape, dtype=bool)
    mask[order[: len(p) // 2]] = True
    return mask


def _one_step_gains(P: np.ndarray, G: int) -> dict:
    """One exact GRPO and one Dr. GRPO step from ``P`` with the same total weight.

    The Dr. GRPO step size is scaled so that ``sum rho w`` is the same for both rules (lr 1 for
    GRPO); the gains ``p' - p`` then differ only through how the weight is spread.
    """
    m = model()
    p = success_probability(P, m.answers)
    grpo, dr = _rule("grpo", G), _rule("dr-grpo", G)
    w_g, w_d = grpo.weights(P, m), dr.weights(P, m)
    lr_d = float(w_g.sum() / w_d.sum())
    P_g = operator.gradient_step(P, success_edges(P, w_g, m.answers, m.identity), 1.0)
    P_d = operator.gradient_step(P, success_edges(P, w_d, m.answers, m.identity), lr_d)
    gain_g = success_probability(P_g, m.answers) - p
    gain_d = success_probability(P_d, m.answers) - p
    extreme = _extreme_half(p)
    return {"p": p.tolist(), "gain_grpo": gain_g.tolist(), "gain_dr_grpo": gain_d.tolist(),
            "extreme_half": extreme.tolist(),
            "shift_to_extreme": float((gain_g - gain_d)[extreme].sum()),
            "total_gain_dr_grpo": float(np.abs(gain_d).sum())}


def reweighting_cases(rows: Mapping[str, Mapping[str, float]], tol: float = 1e-9
                      ) -> dict[str, bool]:
    """Per group size and start policy: whether GRPO's weight at ``p = 0.05`` and ``0.95`` is
    above its weight at ``p = 1/2`` (relative margin ``tol``) and one step at equal total weight
    moves gain to the questions far from ``p = 1/2`` (``shift_to_extreme`` above ``tol`` times
    the total Dr. GRPO gain)."""
    return {name: bool(r["hard_over_mid"] > 1 + tol and r["easy_over_mid"] > 1 + tol
                       and r["shift_to_extreme"] > tol * r["total_gain_dr_grpo"])
            for name, r in rows.items()}


@claim("grpo-std-reweighting", "Liu et al. (Dr. GRPO), arXiv 2503.20783",
       "GRPO's per-question std normalisation gives questions that are too easy or too hard "
       "(small reward std) more weight than medium ones; Dr. GRPO, without the std, weighs all "
       "questions alike.")
def measure_reweighting() -> Measurement:
    """GRPO's exact weight ``c_G(p)`` across ``p`` and one step's gain shift against Dr. GRPO."""
    N = model().N
    starts = {"Dirichlet P0": pretrained("dirichlet"),
              f"mid-training (reinforce t={MID_TRAINING_ITERATIONS})":
                  run("reinforce", "dirichlet", MID_TRAINING_ITERATIONS, lr=30.0).P[-1]}
    weights, rows, gains = {}, {}, {}
    for G in REWEIGHT_GROUPS:
        c = _rule("grpo", G).question_weight(np.array([P_HARD, P_MID, P_EASY]))
        weights[G] = {"grpo_w_at_0.05": c[0] / N, "grpo_w_at_0.5": c[1] / N,
                      "grpo_w_at_0.95": c[2] / N, "dr_grpo_w": (G - 1) / (G * N)}
        for start, P in starts.items():
            step = _one_step_gains(P, G)
            gains[(G, start)] = step
            rows[f"G={G}, {start}"] = {"hard_over_mid": c[0] / c[1], "easy_over_mid": c[2] / c[1],
                                       **{k: step[k] for k in ("shift_to_extreme",
                                                               "total_gain_dr_grpo")}}
    cases = reweighting_cases(rows)
    verdict = case_verdict(cases)
    reason = ("GRPO's weight c_G(p) at p = 0.05 / 0.5 / 0.95: "
              + "; ".join(f"G={G}: {w['grpo_w_at_0.05'] * N:.3f} / {w['grpo_w_at_0.5'] * N:.3f}"
                          f" / {w['grpo_w_at_0.95'] * N:.3f}" for G, w in weights.items())
              + " (Dr. GRPO: (G-1)/G at every p). One exact step at equal total weight: gain "
              "moved to the half of the questions farthest from p = 1/2 (GRPO minus Dr. GRPO, "
              "relative to Dr. GRPO's total gain): "
              + "; ".join(f"{k} {r['shift_to_extreme'] / r['total_gain_dr_grpo']:+.3f}"
                          for k, r in rows.items())
              + f". A case holds when both extreme weights exceed the medium one and the gain "
              f"moves towards the extreme questions: the claim {describe_cases(cases)}.")
    setting = (f"Weights: grpo's c_G(p)/N (unbiased std, eps 1e-4) for G = "
               f"{list(REWEIGHT_GROUPS)} against dr-grpo's (G-1)/(G N), N = {N}. Measured: one "
               "exact GRPO step (lr 1) and one Dr. GRPO step with the same total weight sum "
               "rho w, from the standard Dirichlet P0 and from the policy after "
               f"{MID_TRAINING_ITERATIONS} REINFORCE iterations (lr 30), whose questions "
               "straddle p = 1/2. Figure: w(p) (with REINFORCE's 1 and RFT's 1/p) and the "
               "per-question gain difference.")
    numbers = {"weights": {str(G): w for G, w in weights.items()}, "cases_numbers": rows,
               "steps": {f"G={G}, {s}": v for (G, s), v in gains.items()}, "cases": cases}

    def plot(ax=None):
        axes = axes_row(ax, 2, width=5.0, height=4.0)
        grid = np.linspace(0.005, 0.995, 199)
        for j, G in enumerate(REWEIGHT_GROUPS):
            axes[0].plot(grid, _rule("grpo", G).question_weight(grid) / N, color=f"C{j}",
                         label=f"GRPO c_G(p)/N, G={G}")
        axes[0].plot(grid, np.full(grid.shape, (GROUP - 1) / (GROUP * N)), "k--",
                     label=f"Dr. GRPO (G-1)/(GN), G={GROUP}")
        axes[0].plot(grid, np.ones(grid.shape), "k:", label="REINFORCE 1")
        axes[0].plot(grid, 1.0 / grid, "k-.", label="RFT 1/p")
        axes[0].set_yscale("log")
        axes[0].set_ylim(0.1, 30)
        axes[0].set_xlabel("p (success probability of the question)")
        axes[0].set_ylabel("weight w(p) on grad p")
        axes[0].legend(fontsize=6)
        for j, G in enumerate(REWEIGHT_GROUPS):
            for start, marker in zip(starts, ("o", "s"), strict=True):
                s = gains[(G, start)]
                diff = np.array(s["gain_grpo"]) - np.array(s["gain_dr_grpo"])
                axes[1].plot(s["p"], diff, marker, color=f"C{j}",
                             label=f"G={G}, {start}" if G in (8, 64) else None)
        axes[1].axhline(0.0, color="k", lw=0.8)
        axes[1].axvline(0.5, color="gray", lw=0.8, ls=":")
        axes[1].set_xlabel("p at the start of the step")
        axes[1].set_ylabel("gain(GRPO) - gain(Dr. GRPO), equal total weight")
        axes[1].legend(fontsize=6)
        return axes

    return Measurement(setting, rounded(numbers), verdict, reason, plot)


# ------------------------------------------------- claim 7: PSR and NSR differ only by w(p)

PSR_NSR_LR = 30.0
#: differences at or below this are rounding; a residual above DIFFER is a real difference
EQUAL_TOL = 1e-12
DIFFER = 1e-6


def _sign_coefficients(G: int, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``E[a+(1+k, 1)]`` of F-ISFT+'s positives and ``E[a-(k, 0)]`` of F-ISFT-'s negatives,
    ``k ~ Bin(G-1, p)``, from the rules' per-sample coefficients (not their closed forms)."""
    pos, neg = _rule("fisft+", G), _rule("fisft-", G)
    alpha1 = binomial_expectation(lambda k: pos.advantage(k + 1, np.ones(len(k))), G - 1, p)
    alpha0 = binomial_expectation(lambda k: neg.advantage(k, np.zeros(len(k))), G - 1, p)
    return alpha1, alpha0


def _psr_nsr_numbers(P: np.ndarray, G: int) -> dict:
    m = model()
    p = success_probability(P, m.answers)
    rho = m.weights("train") / m.N
    alpha1, alpha0 = _sign_coefficients(G, p)

    def failure_edges(w: np.ndarray) -> np.ndarray:
        return visit_edges(P, w) - success_edges(P, w, m.answers, m.identity)

    # F3 with one weight: pushing failures down with u = pushing successes up with u
    u = rho * alpha1
    same = np.abs(operator.gradient(P, -failure_edges(u))
                  - operator.gradient(P, success_edges(P, u, m.answers, m.identity))).max()
    # the negative-only step, from its expected negative samples
    neg_edges = failure_edges(rho * alpha0)
    P_neg = operator.gradient_step(P, neg_edges, PSR_NSR_LR)
    # the positive-only step with each question's weight rescaled by w-(p)/w+(p)
    rescale = -alpha0 / alpha1
    P_pos_rescaled = operator.gradient_step(
        P, success_edges(P, rho * alpha1 * rescale, m.answers, m.identity), PSR_NSR_LR)
    P_rule = _rule("fisft-", G, lr=PSR_NSR_LR).exact_step(P, m).P
    # without per-question rescaling: the best single factor between the two gradients
    g_pos = operator.gradient(P, success_edges(P, rho * alpha1, m.answers, m.identity))
    g_neg = operator.gradient(P, neg_edges)
    factor = float((g_pos * g_neg).sum() / (g_pos * g_pos).sum())
    residual = float(np.linalg.norm(g_neg - factor * g_pos) / np.linalg.norm(g_neg))
    return {"p": p.tolist(), "weight_ratio_w-_over_w+": rescale.tolist(),
            "same_weight_gradient_max_diff": float(same),
            "rescaled_step_max_diff": float(np.abs(P_neg - P_pos_rescaled).max()),
            "rule_step_max_diff": float(np.abs(P_neg - P_rule).max()),
            "best_global_factor": factor, "global_rescale_residual": residual}


def psr_nsr_verdict(symmetric: Mapping[str, float], varied: Mapping[str, float],
                    tol: float = EQUAL_TOL, differ: float = DIFFER) -> tuple[str, list[str]]:
    """HOLDS when, on both policies, the same-weight gradients and the per-question rescaled
    steps agree to ``tol`` (and the rule's step with them), one global factor suffices where
    every question has the same ``p`` (relative residual ``<= 1e-10``), and it does not where
    ``p`` varies (residual ``> differ``); FAILS otherwise. Returns the verdict and the failed
    conditions."""
    failed = []
    for name, r in (("symmetric", symmetric), ("varied", varied)):
        for key in ("same_weight_gradient_max_diff", "rescaled_step_max_diff",
                    "rule_step_max_diff"):
            if not r[key] <= tol:
                failed.append(f"{name}: {key} = {r[key]:.3g} > {tol:g}")
    if not symmetric["global_rescale_residual"] <= 1e-10:
        failed.append(f"symmetric: global_rescale_residual = "
                      f"{symmetric['global_rescale_residual']:.3g} > 1e-10")
    if not varied["global_rescale_residual"] > differ:
        failed.append(f"varied: global_rescale_residual = "
                      f"{varied['global_rescale_residual']:.3g} <= {differ:g}")
    return (HOLDS if not failed else FAILS), failed


@claim("psr-nsr-differ-only-by-weight", "ALGORITHMS.md §0.5 F3 (issue 10 §5)",
       "In exact single-step mode, positive-only and negative-only updates differ only through "
       "the per-question weight w(p): E[1[correct] grad log pi] = grad p = "
       "E[-1[wrong] grad log pi].")
def measure_psr_nsr() -> Measurement:
    """F-ISFT+ against F-ISFT- in one exact step, per-question and globally rescaled."""
    sym = _psr_nsr_numbers(pretrained("symmetric"), GROUP)
    var = _psr_nsr_numbers(pretrained("dirichlet"), GROUP)
    verdict, failed = psr_nsr_verdict(sym, var)
    reason = (f"Pushing failures down and successes up with the same weights: max gradient "
              f"difference {sym['same_weight_gradient_max_diff']:.2g} (symmetric P0) and "
              f"{var['same_weight_gradient_max_diff']:.2g} (Dirichlet P0). The F-ISFT- step "
              f"built from its expected negative samples equals the F-ISFT+ step with each "
              f"question's weight rescaled by w-(p)/w+(p) to {sym['rescaled_step_max_diff']:.2g}"
              f" / {var['rescaled_step_max_diff']:.2g} (and the fisft- rule's step to "
              f"{var['rule_step_max_diff']:.2g}). With one global factor instead, the "
              f"relative residual is {sym['global_rescale_residual']:.2g} where every question "
              f"has p = {sym['p'][0]:.4f}, but {var['global_rescale_residual']:.3g} on the "
              f"Dirichlet P0, whose p range over {min(var['p']):.3f}..{max(var['p']):.3f} "
              f"(w-/w+ from {min(var['weight_ratio_w-_over_w+']):.3f} to "
              f"{max(var['weight_ratio_w-_over_w+']):.3f}). Rule: equal to {EQUAL_TOL:g}, "
              f"different above {DIFFER:g}"
              + (f"; failed: {'; '.join(failed)}." if failed else "; every condition is met."))
    setting = (f"Rules fisft+ and fisft- (G = {GROUP}, loss averaged within the sign group), one "
               f"exact gradient step (lr {PSR_NSR_LR:g}) from the standard symmetric P0 (all p "
               "equal) and the Dirichlet P0 (p varies); expected sample coefficients from the "
               "rules' per-sample advantages, failure edges from the visit edges. Figure: "
               "w+(p), w-(p) and their ratio.")
    numbers = {"group_size": GROUP, "lr": PSR_NSR_LR, "symmetric": sym, "dirichlet": var,
               "failed": failed}

    def plot(ax=None):
        axes = axes_row(ax, 1, width=5.2, height=4.0)
        a = axes[0]
        grid = np.linspace(0.01, 0.99, 99)
        wp = _rule("fisft+", GROUP).question_weight(grid)
        wn = _rule("fisft-", GROUP).question_weight(grid)
        a.plot(grid, wp, label="F-ISFT+ w+(p) = (1-(1-p)^G)/p")
        a.plot(grid, wn, label="F-ISFT- w-(p) = (1-p^G)/(1-p)")
        a.plot(grid, wn / wp, "k--", label="w-/w+ (the per-question rescaling)")
        a.plot(var["p"], var["weight_ratio_w-_over_w+"], "ko", label="Dirichlet P0 questions")
        a.set_yscale("log")
        a.set_xlabel("p")
        a.set_ylabel("weight per question (times 1/N)")
        a.set_title(f"G = {GROUP}")
        a.legend(fontsize=6)
        return axes

    return Measurement(setting, rounded(numbers), verdict, reason, plot)


# ------------------------------------------------- claim 9: log p and arcsin sqrt(p) ascent

ASCENT_GROUPS: tuple[int, ...] = (8, 64, 512)
#: p grid of the weight-ratio check
P_GRID = np.round(np.linspace(0.05, 0.95, 19), 10)
#: within this relative error the rule "ascends" the potential
ASCENT_TOL = 0.05
FD_STEP = 1e-6


def softmax_potential_gradient(P: np.ndarray, potential: Callable[[np.ndarray], float],
                               h: float = FD_STEP) -> np.ndarray:
    """Central finite differences of ``potential(P)`` in the softmax logits ``theta = log P``.

    ``d potential / d theta_n[s, b] ~ (potential(softmax(theta + h e)) - potential(softmax(
    theta - h e))) / (2 h)`` for every entry (``P > 0`` everywhere). Costs ``2 N M^2``
    evaluations of ``potential``.
    """
    theta = operator.logits(P)
    grad = np.empty(P.shape)
    for idx in np.ndindex(*P.shape):
        up, down = theta.copy(), theta.copy()
        up[idx] += h
        down[idx] -= h
        grad[idx] = (potential(operator.softmax(up)) - potential(operator.softmax(down))) / (2 * h)
    return grad


def ascent_cases(rows: Mapping[str, Mapping[str, float]], tol: float = ASCENT_TOL
                 ) -> dict[str, bool]:
    """Per rule and group size: whether the weight ratio to the target stays within ``tol`` of
    1 on the p grid and the rule's exact gradient is within ``tol`` (relative) of the
    finite-difference gradient of the potential."""
    return {name: bool(r["max_ratio_deviation"] <= tol and r["gradient_rel_error"] <= tol)
            for name, r in rows.items()}


@claim("log-vs-arcsin-ascent", "Davis & Recht, arXiv 2510.13651",
       "Rejection sampling does gradient ascent on log p; GRPO does gradient ascent on "
       "arcsin sqrt(p), because grad p / sqrt(p(1-p)) = 2 grad arcsin sqrt(p).")
def measure_ascent() -> Measurement:
    """The rules' exact weights against 1/p and 1/sqrt(p(1-p)), and their gradients against the
    finite-difference gradients of sum rho log p / N and sum rho 2 arcsin sqrt(p) / N."""
    m = model()
    P = pretrained("dirichlet")
    rho = m.weights("train")
    targets = {
        "rft (fisft+)": ("fisft+", lambda p: 1.0 / p, lambda p: np.log(p)),
        "grpo": ("grpo", lambda p: 1.0 / np.sqrt(p * (1.0 - p)),
                 lambda p: 2.0 * np.arcsin(np.sqrt(p))),
    }
    rows, curves = {}, {}
    for family, (name, weight, potential) in targets.items():
        def phi(Q, potential=potential):
            return float(rho @ potential(success_probability(Q, m.answers))) / m.N

        fd = softmax_potential_gradient(P, phi)
        for G in ASCENT_GROUPS:
            rule = _rule(name, G)
            ratio = rule.question_weight(P_GRID) / weight(P_GRID)
            curves[(family, G)] = ratio
            g_rule = operator.gradient(P, success_edges(P, rule.weights(P, m), m.answers,
                                                        m.identity))
            rows[f"{family} G={G}"] = {
                "max_ratio_deviation": float(np.abs(ratio - 1.0).max()),
                "ratio_at_p_0.05": float(ratio[0]), "ratio_at_p_0.5": float(ratio[9]),
                "gradient_rel_error": float(np.linalg.norm(g_rule - fd) / np.linalg.norm(fd)),
            }
    cases = ascent_cases(rows)
    verdict = case_verdict(cases)
    reason = ("Weight ratio to the target (max |ratio - 1| on p = 0.05..0.95) and relative "
              "error of the rule's exact gradient against the potential's: "
              + "; ".join(f"{k}: {r['max_ratio_deviation']:.3f}, {r['gradient_rel_error']:.3f}"
                          for k, r in rows.items())
              + f". A case holds when both are within {ASCENT_TOL:g}: the claim "
              f"{describe_cases(cases)}. Finite groups give other weights: F-ISFT+'s "
              "(1-(1-p)^G)/p and GRPO's c_G(p) reach the targets only as G grows.")
    setting = ("Rules fisft+ (rejection sampling with the loss averaged over the correct samples "
               f"of a group) and grpo (unbiased std, eps 1e-4), G = {list(ASCENT_GROUPS)}: "
               "question_weight(p) against 1/p and 1/sqrt(p(1-p)) on p = 0.05..0.95, and the "
               "exact gradient at the standard Dirichlet P0 against central finite differences "
               f"(step {FD_STEP:g}) of sum rho log p / N and sum rho 2 arcsin sqrt(p) / N in the "
               "logits. Figure: the weight ratios.")
    numbers = {"p_grid": P_GRID.tolist(), "rows": rows, "cases": cases}

    def plot(ax=None):
        axes = axes_row(ax, 2, width=4.8, height=3.8)
        for a, family, label in zip(axes, targets, ("w(p) * p", "c_G(p) * sqrt(p(1-p))"),
                                    strict=True):
            for j, G in enumerate(ASCENT_GROUPS):
                a.plot(P_GRID, curves[(family, G)], "-o", ms=3, color=f"C{j}", label=f"G={G}")
            a.axhline(1.0, color="k", lw=0.8)
            a.set_xlabel("p")
            a.set_ylabel(label)
            a.set_title(f"{family}: weight / target")
            a.legend(fontsize=7)
        return axes

    return Measurement(setting, rounded(numbers), verdict, reason, plot)
