"""The exact clipped surrogate of PPO and GRPO, maximised by full-batch ascent on the logits.

ALGORITHMS.md §3d and §7b. Data are sampled once from ``P_old``; then ``mu = epochs`` ascent
steps on the softmax logits ``theta`` (``P_theta = softmax(theta)``, ``theta_0 = log P_old``)
maximise

.. math::

    \\mathcal L(\\theta) = \\sum_{n,s,s'} \\Big[\\mathrm{pos}_n[s,s']\\,\\min(r, 1+\\varepsilon)
        + \\mathrm{neg}_n[s,s']\\,\\max(r, 1-\\varepsilon)\\Big]
        - \\beta \\sum_{n,s,s'} \\mathrm{visits}_n[s,s']\\,
          \\Big(\\frac{P_{ref}}{P_\\theta} - \\log\\frac{P_{ref}}{P_\\theta} - 1\\Big),

with ``r = P_theta[s, s'] / P_old[s, s']``. ``pos >= 0`` and ``neg <= 0`` are the
advantage-weighted visits of each edge split by the advantage's sign: ``min(r A, clip(r) A)``
is ``A min(r, 1+eps)`` for ``A >= 0`` and ``A max(r, 1-eps)`` for ``A < 0``. The last term is the
expected k3 estimate of the KL to ``P_ref`` (GRPO's in-loss KL) under the old visits.

**Gradient** (exact, per edge). With ``d r/d theta[s, b] = r (1[s' = b] - P_theta[s, b])`` the
gradient is the softmax gradient of the edge weights

.. math::

    g[s,s'] = r\\,\\big(\\mathrm{pos}\\,1[r \\le 1+\\varepsilon]
        + \\mathrm{neg}\\,1[r \\ge 1-\\varepsilon]\\big)
        - \\beta\\,\\mathrm{visits}\\,\\Big(1 - \\frac{P_{ref}}{P_\\theta}\\Big),\\qquad
    \\nabla_{\\theta_n[s,\\cdot]}\\mathcal L = g[s,\\cdot] - P_\\theta[s,\\cdot]\\sum_{b} g[s,b]

(:func:`rlstar_theory.mdp.operator.gradient`): the clip stops an edge's push once its ratio
has left ``[1-eps, 1+eps]`` on the side its advantage drives it to. On the first epoch
``r = 1``, so one epoch without KL is exactly the gradient step of ``pos + neg``.

**GRPO-type coefficients** (:func:`clipped_surrogate_step`). With per-question expected
advantages ``coef_pos(s0) >= 0`` of a correct sample and ``coef_neg(s0) <= 0`` of a wrong one
(the weight ``rho/N`` included), ``pos = C+[coef_pos]`` and
``neg = Call[coef_neg] - C+[coef_neg]``. Because ``Call`` has no softmax gradient, one epoch
without KL is ``gradient_step(P, C+[coef_pos - coef_neg], lr)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rlstar_theory.mdp import operator
from rlstar_theory.mdp.exact import backward_values, success_edges
from rlstar_theory.mdp.model import ChainMDP
from rlstar_theory.rules.base import Update
from rlstar_theory.rules.critic import (
    AdvantageTerm,
    penalty_advantages,
    positive_edge_sums,
    visit_edges,
)
from rlstar_theory.rules.path_edges import path_edge_sums
from rlstar_theory.sampling import sample_trajectories
from rlstar_theory.validation import check_int, check_rng, is_exact

__all__ = [
    "KL_MODES",
    "check_surrogate_options",
    "clipped_surrogate_ascent",
    "clipped_surrogate_step",
    "outcome_edges",
    "sampled_surrogate_step",
    "surrogate_gradient",
    "surrogate_objective",
]

#: where the KL to the reference goes: k3 in the loss (GRPO), or a per-step reward penalty
KL_MODES = ("k3-loss", "reward-penalty")


def _check_number(value, name: str, low: float, allow_low: bool, allow_inf: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    v = float(value) if ok else np.nan
    if not ok or np.isnan(v) or (np.isinf(v) and not allow_inf) or v < low or \
            (v == low and not allow_low):
        top = "inf]" if allow_inf else "inf)"
        raise ValueError(f"{name} must be a number in {'[' if allow_low else '('}{low:g}, {top}, "
                         f"got {value!r}")
    return v


def check_surrogate_options(eps_clip, epochs, lr, beta) -> tuple[float, int, float, float]:
    """Validate the surrogate's hyper-parameters.

    ``eps_clip`` in ``(0, inf]`` (``inf``: no clipping), ``epochs >= 1`` an integer, ``lr`` in
    ``(0, inf)``, ``beta`` in ``[0, inf)``.
    """
    return (_check_number(eps_clip, "eps_clip", 0.0, False, allow_inf=True),
            check_int(epochs, "epochs", 1),
            _check_number(lr, "lr", 0.0, False),
            _check_number(beta, "beta", 0.0, True))


def _float_policy(model: ChainMDP, P, name: str) -> np.ndarray:
    P = model.check_policy(P, name)
    return P.astype(float) if is_exact(P) else P


def _ratio(P: np.ndarray, P_old: np.ndarray) -> np.ndarray:
    """``r = P / P_old`` on the old support, 0 off it (no weight lives there)."""
    return np.divide(P, P_old, out=np.zeros(P.shape), where=P_old > 0)


def surrogate_objective(P: np.ndarray, P_old: np.ndarray, pos: np.ndarray, neg: np.ndarray,
                        eps_clip: float, beta: float = 0.0, P_ref: np.ndarray | None = None,
                        kl_visits: np.ndarray | None = None) -> float:
    """The clipped surrogate ``L`` at the policy ``P = softmax(theta)`` (module docstring).

    Parameters
    ----------
    P, P_old : ndarray, shape (N, M, M)
        Current and sampling policies.
    pos, neg : ndarray, shape (N, M, M)
        Advantage-weighted visits of each edge, positive (``>= 0``) and negative (``<= 0``) part.
    eps_clip : float
        ``eps`` in ``(0, inf]``.
    beta : float
        Coefficient of the in-loss k3 KL (0: none).
    P_ref, kl_visits : ndarray, shape (N, M, M)
        Reference policy and the visits weighting its k3 term (needed when ``beta > 0``).

    Returns
    -------
    float
        ``sum pos min(r, 1+eps) + neg max(r, 1-eps) - beta sum visits k3`` (``inf`` k3 where
        ``P`` or ``P_ref`` is 0 on a visited edge).
    """
    r = _ratio(P, P_old)
    value = float((pos * np.minimum(r, 1.0 + eps_clip)).sum()
                  + (neg * np.maximum(r, 1.0 - eps_clip)).sum())
    if beta > 0:
        used = kl_visits > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(used, P_ref / np.where(used, P, 1.0), 1.0)
            k3 = np.where(used, x - np.log(x) - 1.0, 0.0)
        value -= beta * float((kl_visits * k3).sum())
    return value


def _edge_weights(P, P_old, pos, neg, eps_clip, beta, P_ref, kl_visits,
                  first: bool = False) -> np.ndarray:
    if first:  # P = P_old: r = 1 inside the trust region
        g = pos + neg
    else:
        r = _ratio(P, P_old)
        g = r * (np.where(r <= 1.0 + eps_clip, pos, 0.0)
                 + np.where(r >= 1.0 - eps_clip, neg, 0.0))
    if beta > 0:
        live = (kl_visits > 0) & (P > 0)
        x = np.divide(P_ref, P, out=np.ones(P.shape), where=live)
        g -= beta * np.where(live, kl_visits * (1.0 - x), 0.0)
    return g


def surrogate_gradient(P: np.ndarray, P_old: np.ndarray, pos: np.ndarray, neg: np.ndarray,
                       eps_clip: float, beta: float = 0.0, P_ref: np.ndarray | None = None,
                       kl_visits: np.ndarray | None = None) -> np.ndarray:
    """Exact gradient of :func:`surrogate_objective` with respect to the softmax logits.

    Returns
    -------
    ndarray, shape (N, M, M)
        ``g - P rowsum(g)`` with ``g = r (pos 1[r <= 1+eps] + neg 1[r >= 1-eps])
        - beta visits (1 - P_ref/P)`` (module docstring); zero on edges with ``P = 0``.
    """
    return operator.gradient(P, _edge_weights(P, P_old, pos, neg, eps_clip, beta, P_ref,
                                              kl_visits))


def clipped_surrogate_ascent(P_old: np.ndarray, pos: np.ndarray, neg: np.ndarray, *,
                             eps_clip: float = 0.2, epochs: int = 1, lr: float = 1.0,
                             beta: float = 0.0, P_ref: np.ndarray | None = None,
                             kl_visits: np.ndarray | None = None) -> np.ndarray:
    """Maximise the clipped surrogate by ``epochs`` full-batch gradient steps on the logits.

    ``theta_0 = log P_old`` (zeros stay zero) and
    ``theta_{e+1} = theta_e + lr grad L(softmax(theta_e))`` (:func:`surrogate_gradient`).
    Trusted inputs: float64 arrays of shape ``(N, M, M)``; ``P_ref`` and ``kl_visits`` are
    needed when ``beta > 0``. With ``epochs = 1`` only ``pos + neg`` matters (``r = 1``).

    Returns
    -------
    ndarray, shape (N, M, M)
        ``softmax(theta_epochs)``.
    """
    theta = operator.logits(P_old)
    P = P_old
    for epoch in range(epochs):
        g = _edge_weights(P, P_old, pos, neg, eps_clip, beta, P_ref, kl_visits, epoch == 0)
        theta += lr * operator.gradient(P, g)
        P = operator.softmax(theta)
    return P


def outcome_edges(P: np.ndarray, model: ChainMDP, coef_pos: np.ndarray,
                  coef_neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Advantage-weighted visits split by outcome: ``C+[coef_pos]`` and ``Call[coef_neg] -
    C+[coef_neg]``.

    ``pos_n[s, s'] = sum_{s0} coef_pos(s0) F_{n-1}[s0, s] P_n[s, s'] B_n[s', y(s0)]`` (correct
    samples) and ``neg_n[s, s'] = sum_{s0} coef_neg(s0) F_{n-1}[s0, s] P_n[s, s']
    (1 - B_n[s', y(s0)])`` (wrong samples), clipped to their signs against round-off.
    """
    pos = success_edges(P, coef_pos, model.answers, model.identity)
    neg = visit_edges(P, coef_neg) - success_edges(P, coef_neg, model.answers, model.identity)
    return np.maximum(pos, 0.0), np.minimum(neg, 0.0)


