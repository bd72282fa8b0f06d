"""``rlstar simulate``: iterate exact RL-STaR and print λ, δ_diag, J and robustness per iteration.

Examples
--------
``rlstar simulate --M 64 --N 3 --lambda0 0.2 --iterations 10``
``rlstar simulate --M 8 --lambda0 1/3,0,1/2 --exact --json``
``rlstar simulate --matrices P0.npy --truth truth.npy --temperature 0.5``
"""

from __future__ import annotations

import argparse
import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np

from rlstar_theory.conventions import delta_diag_to_lam
from rlstar_theory.criteria import classify_start, iterations_to_reach
from rlstar_theory.dense import iterate_dense
from rlstar_theory.symmetric import iterate_symmetric, iterate_symmetric_exact
from rlstar_theory.validation import (
    check_iterations,
    check_lam_exact,
    check_M,
    check_N,
    check_temperature,
    exact_temperature_power,
    to_fraction,
)

HELP = "iterate exact RL-STaR (closed form or dense matrices) and print λ, δ_diag, J per iteration"

DELTA_NOTE = ("delta = diagonal excess delta_diag (data generator's convention): P[s,s] = 1/M + "
              "delta; lambda = mixing weight (theory script's convention): P = lambda I + "
              "(1-lambda)/M 11^T; delta = (M-1) lambda / M")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``rlstar simulate``."""
    parser.add_argument("--M", type=int, default=None, help="states per step (>= 2; default 64)")
    parser.add_argument("--N", type=int, default=None,
                        help="reasoning steps (>= 1; default: number of --lambda0 values, or 3)")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--lambda0", metavar="L[,L...]",
                       help="starting mixing weight(s) lambda in [-1/(M-1), 1]; one value for "
                            "all steps or one per step; fractions such as 1/3 allowed "
                            "(default 0.2)")
    start.add_argument("--delta0", metavar="D[,D...]",
                       help="starting diagonal excess delta_diag = (M-1) lambda / M in "
                            "[-1/M, (M-1)/M] (the data generator's convention)")
    start.add_argument("--matrices", metavar="FILE.npy", type=Path,
                       help="dense engine from a saved (N, M, M) row-stochastic array (a string "
                            "array of fractions such as '1/3' is read exactly)")
    parser.add_argument("--truth", metavar="FILE.npy", type=Path,
                        help="ground-truth maps, an (N, M) integer array (with --matrices)")
    parser.add_argument("--iterations", type=int, default=10, help="STaR iterations T (>= 0)")
    parser.add_argument("--temperature", default="1",
                        help="sampling temperature tau > 0 of the training data (default 1; "
                             "with --exact, 1/tau must be an integer, e.g. 1/2)")
    parser.add_argument("--exact", action="store_true", help="compute in exact rationals")
    parser.add_argument("--epsilon", type=float, default=0.01,
                        help="report the first iteration with J >= 1 - epsilon "
                             "(0 < epsilon < 1 - 1/M; default 0.01)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _parse_values(text: str, name: str) -> list[Fraction]:
    parts = [p for p in text.split(",")]
    if not parts or any(not p.strip() for p in parts):
        raise ValueError(f"--{name} must be a comma-separated list of numbers, got {text!r}")
    return [to_fraction(p, f"--{name}") for p in parts]


def _load_npy(path: Path, name: str) -> np.ndarray:
    if not path.is_file():
        raise ValueError(f"--{name}: file not found: {path}")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ValueError(f"--{name}: cannot read {path} as a .npy array ({exc})") from None


def _matrices(path: Path, exact: bool) -> np.ndarray:
    arr = _load_npy(path, "matrices")
    if arr.dtype.kind in "US":
        values = [to_fraction(str(v), "--matrices") for v in arr.ravel()]
        obj = np.empty(arr.shape, dtype=object)
        obj.ravel()[:] = values
        return obj if exact else obj.astype(float)
    if exact:
        obj = np.empty(arr.shape, dtype=object)
        obj.ravel()[:] = [to_fraction(float(v), "--matrices") for v in arr.ravel()]
        if np.ndim(obj) == 3 and any(sum(row) != 1 for row in obj.reshape(-1, obj.shape[-1])):
            raise ValueError("--matrices: with --exact every row must sum exactly to 1 in the "
                             "stored binary floats; save the matrices as a string array of "
                             "fractions (np.save(f, np.array([['1/3', ...]]))) instead")
        return obj
    return arr


def _resolve_steps(args) -> tuple[int, int, list[Fraction]]:
    M = check_M(64 if args.M is None else args.M)
    if args.delta0 is not None:
        values = _parse_values(args.delta0, "delta0")
        lo, hi = Fraction(-1, M), Fraction(M - 1, M)
        for v in values:
            if not lo <= v <= hi:
                raise ValueError(f"--delta0 must lie in [-1/M, (M-1)/M] = [{float(lo):.6g}, "
                                 f"{float(hi):.6g}] for M={M}, got {v}")
        lam = [delta_diag_to_lam(v, M) for v in values]
    else:
        lam = check_lam_exact(_parse_values(args.lambda0 or "0.2", "lambda0"), M, "--lambda0")
    if args.N is not None:
        N = check_N(args.N)
        if len(lam) == 1:
            lam = lam * N
        elif len(lam) != N:
            raise ValueError(f"give one starting value or N = {N} of them, got {len(lam)}")
    else:
        N = 3 if len(lam) == 1 else len(lam)
        lam = lam * N if len(lam) == 1 else lam
    return M, N, lam


def _num(x, exact: bool):
    if x is None:
        return None
    if exact:
        f = Fraction(x)
        return f"{f.numerator}/{f.denominator}"
    x = float(x)
    return None if math.isnan(x) else x


def _result(args) -> dict:
    exact = args.exact
    if exact:
        exact_temperature_power(args.temperature)
        temperature = to_fraction(args.temperature, "--temperature")
    else:
        temperature = check_temperature(to_fraction(args.temperature, "--temperature"))
    T = check_iterations(args.iterations)
    if args.matrices is not None:
        if args.M is not None or args.N is not None:
            raise ValueError("--M and --N are read from --matrices; do not give them too")
        P0 = _matrices(args.matrices, exact)
        truth = None if args.truth is None else _load_npy(args.truth, "truth")
        run = iterate_dense(P0, T, truth=truth, temperature=temperature)
        N, M = run.P.shape[1], run.P.shape[2]
        delta = run.delta_diag
        lam = delta * M / (M - 1)
        engine = "dense"
    else:
        if args.truth is not None:
            raise ValueError("--truth needs --matrices (the closed form uses identity maps)")
        M, N, lam0 = _resolve_steps(args)
        if exact:
            run = iterate_symmetric_exact(lam0, M, T, temperature)
        else:
            run = iterate_symmetric(np.array([float(v) for v in lam0]), M, T, temperature)
        lam, delta = run.lam, run.delta_diag
        engine = "closed form"
        lam_float = np.array([float(v) for v in lam0])
        verdict = classify_start(lam_float, M)
        criteria = {
            "start_class": verdict.kind.value,
            "prediction": verdict.prediction,
            "epsilon": args.epsilon,
            "iterations_to_reach": _reached(
                iterations_to_reach(lam_float, M, args.epsilon, max_iterations=10_000,
                                    temperature=float(temperature))),
        }

    if engine == "dense":
        J = np.array([float(v) for v in run.J])
        if not (0 < args.epsilon < 1 - 1 / M):
            raise ValueError(f"--epsilon must lie in (0, 1 - 1/M) = (0, {1 - 1 / M:.6g})")
        hit = np.flatnonzero(1 - J <= args.epsilon)
        criteria = {"epsilon": args.epsilon,
                    "iterations_to_reach": int(hit[0]) if hit.size else None}

    def table(a):
        return [[_num(v, exact) for v in row] for row in a]

    return {
        "M": M,
        "N": N,
        "engine": engine,
        "temperature": _num(temperature, exact),
        "exact": exact,
        "delta_convention": DELTA_NOTE,
        "lambda": table(lam),
        "delta": table(delta),
        "J": [_num(v, exact) for v in run.J],
        "J_sampling": [_num(v, exact) for v in run.J_sampling],
        "p_all_correct_given_success": [_num(v, exact) for v in run.p_all_correct_given_success],
        "p_step_wrong_given_success": table(run.p_step_wrong_given_success),
        "criteria": criteria,
    }


def _reached(t) -> int | None:
    t = int(t)
    return None if t < 0 else t


def _fmt(v) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, str):
        f = Fraction(v)
        return f"{float(f):.6f}" if f.denominator != 1 else str(f.numerator)
    return f"{v:.6f}"


def _print_table(res: dict) -> None:
    N = res["N"]
    tempered = res["temperature"] not in (1, 1.0, "1/1")
    print(f"RL-STaR, {res['engine']} engine: M = {res['M']}, N = {res['N']}, "
          f"temperature = {_fmt(res['temperature'])}" + (", exact rationals" if res["exact"]
                                                          else ""))
    print("lambda = mixing weight (P = lambda I + (1-lambda)/M 11^T); "
          "delta_diag = diagonal excess (P[s,s] = 1/M + delta_diag)")
    if res["engine"] == "dense":
        print("(dense engine: lambda and delta_diag are the mean diagonal over rows)")
    head = ["t", "J"] + (["J@tau"] if tempered else []) + ["P(all ok|succ)"]
    for n in range(1, N + 1):
        head += [f"lambda_{n}", f"delta_diag_{n}", f"P(wrong_{n}|succ)"]
    rows = []
    for t in range(len(res["J"])):
        row = [str(t), _fmt(res["J"][t])]
        if tempered:
            row.append(_fmt(res["J_sampling"][t]))
        row.append(_fmt(res["p_all_correct_given_success"][t]))
        for n in range(N):
            row += [_fmt(res["lambda"][t][n]), _fmt(res["delta"][t][n]),
                    _fmt(res["p_step_wrong_given_success"][t][n])]
        rows.append(row)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)))
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    crit = res["criteria"]
    if "start_class" in crit:
        print(f"pre-trained model: {crit['start_class']}: {crit['prediction']}")
    reach = crit["iterations_to_reach"]
    when = f"at t = {reach}" if reach is not None else (
        "never (within 10,000 iterations)" if res["engine"] != "dense"
        else f"not within the {len(res['J']) - 1} iterations run")
    print(f"J >= 1 - {crit['epsilon']:g} reached {when}")


def run(args: argparse.Namespace) -> int:
    """Run ``rlstar simulate``; returns 0."""
    res = _result(args)
    if args.json:
        print(json.dumps(res))
    else:
        _print_table(res)
    return 0
