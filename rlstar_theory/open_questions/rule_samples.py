"""Q3: each training rule's samples to reach ``J >= 0.9``, as a distribution over random models.

**Models.** ``n`` random pre-trained policies on the claims' standard chain (``M = 6`` states,
``N = 3`` steps, identity truth, uniform questions, all of them for training): model ``b`` has
rows ``P_n[s] ~ Dirichlet(concentration * P(lam_b)[s])`` around the symmetric policy
(:func:`rlstar_theory.claims.models.dirichlet_p0`), with its own ``lam_b ~ Uniform(lam_low,
lam_high)``; both draws come from child ``b`` of ``SeedSequence(seed)``.

**Samples.** Every rule runs in exact mode (its expected update,
:func:`rlstar_theory.mdp.batched.exact_step_batched`, all models as one batch) at its default
settings. Exact mode draws nothing; it counts the *nominal* samples of the update it takes the
expectation of: ``K`` trajectories per training question per iteration
(:meth:`rlstar_theory.rules.base.Rule.nominal_samples`, ``K = 16`` by default for every rule
here, so ``96`` per iteration). The samples to the target are therefore
``96 t_b`` with ``t_b`` the first iteration with ``J(P_t) >= target``; a model that does not get
there within ``max_iterations`` has infinitely many (it is counted as not reaching). The
gradient rules (GRPO, REINFORCE, F-ISFT) take one step of size ``lr = 1`` per iteration, so their
counts scale with ``1 / lr``; the refit rule (STaR) has no step size.

Command line::

    python -m rlstar_theory.open_questions.rule_samples --out figures/open_questions
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rlstar_theory.claims.models import STANDARD_M, STANDARD_N, dirichlet_p0, standard_model
from rlstar_theory.mdp.batched import exact_step_batched, expected_return_batched
from rlstar_theory.open_questions._io import command_parser, main_wrapper
from rlstar_theory.open_questions.stalls import check_target
from rlstar_theory.rules.registry import make_rule
from rlstar_theory.validation import check_int

__all__ = ["DEFAULT_RULES", "RuleSamples", "main", "random_pretrained_models",
           "rule_samples_to_target", "samples_for_rule"]

#: the rules compared by default (command-line names of rlstar_theory.rules.RULES)
DEFAULT_RULES = ("star", "grpo", "reinforce", "fisft+-")


def random_pretrained_models(n: int, M: int = STANDARD_M, N: int = STANDARD_N,
                             lam_range: tuple[float, float] = (0.1, 0.5),
                             concentration: float = 10.0, seed: int = 0):
    """``n`` random Dirichlet pre-trained policies (module docstring).

    Returns
    -------
    P : ndarray, shape (n, N, M, M)
    lam : ndarray, shape (n,)
        Each model's centre ``lam_b``.
    """
    n = check_int(n, "n", 1, 10**6, "number of models")
    low, high = (float(v) for v in lam_range)
    if not -1.0 / (M - 1) <= low <= high < 1.0:
        raise ValueError(f"lam_range must be (low, high) with -1/(M-1) <= low <= high < 1, "
                         f"got {lam_range!r}")
    children = np.random.SeedSequence(check_int(seed, "seed", 0)).spawn(n)
    lam = np.empty(n)
    P = np.empty((n, N, M, M))
    for b, child in enumerate(children):
        gen = np.random.default_rng(child)
        lam[b] = gen.uniform(low, high)
        P[b] = dirichlet_p0(M, N, lam[b], concentration, gen)
    return P, lam


def samples_for_rule(name: str, P: np.ndarray, target: float = 0.9,
                     max_iterations: int = 3000, progress: bool = False):
    """First iteration with ``J >= target`` for every model of a batch, under rule ``name``.

    Parameters
    ----------
    name : str
        A rule of :data:`rlstar_theory.rules.registry.RULES` with a batched exact step.
    P : ndarray, shape (B, N, M, M)
        Pre-trained policies on the standard chain (identity truth, uniform questions).
    target : float
        In ``(0, 1]``.
    max_iterations : int
        Iterations at most; models that reach the target leave the batch.
    progress : bool

    Returns
    -------
    hit : ndarray of int64, shape (B,)
        First ``t`` with ``J(P_t) >= target`` (``-1``: not within ``max_iterations``).
    final_J : ndarray, shape (B,)
        ``J`` when the model left the batch (at its hit, or after ``max_iterations``).
    per_iteration : int
        Nominal samples per iteration.
    """
    target = check_target(target)
    T = check_int(max_iterations, "max_iterations", 0)
    P = np.asarray(P, dtype=float)
    model = standard_model(P.shape[-1], P.shape[1])
    rule = make_rule(name)
    J = expected_return_batched(P)
    hit = np.where(J >= target, 0, -1).astype(np.int64)
    final_J = J.copy()
    active = np.flatnonzero(hit < 0)
    Q = P[active]
    for t in tqdm(range(1, T + 1), desc=name, disable=not progress, leave=False):
        if active.size == 0:
            break
        Q = exact_step_batched(rule, Q, model).P
        J = expected_return_batched(Q)
        final_J[active] = J
        done = J >= target
        hit[active[done]] = t
        active, Q = active[~done], Q[~done]
    return hit, final_J, rule.nominal_samples(model)


@dataclass(frozen=True)
class RuleSamples:
    """Each rule's samples to the target over the same random models.

    Attributes
    ----------
    rules : tuple of str
    target : float
    lam : ndarray, shape (B,)
        Each model's Dirichlet centre.
    J0 : ndarray, shape (B,)
        ``J`` of each pre-trained model.
    hit_iteration : ndarray of int64, shape (R, B)
        First iteration with ``J >= target`` (``-1``: never within ``max_iterations``).
    samples : ndarray, shape (R, B)
        ``per_iteration[r] * hit_iteration`` (``inf`` where never).
    final_J : ndarray, shape (R, B)
    per_iteration : ndarray of int64, shape (R,)
        Nominal samples per iteration of each rule.
    max_iterations : int
    """

    rules: tuple[str, ...]
    target: float
    lam: np.ndarray
    J0: np.ndarray
    hit_iteration: np.ndarray
    samples: np.ndarray
    final_J: np.ndarray
    per_iteration: np.ndarray
    max_iterations: int

    def quantiles(self, qs=(0.05, 0.25, 0.5, 0.75, 0.95)) -> dict[str, dict]:
        """Per rule: the fraction of models that reach the target and the quantiles of the
        samples (``inf`` for a quantile above that fraction)."""
        out = {}
        for r, rule in enumerate(self.rules):
            s = self.samples[r]
            out[rule] = {"reached": float(np.isfinite(s).mean()),
                         "samples_per_iteration": int(self.per_iteration[r]),
                         "quantiles": {f"{q:g}": float(np.quantile(s, q, method="lower"))
                                       for q in qs}}
        return out

    def reached_where_fails(self, reference: int = 0) -> dict[str, float]:
        """Per rule: the fraction of the models that rule ``rules[reference]`` does not bring to
        the target which this rule does (NaN when the reference reaches every model)."""
        failed = ~np.isfinite(self.samples[reference])
        return {rule: float(np.isfinite(self.samples[r][failed]).mean()) if failed.any()
                else float("nan") for r, rule in enumerate(self.rules)}

    @classmethod
    def from_dataset(cls, ds) -> RuleSamples:
        """The inverse of :meth:`to_dataset` (e.g. of a loaded ``rule_samples.nc``)."""
        return cls(rules=tuple(str(r) for r in ds["rule"].values),
                   target=float(ds.attrs["target"]), lam=ds["lam"].values,
                   J0=ds["J0"].values, hit_iteration=ds["hit_iteration"].values.astype(np.int64),
                   samples=ds["samples"].values, final_J=ds["final_J"].values,
                   per_iteration=ds["samples_per_iteration"].values.astype(np.int64),
                   max_iterations=int(ds.attrs["max_iterations"]))

    def to_dataset(self):
        """An xarray Dataset over ``(rule, model)``."""
        from rlstar_theory.sweeps.deps import require

        xr = require("xarray", "rule_samples results")
        return xr.Dataset(
            {"hit_iteration": (("rule", "model"), self.hit_iteration),
             "samples": (("rule", "model"), self.samples),
             "final_J": (("rule", "model"), self.final_J),
             "samples_per_iteration": (("rule",), self.per_iteration),
             "lam": (("model",), self.lam), "J0": (("model",), self.J0)},
            coords={"rule": list(self.rules), "model": np.arange(self.lam.size)},
            attrs={"target": self.target, "max_iterations": self.max_iterations,
                   "samples": "nominal: K x training questions x iterations (exact mode)"})


def _one_rule(args) -> tuple[np.ndarray, np.ndarray, int]:
    name, P, target, T = args
    return samples_for_rule(name, P, target, T)


def rule_samples_to_target(rules: Sequence[str] = DEFAULT_RULES, models: int = 1000,
                           target: float = 0.9, max_iterations: int = 3000, seed: int = 13_400,
                           workers: int = 1, **model_options) -> RuleSamples:
    """Samples each rule needs to reach ``J >= target`` from ``models`` random pre-trained
    models (module docstring), in exact mode with nominal sample counts.

    Parameters
    ----------
    rules : sequence of str
    models : int
    target : float
    max_iterations : int
    seed : int
        Seed of the models.
    workers : int
        Processes (one rule per task).
    **model_options
        ``M``, ``N``, ``lam_range``, ``concentration`` of :func:`random_pretrained_models`.

    Returns
    -------
    RuleSamples
    """
    rules = tuple(rules)
    if not rules:
        raise ValueError("rules must name at least one rule")
    models = check_int(models, "models", 1, 10**6, "number of random models")
    workers = check_int(workers, "workers", 1, 256)
    target = check_target(target)
    T = check_int(max_iterations, "max_iterations", 0)
    P, lam = random_pretrained_models(models, seed=seed, **model_options)
    tasks = [(name, P, target, T) for name in rules]
    if workers == 1:
        results = [_one_rule(task) for task in tasks]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_one_rule, tasks))
    hit = np.stack([r[0] for r in results])
    per = np.array([r[2] for r in results], dtype=np.int64)
    samples = np.where(hit >= 0, hit * per[:, None], np.inf).astype(float)
    return RuleSamples(rules=rules, target=target, lam=lam, J0=expected_return_batched(P),
                       hit_iteration=hit, samples=samples,
                       final_J=np.stack([r[1] for r in results]), per_iteration=per,
                       max_iterations=T)


def write_rule_outputs(result: RuleSamples, out) -> list[Path]:
    """``rule_samples.nc``, ``rule_samples.json`` and ``rule_samples.png`` in ``out``."""
    from rlstar_theory.figures.io import save_json, save_png
    from rlstar_theory.open_questions.sample_figures import plot_rule_samples
    from rlstar_theory.sweeps.results import save_results

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [save_results(result.to_dataset(), out / "rule_samples.nc")]
    report = {"target": result.target, "models": int(result.lam.size),
              "max_iterations": result.max_iterations,
              "samples": "nominal: K x training questions x iterations (exact mode)",
              "J0_quantiles": {f"{q:g}": float(np.quantile(result.J0, q))
                               for q in (0.05, 0.5, 0.95)},
              "rules": result.quantiles(),
              "quantiles_note": "null: the quantile lies among the models that do not reach "
                                "the target within max_iterations",
              "reached_where_first_rule_fails": result.reached_where_fails()}
    paths.append(save_json(report, out / "rule_samples.json", indent=1, significant_digits=6))
    paths.append(save_png(plot_rule_samples(result)[0].figure, out / "rule_samples.png", dpi=110))
    return paths


def _parser() -> argparse.ArgumentParser:
    parser = command_parser(
        prog="python -m rlstar_theory.open_questions.rule_samples",
        description="Each rule's (nominal) samples to J >= 0.9 over random pre-trained models, "
                    "in exact mode: the distribution as netCDF, JSON quantiles and a figure.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rules", nargs="+", default=list(DEFAULT_RULES))
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--target", type=float, default=0.9)
    parser.add_argument("--max-iterations", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=2)
    return parser


def _run(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    from rlstar_theory.cli._paths import check_out_dir

    out = check_out_dir(args.out)
    start = time.perf_counter()
    result = rule_samples_to_target(args.rules, args.models, args.target,
                                    args.max_iterations, workers=args.workers)
    print(f"rule samples: {time.perf_counter() - start:.1f} s")
    for path in write_rule_outputs(result, out):
        print(f"wrote {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command line; exit status."""
    return main_wrapper(_run, argv, "rule_samples")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