def _penalised_mean_edges(P, model, coef_pos, coef_neg, kl_weights, a_kl) -> np.ndarray:
    """``E[A]``-weighted visits: ``C+[coef_pos - coef_neg] + Call[coef_neg] + Call[kw] ⊙ a^KL``."""
    return (success_edges(P, coef_pos - coef_neg, model.answers, model.identity)
            + visit_edges(P, coef_neg) + visit_edges(P, kl_weights) * a_kl)


def _penalised_outcome_edges(P, model, coef_pos, coef_neg, kl_weights, a_kl):
    """Outcome advantages plus the KL penalty's critic advantage, split by sign (exact).

    Question ``q`` at step ``n`` on ``s -> s'`` ends correct with probability
    ``beta_n(s'; y(q))`` and then has the advantage ``coef_pos(q) + kw(q) a^KL_n[s, s']``, else
    ``coef_neg(q) + kw(q) a^KL_n[s, s']``.
    """
    N, M = P.shape[0], P.shape[1]
    V = backward_values(P, model.answers)  # V[n, s', q] = Pr(correct | S_n = s')
    questions = np.flatnonzero((coef_pos != 0) | (coef_neg != 0) | (kl_weights != 0))
    cp, cn, kw = coef_pos[questions], coef_neg[questions], kl_weights[questions]
    rows = np.eye(M)[questions]
    pos = np.empty((N, M, M))
    for n in range(1, N + 1):
        good = np.ascontiguousarray(V[n][:, questions].T)  # (Q, M)
        terms = [AdvantageTerm(a_kl[n - 1], const=cp, scale=kw, prob=good),
                 AdvantageTerm(a_kl[n - 1], const=cn, scale=kw, prob=1.0 - good)]
        pos[n - 1] = positive_edge_sums(rows, P[n - 1], terms)
        rows = rows @ P[n - 1]
    mean = _penalised_mean_edges(P, model, coef_pos, coef_neg, kl_weights, a_kl)
    return pos, np.minimum(mean - pos, 0.0)


