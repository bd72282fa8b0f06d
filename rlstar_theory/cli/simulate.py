"""``rlstar simulate``: iterate exact RL-STaR and print λ, δ_diag, J and robustness per iteration.

Examples
--------
``rlstar simulate --M 64 --N 3 --lambda0 0.2 --iterations 10``
``rlstar simulate --M 8 --lambda0 1/3,0,1/2 --exact --json``
``rlstar simulate --matrices P0.npy --truth truth.npy --temperature 0.5 --out runs/sim``

Sizes are checked before any work starts: the table (``(T+1)(3N+4)`` numbers), the dense
engine's ``~N M^3`` operations per iteration, and with ``--exact`` the number of digits the exact
fractions reach (they multiply by about ``N / tau`` per iteration;
:func:`rlstar_theory.symmetric.estimate_exact_digits`). Long runs show a progress bar on stderr
when it is a terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import os
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

from rlstar_theory.atomic import write_bytes_atomic
from rlstar_theory.conventions import DELTA_NOTE, delta_diag_range, delta_diag_to_lam
from rlstar_theory.criteria import classify_start, iterations_to_reach
from rlstar_theory.dense import iterate_dense, star_step
from rlstar_theory.symmetric import (
    estimate_exact_digits,
    iterate_symmetric,
    iterate_symmetric_exact,
)
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

#: most numbers a run may tabulate, (T+1)(3N+4)
MAX_TABLE_VALUES = 1_000_000
#: the float criteria search stops after this many step-iterations (N x iterations)
SEARCH_BUDGET = 10**8
#: most iterations of the float criteria search
SEARCH_ITERATIONS = 10_000
#: most multiply-adds (T+1) N M^3 a dense run may take (about a minute or two)
MAX_DENSE_OPERATIONS = 1e12
#: default --max-digits; a 10^5-digit exact step takes about a second
DEFAULT_MAX_DIGITS = 200_000
#: above this many digits an exact run says how large it will get
WARN_DIGITS = 10_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``rlstar simulate``."""
    parser.add_argument("--M", type=int, default=None,
                        help="states per step, >= 2 (default: 64; read from --matrices)")
    parser.add_argument("--N", type=int, default=None,
                        help="reasoning steps, >= 1 (default: the number of --lambda0 or "
                             "--delta0 values, or 3 for a single value)")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--lambda0", metavar="L[,L...]",
                       help="starting mixing weight(s) lambda in [-1/(M-1), 1]; one value for "
                            "all steps or one per step; fractions such as 1/3 allowed "
                            "(default: 0.2)")
    start.add_argument("--delta0", metavar="D[,D...]",
                       help="starting diagonal excess delta_diag = (M-1) lambda / M in "
                            "[-1/M, (M-1)/M] (the data generator's convention; default: none, "
                            "--lambda0 0.2 is used)")
    start.add_argument("--matrices", metavar="FILE.npy", type=Path,
                       help="dense engine from a saved (N, M, M) row-stochastic float array (a "
                            "string array of fractions such as '1/3' is read exactly; "
                            "default: none, the closed form)")
    parser.add_argument("--truth", metavar="FILE.npy", type=Path,
                        help="ground-truth maps, an (N, M) integer array, with --matrices "
                             "(default: identity maps)")
    parser.add_argument("--iterations", type=int, default=10,
                        help="STaR iterations T >= 0 (default: %(default)s)")
    parser.add_argument("--temperature", default="1",
                        help="sampling temperature tau > 0 of the training data (default: "
                             "%(default)s; with --exact, 1/tau must be an integer, e.g. 1/2)")
    parser.add_argument("--exact", action="store_true",
                        help="compute in exact rationals (default: off, float64)")
    parser.add_argument("--max-digits", type=float, default=DEFAULT_MAX_DIGITS,
                        help="with --exact, refuse runs whose fractions are estimated to "
                             "exceed this many digits (default: %(default)g)")
    parser.add_argument("--fractions", action="store_true",
                        help="with --exact, also print every value as an exact fraction "
                             "(default: off; the table shows decimals)")
    parser.add_argument("--epsilon", type=float, default=0.01,
                        help="report the first iteration with J >= 1 - epsilon "
                             "(0 < epsilon < 1 - 1/M; default: %(default)s)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object instead of the table (default: off)")
    parser.add_argument("--out", metavar="DIR", type=str, default=None,
                        help="also write simulation.csv, simulation.json and simulation.png "
                             "into this folder (default: none)")


