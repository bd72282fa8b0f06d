"""The rules by their command-line names, and :func:`make_rule` to build one from options."""

from __future__ import annotations

import dataclasses

from rlstar_theory.rules.base import Rule
from rlstar_theory.rules.expert_iteration import ExpertIterationDedup
from rlstar_theory.rules.filtered_sft import (
    FilteredSftBoth,
    FilteredSftNegative,
    FilteredSftPositive,
)
from rlstar_theory.rules.grpo import DrGrpo, Grpo
from rlstar_theory.rules.pav import PavRl
from rlstar_theory.rules.policy_gradient import OnlineRft, Reinforce, Rloo
from rlstar_theory.rules.ppo import Ppo
from rlstar_theory.rules.ppo_dense import PpoDense
from rlstar_theory.rules.rationalization import Rationalization
from rlstar_theory.rules.rcrl import Rcrl
from rlstar_theory.rules.sft import Rft, Sft
from rlstar_theory.rules.star import ExpertIteration, Star
from rlstar_theory.rules.step_dpo import StepDpo
from rlstar_theory.rules.step_rft import StepRft

__all__ = ["RULES", "make_rule", "rule_options"]

#: command-line name -> rule class; adding a rule is one module and one line here
RULES: dict[str, type[Rule]] = {
    "star": Star,
    "ei": ExpertIteration,
    "ei-dedup": ExpertIterationDedup,
    "rationalization": Rationalization,
    "sft": Sft,
    "rft": Rft,
    "reinforce": Reinforce,
    "rloo": Rloo,
    "online-rft": OnlineRft,
    "grpo": Grpo,
    "dr-grpo": DrGrpo,
    "fisft+": FilteredSftPositive,
    "fisft-": FilteredSftNegative,
    "fisft+-": FilteredSftBoth,
    "ppo": Ppo,
    "rcrl": Rcrl,
    "step-rft": StepRft,
    "pav-rl": PavRl,
    "step-dpo": StepDpo,
    "ppo-dense": PpoDense,
}


def rule_options(name: str) -> dict[str, object]:
    """The hyper-parameters of rule ``name`` with their defaults."""
    cls = _rule_class(name)
    return {f.name: f.default for f in dataclasses.fields(cls)}


def _rule_class(name: str) -> type[Rule]:
    try:
        return RULES[name]
    except KeyError:
        raise ValueError(f"rule must be one of {', '.join(RULES)}; got {name!r}") from None


def make_rule(name: str, strict: bool = False, **options) -> Rule:
    """Build rule ``name`` with the given hyper-parameters.

    Parameters
    ----------
    name : str
        A key of :data:`RULES` (``"star"``, ``"grpo"``, ...).
    strict : bool
        Reject options the rule does not have (default: ignore them, so that one set of
        command-line options can build every rule of a comparison).
    **options
        Hyper-parameters, e.g. ``samples_per_question=16, group_size=8, lr=0.5``.
    """
    cls = _rule_class(name)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(options) - known
    if strict and unknown:
        raise ValueError(f"rule {name!r} has no option(s) {', '.join(sorted(unknown))}; it has "
                         f"{', '.join(sorted(known))}")
    return cls(**{k: v for k, v in options.items() if k in known})
