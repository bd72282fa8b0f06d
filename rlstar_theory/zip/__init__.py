"""GPT-2 on the zip task: RL-STaR with a real transformer, checked against the exact theory.

Modules: :mod:`~rlstar_theory.zip.task` (tokens, states, ground truth; numpy only),
:mod:`~rlstar_theory.zip.config` (settings and presets), :mod:`~rlstar_theory.zip.data` (exact
training distributions and soft targets), :mod:`~rlstar_theory.zip.sampling` (trajectories
from learned matrices; generation from the model), :mod:`~rlstar_theory.zip.loop` (the RL-STaR
loop with resume) and :mod:`~rlstar_theory.zip.report` (figures). :mod:`~rlstar_theory.zip.model`,
:mod:`~rlstar_theory.zip.train` and :mod:`~rlstar_theory.zip.scoring` need the ``gpt2`` extra
(``pip install "rlstar_theory[gpt2]"``): torch and transformers.
"""
