"""A training rule of :mod:`rlstar_theory.rules` inside the zip loop (numpy only).

The loop hands the learned matrices ``P_{t-1}`` to a rule and gets back what the transformer
trains on and what the exact tabular model predicts. Two kinds of rules are supported:

* **refit rules** (``star``, ``ei``, ``ei-dedup``, ``rationalization``, ``sft``, ``rft``,
  ``step-rft``, ``fisft+`` with ``refit=True``): the data are collected from the sampling
  policy ``P^s = temper(P_{t-1}, tau)`` (``tau`` the config's ``temperature``; ``sft``
  samples nothing and uses ``P_{t-1}``), the rule's exact step on ``P^s`` gives the
  prediction, and every row the rule gives no data keeps its row of ``P_{t-1}``:

  .. math::

      \\hat P_{t,n}[s, :] = \\begin{cases} U_n[s, :] & \\sum_b E_n[s, b] > 0 \\\\
                                        P_{t-1,n}[s, :] & \\text{otherwise}\\end{cases}

  with ``U = rule.exact_step(P^s).P`` and ``E`` its training edges. For ``star`` this is
  :func:`rlstar_theory.dense.star_step` at ``tau``. The transformer is retrained on the
  weights ``W_n[s, :] = (sum_b E_n[s, b]) U_n[s, :]`` (sampled mode: the same from the rule's
  sampled step), each step normalised to sum 1: the maximum-likelihood fit of ``W`` is the
  rule's update, also for ``sft``'s ``eta``-limited step.
* **gradient rules** (``reinforce``, ``rloo``, ``online-rft``, ``grpo``, ``dr-grpo``,
  ``fisft+``, ``fisft-``, ``fisft+-``; one on-policy epoch, no KL): the prediction is the
  rule's exact softmax step on ``P_{t-1}`` (its ``lr``), and the transformer takes policy
  gradient steps on the signed advantage-weighted transition counts of sampled groups
  (:func:`signed_edges`). Samples come from ``P_{t-1}`` itself (temperature 1: the policy
  gradient of ``J`` is on-policy).

Questions: ``test_fraction`` of the ``M`` start states are held out (:func:`train_mask`);
every rule samples and weights only the training questions.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

import numpy as np

from rlstar_theory.mdp.exact import forward_products, success_edges, success_probability
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.rules.base import Rule, WeightedRule, binomial_expectation, sampled_edges
from rlstar_theory.rules.registry import RULES, make_rule
from rlstar_theory.tempering import temper

__all__ = ["KINDS", "FORBIDDEN_OPTIONS", "Prediction", "RefitData", "rule_kind",
           "supported_rules", "parse_rule_options", "build_rule", "train_mask", "chain_model",
           "sampling_policy", "predict", "refit_data", "signed_edges",
           "expected_signed_edges", "split_signed"]

KINDS = ("refit", "gradient")

#: rule options the loop sets itself, and the zip option that sets each
FORBIDDEN_OPTIONS = {"samples_per_question": "--samples", "temperature": "--temperature"}


def rule_kind(rule: Rule) -> str:
    """``"refit"`` or ``"gradient"``: how the zip loop trains the transformer on ``rule``.

    Raises
    ------
    ValueError
        For rules the loop cannot run (a clipped surrogate, a likelihood head, DPO, dense
        per-step rewards), naming the supported ones.
    """
    mode = rule.settings().get("mode")
    if mode == "refit":
        return "refit"
    if (mode == "gradient" and isinstance(rule, WeightedRule)
            and not getattr(rule, "uses_surrogate", False)):
        return "gradient"
    raise ValueError(f"rule {rule.name!r} (mode {mode!r}) cannot run in the zip experiment; "
                     f"supported: {', '.join(supported_rules())}")


def supported_rules() -> tuple[str, ...]:
    """Registered rules whose default settings the zip loop runs (refit or gradient)."""
    out = []
    for name in RULES:
        try:
            rule = make_rule(name)
        except (TypeError, ValueError):
            continue
        mode = rule.settings().get("mode")
        if mode == "refit" or (mode == "gradient" and isinstance(rule, WeightedRule)
                               and not getattr(rule, "uses_surrogate", False)):
            out.append(name)
    return tuple(out)


def _convert(value, kind, rule: str, name: str):
    """``value`` (a string from the command line, or a JSON value) as the field's type."""
    origin = typing.get_origin(kind)
    choices = typing.get_args(kind) if origin is not None else (kind,)
    if isinstance(value, str):
        text = value.strip()
        if bool in choices:
            low = text.lower()
            if low in ("true", "1", "yes"):
                return True
            if low in ("false", "0", "no"):
                return False
        for typ in (int, float):
            if typ in choices:
                try:
                    return typ(text)
                except ValueError:
                    continue
        if str in choices:
            return text
        raise ValueError(f"rule option {rule}:{name} must be of type "
                         f"{' or '.join(c.__name__ for c in choices)}, got {value!r}")
    if isinstance(value, int) and not isinstance(value, bool) and float in choices \
            and int not in choices:
        return float(value)
    return value


