"""GPT-2 on the zip task: RL-STaR and the other training rules with a real transformer, checked
against the exact theory.

Modules: :mod:`~rlstar_theory.zip.task` (tokens, states, ground truth; numpy only),
:mod:`~rlstar_theory.zip.config` (settings and presets), :mod:`~rlstar_theory.zip.data` (exact
training distributions and soft targets), :mod:`~rlstar_theory.zip.sampling` (trajectories
from learned matrices; generation from the model), :mod:`~rlstar_theory.zip.rule_step` (a rule
of :mod:`rlstar_theory.rules` inside the loop: its prediction and its data),
:mod:`~rlstar_theory.zip.agreement` (learned against predicted: returns per split, change
agreement, rows without data), :mod:`~rlstar_theory.zip.iteration` (one iteration, any rule),
:mod:`~rlstar_theory.zip.loop` (the loop with resume), :mod:`~rlstar_theory.zip.compare`
(several rules from one pre-training) and :mod:`~rlstar_theory.zip.report` (figures).
:mod:`~rlstar_theory.zip.model`, :mod:`~rlstar_theory.zip.train`,
:mod:`~rlstar_theory.zip.pg_train` and :mod:`~rlstar_theory.zip.scoring` need the ``gpt2``
extra (``pip install "rlstar_theory[gpt2]"``): torch and transformers.
"""
