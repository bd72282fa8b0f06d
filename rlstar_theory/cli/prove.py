"""``rlstar prove``: run the symbolic (sympy) proofs of SPEC §3 and print what was proved.

Prints a summary table (fact, status, the N checked with one symbol per step, seconds) and,
for each fact, its statement, exactly how it was proved, and what was checked. Exit status 0
when every proof holds, 1 when any fails, 2 for a bad option.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time

from rlstar_theory.proofs.registry import MAX_N_RANGE, PROOFS, run_proof
from rlstar_theory.proofs.result import ProofResult

HELP = "prove the RL-STaR facts symbolically (sympy) and print each fact, method and status"

_WIDTH = 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: ``--max-n``, ``--only``, ``--json``, ``--brief``."""
    lo, hi = MAX_N_RANGE
    parser.add_argument(
        "--max-n",
        type=int,
        default=5,
        metavar="N",
        help=f"largest number of steps checked with one symbol per step ({lo}..{hi}; default 5)",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="KEY",
        default=None,
        help="run only this proof (repeatable); keys: " + ", ".join(PROOFS),
    )
    parser.add_argument(
        "--json", action="store_true", help="print the results as JSON instead of a table"
    )
    parser.add_argument(
        "--brief",
        action="store_true",
        help="print only the summary table, not each fact's statement and method",
    )


def _n_text(n_values: tuple[int, ...] | None) -> str:
    if n_values is None:
        return "-"
    if not n_values:
        return "(none)"
    if len(n_values) > 1 and list(n_values) == list(range(n_values[0], n_values[-1] + 1)):
        return f"{n_values[0]}..{n_values[-1]}"
    return ",".join(map(str, n_values))


def _table(rows: list[tuple[ProofResult, float]]) -> str:
    header = ("#", "fact", "status", "N (separate symbols)", "seconds")
    body = [
        (
            str(i),
            r.key,
            r.status.upper() if not r.proved else r.status,
            _n_text(r.n_values),
            f"{dt:.2f}",
        )
        for i, (r, dt) in enumerate(rows, 1)
    ]
    widths = [max(len(row[c]) for row in [header, *body]) for c in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*row) for row in body]
    return "\n".join(lines)


def _block(i: int, r: ProofResult) -> str:
    def field(name: str, text: str) -> str:
        return textwrap.fill(text, _WIDTH, initial_indent=f"  {name:<7}", subsequent_indent=" " * 9)

    lines = [
        f"[{i}] {r.key}: {r.status}",
        field("claim", r.claim),
        field("method", r.method),
        field("detail", r.detail),
    ]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run the proofs; print them; return 0 if all proved, 1 otherwise."""
    lo, hi = MAX_N_RANGE
    max_n = args.max_n
    if not lo <= max_n <= hi:
        raise ValueError(f"--max-n must be an integer in {lo}..{hi}, got {max_n}")
    keys = list(PROOFS) if not args.only else args.only
    unknown = [k for k in keys if k not in PROOFS]
    if unknown:
        raise ValueError(
            f"--only: unknown proof {', '.join(unknown)}; valid keys: {', '.join(PROOFS)}"
        )
    rows: list[tuple[ProofResult, float]] = []
    start = time.perf_counter()
    for key in (k for k in PROOFS if k in keys):
        t0 = time.perf_counter()
        result = run_proof(key, max_n)
        rows.append((result, time.perf_counter() - t0))
    total = time.perf_counter() - start
    n_failed = sum(not r.proved for r, _ in rows)
    if args.json:
        payload = {
            "max_n": max_n,
            "all_proved": n_failed == 0,
            "seconds": round(total, 3),
            "proofs": [{**r.to_dict(), "seconds": round(dt, 3)} for r, dt in rows],
        }
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    else:
        out = [
            f"RL-STaR symbolic proofs (sympy), N up to {max_n} with one symbol per step",
            "",
            _table(rows),
        ]
        if not args.brief:
            out += [""] + [_block(i, r) + "\n" for i, (r, _) in enumerate(rows, 1)]
        verdict = "all facts proved" if n_failed == 0 else f"{n_failed} of {len(rows)} FAILED"
        out.append(f"{verdict} in {total:.1f} s")
        sys.stdout.write("\n".join(out) + "\n")
    return 0 if n_failed == 0 else 1