def parse_rule_options(rule: str, items, strict: bool = True) -> tuple[tuple[str, Any], ...]:
    """Rule hyper-parameters as sorted ``(name, value)`` pairs of the rule's field types.

    Parameters
    ----------
    rule : str
        A key of :data:`rlstar_theory.rules.registry.RULES`.
    items : dict, sequence of "NAME=VALUE" strings, or sequence of (name, value) pairs
        ``None`` or empty: no options.
    strict : bool
        Reject names the rule does not have (a comparison over several rules passes False:
        each rule keeps the options it has).

    Raises
    ------
    ValueError
        Unknown rule, malformed item, unknown name (strict), a name the loop sets itself
        (:data:`FORBIDDEN_OPTIONS`), or a value of the wrong type.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}; got {rule!r}")
    if items is None:
        return ()
    if isinstance(items, dict):
        pairs = list(items.items())
    else:
        pairs = []
        for item in items:
            if isinstance(item, str):
                name, sep, value = item.partition("=")
                if not sep or not name.strip():
                    raise ValueError(f"rule option must be NAME=VALUE, got {item!r}")
                pairs.append((name.strip(), value))
            else:
                try:
                    name, value = item
                except (TypeError, ValueError):
                    raise ValueError(f"rule option must be NAME=VALUE, got {item!r}") from None
                pairs.append((name, value))
    cls = RULES[rule]
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    out = {}
    for name, value in pairs:
        if name in FORBIDDEN_OPTIONS:
            raise ValueError(f"rule option {name} is set by the zip experiment: use "
                             f"{FORBIDDEN_OPTIONS[name]}")
        if name not in fields:
            if strict:
                raise ValueError(f"rule {rule!r} has no option {name!r}; it has "
                                 f"{', '.join(sorted(fields - set(FORBIDDEN_OPTIONS)))}")
            continue
        out[name] = _convert(value, hints[name], rule, name)
    return tuple(sorted(out.items()))


def build_rule(rule: str, options, samples_per_question: int) -> Rule:
    """The rule ``rule`` with ``options`` (pairs from :func:`parse_rule_options`) and ``K``.

    Raises
    ------
    ValueError
        Invalid options (the rule's own checks, e.g. ``samples_per_question`` must be a
        multiple of ``group_size``) or a rule the loop cannot run (:func:`rule_kind`).
    """
    built = make_rule(rule, strict=True, **dict(options),
                      samples_per_question=samples_per_question)
    rule_kind(built)
    return built


def train_mask(M: int, test_fraction: float, seed: int) -> np.ndarray:
    """Training questions: all but ``round(test_fraction M)`` start states (at least one held
    out when ``test_fraction > 0``, at least one kept), chosen by a permutation seeded from
    ``seed``.

    Returns
    -------
    ndarray of bool, shape (M,)
    """
    if not 0 <= test_fraction < 1:
        raise ValueError(f"test_fraction must lie in [0, 1), got {test_fraction!r}")
    held = 0 if test_fraction == 0 else min(M - 1, max(1, round(test_fraction * M)))
    mask = np.ones(M, dtype=bool)
    if held:
        order = np.random.default_rng(np.random.SeedSequence([seed, 0, 3])).permutation(M)
        mask[order[:held]] = False
    return mask


def chain_model(truth: np.ndarray, train: np.ndarray) -> ChainMDP:
    """The chain of the zip task: its truth maps, uniform questions, the train split."""
    N, M = truth.shape
    return ChainMDP.create(M, N, truth=truth, train=train)


def sampling_policy(rule: Rule, model: ChainMDP, P: np.ndarray, temperature: float
                    ) -> np.ndarray:
    """``temper(P, temperature)`` for refit rules that draw trajectories; ``P`` itself for
    rules that draw none (``sft`` trains on reference data) and for gradient rules
    (on-policy, temperature 1)."""
    if temperature == 1 or rule_kind(rule) == "gradient" or rule.nominal_samples(model) == 0:
        return P
    return temper(P, temperature)


@dataclass(frozen=True)
class Prediction:
    """The exact tabular step from the learned matrices.

    Attributes
    ----------
    P : ndarray, shape (N, M, M)
        Predicted matrices ``hat P_t``.
    edges : ndarray, shape (N, M, M)
        The rule's expected training edges (refit: non-negative data; gradient: ``C+[w]``).
    state : object
        The rule's state after the step.
    """

    P: np.ndarray
    edges: np.ndarray
    state: Any


def _keep_rows_without_data(P_new: np.ndarray, edges: np.ndarray, P_prev: np.ndarray
                            ) -> np.ndarray:
    rows = edges.sum(axis=-1, keepdims=True) > 0
    return np.where(rows, P_new, P_prev)


def predict(rule: Rule, model: ChainMDP, P_prev: np.ndarray, state: Any,
            temperature: float) -> Prediction:
    """The rule's exact step applied to the learned ``P_prev`` (module docstring)."""
    if rule_kind(rule) == "gradient":
        update = rule.exact_step(P_prev, model, state)
        return Prediction(P=np.asarray(update.P, dtype=float),
                          edges=np.asarray(update.train_edges, dtype=float), state=update.state)
    Ps = sampling_policy(rule, model, P_prev, temperature)
    update = rule.exact_step(Ps, model, state)
    edges = np.asarray(update.train_edges, dtype=float)
    P = _keep_rows_without_data(np.asarray(update.P, dtype=float), edges, P_prev)
    return Prediction(P=P, edges=edges, state=update.state)


