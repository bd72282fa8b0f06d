"""Q2: Markov versus history-conditioned policies under exact STaR, across the train fraction.

Both classes start from the same pre-trained Markov policy ``P0`` and run ``T`` iterations of
exact STaR on the training questions (:func:`rlstar_theory.mdp.history_policy.compare_markov_
history`):

* **Markov**: one shared table per step, ``P_{t+1} = refit(P_t, C+[rho_train])``;
* **history**: one table per (question, step), each training question refitted on its own
  successful paths (for STaR this loses nothing against full-history tables, see
  :mod:`rlstar_theory.mdp.history_policy`). A held-out question has no trained table of its own:
  ``history_projection`` answers it with the Markov projection of the trained tables,
  ``history_pretrained`` with ``P0`` (a pure memoriser).

Measured at ``t = T`` on the train and on the test questions: ``J`` and the **spurious-step
rate**, the mean over steps of ``Pr(step n is spurious)`` along the policy's own trajectories,
where a step ``s -> s'`` is spurious when it is off the gold map (``s' != g_n(s)``) and the
answer is still reachable after it (:mod:`rlstar_theory.mdp.spurious`, threshold 0). For the
history class each question is followed under its own tables (:func:`history_spurious_steps`).

Two ground truths: ``bijective`` (identity maps, the paper's setting: two questions never share
a state, so no row of the shared table is trained by another question's gold chain) and
``merging`` (each ``g_n`` a uniformly random map ``[M] -> [M]``, so gold chains of different
questions meet and a shared row can carry what one question taught to another). Pre-trained
policies: ``P_n[s] ~ Dirichlet(concentration * (lam e_{g_n(s)} + (1 - lam)/M 1))`` with
``lam ~ Uniform(0.1, 0.5)`` per model (:func:`dirichlet_around_truth`).

Command line::

    python -m rlstar_theory.open_questions.markov_vs_history --out figures/open_questions
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rlstar_theory.mdp.history_policy import (
    check_history_policy,
    compare_markov_history,
    markov_projection,
)
from rlstar_theory.mdp.metrics import answer_distribution
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.mdp.spurious import SpuriousSteps, spurious_steps
from rlstar_theory.open_questions._io import command_parser, main_wrapper
from rlstar_theory.validation import check_int, check_rng

__all__ = ["FAMILIES", "TRUTHS", "compare_classes", "dirichlet_around_truth",
           "history_spurious_steps", "main", "plot_markov_vs_history", "random_truth",
           "run_markov_vs_history", "summarise", "write_outputs"]

#: the policy classes compared (history split by how test questions are answered)
FAMILIES = ("pretrained", "markov", "history_projection", "history_pretrained")
#: the ground-truth families
TRUTHS = ("bijective", "merging")


def history_spurious_steps(H, model: ChainMDP, split: str = "train") -> SpuriousSteps:
    """Spurious-step probabilities of a history-conditioned policy, each question under its own
    tables.

    With ``f_{n-1}(s0; s) = Pr(S_{n-1} = s | s0)`` and ``b_n(s0; s') = Pr(S_N = y(s0) | S_n = s')``
    under ``H[s0]``, ``off_n = 1 - gold_n`` and weights ``w = model.weights(split)``:

    .. math::

        \\text{spurious}_n = \\sum_{s_0} w(s_0) \\sum_{s, s'} f_{n-1}(s_0; s)\\,
            H[s_0, n-1, s, s']\\, \\mathrm{off}_n[s, s']\\, 1[b_n(s_0; s') > 0],

    ``off_gold_n`` the same without the indicator, ``recovered_n`` with ``b_n`` in its place.
    For ``H[s0] = P`` for every ``s0`` this is :func:`rlstar_theory.mdp.spurious.spurious_steps`.

    Parameters
    ----------
    H : array_like, shape (M, N, M, M)
    model : ChainMDP
    split : {"train", "test", "all"}

    Returns
    -------
    SpuriousSteps
    """
    H = np.asarray(check_history_policy(H, model), dtype=float)
    M, N = model.M, model.N
    w = np.asarray(model.weights(split), dtype=float)
    q = np.arange(M)
    f = np.zeros((M, N + 1, M))
    f[q, 0, q] = 1.0
    for n in range(N):
        f[:, n + 1] = np.einsum("qs,qst->qt", f[:, n], H[:, n])
    b = np.zeros((M, N + 1, M))
    b[q, N, model.answers] = 1.0
    for n in range(N - 1, -1, -1):
        b[:, n] = np.einsum("qst,qt->qs", H[:, n], b[:, n + 1])
    off = ~model.gold_edges()  # (N, M, M)
    flow = f[:, :-1, :, None] * H * off[None]  # (M, N, M, M): off-gold step probability mass
    reach = (b[:, 1:] > 0).astype(float)  # (M, N, M) over s'
    spurious = np.einsum("qnst,qnt,q->n", flow, reach, w)
    off_gold = np.einsum("qnst,q->n", flow, w)
    recovered = np.einsum("qnst,qnt,q->n", flow, b[:, 1:], w)
    return SpuriousSteps(spurious=spurious, off_gold=off_gold, recovered=recovered)


def random_truth(M: int, N: int, kind: str, rng=None) -> np.ndarray:
    """Ground-truth maps, shape ``(N, M)``: ``bijective`` (identity) or ``merging`` (each
    ``g_n`` a uniformly random map ``[M] -> [M]``)."""
    if kind not in TRUTHS:
        raise ValueError(f"kind must be one of {TRUTHS}, got {kind!r}")
    if kind == "bijective":
        return np.tile(np.arange(M), (N, 1))
    return check_rng(rng).integers(0, M, size=(N, M))


def dirichlet_around_truth(truth: np.ndarray, lam: float, concentration: float = 10.0,
                           rng=None) -> np.ndarray:
    """``P_n[s] ~ Dirichlet(concentration * (lam e_{g_n(s)} + (1 - lam)/M 1))``.

    Parameters
    ----------
    truth : ndarray of int, shape (N, M)
    lam : float
        In ``[0, 1)``: the weight of the gold transition in the centre.
    concentration : float
        ``> 0``.
    rng : None, int or numpy.random.Generator

    Returns
    -------
    ndarray, shape (N, M, M)
        Row-stochastic with full support (rows whose gamma draws all underflow take the centre).
    """
    truth = np.asarray(truth)
    N, M = truth.shape
    if not 0.0 <= lam < 1.0:
        raise ValueError(f"lam must be in [0, 1), got {lam!r}")
    if not (np.isfinite(concentration) and concentration > 0):
        raise ValueError(f"concentration must be a finite number > 0, got {concentration!r}")
    centre = np.full((N, M, M), (1.0 - lam) / M)
    n_idx, s_idx = np.meshgrid(np.arange(N), np.arange(M), indexing="ij")
    centre[n_idx, s_idx, truth] += lam
    P = check_rng(rng).gamma(concentration * centre)
    total = P.sum(axis=-1, keepdims=True)
    return np.where(total > 0, P / np.where(total > 0, total, 1.0), centre)


def _J(P: np.ndarray, model: ChainMDP, split: str) -> float:
    q = answer_distribution(P)
    return float(q[np.arange(model.M), model.answers] @ model.weights(split))


def compare_classes(P0, model: ChainMDP, iterations: int = 20) -> dict[str, dict[str, float]]:
    """Train/test ``J`` and spurious-step rates at ``t = T`` of each family of :data:`FAMILIES`.

    Returns
    -------
    dict
        ``family -> {"train_J", "test_J", "train_spurious", "test_spurious"}``; test values are
        NaN when the model holds out no question. ``pretrained`` is ``P0`` itself.
    """
    run = compare_markov_history(P0, model, iterations, test_policy="projection", pass_ks=(1,))
    P0 = np.asarray(P0, dtype=float)
    P_T, H_T = run.markov.final, run.history.final
    nan = float("nan")

    def rates(P) -> tuple[float, float]:
        train = spurious_steps(P, model, "train").probability
        test = spurious_steps(P, model, "test").probability if model.has_test else nan
        return train, test

    out = {}
    for family, P in (("pretrained", P0), ("markov", P_T)):
        train_s, test_s = rates(P)
        out[family] = {"train_J": _J(P, model, "train"),
                       "test_J": _J(P, model, "test") if model.has_test else nan,
                       "train_spurious": train_s, "test_spurious": test_s}
    history_train = {"train_J": float(run.history.train_J[-1]),
                     "train_spurious": history_spurious_steps(H_T, model, "train").probability}
    projection = markov_projection(H_T, model.weights("train"), P0)
    for family, P_test in (("history_projection", projection), ("history_pretrained", P0)):
        out[family] = dict(history_train)
        out[family]["test_J"] = _J(P_test, model, "test") if model.has_test else nan
        out[family]["test_spurious"] = (spurious_steps(P_test, model, "test").probability
                                        if model.has_test else nan)
    return out


_METRICS = ("train_J", "test_J", "train_spurious", "test_spurious")


def run_markov_vs_history(M: int = 8, N: int = 3, models: int = 100, iterations: int = 20,
                          truths: Sequence[str] = TRUTHS, lam_range=(0.1, 0.5),
                          concentration: float = 10.0, seed: int = 13_500,
                          progress: bool = True):
    """The Q2 experiment over ``truth x train size x model`` (module docstring).

    For every truth family and model ``b`` (its own truth maps, ``lam_b`` and ``P0``, from child
    ``b`` of ``SeedSequence(seed)``), and every number of training questions ``m = 1..M`` (a
    random subset of size ``m``), run :func:`compare_classes`.

    Returns
    -------
    xarray.Dataset
        ``train_J``, ``test_J``, ``train_spurious``, ``test_spurious`` over
        ``(truth, train_fraction, model, family)``; ``lam`` over ``(truth, model)``.
    """
    from rlstar_theory.sweeps.deps import require

    xr = require("xarray", "the Markov-versus-history results")
    M = check_int(M, "M", 2, 64)
    N = check_int(N, "N", 1, 32)
    n = check_int(models, "models", 1, 100_000)
    T = check_int(iterations, "iterations", 0, 10_000)
    for kind in truths:
        if kind not in TRUTHS:
            raise ValueError(f"truths must be among {TRUTHS}, got {kind!r}")
    sizes = np.arange(1, M + 1)
    data = np.full((len(truths), M, n, len(FAMILIES), len(_METRICS)), np.nan)
    lams = np.empty((len(truths), n))
    children = np.random.SeedSequence(check_int(seed, "seed", 0)).spawn(len(truths) * n)
    bar = tqdm(total=len(truths) * n, desc="markov vs history", disable=not progress)
    for k, kind in enumerate(truths):
        for b in range(n):
            gen = np.random.default_rng(children[k * n + b])
            truth = random_truth(M, N, kind, gen)
            lams[k, b] = gen.uniform(*lam_range)
            P0 = dirichlet_around_truth(truth, lams[k, b], concentration, gen)
            for i, m in enumerate(sizes):
                train = np.sort(gen.choice(M, size=m, replace=False))
                model = ChainMDP.create(M, N, truth=truth, train=train)
                result = compare_classes(P0, model, T)
                data[k, i, b] = [[result[f][v] for v in _METRICS] for f in FAMILIES]
            bar.update()
    bar.close()
    coords = {"truth": list(truths), "train_fraction": sizes / M, "model": np.arange(n),
              "family": list(FAMILIES)}
    dims = ("truth", "train_fraction", "model", "family")
    return xr.Dataset({v: (dims, data[..., j]) for j, v in enumerate(_METRICS)}
                      | {"lam": (("truth", "model"), lams)}, coords=coords,
                      attrs={"M": M, "N": N, "iterations": T, "concentration": concentration,
                             "spurious": "mean over steps of Pr(off-gold step after which the "
                                         "answer is still reachable), own trajectories"})


def summarise(ds) -> dict:
    """Mean and standard error over models per ``(truth, train_fraction, family)``."""
    out: dict = {}
    n = ds.sizes["model"]
    for truth in ds["truth"].values.tolist():
        out[truth] = {}
        for family in ds["family"].values.tolist():
            sub = ds.sel(truth=truth, family=family)
            out[truth][family] = {
                v: {"mean": sub[v].mean("model").values.tolist(),
                    "stderr": (sub[v].std("model", ddof=1) / np.sqrt(n)).values.tolist()}
                for v in _METRICS}
    out["train_fraction"] = ds["train_fraction"].values.tolist()
    return out


def plot_markov_vs_history(ds):
    """Train ``J``, test ``J`` and spurious-step rates against the train fraction, one row per
    truth family; mean over models with two standard errors.

    Returns
    -------
    ndarray of Axes, shape (len(truth), 3)
    """
    from rlstar_theory.figures.style import new_figure, styled

    truths = ds["truth"].values.tolist()
    x = ds["train_fraction"].values
    n = ds.sizes["model"]
    fig = new_figure(11.0, 3.0 * len(truths))
    styles = {"pretrained": ("0.5", ":"), "markov": ("C0", "-"),
              "history_projection": ("C3", "-"), "history_pretrained": ("C1", "--")}
    with styled():
        axes = fig.subplots(len(truths), 3, squeeze=False)
        for r, truth in enumerate(truths):
            for family in ds["family"].values.tolist():
                color, ls = styles[family]
                sub = ds.sel(truth=truth, family=family)
                panels = (("train_J", 0, ls), ("test_J", 1, ls), ("train_spurious", 2, "-"),
                          ("test_spurious", 2, ":"))
                for var, col, style in panels:
                    if var.startswith("train") and family == "history_pretrained":
                        continue  # the same trained tables as history_projection
                    if var.startswith("test") and family == "pretrained":
                        continue  # history_pretrained answers test questions with P0
                    mean = sub[var].mean("model").values
                    se = sub[var].std("model", ddof=1).values / np.sqrt(n)
                    label = family if var in ("train_J", "test_J") else None
                    axes[r, col].errorbar(x, mean, yerr=2 * se, color=color, ls=style,
                                          marker="o", ms=3, lw=1.2, capsize=2, label=label)
            axes[r, 0].set_ylabel(f"{truth} truth")
            axes[r, 0].set_title("train J after STaR" if r == 0 else "")
            axes[r, 1].set_title("test J" if r == 0 else "")
            axes[r, 2].set_title("spurious-step rate (— train, ··· test)" if r == 0 else "")
            for ax in axes[r]:
                ax.set_xlabel("train fraction of questions")
        handles: dict = {}
        for ax in axes[0]:
            for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
                handles.setdefault(label, handle)
        axes[0, 1].legend(handles.values(), handles.keys(), fontsize=7)
    return axes


def write_outputs(ds, out) -> list[Path]:
    """``markov_vs_history.nc``, ``.json`` (:func:`summarise`) and ``.png`` in ``out``."""
    from rlstar_theory.figures.io import save_json, save_png
    from rlstar_theory.sweeps.results import save_results

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return [save_results(ds, out / "markov_vs_history.nc"),
            save_json(summarise(ds) | {"attrs": dict(ds.attrs)}, out / "markov_vs_history.json",
                      indent=1, significant_digits=6),
            save_png(plot_markov_vs_history(ds)[0, 0].figure, out / "markov_vs_history.png",
                     dpi=110)]


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        prog="python -m rlstar_theory.open_questions.markov_vs_history",
        description="Markov versus history-conditioned STaR (RL-STaR open question Q2): train "
                    "J, test J and the spurious-step rate across the train fraction.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--M", type=int, default=8)
    parser.add_argument("--N", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--no-progress", action="store_true")
    return parser


def _run(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    from rlstar_theory.cli._paths import check_out_dir

    out = check_out_dir(args.out)
    start = time.perf_counter()
    ds = run_markov_vs_history(args.M, args.N, args.models, args.iterations,
                               progress=not args.no_progress)
    print(f"markov vs history: {time.perf_counter() - start:.1f} s")
    for path in write_outputs(ds, out):
        print(f"wrote {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``markov_vs_history.nc``, ``.json`` and ``.png`` in ``--out``."""
    return main_wrapper(_run, argv, "markov_vs_history")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
