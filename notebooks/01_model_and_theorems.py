# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · The RL-STaR model and the paper's theorems
#
# This notebook walks through the model of *RL-STaR: Theoretical Analysis of Reinforcement Learning
# Frameworks for Self-Taught Reasoner* (arXiv 2410.23912) with the `rlstar_theory` package, and
# checks each theorem numerically, with the figures `rlstar reproduce` writes.
#
# **The model.** A chain of thought has `N` steps over `M` states each. The policy is one
# row-stochastic `M × M` matrix per step, `P_n[s, s'] = Pr(S_n = s' | S_{n-1} = s)`; the ground
# truth is a map per step (the identity after relabelling); only the final answer is rewarded. One
# RL-STaR iteration samples trajectories, keeps those with the right final answer and refits each
# step by maximum likelihood; with infinitely many samples this is the exact update
# `P_{t+1,n}[s, s'] = Pr(S_{n-1}=s, S_n=s', success) / Pr(S_{n-1}=s, success)`.

# %%
import sys
from importlib.util import find_spec
from pathlib import Path

if find_spec("rlstar_theory") is None:  # running from a checkout, not installed
    sys.path.insert(0, str(Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()))

import io

import numpy as np
from IPython.display import Image, display

from rlstar_theory.figures.style import figure_of

np.set_printoptions(precision=6, suppress=False, linewidth=100)


def show(axes, dpi=65):
    """Display the figure holding ``axes`` (what every plot function returns) as a PNG."""
    buf = io.BytesIO()
    figure_of(axes).savefig(buf, format="png", dpi=dpi)
    display(Image(data=buf.getvalue()))



# %% [markdown]
# ## Two conventions for "δ"
#
# The theorems use the family `P(λ) = λ·I + (1−λ)/M · 11ᵀ`. The authors' **theory script** calls
# the mixing weight `λ` "δ"; their **data generator** calls the diagonal excess
# `δ_diag = P[s, s] − 1/M = (M−1)λ/M` "δ". They differ: for `M = 64`, `δ_diag = 0.2` is
# `λ = 0.2032`. The package never says a bare "delta".

# %%
from rlstar_theory import delta_diag_to_lam, lam_to_delta_diag

M = 64
print("delta_diag = 0.2  ->  lam =", delta_diag_to_lam(0.2, M))
print("lam = 0.2         ->  delta_diag =", lam_to_delta_diag(0.2, M))

# %% [markdown]
# ## Closure, expected return and the one-step update
#
# A product of family matrices stays in the family, `P(λ₁)⋯P(λ_N) = P(Λ)` with `Λ = ∏λ_n`, so
# `J = (1 + (M−1)Λ)/M`. One exact STaR step maps
# `λ'_n = (λ_n + Λ₋ₙ + (M−2)Λ) / (1 + (M−1)Λ)`. Below, the general dense engine (which knows
# nothing about the family) agrees with the closed form.

# %%
from rlstar_theory import expected_return, star_step, symmetric_matrix, symmetric_star_step

M, lam = 6, np.array([0.3, -0.1, 0.6])
P = symmetric_matrix(lam, M)
print("J dense  :", expected_return(P))
print("J formula:", (1 + (M - 1) * lam.prod()) / M)
print("max |dense step - closed form| =",
      np.abs(star_step(P) - symmetric_matrix(symmetric_star_step(lam, M), M)).max())

# %% [markdown]
# ## (a) The authors' setting: M = 64, N = 3, λ₀ ∈ {0.2, 0.1}
#
# The published curve for `λ₀ = 0.2` (theory script's convention) is
# `J = 0.023500, 0.130984, 0.869432, 0.999777, 1.000000`. The dashed curves start from the *data
# generator's* `δ_diag,0` instead.

# %%
from rlstar_theory.figures import authors

a = authors.compute()
print("computed :", np.round(a.J[0, :5], 6))
print("published:", np.array(authors.PUBLISHED_J_LAM02))
assert np.allclose(a.J[0, :5], authors.PUBLISHED_J_LAM02, atol=authors.PUBLISHED_TOLERANCE)
show(authors.plot(a))

# %% [markdown]
# ## (b) Criteria on the pre-trained model
#
# * every `λ₀,ₙ > 0`: every step improves strictly and `P_t → I` (policy improvement, convergence);
# * exactly one step at 0: it moves first, the others wait one iteration;
# * two or more steps at 0: a fixed point, `J = 1/M` forever;
# * negative steps: no guarantee, other steps can degrade first.

# %%
from rlstar_theory import classify_start
from rlstar_theory.figures import criteria

b = criteria.compute()
for name, lam0 in criteria.CASES:
    print(f"{name:28s} {lam0} -> {classify_start(lam0, b.M).kind.value}")
show(criteria.plot(b))

# %% [markdown]
# ## (c) Robustness: wrong steps in the kept data
#
# The kept trajectories `D_t` have the right final answer but may contain wrong intermediate
# steps; both `Pr(some step wrong | success)` and `Pr(step n wrong | success) = 1 − p'_n`
# go to 0.

# %%
from rlstar_theory.figures import robustness

c = robustness.compute()
print("Pr(some wrong | success), lam0 = 0.2:", c.some_wrong[0, :5])
show(robustness.plot(c))

# %% [markdown]
# ## (d) Phase diagram and (e) convergence rate
#
# Iterations to reach `J ≥ 0.99` over a grid of starts (coarse grid here; `rlstar reproduce` draws a
# finer one). Grey: never — the frozen start `(0, 0)` and starts with too much negative weight,
# which RL-STaR drives to the all-wrong corner instead. Then the error `1 − λ_t`: a slow phase,
# then a quadratic one, `1 − λ' ≈ (N−1)(1 − λ)²/M`.

# %%
from rlstar_theory.figures import phase, rate

d = phase.compute(quick=True)
show(phase.plot(d))
e = rate.compute()
print("err_{t+1}/err_t^2 at the end:",
      [float(row[np.isfinite(row)][-1]) for row in e.quadratic_constant],
      " (N-1)/M =", (e.N - 1) / e.M)
show(rate.plot(e))

# %% [markdown]
# ## Symbolic proofs
#
# The identities above are also proved with sympy (`rlstar prove`); two of them here.

# %%
try:
    from rlstar_theory.proofs.registry import run_proof
except ImportError:
    print("proofs registry not available in this checkout")
else:
    for key in ("closure_pair", "expected_return"):
        r = run_proof(key, max_n=2)
        print(f"{r.key}: {r.status} — {r.claim}")