@dataclass(frozen=True)
class RefitData:
    """What a refit rule's transformer trains on in one iteration.

    Attributes
    ----------
    weights : ndarray, shape (N, M, M)
        Training weights ``W`` (each step sums to 1).
    target : ndarray, shape (N, M, M)
        The maximum-likelihood fit of the data, ``rownorm(W)`` with ``P_prev`` on rows
        without data.
    samples : int
        Trajectories drawn (0 for exact data and for ``sft``).
    state : object
        The rule's state after the (sampled) step.
    """

    weights: np.ndarray
    target: np.ndarray
    samples: int
    state: Any


def refit_data(rule: Rule, model: ChainMDP, P_prev: np.ndarray, state: Any,
               temperature: float, data: str, rng: np.random.Generator | None,
               exact: Prediction | None = None) -> RefitData:
    """Training weights of a refit rule: from its sampled step (``data="sampled"``) or its
    exact one (``"exact"``; pass the :func:`predict` result as ``exact`` to reuse it).

    Raises
    ------
    ValueError
        When a step has no data at all (nothing to train on).
    """
    if data == "exact":
        pred = exact if exact is not None else predict(rule, model, P_prev, state, temperature)
        target, edges, samples, new_state = pred.P, pred.edges, 0, pred.state
    else:
        Ps = sampling_policy(rule, model, P_prev, temperature)
        update = rule.sampled_step(Ps, model, state, rng)
        edges = np.asarray(update.train_edges, dtype=float)
        target = _keep_rows_without_data(np.asarray(update.P, dtype=float), edges, P_prev)
        samples, new_state = int(update.samples), update.state
    mass = edges.sum(axis=-1, keepdims=True)
    W = np.where(mass > 0, mass * target, 0.0)
    total = W.sum(axis=(1, 2), keepdims=True)
    if np.any(total <= 0):
        raise ValueError("no training data: a step got no kept transition")
    return RefitData(weights=W / total, target=target, samples=samples, state=new_state)


def signed_edges(rule: WeightedRule, model: ChainMDP, P: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Signed advantage-weighted transition counts of sampled groups and the samples drawn.

    ``C^_n[s, s'] = sum_{s0} rho(s0)/K sum_i scale a(c_i, r_i) 1[(s, s') in tau_i]`` over the
    ``K = samples_per_question`` trajectories of every training question drawn from ``P``
    in groups of ``G = group_size`` (:func:`rlstar_theory.rules.base.sampled_edges`). The
    policy-gradient loss of the batch is ``-sum C^ log pi``.
    """
    scale = float(rule.scale(model))
    return sampled_edges(P, model, rule.samples_per_question, rule.group_size,
                         lambda c, r: scale * rule.advantage(c, r), rng, rule.sampler)


def expected_signed_edges(rule: WeightedRule, model: ChainMDP, P: np.ndarray) -> np.ndarray:
    """``E[C^]`` of :func:`signed_edges`: successes and failures with their mean coefficients.

    .. math::

        E[\\hat C_n] = C^+_n[w \\alpha_1] + \\big(V_n[w \\alpha_0] - C^+_n[w \\alpha_0]\\big),
        \\qquad V_n[u][s, s'] = \\sum_{s_0} u(s_0) F_{n-1}[s_0, s] P_n[s, s'],

    with ``w = rho_train scale``, ``alpha_1 = E[a(1+k, 1)]`` and ``alpha_0 = E[a(k, 0)]``,
    ``k ~ Bin(G-1, p(s0))``. The failure part ``V - C+`` has no softmax gradient in the
    tabular model (``V_n - P_n rowsum(V_n) = 0``) but does move a token-level model.
    """
    P = np.asarray(P, dtype=float)
    p = success_probability(P, model.answers)
    G = rule.group_size
    one = np.ones(G, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha1 = binomial_expectation(lambda k: rule.advantage(k + 1, one[:len(k)]), G - 1, p)
        alpha0 = binomial_expectation(lambda k: rule.advantage(k, 0 * one[:len(k)]), G - 1, p)
    w = model.weights("train") * float(rule.scale(model))
    F = forward_products(P)  # F[n] = P_1 ... P_n
    u = w * alpha0
    visits = np.stack([(u @ F[n])[:, None] * P[n] for n in range(model.N)])
    return (success_edges(P, w * alpha1, model.answers, model.identity) + visits
            - success_edges(P, u, model.answers, model.identity))


def split_signed(C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(C_plus, C_minus)``, both non-negative, with ``C = C_plus - C_minus``."""
    C = np.asarray(C, dtype=float)
    return np.maximum(C, 0.0), np.maximum(-C, 0.0)