def _check_coef(coef, M: int, name: str, sign: int) -> np.ndarray:
    arr = np.asarray(coef, dtype=float)
    if arr.shape != (M,) or not np.all(np.isfinite(arr)) or np.any(sign * arr < 0):
        side = ">= 0" if sign > 0 else "<= 0"
        raise ValueError(f"{name} must be a finite array of shape (M,) = ({M},) with entries "
                         f"{side}")
    return arr


def clipped_surrogate_step(P_old, model: ChainMDP, coef_pos, coef_neg, *,
                           eps_clip: float = 0.2, epochs: int = 1, lr: float = 1.0,
                           beta: float = 0.0, P_ref=None, kl: str = "k3-loss",
                           kl_weights=None) -> np.ndarray:
    """Maximise the exact clipped surrogate of ALGORITHMS.md §3d for outcome advantages.

    .. math::

        \\mathcal L(\\theta) = \\sum_{s_0}\\sum_n\\sum_{s,s'} F^{old}_{n-1}[s_0,s]
            P^{old}_n[s,s'] \\Big[\\beta^{old}_n(s'; y(s_0))\\, c_+(s_0) \\min(r, \\mathrm{clip}(r))
            + (1 - \\beta^{old}_n(s'))\\, c_-(s_0) \\max(r, \\mathrm{clip}(r))\\Big]
            - \\beta\\, \\mathrm{KL}

    by ``epochs`` full-batch gradient-ascent steps of size ``lr`` on the softmax logits from
    ``log P_old``.

    Parameters
    ----------
    P_old : array_like, shape (N, M, M)
        The policy that sampled (validated here; Fractions are converted to float64).
    model : ChainMDP
    coef_pos, coef_neg : array_like, shape (M,)
        Expected advantage of a correct (``>= 0``) and of a wrong (``<= 0``) sample of each
        question, the question's weight (e.g. ``rho/N``) already included.
    eps_clip : float
        Clip range ``eps`` in ``(0, inf]`` (``inf``: unclipped).
    epochs : int
        ``mu >= 1`` ascent steps. ``epochs = 1, beta = 0`` is
        ``gradient_step(P_old, C+[coef_pos - coef_neg], lr)``.
    lr : float
        Step size ``> 0``.
    beta : float
        KL coefficient ``>= 0``.
    P_ref : array_like, shape (N, M, M), optional
        Reference policy of the KL (default ``P_old``).
    kl : {"k3-loss", "reward-penalty"}
        ``"k3-loss"``: subtract ``beta sum visits k3(P_ref/P_theta)`` with the old visits
        ``Call[kl_weights]`` (GRPO). ``"reward-penalty"``: every step earns
        ``-beta log(P_old/P_ref)``, which an exact critic turns into the advantage
        ``a^KL_n[s, s']`` of :func:`rlstar_theory.rules.critic.penalty_advantages`; a sample's
        advantage becomes ``coef/kl_weights + a^KL`` and is split by its sign per
        ``(s0, outcome, s, s')``. This is exact when a sample's outcome advantage is the
        constant ``coef / kl_weights`` (REINFORCE-type); for group-normalised advantages the sign
        of the expected advantage stands in for the sign of the random one.
    kl_weights : array_like, shape (M,), optional
        Per-question weight of the KL term; default ``rho_train / N`` (GRPO's token average).

    Returns
    -------
    ndarray, shape (N, M, M)
        The new policy.
    """
    P_old = _float_policy(model, P_old, "P_old")
    M, N = model.M, model.N
    cp = _check_coef(coef_pos, M, "coef_pos", +1)
    cn = _check_coef(coef_neg, M, "coef_neg", -1)
    eps_clip, epochs, lr, beta = check_surrogate_options(eps_clip, epochs, lr, beta)
    if kl not in KL_MODES:
        raise ValueError(f"kl must be one of {KL_MODES}, got {kl!r}")
    P_ref = P_old if P_ref is None else _float_policy(model, P_ref, "P_ref")
    if kl_weights is None:
        kw = model.weights("train") / N
    else:
        kw = _check_coef(kl_weights, M, "kl_weights", +1)
    if kl == "reward-penalty" and beta > 0:
        a_kl = penalty_advantages(P_old, P_ref, beta)
        if epochs == 1:  # r = 1: only the sum of the parts matters, and it is linear
            total = _penalised_mean_edges(P_old, model, cp, cn, kw, a_kl)
            pos, neg = total, np.zeros(total.shape)
        else:
            pos, neg = _penalised_outcome_edges(P_old, model, cp, cn, kw, a_kl)
        return clipped_surrogate_ascent(P_old, pos, neg, eps_clip=eps_clip, epochs=epochs,
                                        lr=lr)
    pos, neg = outcome_edges(P_old, model, cp, cn)
    visits = visit_edges(P_old, kw) if beta > 0 else None
    return clipped_surrogate_ascent(P_old, pos, neg, eps_clip=eps_clip, epochs=epochs, lr=lr,
                                    beta=beta, P_ref=P_ref, kl_visits=visits)


