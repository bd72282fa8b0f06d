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
# # 02 · Beyond the paper
#
# The theorems cover the symmetric family with identity (bijective) ground truth and infinitely
# many samples. The package's dense engine and sampler go further: any matrices, any ground-truth
# maps (bijective or not), any question distribution, a sampling temperature, and finitely many
# samples.

# %%
import sys
from importlib.util import find_spec
from pathlib import Path

if find_spec("rlstar_theory") is None:  # running from a checkout, not installed
    sys.path.insert(0, str(Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()))

import io

import numpy as np
from IPython.display import Image, display

from rlstar_theory.figures.style import axes_row, figure_of

np.set_printoptions(precision=6, suppress=False, linewidth=100)


def show(axes, dpi=65):
    """Display the figure holding ``axes`` (what every plot function returns) as a PNG."""
    buf = io.BytesIO()
    figure_of(axes).savefig(buf, format="png", dpi=dpi)
    display(Image(data=buf.getvalue()))



# %% [markdown]
# ## (g) Non-symmetric matrices, permuted ground truth
#
# A random pre-trained policy (Dirichlet rows mixed with 25 % of the ground truth) for ground truth
# maps that are random permutations. The dense engine drives every row onto the truth.

# %%
from rlstar_theory.figures import dense_example

g = dense_example.compute()
print("J_t:", np.round(g.J, 4))
show(dense_example.plot(g))

# %% [markdown]
# ## Non-symmetric starts can get stuck below J = 1
#
# With less ground truth in the pre-trained policy, some questions can lose every successful
# trajectory through a state: the rows that no successful trajectory visits keep their old row
# (no data), and RL-STaR can settle at a fixed point with `J < 1` — something the symmetric theory
# never shows.

# %%
from rlstar_theory import iterate_dense

rng = np.random.default_rng(2)
M, N = 6, 3
truth = np.array([rng.permutation(M) for _ in range(N)])
P0 = dense_example.random_policy(M, N, truth, weight=0.15, rng=rng)
run = iterate_dense(P0, 30, truth=truth)
print("J_t:", np.round(run.J[::3], 4))
print(f"limit J = {run.J[-1]:.6f} (5/6 = {5 / 6:.6f})")

# %% [markdown]
# ## Non-bijective ground truth
#
# Step 1 merges states (`g₁ = [0, 0, 1, 2]`, two questions share a state), step 2 is a
# permutation. The dense engine accepts any map; the answer of question `s₀` is `g₂(g₁(s₀))`.
# Only the final answer is rewarded, so RL-STaR reaches `J = 1` through *different* intermediate
# states here: the learned steps compose to the right answers without matching `g₁`, `g₂`. The
# paper's "P_t → ground truth" needs its bijective setting.

# %%
from rlstar_theory import symmetric_matrix

M = 4
truth = np.array([[0, 0, 1, 2], [1, 2, 3, 0]])
P0 = symmetric_matrix([0.3, 0.3], M)  # symmetric start, but not around this truth
run = iterate_dense(P0, 12, truth=truth)
print("J_t:", np.round(run.J, 4))
learned = run.P[-1].argmax(axis=2)  # the (deterministic) learned map of each step
print("learned g1:", learned[0], " truth g1:", truth[0])
print("learned g2:", learned[1], " truth g2:", truth[1])
print("learned composite:", learned[1][learned[0]], " answers G:", truth[1][truth[0]])
print("mean diagonal excess delta_diag per step (data generator's convention):")
print(np.round(run.delta_diag[[0, -1]], 4))

# %% [markdown]
# ## (f) Finite samples
#
# With `K` trajectories per question the refit overfits: rows seen by few kept trajectories become
# nearly deterministic. Small `K` speeds up the first iteration but freezes wrong transitions;
# large `K` tracks the exact curve (mean and 10–90 % band over seeds; quick settings here).

# %%
from rlstar_theory.figures import finite_sample

f = finite_sample.compute(quick=True)
for p in f.panels:
    a = int(np.argmax(p.K))
    print(f"M = {p.M}, K = {p.K[a]}: max |mean - exact| = "
          f"{np.abs(p.J_mean[a] - p.J_exact).max():.4f}")
show(finite_sample.plot(f))

# %% [markdown]
# ## Sampling temperature
#
# The paper's experiment samples at temperature 0.5: trajectories are drawn from rows
# `∝ P^{1/τ}`, which keeps the symmetric family. A colder sampler (`τ < 1`) sharpens the policy
# and converges faster. A hotter one (`τ > 1`) flattens it, and that can undo the paper's
# guarantee: from `λ₀ = 0.1` every step *loses* weight at `τ = 1.5` and `τ = 2`, and `J` falls to
# `1/M` instead of rising to 1, although every `λ₀` is positive. The cell prints the last `J` of
# each run.

# %%
from rlstar_theory import iterate_symmetric

M = 64
ax = axes_row(None, 1, width=6, height=3.6)[0]
for tau in (0.5, 1.0, 1.5, 2.0):
    r = iterate_symmetric([0.1, 0.1, 0.1], M, 10, temperature=tau)
    ax.plot(r.J, marker="o", label=f"τ = {tau}")
    print(f"tau = {tau}: J_10 = {r.J[-1]:.6f}  (1/M = {1 / M:.6f})")
ax.set_xlabel("STaR iteration t")
ax.set_ylabel("J(Pₜ)")
ax.set_title(f"M = {M}, N = 3, λ₀ = 0.1 (mixing weight) at four temperatures")
ax.legend()
show(ax)

# %% [markdown]
# ## A non-uniform question distribution
#
# The start distribution `D` weights the questions; the exact update and `J` use it directly.

# %%
M = 5
start = np.array([0.6, 0.1, 0.1, 0.1, 0.1])
P0 = symmetric_matrix([0.2, 0.2], M)
uniform = iterate_dense(P0, 6)
skewed = iterate_dense(P0, 6, start=start)
print("uniform D:", np.round(uniform.J, 4))
print("skewed D :", np.round(skewed.J, 4))
