"""Shared pieces of the outcome-rule claims (issue 10 §5): cached runs from the standard
pre-trained policies, exact pass@k curves, and verdicts over a set of measured cases.

Every run uses :func:`rlstar_theory.claims.models.standard_model` (``M = 6``, ``N = 3``,
identity truth, uniform questions, all of them training questions) and one of the three
standard pre-trained policies of :mod:`rlstar_theory.claims.models`, named by
:data:`PRETRAINED`. Runs are cached by their arguments, so claims that share a run (for
example EI against PPO in two claims) compute it once; callers must not modify the returned
histories.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

from rlstar_theory.claims.models import dirichlet_p0, sparse_p0, standard_model, symmetric_p0
from rlstar_theory.claims.registry import CONDITIONAL, FAILS, HOLDS
from rlstar_theory.jsonable import round_significant
from rlstar_theory.mdp.exact import success_probability
from rlstar_theory.mdp.metrics import pass_at_k
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.rules.history import History
from rlstar_theory.rules.iterate import iterate
from rlstar_theory.rules.registry import RULES, make_rule

__all__ = ["DIGITS", "PASS_KS", "PRETRAINED", "case_verdict", "describe_cases", "model",
           "pass_curve", "pretrained", "rounded", "rule_available", "run"]

#: the standard pre-trained policies by name (builders of rlstar_theory.claims.models)
PRETRAINED = {"symmetric": symmetric_p0, "dirichlet": dirichlet_p0, "sparse": sparse_p0}
#: pass@k recorded in every run (96 is Havrilla et al.'s pass@96)
PASS_KS: tuple[int, ...] = (1, 4, 16, 64, 96, 256)
#: significant digits of the numbers the claims report
DIGITS = 6


def rounded(value, digits: int = DIGITS):
    """``value`` (a number, None, or a list/tuple/dict/array of them) with every float rounded to
    ``digits`` significant digits (JSON-ready: numpy scalars become Python numbers)."""
    if value is None or isinstance(value, (bool, np.bool_, str)):
        return bool(value) if isinstance(value, np.bool_) else value
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [rounded(v, digits) for v in value]
    if isinstance(value, (int, np.integer)):
        return int(value)
    return round_significant(float(value), digits)


@lru_cache(maxsize=1)
def model() -> ChainMDP:
    """The standard chain of the claims (:func:`~rlstar_theory.claims.models.standard_model`)."""
    return standard_model()


def pretrained(name: str) -> np.ndarray:
    """A fresh copy of the standard pre-trained policy ``name`` (a key of :data:`PRETRAINED`)."""
    if name not in PRETRAINED:
        raise ValueError(f"pretrained policy must be one of {', '.join(PRETRAINED)}, got "
                         f"{name!r}")
    return PRETRAINED[name]()


def rule_available(name: str) -> bool:
    """Whether rule ``name`` is registered (some rules are written by other modules)."""
    return name in RULES


@lru_cache(maxsize=512)
def _cached_run(rule: str, options: tuple, p0: str, iterations: int, mode: str,
                seed: int | None) -> History:
    return iterate(make_rule(rule, strict=True, **dict(options)), pretrained(p0), model(),
                   iterations=iterations, mode=mode, rng=seed, pass_ks=PASS_KS, maj_ks=())


def run(rule: str, p0: str = "dirichlet", iterations: int = 20, mode: str = "exact",
        seed: int | None = None, **options) -> History:
    """``iterate(make_rule(rule, **options), P0, model, iterations, mode, rng=seed)``, cached.

    Parameters
    ----------
    rule : str
        A key of :data:`rlstar_theory.rules.registry.RULES`.
    p0 : str
        The pre-trained policy (a key of :data:`PRETRAINED`).
    iterations : int
        ``T``.
    mode : {"exact", "sampled"}
    seed : int, optional
        The seed of a sampled run.
    **options
        The rule's hyper-parameters (unknown ones raise ValueError).

    Returns
    -------
    History
        Shared with later calls with the same arguments: do not modify it. maj@k is not
        recorded (``maj_ks=()``; maj@1 is ``J``); pass@k is recorded for :data:`PASS_KS`.
    """
    return _cached_run(rule, tuple(sorted(options.items())), p0, int(iterations), mode, seed)


def pass_curve(P: np.ndarray, ks: Sequence[int] | np.ndarray) -> np.ndarray:
    """Exact ``pass@k = sum rho (1 - (1 - p)^k)`` of policy ``P`` on the standard model."""
    m = model()
    p = success_probability(np.asarray(P, dtype=float), m.answers)
    return pass_at_k(p, m.weights("train"), ks)


def case_verdict(cases: Mapping[str, bool]) -> str:
    """HOLDS when every case holds, FAILS when none does, CONDITIONAL otherwise.

    Raises
    ------
    ValueError
        If ``cases`` is empty.
    """
    if not cases:
        raise ValueError("cases must name at least one measured case")
    held = sum(bool(v) for v in cases.values())
    if held == len(cases):
        return HOLDS
    return FAILS if held == 0 else CONDITIONAL


def describe_cases(cases: Mapping[str, bool], limit: int = 8) -> str:
    """``"holds in 3 of 8 cases (a, b, c); fails in d, e, ..."`` (at most ``limit`` names each).
    """
    def names(items: list[str]) -> str:
        shown = ", ".join(items[:limit])
        return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")

    good = [k for k, v in cases.items() if v]
    bad = [k for k, v in cases.items() if not v]
    text = f"holds in {len(good)} of {len(cases)} cases"
    if good:
        text += f" ({names(good)})"
    if bad:
        text += f"; fails in {names(bad)}"
    return text
