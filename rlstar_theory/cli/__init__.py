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

A command module that is missing is a packaging bug and fails loudly. A command whose module
needs an optional dependency that is not installed (torch, dask, ...) stays listed; running it
prints the ``pip install`` line that adds the dependency and exits with status 2. Command
modules import such dependencies inside ``run`` where they can, and call
:func:`require_modules` first.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Iterable, Sequence

#: command name -> module (inside rlstar_theory.cli) implementing it
COMMANDS: dict[str, str] = {
    "simulate": "simulate",
    "prove": "prove",
    "reproduce": "reproduce",
    "zip-experiment": "zip_experiment",
    "sweep": "sweep",
    "compare": "compare",
}


#: optional dependency -> the extra of rlstar_theory that installs it (others: pip install NAME)
EXTRAS: dict[str, str] = {"torch": "gpt2", "transformers": "gpt2", "xarray": "sweep",
                          "dask": "sweep", "distributed": "sweep"}


class UsageError(Exception):
    """A command-line mistake; reported as one line with exit status 2."""


def install_hint(command: str, missing: Iterable[str]) -> str:
    """One line saying which packages ``rlstar <command>`` needs and how to install them."""
    missing = list(dict.fromkeys(missing))
    extras = sorted({EXTRAS[m] for m in missing if m in EXTRAS})
    others = [m for m in missing if m not in EXTRAS]
    how = [f'pip install "rlstar_theory[{e}]" (or pip install -e ".[{e}]" in a checkout)'
           for e in extras]
    if others:
        how.append("pip install " + " ".join(others))
    return f"rlstar {command} needs {', '.join(missing)}: " + "; ".join(how)


def require_modules(command: str, modules: Iterable[str]) -> None:
    """Raise :class:`UsageError` with :func:`install_hint` when any of ``modules`` is not
    importable (checked with :func:`importlib.util.find_spec`, without importing them)."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(install_hint(command, missing))


def _version() -> str:
    from rlstar_theory import __version__

    return f"rlstar {__version__} (Python {sys.version.split()[0]})"


def _unavailable(command: str, missing: str):
    """``run`` of a command whose module cannot be imported without ``missing``."""

    def run(args: argparse.Namespace) -> int:
        raise UsageError(install_hint(command, [missing]))

    return run


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line and exit status 2 (no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per command of :data:`COMMANDS`.

    Raises
    ------
    RuntimeError
        When a command's own module (or a module of this package it imports) is missing.
    """
    parser = _Parser(prog="rlstar", description="Exact theory and experiments for RL-STaR.")
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, module_name in COMMANDS.items():
        try:
            module = importlib.import_module(f"{__name__}.{module_name}")
        except ModuleNotFoundError as exc:
            top = (exc.name or "").partition(".")[0]
            if not top or top == __name__.partition(".")[0]:
                raise RuntimeError(f"rlstar: the module of command {name!r} cannot be imported "
                                   f"({exc}); the installation is broken: reinstall "
                                   "rlstar_theory") from exc
            # an optional dependency is missing: keep the command, explain when it is run
            cmd = sub.add_parser(name, help=f"(not available: needs {top})",
                                 description=install_hint(name, [top]))
            cmd.set_defaults(_run=_unavailable(name, top), _any_arguments=True)
            continue
        cmd = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rlstar`` console script; returns the exit status."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "_any_arguments", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
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