def sampled_surrogate_step(rule: Any, P, model: ChainMDP, state: Any = None,
                           rng: np.random.Generator | None = None) -> Update:
    """The clipped surrogate on ``K`` sampled trajectories per question (GRPO-type rules).

    Each trajectory ``tau_i`` of question ``s0`` in a group of ``G`` with ``c`` correct gets the
    advantage ``a_i = rule.advantage(c, r_i) * rule.scale(model)`` on every step. The
    sampled surrogate is that of the module docstring with
    ``pos_n[s, s'] = sum_i rho(s0)/K max(a_i, 0) 1[(s_{n-1}, s_n) = (s, s')]``, ``neg`` with
    ``min``, and the k3 visits ``sum_i rho(s0)/K * scale 1[edge]``; their expectations
    are the exact terms of :func:`clipped_surrogate_step`.

    Parameters
    ----------
    rule : WeightedRule
        With ``samples_per_question``, ``group_size``, ``advantage(c, r)``, ``eps_clip``,
        ``epochs``, ``lr``, ``beta`` and (optionally) ``scale(model)`` (e.g. ``1/N``).
    P : ndarray, shape (N, M, M)
        The (validated) policy that samples.
    model : ChainMDP
    state : ndarray, optional
        The reference policy of the KL (default ``P``).
    rng : None, int or numpy.random.Generator

    Returns
    -------
    Update
        The new policy, the trajectories drawn, the positive part as ``train_edges`` and the
        unchanged state.
    """
    P = np.asarray(P, dtype=float)
    gen = check_rng(rng)
    eps_clip, epochs, lr, beta = check_surrogate_options(rule.eps_clip, rule.epochs, rule.lr,
                                                         rule.beta)
    K, G, M, N = rule.samples_per_question, rule.group_size, model.M, model.N
    scale = float(rule.scale(model)) if hasattr(rule, "scale") else 1.0
    w = model.weights("train")
    paths = sample_trajectories(P, K, gen, w)
    r = (paths[:, N] == model.answers[paths[:, 0]]).astype(np.int64)
    groups = r.reshape(-1, G)
    c = np.repeat(groups.sum(axis=-1, keepdims=True), G, axis=-1)
    a = np.asarray(rule.advantage(c, groups), dtype=float).reshape(-1) * scale
    weight = w[paths[:, 0]] / K
    pos = path_edge_sums(paths, weight * np.maximum(a, 0.0), M)
    neg = path_edge_sums(paths, weight * np.minimum(a, 0.0), M)
    visits = path_edge_sums(paths, weight * scale, M) if beta > 0 else None
    P_ref = P if state is None else np.asarray(state, dtype=float)
    P_new = clipped_surrogate_ascent(P, pos, neg, eps_clip=eps_clip, epochs=epochs, lr=lr,
                                     beta=beta, P_ref=P_ref, kl_visits=visits)
    return Update(P=P_new, samples=len(paths), train_edges=pos, state=state)
