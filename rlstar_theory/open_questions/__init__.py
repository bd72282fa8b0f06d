"""The paper's open questions, answered by exact simulation.

Modules (one per question, each with its figures and a command
``python -m rlstar_theory.open_questions.<module> --out DIR``):

:mod:`~rlstar_theory.open_questions.escape`
    Q1: does exact STaR (and GRPO, REINFORCE, F-ISFT+-) escape zero-skill steps in random
    non-symmetric pre-trained models, and what predicts it?
:mod:`~rlstar_theory.open_questions.temperature`
    The critical sampling temperature ``tau*(lam0, M, N)`` above which STaR collapses.
:mod:`~rlstar_theory.open_questions.bias`
    The finite-sample bias of one sampled STaR step, ``E[J(P_hat)] - J(P*) = c/K + O(K^-2)``.
:mod:`~rlstar_theory.open_questions.stalls`
    Q3: how often sampled STaR stalls over K x lam0 x M x N (1000 seeds per cell), with the
    fitted boundary in :mod:`.stall_boundary` and figures in :mod:`.stall_figures`.
:mod:`~rlstar_theory.open_questions.sample_complexity`
    Q3: samples to J >= 0.99 over M, N, lam0 and temperature, and the fitted scaling law
    (:mod:`.fits`; figures in :mod:`.sample_figures`).
:mod:`~rlstar_theory.open_questions.rule_samples`
    Q3: each rule's samples to J >= 0.9 over 10^3 random pre-trained models (a distribution).
:mod:`~rlstar_theory.open_questions.markov_vs_history`
    Q2: Markov versus per-question (history) policies under STaR across the train fraction.

Helpers of Q1/temperature/bias: :mod:`.models` (random model families), :mod:`.outcomes`
(batched iteration to an outcome), :mod:`.predictors` (the paper's criterion, exact scores,
fitted thresholds).

Nothing is imported here, so importing a submodule stays cheap and the sweep cells
(:mod:`rlstar_theory.sweeps.cells`) can import them without a cycle.
"""
