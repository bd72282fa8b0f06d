"""Training rules on the RL-STaR chain: each a weight and a mode of one success-edge operator.

``make_rule(name, **options)`` builds a rule by its command-line name (:data:`RULES`);
``iterate(rule, P0, model, iterations, mode="exact" | "sampled")`` runs any of them and returns
a :class:`History` of J, pass@k, maj@k, greedy maj@1, support, entropy, the wrong-step rate of
the training data and the samples drawn.
"""

from rlstar_theory.rules.base import Rule, Update, WeightedRule
from rlstar_theory.rules.history import History, SplitMetrics
from rlstar_theory.rules.iterate import iterate
from rlstar_theory.rules.registry import RULES, make_rule, rule_options

__all__ = ["RULES", "History", "Rule", "SplitMetrics", "Update", "WeightedRule", "iterate",
           "make_rule", "rule_options"]
