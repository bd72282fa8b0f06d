"""The finite-sample bias of one sampled STaR step: ``E[J(P_hat)] - J(P*) = c/K + O(K^-2)``.

Setting. From a policy ``P`` (sampling policy ``S = P_tau``), each question ``s0`` (weight
``rho(s0)``) gets ``K`` trajectories; the kept transition counts, weighted ``rho(s0)/K``, are
``C_n[s, j]`` with ``E[C] = C_bar`` (the exact posterior joint, :func:`rlstar_theory.mdp.exact.
success_edges`); the refit is ``P_hat_n[s, :] = C_n[s, :] / R_n[s]``, ``R_n[s] = sum_j
C_n[s, j]``, and the exact step is ``P* = refit(C_bar)`` (ALGORITHMS.md §0.5 F6: the sampled
step is a ratio estimator, and ``J`` of it is biased).

Second-order delta method. One trajectory of question ``s0`` contributes the success-edge
indicators ``X_n[s, j]`` (one edge per step, zero on failure). With
``a_{s0,n}[s, j] = E[X_n[s, j] | s0] = F_{n-1}[s0, s] S_n[s, j] B_n[j, y(s0)]`` (forward and
backward products of ``S``) and ``b = sum_j a``,
``K Cov(C, C') = sum_{s0} rho(s0)^2 Cov_{s0}(X, X')``. ``J`` is linear in each step, so to
order ``1/K``

.. math::

    K\\,(E[J(\\hat P)] - J(P^*)) \\to c = c_{ratio} + c_{cross},

``c_ratio`` (the ratio-estimator bias of each row, ``E[X/Y] - EX/EY ≈ -Cov(X,Y)/EY^2 + EX
Var(Y)/EY^3``, propagated through the gradient ``G*_n[s, j] = sum_{s0} rho F*_{n-1}[s0, s]
B*_n[j, y(s0)]`` of ``J`` at ``P*``):

.. math::

    c_{ratio} = \\sum_{n, s} \\frac{1}{\\bar R_n[s]^2} \\sum_{s_0} \\rho^2 (1 - b)
      \\Big(\\bar g_n[s]\\, b - \\sum_j G^*_n[s, j]\\, a[s, j]\\Big),\\qquad
    \\bar g_n[s] = \\sum_j G^*_n[s, j] P^*_n[s, j],

and ``c_cross`` (the covariance of the refitted rows of two different steps, which share their
trajectories; ``J``'s mixed second derivative):

.. math::

    c_{cross} = \\sum_{n < m} \\sum_{s_0} \\rho^2\\, \\mathrm{Cov}_{s_0}\\Big(
      \\sum H_{nm}[s, j, u, k]\\, Z_n[s, j]\\, Z_m[u, k]\\Big),\\quad
    Z_n[s, j] = \\frac{X_n[s, j] - P^*_n[s, j] Y_n[s]}{\\bar R_n[s]},

with ``H_nm[s, j, u, k] = L*_nm[j, u] W_nm[s, k]``, ``L*_nm = P*_{n+1} ... P*_{m-1}`` and
``W_nm[s, k] = sum_{s0} rho F*_{n-1}[s0, s] B*_m[k, y(s0)]``, evaluated in ``O(N^2 M^4)``
without enumerating paths (:func:`delta_method_bias`). The tests check it against the trace
``(1/2) tr(Hess_C J(refit(C)) K Cov(C))`` built by enumeration and finite differences.

Monte Carlo. :func:`sampled_bias` draws the counts with the count sampler
(:func:`rlstar_theory.mdp.count_sampler.sample_counts_summed`) and subtracts the control variate
``L = sum G*_n (dC_n - P*_n dR_n) / R_bar_n`` (linear in the counts, exactly mean zero), which
removes the ``O(1/sqrt(K))`` noise of ``J(P_hat)`` and leaves an unbiased estimate of the bias
with a standard error ``O(1/K)``.

Command: ``python -m rlstar_theory.open_questions.bias --out figures/open_questions`` writes
``bias.nc`` (``K * bias`` from the sampler against ``c`` over ``K``, ``M``, ``N``),
``bias_summary.json`` (the issue's ``+0.0043`` checked) and ``bias_vs_K.png`` (``lam0 = 0.2``),
``bias_vs_K_lam0_0.5.png``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.count_sampler import sample_counts_summed
from rlstar_theory.mdp.exact import success_edges
from rlstar_theory.open_questions._io import (
    Timer,
    base_parser,
    main_wrapper,
    save_axes,
    save_summary,
)
from rlstar_theory.tempering import temper
from rlstar_theory.validation import (
    check_int,
    check_memory,
    check_rng,
    check_start,
    check_transition,
)

__all__ = [
    "BiasEstimate",
    "BiasExpansion",
    "bias_cell",
    "delta_method_bias",
    "expected_return_of",
    "main",
    "plot_bias",
    "sampled_bias",
]


@dataclass(frozen=True)
class BiasExpansion:
    """First-order (``1/K``) bias of ``J`` after one sampled STaR step.

    Attributes
    ----------
    c : float
        ``c_ratio + c_cross``: ``E[J(P_hat)] - J(P*) = c/K + O(K^-2)``.
    c_ratio : float
        Part from the ratio-estimator bias of each row.
    c_cross : float
        Part from the covariance of the refitted rows of different steps.
    J_star : float
        ``J(P*)`` of the exact step.
    """

    c: float
    c_ratio: float
    c_cross: float
    J_star: float

    def bias(self, K) -> np.ndarray:
        """The first-order bias ``c/K``."""
        return self.c / np.asarray(K, dtype=float)


@dataclass(frozen=True)
class _Setup:
    P: np.ndarray
    S: np.ndarray  # sampling policy
    rho: np.ndarray
    y: np.ndarray
    joint: np.ndarray  # C_bar
    R: np.ndarray  # row sums of C_bar, (N, M)
    P_star: np.ndarray
    G: np.ndarray  # dJ/dP at P_star, (N, M, M)


def _chain(Ps: np.ndarray, a: int, b: int) -> np.ndarray:
    """``Ps[a] @ ... @ Ps[b-1]`` (identity when ``a >= b``)."""
    out = np.eye(Ps.shape[-1])
    for k in range(a, b):
        out = out @ Ps[k]
    return out


def expected_return_of(P: np.ndarray, rho: np.ndarray, y: np.ndarray) -> float:
    """``J(P) = sum_{s0} rho(s0) (P_1 ... P_N)[s0, y(s0)]`` (trusted inputs)."""
    F = _chain(P, 0, P.shape[0])
    return float(rho @ F[np.arange(P.shape[-1]), y])


def _setup(P, answers, start, temperature) -> _Setup:
    P = check_transition(P)
    if P.dtype == object:
        P = P.astype(float)
    N, M = P.shape[0], P.shape[1]
    y = np.arange(M) if answers is None else np.asarray(answers)
    if y.shape != (M,) or y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= M:
        raise ValueError(f"answers must be M = {M} integer states in [0, {M - 1}]")
    rho = np.full(M, 1.0 / M) if start is None else check_start(start, M)
    S = temper(P, temperature)
    joint = success_edges(S, rho, y)
    R = joint.sum(axis=-1)
    P_star = operator.refit(P, joint)
    G = np.stack([(rho[:, None] * _chain(P_star, 0, n)).T @ _chain(P_star, n + 1, N)[:, y].T
                  for n in range(N)])
    return _Setup(P, S, rho, y, joint, R, P_star, G)


def delta_method_bias(P, answers=None, start=None, temperature: float = 1.0) -> BiasExpansion:
    """``c`` of ``E[J(P_hat)] - J(P*) = c/K + O(K^-2)`` by the second-order delta method.

    Parameters
    ----------
    P : array_like, shape (N, M, M)
        The policy the step starts from (float64).
    answers : array_like of int, shape (M,), optional
        ``y(s0)`` (default: identity).
    start : array_like, shape (M,), optional
        Question weights ``rho`` (default uniform).
    temperature : float
        Trajectories are sampled from ``P_tau`` (rows without data keep ``P``'s row).

    Returns
    -------
    BiasExpansion
        ``c = c_ratio + c_cross`` as in the module notes. Rows that no successful trajectory
        can visit (``R_bar = 0``) contribute nothing.

    Raises
    ------
    ValueError
        Bad input, or when the ``(M, M, M)`` working arrays of the cross term do not fit in
        memory.
    """
    st = _setup(P, answers, start, temperature)
    N, M = st.P.shape[0], st.P.shape[1]
    check_memory(4 * M**3 * 8, f"delta_method_bias: (M, M, M) arrays for M = {M}", "M")
    S, Ps, rho, y = st.S, st.P_star, st.rho, st.y
    rho2 = rho**2
    F = [_chain(S, 0, n) for n in range(N + 1)]  # F[n] = S_1 ... S_n
    Bk = [_chain(S, n, N) for n in range(N + 1)]  # Bk[n] = S_{n+1} ... S_N
    with np.errstate(divide="ignore"):
        inv_R = np.where(st.R > 0, 1.0 / np.where(st.R > 0, st.R, 1.0), 0.0)  # (N, M)
    c_ratio = 0.0
    for n in range(1, N + 1):
        Sn, Fq, Gn = S[n - 1], F[n - 1], st.G[n - 1]
        h = (Sn @ Bk[n])[:, y].T  # h[s0, s] = Pr(success | S_{n-1} = s)
        u = ((Gn * Sn) @ Bk[n])[:, y].T  # sum_j G[s, j] S[s, j] B_n[j, y(s0)]
        g_bar = (Gn * Ps[n - 1]).sum(axis=-1)
        b = Fq * h
        term = (rho2[:, None] * (1.0 - b) * (g_bar[None, :] * b - Fq * u)).sum(axis=0)
        c_ratio += float((term * inv_R[n - 1] ** 2).sum())
    c_cross = 0.0
    for n in range(1, N + 1):
        Bn_y = Bk[n][:, y].T  # (s0, j)
        hn = (S[n - 1] @ Bk[n])[:, y].T  # (s0, s)
        EZn = F[n - 1][:, :, None] * (S[n - 1][None] * Bn_y[:, None, :]
                                      - Ps[n - 1][None] * hn[:, :, None]) \
            * inv_R[n - 1][None, :, None]
        for m in range(n + 1, N + 1):
            L_star = _chain(Ps, n, m - 1)
            L_samp = _chain(S, n, m - 1)
            W = (rho[:, None] * _chain(Ps, 0, n - 1)).T @ _chain(Ps, m, N)[:, y].T
            alpha = ((S[n - 1] @ (L_samp * L_star))
                     - (S[n - 1] @ L_samp) * (Ps[n - 1] @ L_star)) \
                * inv_R[n - 1][:, None] * inv_R[m - 1][None, :]
            V = (rho2[:, None] * F[n - 1]).T @ Bk[m][:, y].T
            V2 = (rho2[:, None] * F[n - 1]).T @ (S[m - 1] @ Bk[m])[:, y].T
            second = float((alpha * (((W * V) @ S[m - 1].T)
                                     - (W @ Ps[m - 1].T) * V2)).sum())
            Bm_y = Bk[m][:, y].T
            hm = (S[m - 1] @ Bk[m])[:, y].T
            EZm = F[m - 1][:, :, None] * (S[m - 1][None] * Bm_y[:, None, :]
                                          - Ps[m - 1][None] * hm[:, :, None]) \
                * inv_R[m - 1][None, :, None]
            means = float(rho2 @ np.einsum("sk,qsk->q", W, EZn @ L_star @ EZm))
            c_cross += second - means
    return BiasExpansion(c=c_ratio + c_cross, c_ratio=c_ratio, c_cross=c_cross,
                         J_star=expected_return_of(Ps, rho, y))


@dataclass(frozen=True)
class BiasEstimate:
    """Monte-Carlo estimate of ``K (E[J(P_hat)] - J(P*))`` from ``draws`` sampled steps.

    Attributes
    ----------
    K, draws : int
    scaled_bias : float
        ``K`` times the mean of ``J(P_hat) - J(P*) - L`` (control variate ``L``, exactly mean
        zero).
    scaled_se : float
        Its standard error (sample std / sqrt(draws), times ``K``).
    raw_scaled_bias, raw_scaled_se : float
        The same without the control variate.
    """

    K: int
    draws: int
    scaled_bias: float
    scaled_se: float
    raw_scaled_bias: float
    raw_scaled_se: float


def sampled_bias(P, K: int, draws: int, rng=None, answers=None, start=None,
                 temperature: float = 1.0) -> BiasEstimate:
    """Monte-Carlo bias of one sampled STaR step with ``K`` trajectories per question.

    Each draw samples the kept transition counts of ``K`` trajectories per question from
    ``P_tau`` (count sampler, weights ``rho/K``), refits (rows without data keep ``P``'s row)
    and records ``D = J(P_hat) - J(P*)`` and ``D - L`` with ``L = sum_n sum_{s,j}
    G*_n[s, j] (dC_n[s, j] - P*_n[s, j] dR_n[s]) / R_bar_n[s]`` (``dC = C - C_bar``).

    Parameters
    ----------
    P, answers, start, temperature
        As in :func:`delta_method_bias`.
    K : int
        Trajectories per question, ``>= 1``.
    draws : int
        Independent sampled steps, ``>= 2``.
    rng : None, int or numpy.random.Generator

    Returns
    -------
    BiasEstimate
    """
    st = _setup(P, answers, start, temperature)
    K = check_int(K, "K", 1)
    R = check_int(draws, "draws", 2)
    gen = check_rng(rng)
    J_star = expected_return_of(st.P_star, st.rho, st.y)
    questions = np.flatnonzero(st.rho > 0)
    with np.errstate(divide="ignore"):
        inv_R = np.where(st.R > 0, 1.0 / np.where(st.R > 0, st.R, 1.0), 0.0)
    raw = np.empty(R)
    cv = np.empty(R)
    for i in range(R):
        drawn = sample_counts_summed(st.S, st.y, K, gen, questions=questions,
                                     weights=st.rho[questions] / K)
        C = drawn.success_counts
        P_hat = operator.refit(st.P, C)
        d = expected_return_of(P_hat, st.rho, st.y) - J_star
        dC = C - st.joint
        dR = dC.sum(axis=-1)
        L = float((st.G * (dC - st.P_star * dR[..., None]) * inv_R[..., None]).sum())
        raw[i], cv[i] = d, d - L
    root = np.sqrt(R)
    return BiasEstimate(K=K, draws=R, scaled_bias=float(K * cv.mean()),
                        scaled_se=float(K * cv.std(ddof=1) / root),
                        raw_scaled_bias=float(K * raw.mean()),
                        raw_scaled_se=float(K * raw.std(ddof=1) / root))


def bias_cell(rng: np.random.Generator, *, M: int, N: int, lam0: float, K: int,
              draws: int = 200, temperature: float = 1.0) -> dict[str, np.ndarray]:
    """``K`` times the bias of one sampled STaR step from ``P(lam0)`` (every step), by the
    sampler (:func:`sampled_bias`) and by the delta method (:func:`delta_method_bias`).

    Returns
    -------
    dict
        ``c`` (delta method), ``c_ratio``, ``c_cross``, ``scaled_bias`` and ``scaled_se``
        (sampler with the control variate), ``raw_scaled_bias``, ``raw_scaled_se`` and
        ``J_star``.
    """
    from rlstar_theory.symmetric import symmetric_matrix

    P = symmetric_matrix(np.full(int(N), float(lam0)), M)
    exp = delta_method_bias(P, temperature=temperature)
    est = sampled_bias(P, K, draws, rng, temperature=temperature)
    return {"c": np.float64(exp.c), "c_ratio": np.float64(exp.c_ratio),
            "c_cross": np.float64(exp.c_cross), "scaled_bias": np.float64(est.scaled_bias),
            "scaled_se": np.float64(est.scaled_se),
            "raw_scaled_bias": np.float64(est.raw_scaled_bias),
            "raw_scaled_se": np.float64(est.raw_scaled_se), "J_star": np.float64(exp.J_star)}


#: the default command's grid (draws per cell in BIAS_FIXED)
BIAS_GRID: dict[str, list] = {"M": [4, 8, 16, 32], "N": [2, 3, 4], "lam0": [0.2, 0.5],
                              "K": [16, 64, 256, 1024, 4096]}
BIAS_FIXED: dict[str, object] = {"draws": 500}


# ---------------------------------------------------------------------------------------------
# figures


def plot_bias(ds, lam0: float | None = None, ax=None):
    """``K (E[J(P_hat)] - J(P*))`` against ``K`` (sampler, 95 % intervals) and the delta-method
    limit ``c`` (dashed), one panel per ``N``, one colour per ``M``; ``lam0`` selects the start
    (default: the first)."""
    from rlstar_theory.figures.style import STEP_COLORS, axes_row

    sub = ds
    if "lam0" in ds.dims:
        sub = ds.sel(lam0=ds.lam0.values[0] if lam0 is None else lam0)
    Ns = list(sub.N.values)
    axes = axes_row(ax, len(Ns), 3.8, 3.2)
    Ks = sub.K.values
    for a, n in zip(axes, Ns, strict=True):
        for k, m in enumerate(sub.M.values):
            col = STEP_COLORS[k % len(STEP_COLORS)]
            cell = sub.sel(N=n, M=m)
            a.errorbar(Ks, cell.scaled_bias.values, yerr=1.96 * cell.scaled_se.values,
                       marker="o", capsize=2, color=col, label=f"M = {m}")
            a.axhline(float(cell.c.values[0]), color=col, ls="--", lw=1)
        a.set_xscale("log")
        a.set_xlabel("K (trajectories per question)")
        a.set_ylabel("K · (E[J(P̂)] − J(P*))")
        start = f"λ₀ = {float(sub.lam0):g}, " if "lam0" in sub.coords else ""
        a.set_title(f"{start}N = {n}; dashed: delta-method c", fontsize=9)
    axes[0].legend(fontsize=7)
    return axes


# ---------------------------------------------------------------------------------------------
# command


def _run(argv: Sequence[str] | None) -> int:
    from rlstar_theory.sweeps.cells import get_cell
    from rlstar_theory.sweeps.results import save_results
    from rlstar_theory.sweeps.runner import run_sweep
    from rlstar_theory.symmetric import symmetric_matrix

    parser = base_parser("python -m rlstar_theory.open_questions.bias", __doc__.splitlines()[0])
    parser.add_argument("--issue-draws", type=int, default=200,
                        help="sampled steps for the issue's M = 64 check (default 200)")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    timer = Timer()
    with timer("sweep"):
        ds = run_sweep(get_cell("star_bias"), BIAS_GRID, fixed=BIAS_FIXED, workers=args.workers,
                       progress=not args.no_progress, root_seed=2024)
        save_results(ds, out / "bias.nc")
    with timer("issue_check"):
        P = symmetric_matrix(np.full(3, 0.2), 64)
        exp = delta_method_bias(P)
        est = sampled_bias(P, 4096, args.issue_draws, rng=2024)
        lam_grid = np.round(np.linspace(0.05, 0.6, 12), 4)
        c_of_lam = [delta_method_bias(symmetric_matrix(np.full(3, v), 64)).c for v in lam_grid]
    z = (ds.scaled_bias - ds.c) / ds.scaled_se
    summary = {
        "issue_check_M64_N3_lam0_0.2_K4096": {
            "claimed_bias": 0.0043,
            "delta_method_bias": exp.c / 4096, "c": exp.c, "c_ratio": exp.c_ratio,
            "c_cross": exp.c_cross,
            "sampled_bias": est.scaled_bias / 4096, "sampled_se": est.scaled_se / 4096,
            "sampled_bias_without_control_variate": est.raw_scaled_bias / 4096,
            "sampled_se_without_control_variate": est.raw_scaled_se / 4096,
            "draws": est.draws},
        "c_by_lam0_M64_N3": {f"{v:g}": c for v, c in zip(lam_grid, c_of_lam, strict=True)},
        "grid_max_abs_z_at_largest_K": float(np.abs(z.isel(K=-1)).max()),
        "grid_z_by_K": {f"K={int(k)}": float(np.abs(z.sel(K=k)).mean())
                        for k in ds.K.values},
        "share_of_c_from_cross_steps": {
            f"M={int(m)},N={int(n)},lam0={float(v):g}": float(
                (ds.c_cross / ds.c).sel(M=m, N=n, lam0=v).isel(K=0))
            for m in ds.M.values for n in ds.N.values for v in ds.lam0.values},
        "c_table": {
            f"M={int(m)},N={int(n)},lam0={float(v):g}": float(ds.c.sel(M=m, N=n, lam0=v)
                                                                 .isel(K=0))
            for m in ds.M.values for n in ds.N.values for v in ds.lam0.values},
    }
    with timer("figures"):
        for k, v in enumerate(ds.lam0.values):
            save_axes(plot_bias(ds, lam0=v), out,
                      "bias_vs_K" if k == 0 else f"bias_vs_K_lam0_{float(v):g}")
    summary["seconds"] = timer.seconds
    save_summary(summary, out, "bias_summary")
    print(json.dumps(summary["issue_check_M64_N3_lam0_0.2_K4096"], indent=1))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rlstar_theory.open_questions.bias --out DIR``; exit status."""
    return main_wrapper(_run, argv, "bias")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
