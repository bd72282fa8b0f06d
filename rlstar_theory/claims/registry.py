"""Claims as data: each claim from the field is registered once, with its citation, its
measurement and the rule that turns the measured numbers into a verdict.

A claim module defines a *measure* function decorated with :func:`claim`. The function runs
the simulator now and returns a :class:`Measurement`: the setting it used, the numbers, the
verdict and the reason (a sentence that quotes the numbers the verdict rests on), and
optionally a figure (a function ``plot(ax=None) -> axes``). Verdicts are measured, never
assumed: a claim that fails in the exact model is a finding, reported with its numbers.

:func:`evaluate_claims` runs every registered claim (or a chosen few) and returns
:class:`ClaimResult` records that the report renders.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CLAIMS",
    "CONDITIONAL",
    "FAILS",
    "HOLDS",
    "VERDICTS",
    "Claim",
    "ClaimResult",
    "Measurement",
    "claim",
    "evaluate_claims",
]

HOLDS = "holds"
FAILS = "fails"
CONDITIONAL = "holds only under conditions"
VERDICTS = (HOLDS, FAILS, CONDITIONAL)


@dataclass(frozen=True)
class Measurement:
    """What a claim's measure function found.

    Attributes
    ----------
    setting : str
        Rules, model, hyper-parameters and mode used.
    numbers : dict
        The measured values (JSON-ready: floats, ints, lists, dicts of them).
    verdict : str
        One of :data:`VERDICTS`.
    reason : str
        Why that verdict, quoting the numbers it rests on.
    plot : callable, optional
        ``plot(ax=None) -> axes`` drawing the claim's figure.
    """

    setting: str
    numbers: dict
    verdict: str
    reason: str
    plot: Callable[..., Any] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


@dataclass(frozen=True)
class Claim:
    """A registered claim: citation, statement and how it is measured."""

    key: str
    source: str
    statement: str
    measure: Callable[[], Measurement] = field(repr=False)
    issue: int = 10


@dataclass(frozen=True)
class ClaimResult:
    """A claim with its measurement (what the report renders)."""

    key: str
    source: str
    statement: str
    setting: str
    numbers: dict
    verdict: str
    reason: str
    figure: str | None
    seconds: float

    def to_dict(self) -> dict:
        return {"key": self.key, "source": self.source, "statement": self.statement,
                "setting": self.setting, "numbers": self.numbers, "verdict": self.verdict,
                "reason": self.reason, "figure": self.figure}


#: key -> Claim, in registration order
CLAIMS: dict[str, Claim] = {}


def claim(key: str, source: str, statement: str, issue: int = 10):
    """Register the decorated measure function as claim ``key``.

    Parameters
    ----------
    key : str
        Stable identifier (also the figure's file stem, ``claim_<key>``).
    source : str
        Who claims it, with the arXiv id (e.g. ``"Havrilla et al., arXiv 2403.04642"``).
    statement : str
        The claim in words, as its source states it.
    issue : int
        The project issue that asked for it.
    """
    def register(measure: Callable[[], Measurement]) -> Callable[[], Measurement]:
        if key in CLAIMS:
            raise ValueError(f"claim {key!r} is registered twice")
        CLAIMS[key] = Claim(key, source, statement, measure, issue)
        return measure

    return register


def _load_all() -> None:
    """Import the claim modules (each registers its claims on import)."""
    from rlstar_theory.claims import load_claim_modules

    load_claim_modules()


def evaluate_claims(keys: Sequence[str] | None = None, out_dir=None,
                    progress: Callable[[str], None] | None = None) -> list[ClaimResult]:
    """Measure the registered claims now.

    Parameters
    ----------
    keys : sequence of str, optional
        Which claims (default: all, in registration order).
    out_dir : path-like, optional
        Where to write each claim's figure as ``claim_<key>.png/.pdf``.
    progress : callable, optional
        Called with each claim's key before it is measured.

    Returns
    -------
    list of ClaimResult
    """
    _load_all()
    chosen = list(CLAIMS) if keys is None else list(keys)
    unknown = [k for k in chosen if k not in CLAIMS]
    if unknown:
        raise ValueError(f"unknown claim(s) {', '.join(unknown)}; known: {', '.join(CLAIMS)}")
    results = []
    for key in chosen:
        c = CLAIMS[key]
        if progress is not None:
            progress(key)
        t0 = time.perf_counter()
        m = c.measure()
        seconds = time.perf_counter() - t0
        figure = None
        if m.plot is not None and out_dir is not None:
            from rlstar_theory.figures.io import save_figure
            from rlstar_theory.figures.style import figure_of

            save_figure(figure_of(m.plot()), out_dir, f"claim_{key}")
            figure = f"claim_{key}.png"
        results.append(ClaimResult(c.key, c.source, c.statement, m.setting, m.numbers,
                                   m.verdict, m.reason, figure, seconds))
    return results
