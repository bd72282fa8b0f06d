"""Figures of Q3's sample counts: ``S_0.99`` against its fitted law, and each rule's samples to
``J >= 0.9`` over random pre-trained models.

The functions draw into new figures (not registered with pyplot) and return the axes.
"""

from __future__ import annotations

import numpy as np

from rlstar_theory.figures.style import new_figure, styled

__all__ = ["plot_rule_samples", "plot_samples_to_target"]

_MARKERS = {2: "o", 3: "s", 4: "^", 5: "D"}


def plot_samples_to_target(table, law):
    """Left: ``S_0.99`` against the boundary law's covariate ``M ln M t*_tau / a_tau``, a colour
    per temperature, with the fitted line ``C u^gamma``. Right: measured against predicted.

    Parameters
    ----------
    table : SamplesTable
        :func:`rlstar_theory.open_questions.sample_complexity.samples_to_target`.
    law : SampleLaw
        The fitted ``"boundary"`` law.

    Returns
    -------
    ndarray of Axes, shape (2,)
    """
    from rlstar_theory.open_questions.sample_complexity import boundary_covariate

    u = boundary_covariate(table.temperature, table.M, table.N, table.lam0)
    ok = table.finite & (table.samples > 0) & np.isfinite(u)
    pred = law.predict(table.temperature, table.M, table.N, table.lam0)
    fig = new_figure(9.0, 3.6)
    with styled():
        axes = fig.subplots(1, 2)
        for k, tau in enumerate(np.unique(table.temperature)):
            for N in np.unique(table.N):
                sel = ok & (table.temperature == tau) & (table.N == N)
                axes[0].scatter(u[sel], table.samples[sel], s=14, color=f"C{k}",
                                marker=_MARKERS.get(int(N), "x"), label=f"τ = {tau:g}, N = {N}")
        for k, M in enumerate(np.unique(table.M)):
            sel = ok & (table.M == M)
            axes[1].scatter(pred[sel], table.samples[sel], s=14, color=f"C{k + 4}",
                            label=f"M = {M}")
        line = np.geomspace(u[ok].min(), u[ok].max(), 50)
        axes[0].plot(line, np.exp(law.fit.coef[0]) * line ** law.fit.coef[1], color="k", lw=1)
        lo, hi = table.samples[ok].min() / 1.5, table.samples[ok].max() * 1.5
        axes[1].plot([lo, hi], [lo, hi], color="k", lw=0.8)
        for ax in axes:
            ax.set_xscale("log")
            ax.set_yscale("log")
        axes[0].set_xlabel("M ln M t*_τ / a_τ")
        axes[0].set_ylabel("samples to J ≥ 0.99 (90% of runs)")
        axes[0].legend(fontsize=6, ncol=3)
        gamma, (g_lo, g_hi) = law.fit.coef[1], law.fit.interval()[1]
        axes[0].set_title(f"γ = {gamma:.3f} [{g_lo:.3f}, {g_hi:.3f}]", fontsize=9)
        axes[1].set_xlabel("predicted by the law")
        axes[1].set_ylabel("measured")
        axes[1].legend(fontsize=7)
        axes[1].set_title(f"R² = {law.fit.r2:.3f} over {law.settings} settings", fontsize=9)
    return axes


def plot_rule_samples(result):
    """Distribution of each rule's samples to reach the target over the random models.

    Left: empirical CDF of the samples (runs that never reach it stay at the top as a gap).
    Right: samples against the model's starting ``J_0`` (a point per model and rule).

    Parameters
    ----------
    result : RuleSamples
        :func:`rlstar_theory.open_questions.rule_samples.rule_samples_to_target`.

    Returns
    -------
    ndarray of Axes, shape (2,)
    """
    fig = new_figure(9.0, 3.6)
    with styled():
        axes = fig.subplots(1, 2)
        for k, rule in enumerate(result.rules):
            s = result.samples[k]
            finite = np.sort(s[np.isfinite(s)])
            frac = np.arange(1, finite.size + 1) / s.size
            axes[0].step(finite, frac, where="post", color=f"C{k}",
                         label=f"{rule} ({finite.size / s.size:.0%} reach it)")
            axes[1].scatter(result.J0[np.isfinite(s)], s[np.isfinite(s)], s=3, alpha=0.4,
                            color=f"C{k}", label=rule)
        axes[0].set_xscale("log")
        axes[0].set_ylim(0, 1.02)
        axes[0].set_xlabel(f"samples to J ≥ {result.target:g} (nominal: K × questions × "
                           "iterations)")
        axes[0].set_ylabel(f"fraction of {result.samples.shape[1]} models")
        axes[0].set_title(f"within {result.max_iterations} iterations", fontsize=9)
        axes[0].legend(fontsize=7, loc="lower right")
        axes[1].set_yscale("log")
        axes[1].set_xlabel("J₀ of the pre-trained model")
        axes[1].set_ylabel("samples")
        axes[1].legend(fontsize=7, markerscale=3)
    return axes
