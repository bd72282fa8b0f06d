"""Claims about effects that need finite samples, several epochs, clipping or a refit.

In expectation, positive-only, negative-only and mixed REINFORCE-type updates differ only
through their per-question weight (ALGORITHMS.md §0.5 F3), and a Bernoulli(1/2) reward has a
zero expected gradient. The field's claims below are therefore measured in **sampled mode**
(``iterate(..., mode="sampled")``), from fixed seeds, with errors derived from the seeds
(:mod:`rlstar_theory.claims.seed_stats`):

1. ``fisft-minus-collapse`` (Samineni et al., arXiv 2505.13697): F-ISFT- collapses with few
   samples and several epochs. Several epochs of SFT on one batch are
   :class:`~rlstar_theory.claims.repeated_batch.RepeatedBatch` (``E`` gradient steps on the
   same counts); GRPO uses its own clipped multi-epoch surrogate.
2. ``nsr-keeps-pass-at-k`` (Zhu et al., arXiv 2506.01347): negative-only training keeps or
   raises pass@k for every k up to 256; positive-only raises pass@1 and lowers large-k pass@k.
3. ``support-never-grows`` (Wu et al., arXiv 2507.14843): the support never grows; sampled
   STaR's refit zeroes unseen transitions, softmax gradient rules never reach 0, and only SFT
   on reference data adds transitions.
4. ``entropy-performance-law`` (Cui et al., arXiv 2505.22617): ``J = -a exp(H) + b`` over a
   run, ``H`` the policy entropy.
5. ``spurious-reward-clipping`` (Shao et al., arXiv 2506.10947): with a Bernoulli(1/2) reward,
   PPO's drift towards the pre-trained mode comes from clipping.

Each claim is a function with its settings as keyword arguments (small defaults keep the whole
module to a few seconds) and a registered measure that calls it with the defaults. All runs use
the standard model of :mod:`rlstar_theory.claims.models` (``M = 6``, ``N = 3``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rlstar_theory.claims.models import dirichlet_p0, sparse_p0, standard_model
from rlstar_theory.claims.registry import CONDITIONAL, FAILS, HOLDS, Measurement, claim
from rlstar_theory.claims.repeated_batch import RepeatedBatch
from rlstar_theory.claims.seed_stats import grid_verdict, seed_mean_se, z_score
from rlstar_theory.figures.style import axes_row, integer_ticks
from rlstar_theory.rules.base import Rule
from rlstar_theory.rules.history import History
from rlstar_theory.rules.iterate import iterate
from rlstar_theory.rules.registry import make_rule, rule_options

__all__ = [
    "COLLAPSE_SHARE",
    "ENTROPY_R2",
    "PASS_FLOOR",
    "Z_THRESHOLD",
    "EntropyFit",
    "clipping_drift_verdict",
    "collapse_verdict",
    "entropy_law_verdict",
    "entropy_performance_law",
    "fisft_minus_collapse",
    "fit_entropy_law",
    "mode_probability",
    "nsr_keeps_pass",
    "nsr_psr_pass_at_k",
    "pass_tolerance",
    "psr_trades_pass",
    "spurious_reward_clipping",
    "support_never_grows",
    "support_verdict",
]

#: step size of the gradient rules on the logits (their coefficients carry rho = 1/M and 1/N)
LR = 10.0
#: a grid cell "collapses" when J ends below its start in at least this share of the seeds
COLLAPSE_SHARE = 0.5
#: pass@k changes smaller than this count as "kept" even when every seed agrees
PASS_FLOOR = 1e-3
#: the entropy law "fits" a rule when the median R^2 of its runs reaches this
ENTROPY_R2 = 0.9
#: fewest (J, H) points a fit uses (2 parameters; fewer points make R^2 meaningless)
MIN_FIT_POINTS = 5
#: significance threshold of a z-score (two standard errors from the seeds)
Z_THRESHOLD = 2.0


def _runs(rule: Rule, P0: np.ndarray, model, seeds: Sequence[int], iterations: int,
          pass_ks: Sequence[int] = (1,), keep_policies: bool = False) -> list[History]:
    """One sampled run per seed (no maj@k)."""
    return [iterate(rule, P0, model, iterations, mode="sampled", rng=seed, pass_ks=pass_ks,
                    maj_ks=(), keep_policies=keep_policies) for seed in seeds]


def _rule(name: str, **options) -> Rule:
    """``make_rule(name, strict=True, **options)``, sampling trajectories where the rule can.

    At the small ``K`` of these claims, sampling whole trajectories is faster than the count
    sampler, and both have the same distribution.
    """
    if "sampler" in rule_options(name):
        options = {"sampler": "trajectories", **options}
    return make_rule(name, strict=True, **options)


def _band(ax, t, values, label: str, **style) -> None:
    """Mean over seeds with a +-1 standard-error band."""
    mean, se = seed_mean_se(values)
    line, = ax.plot(t, mean, label=label, **style)
    ax.fill_between(t, mean - se, mean + se, color=line.get_color(), alpha=0.2)


# ---------------------------------------------------------------------------------------------
# 1. F-ISFT- collapse (Samineni et al.)


def collapse_verdict(shares: Sequence[float], threshold: float = COLLAPSE_SHARE) -> str:
    """Verdict of "F-ISFT- collapses with few samples and several epochs".

    Parameters
    ----------
    shares : sequence of float
        For each number of epochs ``E > 1`` at the smallest ``K``: the share of seeds whose
        final ``J_T`` is below the start ``J_0``.
    threshold : float
        A setting collapses when its share is ``>= threshold``.

    Returns
    -------
    str
        HOLDS if every setting collapses, CONDITIONAL if some do, FAILS if none.
    """
    return grid_verdict([s >= threshold for s in shares])


def _collapse_rule(name: str, K: int, epochs: int, lr: float) -> Rule:
    if name == "grpo":
        return _rule("grpo", samples_per_question=K, group_size=K, lr=lr, epochs=epochs,
                     eps_clip=0.2)
    inner = _rule(name, samples_per_question=K, group_size=K, lr=lr)
    return RepeatedBatch(inner=inner, epochs=epochs)


def fisft_minus_collapse(Ks: Sequence[int] = (4, 16), epochs: Sequence[int] = (1, 4, 16, 64),
                         seeds: Sequence[int] = tuple(range(10)), iterations: int = 20,
                         lr: float = LR) -> Measurement:
    """F-ISFT- against F-ISFT+- and GRPO with ``K = G`` samples and ``E`` epochs per batch.

    F-ISFT- runs on every ``(K, E)``; F-ISFT+- and GRPO (clip 0.2) at the smallest ``K``.
    A seed collapses when ``J_T < J_0``; the verdict is :func:`collapse_verdict` over the
    ``E > 1`` settings at the smallest ``K``.
    """
    model, P0 = standard_model(), dirichlet_p0()
    k_small = min(Ks)
    several = [E for E in epochs if E > 1]
    if not several:
        raise ValueError(f"epochs must contain a value > 1, got {tuple(epochs)}")
    pass_ks = (1, 16, 256)
    cells: dict[tuple[str, int, int], np.ndarray] = {}
    passes: dict[tuple[str, int, int], np.ndarray] = {}
    for name in ("fisft-", "fisft+-", "grpo"):
        for K in (Ks if name == "fisft-" else (k_small,)):
            for E in epochs:
                hs = _runs(_collapse_rule(name, K, E, lr), P0, model, seeds, iterations, pass_ks)
                cells[name, K, E] = np.array([h.J for h in hs])
                passes[name, K, E] = np.array([[h.train.pass_at_k[k][-1] for k in pass_ks]
                                               for h in hs])
    J0 = float(cells["fisft-", k_small, epochs[0]][0, 0])

    def share(key, fraction=1.0) -> float:
        return float(np.mean(cells[key][:, -1] < fraction * cells[key][:, 0]))

    table = {f"{name} K={K} E={E}": {
        "J_final_mean": float(seed_mean_se(J[:, -1])[0]),
        "J_final_se": float(seed_mean_se(J[:, -1])[1]),
        "J_min_mean": float(J.min(axis=1).mean()),
        "collapse_share": share((name, K, E)),
        "severe_share": share((name, K, E), 0.5),
        **{f"pass@{k}_final_mean": float(v) for k, v in zip(
            pass_ks, passes[name, K, E].mean(axis=0), strict=True)},
    } for (name, K, E), J in cells.items()}
    shares = [share(("fisft-", k_small, E)) for E in several]
    verdict = collapse_verdict(shares)
    collapsed = [E for E, s in zip(several, shares, strict=True) if s >= COLLAPSE_SHARE]

    def cell(name, K, E) -> str:
        row = table[f"{name} K={K} E={E}"]
        return (f"{row['collapse_share']:.2f} (J_T = {row['J_final_mean']:.3f} ± "
                f"{row['J_final_se']:.3f})")

    S = len(seeds)
    reason = (
        f"Share of {S} seeds with J_T < J_0 = {J0:.3f} after {iterations} iterations, F-ISFT− "
        f"at K = G = {k_small}: " + ", ".join(f"E = {E}: {cell('fisft-', k_small, E)}"
                                              for E in epochs)
        + f". A setting collapses when the share is ≥ {COLLAPSE_SHARE}; the claim holds if every "
        f"E > 1 collapses (collapsed: {collapsed or 'none'}). Same settings, F-ISFT+−: "
        + ", ".join(f"E = {E}: {cell('fisft+-', k_small, E)}" for E in epochs)
        + "; GRPO (clip 0.2): "
        + ", ".join(f"E = {E}: {cell('grpo', k_small, E)}" for E in epochs)
        + ". More samples, F-ISFT− at K = " + ", ".join(
            f"{K}: " + ", ".join(f"E = {E}: {cell('fisft-', K, E)}" for E in epochs)
            for K in Ks if K != k_small) + "."
    )
    setting = (f"Sampled mode, standard model M = 6, N = 3, Dirichlet P0 (dirichlet_p0); rules "
               f"fisft- and fisft+- with E full-batch gradient steps of lr = {lr} on each sampled "
               f"batch (RepeatedBatch: multi-epoch SFT on the same samples), grpo with its "
               f"clipped surrogate (eps_clip 0.2, epochs = E, lr = {lr}); K = G in {tuple(Ks)}, "
               f"E in {tuple(epochs)}, {iterations} iterations, seeds {tuple(seeds)}. Collapse of "
               f"a seed: J_T < J_0 (severe: J_T < J_0/2).")
    numbers = {"J0": J0, "seeds": S, "iterations": iterations, "lr": lr, "cells": table,
               "collapse_share_fisft-_small_K": dict(zip(map(str, several), shares, strict=True))}
    t = np.arange(iterations + 1)
    E_show = max(several)

    def plot(ax=None):
        axes = axes_row(ax, 2, 4.2, 3.0)
        for name in ("fisft-", "fisft+-", "grpo"):
            _band(axes[0], t, cells[name, k_small, E_show], name)
        axes[0].axhline(J0, color="0.5", lw=0.8, ls=":")
        axes[0].set(xlabel="iteration", ylabel="J (mean ± s.e. over seeds)",
                    title=f"K = G = {k_small}, {E_show} epochs per batch")
        integer_ticks(axes[0])
        axes[0].legend()
        markers = iter("osD^v<>")
        for name in ("fisft-", "fisft+-", "grpo"):
            for K in (Ks if name == "fisft-" else (k_small,)):
                axes[1].plot(epochs, [share((name, K, E)) for E in epochs],
                             marker=next(markers, "o"), alpha=0.8, label=f"{name}, K = {K}")
        axes[1].axhline(COLLAPSE_SHARE, color="0.5", lw=0.8, ls=":")
        axes[1].set(xscale="log", xlabel="epochs per batch E",
                    ylabel="share of seeds with J_T < J_0", title="collapse share")
        axes[1].legend()
        return axes

    return Measurement(setting, numbers, verdict, reason, plot)


@claim("fisft-minus-collapse", "Samineni et al., arXiv 2505.13697",
       "F-ISFT− (training only on the negative samples) collapses with few samples per question "
       "and several epochs per batch (sampled mode).")
def measure_fisft_minus_collapse() -> Measurement:
    """The registered measurement (default settings of :func:`fisft_minus_collapse`)."""
    return fisft_minus_collapse()


# ---------------------------------------------------------------------------------------------
# 2. Negative-only keeps pass@k; positive-only trades large-k pass@k for pass@1 (Zhu et al.)


def pass_tolerance(delta_se) -> np.ndarray:
    """``max(2 se, PASS_FLOOR)``: a pass@k change within it counts as no change."""
    return np.maximum(Z_THRESHOLD * np.asarray(delta_se, dtype=float), PASS_FLOOR)


def nsr_keeps_pass(delta_mean, delta_se) -> bool:
    """Whether negative-only training keeps or raises pass@k at every ``k``.

    ``delta_mean[i] >= -max(2 se_i, PASS_FLOOR)`` for every ``k_i`` (the change of pass@k
    from ``t = 0`` to ``t = T``, mean and standard error over seeds).
    """
    return bool(np.all(np.asarray(delta_mean, dtype=float) >= -pass_tolerance(delta_se)))


def psr_trades_pass(delta_mean, delta_se) -> bool:
    """Whether positive-only training raises pass@1 and lowers pass@k at the largest ``k``.

    ``delta_mean[0] > tol_0`` and ``delta_mean[-1] < -tol_-1``, ``tol = max(2 se, PASS_FLOOR)``;
    the ``k`` are ascending with ``k_0 = 1``.
    """
    d = np.asarray(delta_mean, dtype=float)
    tol = pass_tolerance(delta_se)
    return bool(d[0] > tol[0] and d[-1] < -tol[-1])


def nsr_psr_pass_at_k(cells: Sequence[tuple[float, int]] = ((3.0, 4), (3.0, 8), (LR, 4),
                                                            (LR, 8)),
                      ks: Sequence[int] = (1, 4, 16, 64, 256),
                      seeds: Sequence[int] = tuple(range(8)),
                      iterations: int = 30) -> Measurement:
    """F-ISFT- (negatives only) and F-ISFT+ (positives only) on a grid of ``(lr, K = G)``.

    The change ``Delta_k = pass@k(P_T) - pass@k(P_0)`` per seed gives a mean and a standard
    error; a cell holds when :func:`nsr_keeps_pass` and :func:`psr_trades_pass` both hold, and
    the verdict is :func:`~rlstar_theory.claims.seed_stats.grid_verdict` over the cells.
    """
    ks = tuple(sorted(ks))
    if ks[0] != 1:
        raise ValueError(f"ks must contain 1 (pass@1), got {ks}")
    model, P0 = standard_model(), dirichlet_p0()
    rules = {"fisft-": "negatives only", "fisft+": "positives only"}
    change: dict[tuple[str, float, int], tuple[np.ndarray, np.ndarray]] = {}
    start = {}
    for lr, K in cells:
        for name in rules:
            rule = _rule(name, samples_per_question=K, group_size=K, lr=lr)
            hs = _runs(rule, P0, model, seeds, iterations, ks)
            start = {str(k): float(hs[0].train.pass_at_k[k][0]) for k in ks}
            delta = np.array([[h.train.pass_at_k[k][-1] - h.train.pass_at_k[k][0] for k in ks]
                              for h in hs])  # (S, len(ks))
            change[name, lr, K] = seed_mean_se(delta)
    nsr = [nsr_keeps_pass(*change["fisft-", lr, K]) for lr, K in cells]
    psr = [psr_trades_pass(*change["fisft+", lr, K]) for lr, K in cells]
    tol = {key: pass_tolerance(err) for key, (_, err) in change.items()}
    raised = [bool(change["fisft+", lr, K][0][0] > tol["fisft+", lr, K][0]) for lr, K in cells]
    lowered = [bool(change["fisft+", lr, K][0][-1] < -tol["fisft+", lr, K][-1])
               for lr, K in cells]
    holds = [a and b for a, b in zip(nsr, psr, strict=True)]
    verdict = grid_verdict(holds)
    table = {f"lr={lr} K={K}": {
        "nsr_keeps": nsr[i], "psr_trades": psr[i], "psr_raises_pass1": raised[i],
        "psr_lowers_largest_k": lowered[i],
        **{name: {"delta_mean": dict(zip(map(str, ks), change[name, lr, K][0].tolist(),
                                         strict=True)),
                  "delta_se": dict(zip(map(str, ks), change[name, lr, K][1].tolist(),
                                       strict=True))} for name in rules},
    } for i, (lr, K) in enumerate(cells)}

    def fmt(name, lr, K) -> str:
        mean, err = change[name, lr, K]
        return ", ".join(f"k={k}: {m:+.3f}±{e:.3f}" for k, m, e in zip(ks, mean, err,
                                                                        strict=True))

    reason = (
        "pass@k of P0: " + ", ".join(f"k={k}: {v:.3f}" for k, v in start.items())
        + f". Change of pass@k from P0 to P_T (mean ± s.e. over {len(seeds)} seeds; 'kept' = "
        f"not below −max(2 s.e., {PASS_FLOOR})). "
        + " ".join(
            f"[lr = {lr}, K = G = {K}] negatives only (fisft-): {fmt('fisft-', lr, K)} -> "
            f"{'keeps every' if nsr[i] else 'lowers some'} pass@k; positives only (fisft+): "
            f"{fmt('fisft+', lr, K)} -> pass@1 {'raised' if raised[i] else 'not raised'}, "
            f"pass@{ks[-1]} {'lowered' if lowered[i] else 'not lowered'}."
            for i, (lr, K) in enumerate(cells))
        + f" The claim holds in a cell when both halves hold: negatives keep pass@k in "
        f"{sum(nsr)}, positives trade pass@{ks[-1]} for pass@1 in {sum(psr)}, both in "
        f"{sum(holds)} of {len(cells)} cells.")
    setting = (f"Sampled mode, standard model M = 6, N = 3, Dirichlet P0; fisft- (negatives "
               f"only) and fisft+ (positives only), one gradient step per batch, K = G, on the "
               f"grid (lr, K) in {tuple(cells)}; {iterations} iterations; pass@k for k in {ks}; "
               f"seeds {tuple(seeds)}.")
    numbers = {"seeds": len(seeds), "iterations": iterations, "ks": list(ks),
               "pass_at_k_P0": start, "cells": table}

    def plot(ax=None):
        axes = axes_row(ax, len(cells), 3.2, 2.8)
        for a, (lr, K) in zip(axes, cells, strict=True):
            for name, label in rules.items():
                mean, err = change[name, lr, K]
                a.errorbar(ks, mean, yerr=err, marker="o", capsize=2, label=label)
            a.axhline(0.0, color="0.5", lw=0.8)
            a.set(xscale="log", xlabel="k", ylabel="Δ pass@k (P_T − P_0)",
                  title=f"lr = {lr:g}, K = G = {K}, T = {iterations}")
        axes[0].legend()
        return axes

    return Measurement(setting, numbers, verdict, reason, plot)


@claim("nsr-keeps-pass-at-k", "Zhu et al., arXiv 2506.01347",
       "Training only on negative samples keeps or raises pass@k for every k up to 256; "
       "training only on positive samples raises pass@1 but lowers pass@k at large k "
       "(sampled mode).")
def measure_nsr_psr_pass_at_k() -> Measurement:
    """The registered measurement (default settings of :func:`nsr_psr_pass_at_k`)."""
    return nsr_psr_pass_at_k()


# ---------------------------------------------------------------------------------------------
# 3. The support never grows (Wu et al., "The Invisible Leash")


def support_verdict(never_grows: bool, star_shrinks: bool, gradient_keeps: bool) -> str:
    """Verdict of "the support never grows; STaR's refit shrinks it; gradient rules keep it".

    FAILS if a rule that trains on its own samples ever grows the support; HOLDS if, besides,
    sampled STaR shrinks it in every seed and the softmax gradient rules keep it exactly;
    CONDITIONAL otherwise.
    """
    if not never_grows:
        return FAILS
    return HOLDS if (star_shrinks and gradient_keeps) else CONDITIONAL


def support_never_grows(seeds: Sequence[int] = tuple(range(4)), iterations: int = 20,
                        K: int = 4, lr: float = LR) -> Measurement:
    """Support size and answer entropy over iterations for star, grpo, reinforce and sft.

    The pre-trained policy is :func:`~rlstar_theory.claims.models.sparse_p0` (some
    transitions, gold ones included, are exactly 0), so SFT on the gold chains has support to
    add.
    """
    model, P0 = standard_model(), sparse_p0()
    rules = {
        "star": _rule("star", samples_per_question=K),
        "grpo": _rule("grpo", samples_per_question=K, group_size=K, lr=lr),
        "reinforce": _rule("reinforce", samples_per_question=K, lr=lr),
        "sft": _rule("sft"),
    }
    runs = {name: _runs(rule, P0, model, seeds, iterations) for name, rule in rules.items()}
    support = {n: np.array([h.support for h in hs]) for n, hs in runs.items()}
    entropy = {n: np.array([h.train.answer_entropy for h in hs]) for n, hs in runs.items()}
    s0 = int(support["star"][0, 0])
    self_sampling = ("star", "grpo", "reinforce")
    never_grows = all(bool((support[n] <= s0).all()) for n in self_sampling)
    star_shrinks = bool((support["star"][:, -1] < s0).all())
    gradient_keeps = all(bool((support[n] == s0).all()) for n in ("grpo", "reinforce"))
    sft_adds = bool((support["sft"][:, -1] > s0).all())
    verdict = support_verdict(never_grows, star_shrinks, gradient_keeps)
    per_rule = {}
    for n in rules:
        dH_mean, dH_se = seed_mean_se(entropy[n][:, -1] - entropy[n][:, 0])
        per_rule[n] = {"support_max": int(support[n].max()), "support_final_min":
                       int(support[n][:, -1].min()), "support_final_max":
                       int(support[n][:, -1].max()),
                       "answer_entropy_final_mean": float(entropy[n][:, -1].mean()),
                       "answer_entropy_change_mean": float(dH_mean),
                       "answer_entropy_change_se": float(dH_se)}

    def span(n) -> str:
        lo, hi = per_rule[n]["support_final_min"], per_rule[n]["support_final_max"]
        return f"{lo}" if lo == hi else f"{lo}–{hi}"

    reason = (
        f"Support of P0: {s0} of {P0.size} edges. Largest support ever reached by the rules "
        f"that train on their own samples: star {per_rule['star']['support_max']}, grpo "
        f"{per_rule['grpo']['support_max']}, reinforce {per_rule['reinforce']['support_max']} "
        f"({'never above' if never_grows else 'ABOVE'} {s0}). Final support (over "
        f"{len(seeds)} seeds): star {span('star')} "
        f"({'shrinks in every seed' if star_shrinks else 'does not shrink in every seed'}), "
        f"grpo {span('grpo')}, reinforce {span('reinforce')} "
        f"({'kept exactly at every step' if gradient_keeps else 'not kept exactly'}); sft "
        f"{span('sft')} ({'adds support' if sft_adds else 'adds no support'}). Answer entropy "
        f"{entropy['star'][0, 0]:.3f} nats at t = 0, change by t = {iterations}: "
        + ", ".join(f"{n} {per_rule[n]['answer_entropy_change_mean']:+.3f} ± "
                    f"{per_rule[n]['answer_entropy_change_se']:.3f}" for n in rules)
        + ". Holds if no self-sampling rule grows the support, star shrinks it and the "
        "gradient rules keep it.")
    setting = (f"Sampled mode, standard model M = 6, N = 3, sparse P0 (sparse_p0: about a "
               f"quarter of the transitions exactly 0); star (refit), grpo and reinforce "
               f"(lr = {lr}) with K = {K} (G = K), and sft (eta = 0.5, the gold chains); "
               f"{iterations} iterations; seeds {tuple(seeds)}.")
    numbers = {"support_P0": s0, "edges": int(P0.size), "seeds": len(seeds),
               "never_grows": never_grows, "star_shrinks": star_shrinks,
               "gradient_keeps": gradient_keeps, "sft_adds": sft_adds, "rules": per_rule}
    t = np.arange(iterations + 1)

    def plot(ax=None):
        axes = axes_row(ax, 2, 4.0, 3.0)
        for n in rules:
            _band(axes[0], t, support[n], n)
            _band(axes[1], t, entropy[n], n)
        axes[0].set(xlabel="iteration", ylabel="support size (edges with P > 0)",
                    title="support")
        axes[1].set(xlabel="iteration", ylabel="answer entropy (nats)", title="answer entropy")
        for a in axes:
            integer_ticks(a)
        axes[0].legend()
        return axes

    return Measurement(setting, numbers, verdict, reason, plot)


@claim("support-never-grows", "Wu et al., \"The Invisible Leash\", arXiv 2507.14843",
       "RLVR cannot leave the base model's support: the support never grows. Sampled STaR's "
       "refit sets unseen transitions to exactly 0 (the support shrinks); softmax gradient "
       "rules never reach 0; only training on reference data can add support.")
def measure_support_never_grows() -> Measurement:
    """The registered measurement (default settings of :func:`support_never_grows`)."""
    return support_never_grows()


# ---------------------------------------------------------------------------------------------
# 4. Entropy-performance law J = -a exp(H) + b (Cui et al.)


@dataclass(frozen=True)
class EntropyFit:
    """Least-squares fit of ``J = -a exp(H) + b`` to the points of a run.

    Attributes
    ----------
    a, b : float
        The coefficients (``a > 0``: J rises as the entropy falls).
    r2 : float
        ``1 - sum (J - J_hat)^2 / sum (J - mean J)^2`` (NaN with fewer than
        :data:`MIN_FIT_POINTS` points or a constant ``J``, to 1e-12 relative).
    points : int
        Points used.
    """

    a: float
    b: float
    r2: float
    points: int

    @property
    def ceiling(self) -> float:
        """``-a + b``: the predicted ``J`` at zero entropy."""
        return self.b - self.a


def fit_entropy_law(H, J) -> EntropyFit:
    """Fit ``J = -a exp(H) + b`` by least squares (linear in ``x = exp(H)``).

    Parameters
    ----------
    H, J : array_like, shape (T,)
        Policy entropy (nats) and return along a run.
    """
    H, J = np.asarray(H, dtype=float), np.asarray(J, dtype=float)
    if H.shape != J.shape or H.ndim != 1:
        raise ValueError(f"H and J must be 1-D of the same length, got {H.shape} and {J.shape}")
    if len(H) < 2:
        return EntropyFit(float("nan"), float("nan"), float("nan"), len(H))
    design = np.column_stack([-np.exp(H), np.ones_like(H)])
    (a, b), *_ = np.linalg.lstsq(design, J, rcond=None)
    ss_tot = float(((J - J.mean()) ** 2).sum())
    ss_res = float(((J - design @ np.array([a, b])) ** 2).sum())
    varies = np.ptp(J) > 1e-12 * max(1.0, float(np.abs(J).max()))  # else R^2 is 0/0
    r2 = 1.0 - ss_res / ss_tot if (varies and len(H) >= MIN_FIT_POINTS) else float("nan")
    return EntropyFit(float(a), float(b), r2, len(H))


def _moving_prefix(H: np.ndarray, J: np.ndarray, atol: float = 1e-12) -> int:
    """Points up to the last iteration at which ``H`` or ``J`` still changed."""
    moved = (np.abs(np.diff(H)) > atol) | (np.abs(np.diff(J)) > atol)
    return int(np.flatnonzero(moved)[-1] + 2) if moved.any() else 1


def entropy_law_verdict(median_r2: Sequence[float], threshold: float = ENTROPY_R2) -> str:
    """HOLDS if every rule's median ``R^2 >= threshold``, CONDITIONAL if some, FAILS if none
    (a NaN ``R^2`` does not fit)."""
    return grid_verdict([bool(r >= threshold) for r in np.asarray(median_r2, dtype=float)])


def entropy_performance_law(rules: Sequence[str] = ("grpo", "star", "reinforce"),
                            seeds: Sequence[int] = tuple(range(4)), iterations: int = 30,
                            K: int = 4, lr: float = LR) -> Measurement:
    """Fit ``J = -a exp(H) + b`` to each sampled run of each rule (``H`` = policy entropy).

    A run is fitted up to the last iteration at which ``J`` or ``H`` still moves (a converged
    refit repeats one point, which would weigh the fit); the verdict is
    :func:`entropy_law_verdict` on each rule's median ``R^2``.
    """
    model, P0 = standard_model(), dirichlet_p0()
    fits: dict[str, list[EntropyFit]] = {}
    curves: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for name in rules:
        known = rule_options(name)
        options = {"samples_per_question": K, "group_size": K, "lr": lr}
        rule = _rule(name, **{k: v for k, v in options.items() if k in known})
        fits[name], curves[name] = [], []
        for h in _runs(rule, P0, model, seeds, iterations):
            n = _moving_prefix(h.policy_entropy, h.J)
            curves[name].append((h.policy_entropy[:n], h.J[:n]))
            fits[name].append(fit_entropy_law(h.policy_entropy[:n], h.J[:n]))
    median = {n: float(np.median([f.r2 if np.isfinite(f.r2) else -np.inf for f in fits[n]]))
              for n in rules}
    verdict = entropy_law_verdict([median[n] for n in rules])
    summary = {n: {"a": [f.a for f in fits[n]], "b": [f.b for f in fits[n]],
                   "r2": [f.r2 for f in fits[n]], "ceiling": [f.ceiling for f in fits[n]],
                   "points": [f.points for f in fits[n]], "median_r2": median[n],
                   "J_max_reached": float(max(c[1].max() for c in curves[n]))}
               for n in rules}

    def describe(n) -> str:
        s = summary[n]
        runs = ", ".join(f"{r:.3f}" for r in s["r2"])
        return (f"{n}: median R² = {median[n]:.3f} (runs {runs}), "
                f"a = {np.mean(s['a']):.3f}, b = {np.mean(s['b']):.3f}, ceiling −a + b = "
                f"{np.mean(s['ceiling']):.3f} (highest J reached {s['J_max_reached']:.3f})")

    fitting = [n for n in rules if median[n] >= ENTROPY_R2]
    reason = ("Least-squares fit of J = −a·exp(H) + b per run (mean over seeds of a, b, "
              "ceiling): " + "; ".join(describe(n) for n in rules)
              + f". The law fits a rule when its median R² ≥ {ENTROPY_R2}; it fits "
              f"{len(fitting)} of {len(rules)} rules ({', '.join(fitting) or 'none'}).")
    setting = (f"Sampled mode, standard model M = 6, N = 3, Dirichlet P0; rules "
               f"{', '.join(rules)} with K = {K} (G = K, lr = {lr} for gradient rules); "
               f"{iterations} iterations; seeds {tuple(seeds)}; H = mean row entropy of the "
               "policy (History.policy_entropy); each run fitted up to its last moving "
               f"iteration, at least {MIN_FIT_POINTS} points for an R².")
    numbers = {"r2_threshold": ENTROPY_R2, "seeds": len(seeds), "iterations": iterations,
               "rules": summary}

    def plot(ax=None):
        axes = axes_row(ax, len(rules), 3.2, 2.8)
        for a, n in zip(axes, rules, strict=True):
            for i, (H, J) in enumerate(curves[n]):
                line, = a.plot(H, J, ".", alpha=0.6, label="runs" if i == 0 else None)
                f = fits[n][i]
                if np.isfinite(f.a):
                    grid = np.linspace(H.min(), H.max(), 50)
                    a.plot(grid, f.b - f.a * np.exp(grid), color=line.get_color(), lw=0.8)
            a.set(xlabel="policy entropy H (nats)", ylabel="J",
                  title=f"{n}: median R² = {median[n]:.2f}")
        return axes

    return Measurement(setting, numbers, verdict, reason, plot)


@claim("entropy-performance-law", "Cui et al., arXiv 2505.22617",
       "Performance is traded for entropy along an RL run: J = −a·exp(H) + b, so the "
       "ceiling is −a + b when the entropy is exhausted.")
def measure_entropy_performance_law() -> Measurement:
    """The registered measurement (default settings of :func:`entropy_performance_law`)."""
    return entropy_performance_law()


# ---------------------------------------------------------------------------------------------
# 5. Spurious rewards: PPO-clip's drift towards the pre-trained mode (Shao et al.)


def mode_probability(P, mode) -> np.ndarray:
    """Mean over rows of the probability of each row's pre-trained mode.

    Parameters
    ----------
    P : array_like, shape (..., N, M, M)
        Policies (a leading axis of iterations allowed).
    mode : array_like of int, shape (N, M)
        ``argmax_{s'} P0_n[s, s']``.

    Returns
    -------
    ndarray, shape (...)
        ``mean_{n, s} P_n[s, mode_n(s)]``.
    """
    P = np.asarray(P, dtype=float)
    idx = np.broadcast_to(np.asarray(mode)[..., None], P.shape[:-1] + (1,))
    return np.take_along_axis(P, idx, axis=-1)[..., 0].mean(axis=(-2, -1))


def clipping_drift_verdict(z_clipped: Sequence[float], z_difference: Sequence[float],
                           threshold: float = Z_THRESHOLD) -> str:
    """Verdict of "PPO-clip drifts towards the pre-trained mode, and the drift comes from
    clipping", per cell of a grid.

    A cell holds when the clipped run's drift of the mode probability is significantly
    positive (``z_clipped > threshold``) and significantly larger than the unclipped run's
    (paired over seeds, ``z_difference > threshold``); :func:`grid_verdict` over the cells.
    """
    return grid_verdict([zc > threshold and zd > threshold
                         for zc, zd in zip(z_clipped, z_difference, strict=True)])


def spurious_reward_clipping(epochs: Sequence[int] = (4, 16), seeds: Sequence[int] =
                             tuple(range(20)), iterations: int = 20, K: int = 8,
                             lr: float = 5.0, eps_clip: float = 0.2) -> Measurement:
    """PPO with a Bernoulli(1/2) reward, clipped (``eps_clip``) against unclipped (``inf``).

    Each seed runs both (the same seed: paired); the drift of a run is the change from ``P0``
    to ``P_T`` of :func:`mode_probability` and of ``J``. z-scores are over seeds.
    """
    model, P0 = standard_model(), dirichlet_p0()
    mode = P0.argmax(axis=-1)
    drift: dict[tuple[float, int], np.ndarray] = {}
    J: dict[tuple[float, int], np.ndarray] = {}
    for E in epochs:
        for eps in (eps_clip, np.inf):
            rule = _rule("ppo", samples_per_question=K, lr=lr, eps_clip=eps, epochs=E,
                         reward="bernoulli")
            hs = _runs(rule, P0, model, seeds, iterations, keep_policies=True)
            drift[eps, E] = np.array([mode_probability(h.P, mode) - mode_probability(P0, mode)
                                      for h in hs])
            J[eps, E] = np.array([h.J - h.J[0] for h in hs])
    cells, z_clip, z_diff = {}, [], []
    for E in epochs:
        c, u = drift[eps_clip, E][:, -1], drift[np.inf, E][:, -1]
        jc, ju = J[eps_clip, E][:, -1], J[np.inf, E][:, -1]
        z_clip.append(z_score(c))
        z_diff.append(z_score(c - u))
        cells[f"epochs={E}"] = {
            "mode_drift_clipped": [float(v) for v in seed_mean_se(c)],
            "mode_drift_unclipped": [float(v) for v in seed_mean_se(u)],
            "mode_drift_difference": [float(v) for v in seed_mean_se(c - u)],
            "z_clipped": z_clip[-1], "z_unclipped": z_score(u), "z_difference": z_diff[-1],
            "J_drift_clipped": [float(v) for v in seed_mean_se(jc)],
            "J_drift_unclipped": [float(v) for v in seed_mean_se(ju)],
            "z_J_clipped": z_score(jc), "z_J_unclipped": z_score(ju),
            "z_J_difference": z_score(jc - ju),
        }
    verdict = clipping_drift_verdict(z_clip, z_diff)

    def describe(E) -> str:
        c = cells[f"epochs={E}"]
        return (f"[{E} epochs] mode-probability drift clipped {c['mode_drift_clipped'][0]:+.4f} "
                f"± {c['mode_drift_clipped'][1]:.4f} (z = {c['z_clipped']:+.1f}), unclipped "
                f"{c['mode_drift_unclipped'][0]:+.4f} ± {c['mode_drift_unclipped'][1]:.4f} "
                f"(z = {c['z_unclipped']:+.1f}), clipped − unclipped "
                f"{c['mode_drift_difference'][0]:+.4f} (z = {c['z_difference']:+.1f}); J drift "
                f"clipped {c['J_drift_clipped'][0]:+.4f} (z = {c['z_J_clipped']:+.1f}), "
                f"unclipped {c['J_drift_unclipped'][0]:+.4f} (z = {c['z_J_unclipped']:+.1f})")

    held = sum(zc > Z_THRESHOLD and zd > Z_THRESHOLD
               for zc, zd in zip(z_clip, z_diff, strict=True))
    away = [E for E in epochs if cells[f"epochs={E}"]["z_unclipped"] < -Z_THRESHOLD]
    damped = [E for E, zd in zip(epochs, z_diff, strict=True) if zd > Z_THRESHOLD]
    note = (f" Unclipped runs drift away from the mode at {away} epochs and clipping damps "
            f"that drift at {damped} epochs: clipping pulls towards the mode relative to the "
            "unclipped run." if away and damped else "")
    reason = (f"Change from P0 to P_T (mean ± s.e. over {len(seeds)} paired seeds). "
              + "; ".join(describe(E) for E in epochs)
              + f". A setting holds when the clipped drift towards the mode has z > {Z_THRESHOLD}"
              f" and exceeds the unclipped drift with z > {Z_THRESHOLD}; it holds in {held} of "
              f"{len(epochs)} settings." + note)
    setting = (f"Sampled mode, standard model M = 6, N = 3, Dirichlet P0 (its row modes are "
               f"the 'pre-trained mode'); ppo with reward = 'bernoulli' (R ~ Bernoulli(1/2), "
               f"exact critic), K = {K}, lr = {lr}, epochs in {tuple(epochs)}, eps_clip "
               f"{eps_clip} against unclipped (eps_clip = inf), the same seed for both; "
               f"{iterations} iterations; seeds {tuple(seeds)}.")
    numbers = {"seeds": len(seeds), "iterations": iterations, "z_threshold": Z_THRESHOLD,
               "mode_probability_P0": float(mode_probability(P0, mode)), "cells": cells}
    t = np.arange(iterations + 1)

    def plot(ax=None):
        axes = axes_row(ax, 2, 4.0, 3.0)
        for i, E in enumerate(epochs):
            for eps, style in ((eps_clip, "-"), (np.inf, "--")):
                clip = f"clip {eps_clip:g}" if np.isfinite(eps) else "no clip"
                label = f"{clip}, {E} epochs"
                color = f"C{i}"
                _band(axes[0], t, drift[eps, E], label, ls=style, color=color)
                _band(axes[1], t, J[eps, E], label, ls=style, color=color)
        axes[0].set(xlabel="iteration", ylabel="Δ P(pre-trained mode), mean over rows",
                    title="drift towards the mode")
        axes[1].set(xlabel="iteration", ylabel="Δ J", title="drift of J")
        for a in axes:
            a.axhline(0.0, color="0.5", lw=0.8)
            integer_ticks(a)
        axes[0].legend()
        return axes

    return Measurement(setting, numbers, verdict, reason, plot)


@claim("spurious-reward-clipping", "Shao et al., arXiv 2506.10947",
       "With a spurious Bernoulli(0.5) reward the unclipped expected gradient is zero, so any "
       "drift of PPO towards the pre-trained mode comes from clipping (sampled mode).")
def measure_spurious_reward_clipping() -> Measurement:
    """The registered measurement (default settings of :func:`spurious_reward_clipping`)."""
    return spurious_reward_clipping()
