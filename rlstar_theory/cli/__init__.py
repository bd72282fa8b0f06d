"""Command line interface: ``rlstar <command> ...`` (also ``python -m rlstar_theory``).

Each sub-command lives in its own module of this package and exposes three names:

``HELP``
    one-line description shown by ``rlstar --help``;
``add_arguments(parser)``
    adds the command's options to an :class:`argparse.ArgumentParser`;
``run(args) -> int``
    does the work and returns the exit status.

Errors a user can fix (a ``ValueError`` from the library, a bad option) are printed as one
line on stderr and give exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: command name -> module (inside rlstar_theory.cli) implementing it
COMMANDS: dict[str, str] = {
    "simulate": "simulate",
    "prove": "prove",
    "reproduce": "reproduce",
    "zip-experiment": "zip_experiment",
}


class UsageError(Exception):
    """A command-line mistake; reported as one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line and exit status 2 (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per available command."""
    parser = _Parser(prog="rlstar", description="Exact theory and experiments for RL-STaR.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(f"{__name__}.{module_name}")
        except ModuleNotFoundError as exc:  # a command whose module is not written yet
            if exc.name == f"{__name__}.{module_name}":
                continue
            raise
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rlstar`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (ValueError, UsageError) as exc:
        sys.stderr.write(f"rlstar {args.command}: error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"rlstar {args.command}: interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
