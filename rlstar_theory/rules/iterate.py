"""One loop for every rule and both modes: ``P_{t+1} = rule.step(P_t)``, recorded in a History."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

from rlstar_theory.mdp import metrics
from rlstar_theory.mdp.majority import maj_at_k
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.mdp.spurious import spurious_profile
from rlstar_theory.rules.base import Rule
from rlstar_theory.rules.history import History, SplitMetrics
from rlstar_theory.validation import check_int, check_iterations, check_memory, check_rng

__all__ = ["DEFAULT_MAJ_KS", "DEFAULT_PASS_KS", "evaluate", "iterate"]

DEFAULT_PASS_KS: tuple[int, ...] = (1, 4, 16, 64, 256)
DEFAULT_MAJ_KS: tuple[int, ...] = (1, 4, 16, 64)
MODES = ("exact", "sampled")


def _check_ks(ks, name: str, maximum: int | None = None) -> tuple[int, ...]:
    return tuple(check_int(k, name, 1, maximum) for k in ks)


def evaluate(P: np.ndarray, model: ChainMDP, split: str, pass_ks: Sequence[int],
             maj_ks: Sequence[int]) -> dict:
    """Exact metrics of one (validated) policy on one split, as scalars.

    Returns
    -------
    dict
        ``J``, ``pass_at_k`` (dict), ``maj_at_k`` (dict), ``greedy``, ``answer_entropy``.
    """
    Pf = np.asarray(P, dtype=float)
    w = model.weights(split)
    q = metrics.answer_distribution(Pf)
    p = metrics.per_question_success(q, model)
    out = {
        "J": float(p @ w),
        "pass_at_k": dict(zip(pass_ks, metrics.pass_at_k(p, w, pass_ks).tolist(), strict=True)),
        "greedy": float(metrics.greedy_correct(Pf, model) @ w),
        "answer_entropy": metrics.answer_entropy(q, w),
    }
    if maj_ks:
        used = np.flatnonzero(w > 0)
        maj = maj_at_k(q[used], model.answers[used], maj_ks) @ w[used]
        out["maj_at_k"] = dict(zip(maj_ks, maj.tolist(), strict=True))
    else:
        out["maj_at_k"] = {}
    return out


def _stack(rows: list[dict], pass_ks, maj_ks, spurious: list[float] | None = None
           ) -> SplitMetrics:
    return SplitMetrics(
        J=np.array([r["J"] for r in rows]),
        pass_at_k={k: np.array([r["pass_at_k"][k] for r in rows]) for k in pass_ks},
        maj_at_k={k: np.array([r["maj_at_k"][k] for r in rows]) for k in maj_ks},
        greedy=np.array([r["greedy"] for r in rows]),
        answer_entropy=np.array([r["answer_entropy"] for r in rows]),
        spurious_steps=None if spurious is None else np.array(spurious),
    )


def iterate(rule: Rule, P0, model: ChainMDP | None = None, iterations: int = 10,
            mode: str = "exact", rng=None, pass_ks: Sequence[int] = DEFAULT_PASS_KS,
            maj_ks: Sequence[int] = DEFAULT_MAJ_KS, keep_policies: bool = True,
            progress: bool = False) -> History:
    """Run any training rule for ``T`` iterations and record every metric.

    Parameters
    ----------
    rule : Rule
        A rule from :mod:`rlstar_theory.rules` (e.g. ``make_rule("grpo", group_size=8)``).
    P0 : array_like, shape (N, M, M)
        The pre-trained policy (float64; Fractions for exact-arithmetic refit rules).
    model : ChainMDP, optional
        Truth maps, questions and their train/test split; identity maps and uniform questions
        over all ``M`` start states when omitted.
    iterations : int
        ``T >= 0``.
    mode : {"exact", "sampled"}
        The expected update, or the update from ``rule.samples_per_question`` sampled
        trajectories per training question.
    rng : None, int or numpy.random.Generator
        Drives every sampled step (one generator for the run, so a seed fixes it).
    pass_ks, maj_ks : sequence of int
        The ``k`` of pass@k and of maj@k (maj@k is exact for ``k <= 64``).
    keep_policies : bool
        Keep ``P_0..P_T`` in the history (memory is checked first).
    progress : bool
        Show a progress bar.

    Returns
    -------
    History
        Metrics on the train (and test) questions for ``t = 0..T``.
    """
    if not isinstance(rule, Rule):
        raise ValueError(f"rule must be a Rule (see rlstar_theory.rules.make_rule), got "
                         f"{type(rule).__name__}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    T = check_iterations(iterations)
    if model is None:
        model = ChainMDP.from_policy(P0)
    P = model.check_policy(P0, "P0")
    pass_ks = _check_ks(pass_ks, "pass_ks")
    maj_ks = _check_ks(maj_ks, "maj_ks", 64)
    if keep_policies:
        check_memory((T + 1) * P.size * 8.0, "iterate: the policies P_0..P_T",
                     "iterations (or pass keep_policies=False)")
    gen = check_rng(rng) if mode == "sampled" else None
    splits = ["train"] + (["test"] if model.has_test else [])
    rows = {s: [evaluate(P, model, s, pass_ks, maj_ks)] for s in splits}
    samples, support = [0], [metrics.support_size(P)]
    entropy, wrong = [metrics.policy_entropy(P)], [np.nan]
    profile = spurious_profile(P, model)  # spurious steps of P and of the data it produces
    spurious = [np.nan]
    spurious_steps = {s: [profile.steps(model.weights(s)).probability] for s in splits}
    kept = [P] if keep_policies else None
    state = rule.init_state(P, model)
    for _ in tqdm(range(T), desc=rule.name, disable=not progress, leave=False):
        if mode == "exact":
            update = rule.exact_step(P, model, state)
        else:
            update = rule.sampled_step(P, model, state, gen)
        spurious.append(np.nan if update.train_edges is None
                        else profile.data_rate(update.train_edges))
        P, state = update.P, update.state
        profile = spurious_profile(P, model)
        samples.append(samples[-1] + int(update.samples))
        wrong.append(np.nan if update.train_edges is None
                     else metrics.wrong_step_rate(update.train_edges, model))
        support.append(metrics.support_size(P))
        entropy.append(metrics.policy_entropy(P))
        for s in splits:
            rows[s].append(evaluate(P, model, s, pass_ks, maj_ks))
            spurious_steps[s].append(profile.steps(model.weights(s)).probability)
        if kept is not None:
            kept.append(P)
    return History(
        rule=rule.name, mode=mode, settings=rule.settings(),
        train=_stack(rows["train"], pass_ks, maj_ks, spurious_steps["train"]),
        test=_stack(rows["test"], pass_ks, maj_ks, spurious_steps["test"]) if model.has_test
        else None,
        samples=np.array(samples, dtype=np.int64), support=np.array(support, dtype=np.int64),
        policy_entropy=np.array(entropy), wrong_step_rate=np.array(wrong),
        P=np.stack(kept) if kept is not None else None,
        spurious_data_rate=np.array(spurious),
    )