# ---------------------------------------------------------------------------------------------
# input


def _parse_values(text: str, name: str) -> list[Fraction]:
    parts = text.split(",")
    if any(not p.strip() for p in parts):
        raise ValueError(f"--{name} must be a comma-separated list of numbers such as 0.2 or "
                         f"1/3, got {text!r}")
    return [to_fraction(p, f"--{name}") for p in parts]


def _load_npy(path: Path, name: str, kinds: str) -> np.ndarray:
    """A plain ``.npy`` array whose dtype kind is one of ``kinds``; one clear line otherwise."""
    if not path.is_file():
        raise ValueError(f"--{name}: file not found: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"--{name}: {path} is empty (0 bytes), not a .npy array")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, MemoryError) as exc:
        raise ValueError(f"--{name}: cannot read {path} as a .npy array ({exc})") from None
    if not isinstance(arr, np.ndarray):  # np.load gives an NpzFile for a zip archive
        with contextlib.suppress(AttributeError):
            arr.close()
        raise ValueError(f"--{name}: {path} is an .npz archive, not a .npy array; save one array "
                         "with numpy.save")
    if arr.dtype.kind == "c":
        raise ValueError(f"--{name}: {path} holds complex numbers (dtype {arr.dtype}); "
                         "probabilities and state labels must be real")
    if arr.dtype.kind not in kinds:
        raise ValueError(f"--{name}: {path} has dtype {arr.dtype}; expected "
                         f"{'real numbers or fraction strings' if 'U' in kinds else 'integers'}")
    if arr.size == 0:
        raise ValueError(f"--{name}: {path} holds an empty array of shape {arr.shape}")
    return arr


def _matrices(path: Path, exact: bool) -> np.ndarray:
    arr = _load_npy(path, "matrices", "fiuUS")
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
    return arr.astype(float)


def _resolve_steps(args) -> tuple[int, int, list[Fraction]]:
    M = check_M(64 if args.M is None else args.M)
    if args.delta0 is not None:
        values = _parse_values(args.delta0, "delta0")
        lo, hi = Fraction(-1, M), Fraction(M - 1, M)
        for v in values:
            if not lo <= v <= hi:
                low, high = delta_diag_range(M)
                raise ValueError(f"--delta0 must lie in [-1/M, (M-1)/M] = [{low:.6g}, "
                                 f"{high:.6g}] for M={M}, got {v}")
        lam = [delta_diag_to_lam(v, M) for v in values]
    else:
        text = "0.2" if args.lambda0 is None else args.lambda0
        lam = check_lam_exact(_parse_values(text, "lambda0"), M, "--lambda0")
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


def _check_epsilon(epsilon: float, M: int) -> None:
    if not (math.isfinite(epsilon) and 0 < epsilon < 1 - 1 / M):
        raise ValueError(f"--epsilon must lie in (0, 1 - 1/M) = (0, {1 - 1 / M:.6g}) for "
                         f"M={M}, got {epsilon!r}")


def _check_table_size(T: int, N: int) -> None:
    values = (T + 1) * (3 * N + 4)
    if values > MAX_TABLE_VALUES:
        raise ValueError(f"--iterations {T} with N = {N} would tabulate about {values:.2g} "
                         f"numbers, (T+1)(3N+4), more than {MAX_TABLE_VALUES:.0e}; lower "
                         "--iterations or --N (the Python API, e.g. sweep_symmetric, has no "
                         "such limit)")


def _check_out(out: str | None) -> Path | None:
    """The output folder, created and writable, or a one-line error."""
    if out is None:
        return None
    if not out.strip():
        raise ValueError("--out must name a folder, got ''")
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out: {path} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--out: cannot create the folder {path} ({exc.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"--out: the folder {path} is not writable")
    return path


def _exact_size_estimate(lam0, M: int, T: int, temperature, max_digits: float):
    est = estimate_exact_digits(lam0, M, T, temperature)
    if est.digits > max_digits:
        fit = est.max_iterations(max_digits)
        hint = (f"use --iterations {fit} or fewer" if fit >= 0
                else "use simpler starting fractions")
        raise ValueError(f"--exact: {est.describe()}, more than --max-digits {max_digits:g}; "
                         f"{hint}, or drop --exact (float64)")
    if est.digits > WARN_DIGITS:
        sys.stderr.write(f"rlstar simulate: note: {est.describe()}; this may take a while\n")
    return est


def _bits(values) -> int:
    return max((max(Fraction(v).numerator.bit_length(), Fraction(v).denominator.bit_length())
                for v in values), default=1)


def _dense_exact_probe(P0: np.ndarray, truth, temperature, T: int, max_digits: float) -> None:
    """Exact dense runs grow like exact closed-form runs: probe a few steps, extrapolate."""
    P, bits = P0, [_bits(P0.ravel())]
    while len(bits) <= T + 1 and bits[-1] <= 4096:
        P = star_step(P, truth=truth, temperature=temperature)
        bits.append(_bits(P.ravel()))
    growth = max(1.0, bits[-1] / bits[-2]) if len(bits) > 1 else 1.0
    log10 = math.log10(bits[-1] * math.log10(2)) + max(0, T + 1 - (len(bits) - 1)) * \
        math.log10(growth)
    if log10 > math.log10(max_digits):
        raise ValueError(f"--exact: the exact fractions would reach about 10^{log10:.1f} digits "
                         f"by t = {T} (digit counts multiply by about {growth:.2g} per "
                         f"iteration), more than --max-digits {max_digits:g}; lower "
                         "--iterations or drop --exact (float64)")


# ---------------------------------------------------------------------------------------------
# the run


def _exact_str(x) -> str | None:
    if x is None:
        return None
    f = Fraction(x)
    return f"{f.numerator}/{f.denominator}"


def _float(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def _first_reach(J, epsilon: float, exact: bool) -> int | None:
    """First ``t`` with ``1 - J_t <= epsilon`` (compared exactly for exact runs)."""
    eps = Fraction(repr(epsilon)) if exact else epsilon
    for t, j in enumerate(J):
        if 1 - (Fraction(j) if exact else float(j)) <= eps:
            return t
    return None


def _fixed_point(states: np.ndarray, exact: bool) -> tuple[int, float] | None:
    """First ``t`` from which the state no longer changes (exactly, or by at most 1e-12)."""
    for t in range(len(states) - 1):
        a, b = states[t], states[t + 1]
        same = (a == b).all() if exact else float(np.max(np.abs(
            np.asarray(a, dtype=float) - np.asarray(b, dtype=float)))) <= 1e-12
        if same:
            return t, (0.0 if exact else float(np.max(np.abs(
                np.asarray(a, dtype=float) - np.asarray(b, dtype=float)))))
    return None


def _result(args) -> dict:
    exact = args.exact
    if exact:
        exact_temperature_power(args.temperature)
        temperature = to_fraction(args.temperature, "--temperature")
        if not args.max_digits > 0:
            raise ValueError(f"--max-digits must be > 0, got {args.max_digits:g}")
    else:
        temperature = check_temperature(to_fraction(args.temperature, "--temperature"))
    T = check_iterations(args.iterations)
    tau = float(temperature)
    if args.matrices is not None:
        if args.M is not None or args.N is not None:
            raise ValueError("--M and --N are read from --matrices; do not give them too")
        P0 = _matrices(args.matrices, exact)
        truth = None if args.truth is None else _load_npy(args.truth, "truth", "iuf")
        if P0.ndim == 3 and P0.shape[1] == P0.shape[2]:
            N, M = P0.shape[0], P0.shape[1]
            _check_table_size(T, N)
            _check_epsilon(args.epsilon, max(M, 2))
            ops = (T + 1) * N * float(M) ** 3
            if ops > MAX_DENSE_OPERATIONS:
                raise ValueError(f"--matrices: {T + 1} iterations of the dense engine with "
                                 f"N = {N}, M = {M} take about {ops:.1e} multiply-adds, "
                                 f"(T+1) N M^3, more than {MAX_DENSE_OPERATIONS:.0e}; lower "
                                 "--iterations")
            if exact:
                _dense_exact_probe(P0, truth, temperature, T, args.max_digits)
        run = iterate_dense(P0, T, truth=truth, temperature=temperature,
                            progress=sys.stderr.isatty() and T * N * M**3 > 10**8)
        N, M = run.P.shape[1], run.P.shape[2]
        delta = run.delta_diag
        lam = delta_diag_to_lam(delta, M)
        engine = "dense"
        reach = _first_reach(run.J, args.epsilon, exact)
        criteria = {"epsilon": args.epsilon, "iterations_to_reach": reach,
                    "searched": f"the {T} iterations run"}
        fixed = _fixed_point(run.P, exact)
        if reach is None and fixed is not None:
            t_fix, change = fixed
            criteria["fixed_point"] = {"t": t_fix, "J": _exact_str(run.J[t_fix]) if exact
                                       else float(run.J[t_fix]), "max_change": change}
    else:
        if args.truth is not None:
            raise ValueError("--truth needs --matrices (the closed form uses identity maps)")
        M, N, lam0 = _resolve_steps(args)
        _check_table_size(T, N)
        _check_epsilon(args.epsilon, M)
        verdict = classify_start(lam0, M, temperature=tau)
        criteria = {"start_class": verdict.kind.value, "prediction": verdict.prediction,
                    "epsilon": args.epsilon}
        if exact:
            _exact_size_estimate(lam0, M, T, temperature, args.max_digits)
            run = iterate_symmetric_exact(lam0, M, T, temperature, progress=None)
            criteria["iterations_to_reach"] = _first_reach(run.J, args.epsilon, True)
            criteria["searched"] = f"the {T} iterations run (exact)"
        else:
            lam_float = np.array([float(v) for v in lam0])
            run = iterate_symmetric(lam_float, M, T, temperature,
                                    progress=None if T * N > 10**5 else False)
            budget = int(min(SEARCH_ITERATIONS, max(T, SEARCH_BUDGET // N)))
            criteria["iterations_to_reach"] = _reached(
                iterations_to_reach(lam_float, M, args.epsilon, max_iterations=budget,
                                    temperature=tau))
            criteria["searched"] = f"{budget:,} iterations (float64)"
        lam, delta = run.lam, run.delta_diag
        engine = "closed form"
        if criteria["iterations_to_reach"] is None:
            fixed = _fixed_point(run.lam, exact)
            if fixed is not None:
                t_fix, change = fixed
                criteria["fixed_point"] = {"t": t_fix, "J": _exact_str(run.J[t_fix]) if exact
                                           else float(run.J[t_fix]), "max_change": change}

    fields = {
        "lambda": lam,
        "delta": delta,
        "J": run.J,
        "J_sampling": run.J_sampling,
        "p_all_correct_given_success": run.p_all_correct_given_success,
        "p_step_wrong_given_success": run.p_step_wrong_given_success,
    }
    res = {"M": M, "N": N, "engine": engine,
           "temperature": _exact_str(temperature) if exact else tau, "exact": exact,
           "delta_convention": DELTA_NOTE}
    render = _exact_str if exact else _float
    for key, values in fields.items():
        res[key] = _table(values, render)
    res["criteria"] = criteria
    if exact:
        res["float"] = {key: _table(values, _float) for key, values in fields.items()}
    return res


def _table(values, render):
    if np.ndim(values) == 1:
        return [render(v) for v in values]
    return [[render(v) for v in row] for row in values]


def _reached(t) -> int | None:
    t = int(t)
    return None if t < 0 else t


# ---------------------------------------------------------------------------------------------
# output


@contextlib.contextmanager
def _long_integers():
    """Lift Python's 4300-digit int <-> str limit while exact fractions are written."""
    get = getattr(sys, "get_int_max_str_digits", None)
    if get is None:  # pragma: no cover - Python < 3.11 has no limit
        yield
        return
    old = get()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(old)


def _floats(res: dict) -> dict:
    """The numeric fields as floats (exact runs keep them under ``"float"``)."""
    return res["float"] if res["exact"] else res


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.6f}"


def _verdict_lines(res: dict) -> list[str]:
    crit = res["criteria"]
    lines = []
    if "start_class" in crit:
        lines.append(f"pre-trained model: {crit['start_class']} (temperature "
                     f"{_temperature_text(res)}): {crit['prediction']}")
    reach = crit["iterations_to_reach"]
    exact = " (exact)" if res["exact"] else ""
    if reach is not None:
        lines.append(f"J >= 1 - {crit['epsilon']:g} reached at t = {reach}{exact}")
    else:
        lines.append(f"J >= 1 - {crit['epsilon']:g} not reached within {crit['searched']}")
    fixed = crit.get("fixed_point")
    if fixed is not None:
        J = fixed["J"]
        J_text = f"{float(Fraction(J)):.6f}" if isinstance(J, str) else f"{J:.6f}"
        what = "P" if res["engine"] == "dense" else "lambda"
        if res["exact"]:
            lines.append(f"sub-optimal fixed point: {what} stops changing from t = "
                         f"{fixed['t']} (exactly) at J = {J_text}"
                         + (f" = {J}" if len(J) < 60 else ""))
        else:
            lines.append(f"sub-optimal fixed point, or progress below float64 resolution: "
                         f"{what} stops changing from t = {fixed['t']} (max change "
                         f"{fixed['max_change']:.1e} <= 1e-12) at J = {J_text}")
    return lines


def _temperature_text(res: dict) -> str:
    tau = res["temperature"]
    return tau.removesuffix("/1") if isinstance(tau, str) else f"{tau:g}"


def _print_table(res: dict) -> None:
    N = res["N"]
    num = _floats(res)
    tempered = float(Fraction(res["temperature"]) if isinstance(res["temperature"], str)
                     else res["temperature"]) != 1.0
    print(f"RL-STaR, {res['engine']} engine: M = {res['M']}, N = {res['N']}, "
          f"temperature = {_temperature_text(res)}"
          + (", exact rationals (shown as decimals)" if res["exact"] else ""))
    print("lambda = mixing weight (P = lambda I + (1-lambda)/M 11^T); "
          "delta_diag = diagonal excess (P[s,s] = 1/M + delta_diag)")
    if res["engine"] == "dense":
        print("(dense engine: lambda and delta_diag are the mean diagonal over rows)")
    head = ["t", "J"] + (["J@tau"] if tempered else []) + ["P(all ok|succ)"]
    for n in range(1, N + 1):
        head += [f"lambda_{n}", f"delta_diag_{n}", f"P(wrong_{n}|succ)"]
    rows = []
    for t in range(len(num["J"])):
        row = [str(t), _fmt(num["J"][t])]
        if tempered:
            row.append(_fmt(num["J_sampling"][t]))
        row.append(_fmt(num["p_all_correct_given_success"][t]))
        for n in range(N):
            row += [_fmt(num["lambda"][t][n]), _fmt(num["delta"][t][n]),
                    _fmt(num["p_step_wrong_given_success"][t][n])]
        rows.append(row)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print("  ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)))
    for r in rows:
        print("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)))
    for line in _verdict_lines(res):
        print(line)


def _print_fractions(res: dict) -> None:
    print("exact values:")
    for t in range(len(res["J"])):
        parts = [f"J = {res['J'][t]}", f"J@tau = {res['J_sampling'][t]}",
                 f"P(all ok|succ) = {res['p_all_correct_given_success'][t]}"]
        for n in range(res["N"]):
            parts += [f"lambda_{n + 1} = {res['lambda'][t][n]}",
                      f"delta_diag_{n + 1} = {res['delta'][t][n]}",
                      f"P(wrong_{n + 1}|succ) = {res['p_step_wrong_given_success'][t][n]}"]
        print(f"t = {t}: " + "; ".join(parts))


def _csv_text(res: dict) -> str:
    num = _floats(res)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    N = res["N"]
    writer.writerow(["t", "J", "J_sampling", "p_all_correct_given_success"]
                    + [f"lambda_{n}" for n in range(1, N + 1)]
                    + [f"delta_diag_{n}" for n in range(1, N + 1)]
                    + [f"p_wrong_given_success_{n}" for n in range(1, N + 1)])
    for t in range(len(num["J"])):
        writer.writerow([t, num["J"][t], num["J_sampling"][t],
                         num["p_all_correct_given_success"][t], *num["lambda"][t],
                         *num["delta"][t], *num["p_step_wrong_given_success"][t]])
    return buf.getvalue().replace("None", "")


def plot_simulation(res: dict, ax=None):
    """Plot ``J_t`` and each step's ``lambda_{t,n}`` against the iteration ``t``.

    Parameters
    ----------
    res : dict
        The result of ``rlstar simulate`` (its JSON object).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; when None a new :class:`matplotlib.figure.Figure` is made (no
        backend is selected and pyplot is not used).

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    if ax is None:
        ax = Figure(figsize=(6.4, 4.0)).add_subplot()
    num = _floats(res)
    t = np.arange(len(num["J"]))
    ax.plot(t, [np.nan if v is None else v for v in num["J"]], "-o", color="black", lw=2,
            ms=3, label="J (expected return)")
    lam = np.array([[np.nan if v is None else v for v in row] for row in num["lambda"]])
    for n in range(res["N"] if res["N"] <= 10 else 0):
        ax.plot(t, lam[:, n], "-", lw=1.2, label=f"λ_{n + 1} (mixing weight)")
    ax.axhline(1 / res["M"], color="grey", ls=":", lw=1, label="1/M (random guessing)")
    ax.set_xlabel("STaR iteration t")
    ax.set_ylabel("J and λ")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"RL-STaR, {res['engine']}: M = {res['M']}, N = {res['N']}, "
                 f"τ = {_temperature_text(res)}")
    ax.legend(fontsize=8, loc="best")
    return ax


def _png_bytes(res: dict) -> bytes:
    ax = plot_simulation(res)
    fig = ax.figure
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, metadata={"Software": None})
    return buf.getvalue()


def _write_outputs(res: dict, folder: Path) -> None:
    try:
        write_bytes_atomic(folder / "simulation.csv", _csv_text(res).encode("utf-8"))
        write_bytes_atomic(folder / "simulation.json",
                           (json.dumps(res, indent=1) + "\n").encode("utf-8"))
        write_bytes_atomic(folder / "simulation.png", _png_bytes(res))
    except OSError as exc:
        raise ValueError(f"--out: cannot write into {folder} ({exc.strerror or exc})") from None


def run(args: argparse.Namespace) -> int:
    """Run ``rlstar simulate``; returns 0."""
    if (args.fractions or args.max_digits != DEFAULT_MAX_DIGITS) and not args.exact:
        raise ValueError("--fractions and --max-digits need --exact")
    folder = _check_out(args.out)
    with _long_integers():
        res = _result(args)
        if args.json:
            print(json.dumps(res))
        else:
            _print_table(res)
            if args.fractions:
                _print_fractions(res)
        if folder is not None:
            _write_outputs(res, folder)
            if not args.json:
                print(f"wrote simulation.csv, simulation.json and simulation.png to {folder}")
    return 0
