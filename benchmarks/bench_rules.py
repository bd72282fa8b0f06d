"""One exact step of each training rule vs one exact STaR step (M = 256, N = 8; target <= 2).

Every outcome-reward rule of issue 10 is one success-edge operator with its own weights and
mode, so an exact step should cost about what a STaR step costs (target <= 2). Rules whose
exact step enumerates paths (``ei-dedup``, ``rft``: ``M^N`` paths) have no exact step at this
size and are listed as skipped. The step-level rules of issue 11 (per-question advantages) are
timed too, for information, without a target. The rule and STaR are timed in alternation and
each keeps its best time, so a change of machine load hits both alike.
"""

from __future__ import annotations

import time

import numpy as np

from rlstar_theory.mdp import ChainMDP
from rlstar_theory.rules import RULES, make_rule

TARGET = 2.0
M, N = 256, 8
#: the issue-10 rules with a one-step exact update, held to TARGET
ONE_STEP = ("star", "ei", "rationalization", "sft", "reinforce", "rloo", "online-rft", "grpo",
            "dr-grpo", "fisft+", "fisft-", "fisft+-", "ppo", "rcrl")


def alternating_best(f, g, repeat: int) -> tuple[float, float]:
    """Best time of ``f`` and of ``g`` over ``repeat`` rounds that call each once in turn."""
    best_f = best_g = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        t1 = time.perf_counter()
        g()
        t2 = time.perf_counter()
        best_f, best_g = min(best_f, t1 - t0), min(best_g, t2 - t1)
    return best_f, best_g


def _policy(seed: int = 0) -> np.ndarray:
    P = np.random.default_rng(seed).random((N, M, M))
    return P / P.sum(axis=-1, keepdims=True)


def run(repeat: int = 9) -> list[dict]:
    P = _policy()
    model = ChainMDP.create(M, N, truth=np.array([np.random.default_rng(n).permutation(M)
                                                  for n in range(N)]))
    star = make_rule("star")
    state = star.init_state(P, model)
    star.exact_step(P, model, state)  # warm-up
    rows = []
    for name in RULES:
        rule = make_rule(name)
        try:
            rule_state = rule.init_state(P, model)
            rule.exact_step(P, model, rule_state)
        except ValueError as exc:  # no exact step at this size (path enumeration)
            rows.append({"benchmark": f"exact step of {name}, M={M}, N={N}",
                         "baseline": "one exact STaR step", "target": f"ratio <= {TARGET}",
                         "measured": float("nan"), "detail": f"skipped: {str(exc)[:60]}",
                         "passed": True})
            continue
        t_rule, t_star = alternating_best(
            lambda r=rule, s=rule_state: r.exact_step(P, model, s),
            lambda: star.exact_step(P, model, state), repeat)
        ratio = t_rule / t_star
        held = name in ONE_STEP
        rows.append({"benchmark": f"exact step of {name}, M={M}, N={N}",
                     "baseline": "one exact STaR step",
                     "target": f"ratio <= {TARGET}" if held else "none (step-level rule)",
                     "measured": ratio,
                     "detail": f"{t_rule * 1e3:.3g} ms vs {t_star * 1e3:.3g} ms",
                     "passed": ratio <= TARGET or not held})
    return rows


if __name__ == "__main__":
    print("| rule step | ratio to STaR | times | result |")
    print("|---|---|---|---|")
    for r in run():
        verdict = "skipped" if r["detail"].startswith("skipped") else \
            ("info" if r["target"].startswith("none") else "pass" if r["passed"] else "FAIL")
        print(f"| {r['benchmark']} | {r['measured']:.3g} | {r['detail']} | {verdict} |")
