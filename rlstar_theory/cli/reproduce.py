"""``rlstar reproduce``: regenerate every figure and the report (Markdown + JSON).

Writes into ``--out`` (default ``runs/reproduce``, which git ignores, so the quick start leaves
the checkout clean): for each figure ``<stem>.png``, ``<stem>.pdf``, ``<stem>.json`` (all its
numbers) and, for small tables, ``<stem>.csv``; then ``report.md`` and ``report.json`` listing
every claim of the paper, how it is checked now (numeric check, and the symbolic proofs that
cover it) and the numbers, with the test modules that also cover it (run by ``pytest``, not
here). These files are byte-reproducible: the same code gives the same bytes. What changes from
run to run goes beside them into ``timings.json`` (wall times) and ``provenance.json``
(versions, git commit, CPU), which git ignores in the committed ``figures/``; that folder is
regenerated with ``rlstar reproduce --out figures``. A full run also measures the field's claims
(:mod:`rlstar_theory.claims`) and regenerates the small open-question outputs (the critical
temperature) into ``open_questions/``. The symbolic proofs run in a second process
while the figures are drawn (2-core machines). Exit status 0 when every check passes, 1 when
any check or proof fails, 2 for a bad option.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor

HELP = "regenerate all figures (PNG, PDF, raw JSON/CSV) and the theorem report"

#: max_n of the symbolic proofs in full and quick mode
PROOFS_MAX_N = {False: 5, True: 2}

#: default output folder (inside runs/, which .gitignore covers); the committed figures are
#: regenerated with ``--out figures``
DEFAULT_OUT = "runs/reproduce"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: ``--out``, ``--quick``, ``--only``, ``--no-proofs``, ``--max-n``."""
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                        help=f"output folder (default: {DEFAULT_OUT}; the committed figures "
                             "are regenerated with --out figures)")
    parser.add_argument("--quick", action="store_true",
                        help="reduced grids and seeds, proofs up to N = 2 (used by the tests)")
    parser.add_argument("--only", default=None, metavar="KEYS",
                        help="comma-separated figure keys to draw (a..g); default: all")
    parser.add_argument("--no-proofs", action="store_true",
                        help="skip the symbolic proofs (the report then says so)")
    parser.add_argument("--max-n", type=int, default=None, metavar="N",
                        help="largest N for the symbolic proofs (default 5, quick 2)")
    parser.add_argument("--no-claims", action="store_true",
                        help="skip the claims from the field (rlstar_theory.claims)")
    parser.add_argument("--no-open-questions", action="store_true",
                        help="skip the small open-question outputs (the critical temperature, "
                             "into DIR/open_questions; skipped with --quick too)")


def _selected(only: str | None):
    from rlstar_theory.figures import FIGURES, figure_spec

    if only is None:
        return FIGURES
    keys = [k.strip() for k in only.split(",") if k.strip()]
    if not keys:
        raise ValueError("--only needs at least one figure key (a..g)")
    return tuple(figure_spec(k) for k in keys)


def _start_proofs(max_n: int) -> tuple[ProcessPoolExecutor | None, Future | None]:
    """Run the proofs in a forked worker process; ``(None, None)`` where that is impossible."""
    from rlstar_theory.report import run_proofs

    if "fork" not in multiprocessing.get_all_start_methods():
        return None, None
    try:
        pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
        return pool, pool.submit(run_proofs, max_n)
    except (OSError, ValueError):
        return None, None


def _claims(out) -> tuple:
    """Measure the field's claims now, printing each verdict (figures go to ``out``)."""
    from rlstar_theory.claims import evaluate_claims

    results = tuple(evaluate_claims(out_dir=out))
    for c in results:
        print(f"  claim {c.key}: {c.verdict} ({c.seconds:.1f} s)", flush=True)
    return results


def _open_questions(out) -> None:
    """Regenerate the small open-question outputs (the critical temperature, ~10 s) into
    ``out/open_questions``; the large ones have their own documented commands."""
    from rlstar_theory.open_questions.temperature import write_temperature_outputs

    start = time.perf_counter()
    write_temperature_outputs(out / "open_questions", progress=False)
    print(f"  open questions: critical temperature -> open_questions/ "
          f"({time.perf_counter() - start:.1f} s)", flush=True)


def run(args: argparse.Namespace) -> int:
    """Draw the figures, run the checks and proofs, write the report; 0 iff all pass."""
    from rlstar_theory.cli._paths import check_out_dir
    from rlstar_theory.figures import make_figure
    from rlstar_theory.report import ProofSummary, build_report, run_proofs, write_report

    specs = _selected(args.only)
    out = check_out_dir(args.out, "--out")
    max_n = args.max_n if args.max_n is not None else PROOFS_MAX_N[bool(args.quick)]
    if not args.no_proofs and not 1 <= max_n <= 8:
        raise ValueError(f"--max-n must be in 1..8, got {max_n}")
    start = time.perf_counter()
    mode = "quick" if args.quick else "full"
    print(f"rlstar reproduce ({mode}) -> {out}/", flush=True)

    pool, future = (None, None) if args.no_proofs else _start_proofs(max_n)
    try:
        outputs = {}
        records = []
        for spec in specs:
            result = make_figure(spec, out, quick=args.quick)
            outputs[spec.key] = result.data
            exts = ", ".join(p.suffix.lstrip(".") for p in result.files)
            print(f"  [{spec.key}] {spec.stem} ({exts}): {result.seconds:.1f} s", flush=True)
            records.append({"key": spec.key, "title": spec.title,
                            "files": [p.name for p in result.files], "seconds": result.seconds})
        if args.no_proofs:
            proofs = ProofSummary(False, None, note="skipped (--no-proofs)")
        elif future is not None:
            try:
                proofs = future.result()
            except Exception as exc:  # worker died: run them here instead
                print(f"  proofs worker failed ({type(exc).__name__}); running in process",
                      flush=True)
                proofs = run_proofs(max_n)
        else:
            proofs = run_proofs(max_n)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    if proofs.available:
        bad = len(proofs.failed)
        print(f"  proofs (max_n={proofs.max_n}): {len(proofs.results) - bad} proved, "
              f"{bad} failed, {proofs.seconds:.1f} s", flush=True)
    else:
        print(f"  proofs: not run ({proofs.note})", flush=True)
    claims = () if args.no_claims else _claims(out)
    if not (args.quick or args.no_open_questions):
        _open_questions(out)
    report = build_report(outputs, quick=args.quick, proofs=proofs, figures=records,
                          claims=claims)
    files = write_report(report, out)
    n_pass = sum(c.status == "pass" for c in report.checks)
    print(f"  report: {n_pass}/{len(report.checks)} checks pass, {report.seconds:.1f} s "
          f"-> {files.markdown.name}, {files.json.name} (wall times: {files.timings.name}; "
          f"versions, commit, CPU: {files.provenance.name})", flush=True)
    total = time.perf_counter() - start
    if report.ok:
        print(f"done in {total:.1f} s: all checks pass", flush=True)
        return 0
    print(f"done in {total:.1f} s: FAILED: {', '.join(report.failed)}", flush=True)
    sys.stderr.write(f"rlstar reproduce: failed checks: {', '.join(report.failed)}\n")
    return 1
