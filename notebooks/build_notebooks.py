"""Generate the notebooks of this folder from the cell lists below (``python build_notebooks.py``).

The notebooks are committed *without outputs*; ``tests/test_notebooks.py`` executes each one
(kernel ``python3``) so they cannot rot. Edit the cells here, then regenerate.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
import sys
from pathlib import Path

from importlib.util import find_spec

if find_spec("rlstar_theory") is None:  # running from a checkout, not installed
    sys.path.insert(0, str(Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()))

import io

import numpy as np
from IPython.display import Image, display
from rlstar_theory.figures.style import close

np.set_printoptions(precision=6, suppress=False, linewidth=100)


def show(fig, dpi=80):
    \"\"\"Display a matplotlib figure inline as a PNG and free it (the package uses Agg).\"\"\"
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    close(fig)
    display(Image(data=buf.getvalue()))
"""

NB1 = [
    ("md", """\
# 01 · The RL-STaR model and the paper's theorems

This notebook walks through the model of *RL-STaR: Theoretical Analysis of Reinforcement Learning
Frameworks for Self-Taught Reasoner* (arXiv 2410.23912) with the `rlstar_theory` package, and
checks each theorem numerically, with the figures `rlstar reproduce` writes.

**The model.** A chain of thought has `N` steps over `M` states each. The policy is one
row-stochastic `M × M` matrix per step, `P_n[s, s'] = Pr(S_n = s' | S_{n-1} = s)`; the ground truth
is a map per step (the identity after relabelling); only the final answer is rewarded. One
RL-STaR iteration samples trajectories, keeps those with the right final answer and refits each
step by maximum likelihood; with infinitely many samples this is the exact update
`P_{t+1,n}[s, s'] = Pr(S_{n-1}=s, S_n=s', success) / Pr(S_{n-1}=s, success)`."""),
    ("code", SETUP),
    ("md", """\
## Two conventions for "δ"

The theorems use the family `P(λ) = λ·I + (1−λ)/M · 11ᵀ`. The authors' **theory script** calls
the mixing weight `λ` "δ"; their **data generator** calls the diagonal excess
`δ_diag = P[s, s] − 1/M = (M−1)λ/M` "δ". They differ: for `M = 64`, `δ_diag = 0.2` is
`λ = 0.2032`. The package never says a bare "delta"."""),
    ("code", """\
from rlstar_theory import delta_diag_to_lam, lam_to_delta_diag

M = 64
print("delta_diag = 0.2  ->  lam =", delta_diag_to_lam(0.2, M))
print("lam = 0.2         ->  delta_diag =", lam_to_delta_diag(0.2, M))"""),
    ("md", """\
## Closure, expected return and the one-step update

A product of family matrices stays in the family, `P(λ₁)⋯P(λ_N) = P(Λ)` with `Λ = ∏λ_n`, so
`J = (1 + (M−1)Λ)/M`. One exact STaR step maps
`λ'_n = (λ_n + Λ₋ₙ + (M−2)Λ) / (1 + (M−1)Λ)`. Below, the general dense engine (which knows
nothing about the family) agrees with the closed form."""),
    ("code", """\
from rlstar_theory import expected_return, star_step, symmetric_matrix, symmetric_star_step

M, lam = 6, np.array([0.3, -0.1, 0.6])
P = symmetric_matrix(lam, M)
print("J dense  :", expected_return(P))
print("J formula:", (1 + (M - 1) * lam.prod()) / M)
print("max |dense step - closed form| =",
      np.abs(star_step(P) - symmetric_matrix(symmetric_star_step(lam, M), M)).max())"""),
    ("md", """\
## (a) The authors' setting: M = 64, N = 3, λ₀ ∈ {0.2, 0.1}

The published curve for `λ₀ = 0.2` (theory script's convention) is
`J = 0.023500, 0.130984, 0.869432, 0.999777, 1.000000`. The dashed curves start from the *data
generator's* `δ_diag,0` instead."""),
    ("code", """\
from rlstar_theory.figures import authors

a = authors.compute()
print("computed :", np.round(a.J[0, :5], 6))
print("published:", np.array(authors.PUBLISHED_J_LAM02))
assert np.allclose(a.J[0, :5], authors.PUBLISHED_J_LAM02, atol=authors.PUBLISHED_TOLERANCE)
show(authors.plot(a))"""),
    ("md", """\
## (b) Criteria on the pre-trained model

* every `λ₀,ₙ > 0`: every step improves strictly and `P_t → I` (policy improvement, convergence);
* exactly one step at 0: it moves first, the others wait one iteration;
* two or more steps at 0: a fixed point, `J = 1/M` forever;
* negative steps: no guarantee, other steps can degrade first."""),
    ("code", """\
from rlstar_theory import classify_start
from rlstar_theory.figures import criteria

b = criteria.compute()
for name, lam0 in criteria.CASES:
    print(f"{name:28s} {lam0} -> {classify_start(lam0, b.M).kind.value}")
show(criteria.plot(b))"""),
    ("md", """\
## (c) Robustness: wrong steps in the kept data

The kept trajectories `D_t` have the right final answer but may contain wrong intermediate
steps; both `Pr(some step wrong | success)` and `Pr(step n wrong | success) = 1 − p'_n`
go to 0."""),
    ("code", """\
from rlstar_theory.figures import robustness

c = robustness.compute()
print("Pr(some wrong | success), lam0 = 0.2:", c.some_wrong[0, :5])
show(robustness.plot(c))"""),
    ("md", """\
## (d) Phase diagram and (e) convergence rate

Iterations to reach `J ≥ 0.99` over a grid of starts (coarse grid here; `rlstar reproduce` draws a
finer one). Grey: never — the frozen start `(0, 0)` and starts with too much negative weight,
which RL-STaR drives to the all-wrong corner instead. Then the error `1 − λ_t`: a slow phase,
then a quadratic one, `1 − λ' ≈ (N−1)(1 − λ)²/M`."""),
    ("code", """\
from rlstar_theory.figures import phase, rate

d = phase.compute(quick=True)
show(phase.plot(d))
e = rate.compute()
print("err_{t+1}/err_t^2 at the end:",
      [float(row[np.isfinite(row)][-1]) for row in e.quadratic_constant],
      " (N-1)/M =", (e.N - 1) / e.M)
show(rate.plot(e))"""),
    ("md", """\
## Symbolic proofs

The identities above are also proved with sympy (`rlstar prove`); two of them here."""),
    ("code", """\
try:
    from rlstar_theory.proofs.registry import run_proof
except ImportError:
    print("proofs registry not available in this checkout")
else:
    for key in ("closure_pair", "expected_return"):
        r = run_proof(key, max_n=2)
        print(f"{r.key}: {r.status} — {r.claim}")"""),
]

NB2 = [
    ("md", """\
# 02 · Beyond the paper

The theorems cover the symmetric family with identity (bijective) ground truth and infinitely
many samples. The package's dense engine and sampler go further: any matrices, any ground-truth
maps (bijective or not), any question distribution, a sampling temperature, and finitely many
samples."""),
    ("code", SETUP),
    ("md", """\
## (g) Non-symmetric matrices, permuted ground truth

A random pre-trained policy (Dirichlet rows mixed with 25 % of the ground truth) for ground truth
maps that are random permutations. The dense engine drives every row onto the truth."""),
    ("code", """\
from rlstar_theory.figures import dense_example

g = dense_example.compute()
print("J_t:", np.round(g.J, 4))
show(dense_example.plot(g))"""),
    ("md", """\
## Non-symmetric starts can get stuck below J = 1

With less ground truth in the pre-trained policy, some questions can lose every successful
trajectory through a state: the rows that no successful trajectory visits keep their old row
(no data), and RL-STaR can settle at a fixed point with `J < 1` — something the symmetric theory
never shows."""),
    ("code", """\
from rlstar_theory import iterate_dense

rng = np.random.default_rng(2)
M, N = 6, 3
truth = np.array([rng.permutation(M) for _ in range(N)])
P0 = dense_example.random_policy(M, N, truth, weight=0.15, rng=rng)
run = iterate_dense(P0, 30, truth=truth)
print("J_t:", np.round(run.J[::3], 4))
print(f"limit J = {run.J[-1]:.6f} (5/6 = {5 / 6:.6f})")"""),
    ("md", """\
## Non-bijective ground truth

Step 1 merges states (`g₁ = [0, 0, 1, 2]`, two questions share a state), step 2 is a
permutation. The dense engine accepts any map; the answer of question `s₀` is `g₂(g₁(s₀))`.
Only the final answer is rewarded, so RL-STaR reaches `J = 1` through *different* intermediate
states here: the learned steps compose to the right answers without matching `g₁`, `g₂`. The
paper's "P_t → ground truth" needs its bijective setting."""),
    ("code", """\
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
print(np.round(run.delta_diag[[0, -1]], 4))"""),
    ("md", """\
## (f) Finite samples

With `K` trajectories per question the refit overfits: rows seen by few kept trajectories become
nearly deterministic. Small `K` speeds up the first iteration but freezes wrong transitions;
large `K` tracks the exact curve (mean and 10–90 % band over seeds; quick settings here)."""),
    ("code", """\
from rlstar_theory.figures import finite_sample

f = finite_sample.compute(quick=True)
for p in f.panels:
    a = int(np.argmax(p.K))
    print(f"M = {p.M}, K = {p.K[a]}: max |mean - exact| = "
          f"{np.abs(p.J_mean[a] - p.J_exact).max():.4f}")
show(finite_sample.plot(f))"""),
    ("md", """\
## Sampling temperature

The paper's experiment samples at temperature 0.5. Tempering keeps the family and the sign of
every `λ`, so the criteria are unchanged; a colder sampler sharpens the policy and converges
faster, a hotter one slower."""),
    ("code", """\
from rlstar_theory import iterate_symmetric
from rlstar_theory.figures.style import new_figure

fig, ax = new_figure(1, 1, width=6, height=3.6)
for tau in (0.5, 1.0, 2.0):
    r = iterate_symmetric([0.1, 0.1, 0.1], 64, 10, temperature=tau)
    ax.plot(r.J, marker="o", label=f"τ = {tau}")
ax.set_xlabel("STaR iteration t")
ax.set_ylabel("J(P_t)")
ax.set_title("M = 64, N = 3, λ₀ = 0.1 (mixing weight) at three temperatures")
ax.legend()
show(fig)"""),
    ("md", """\
## A non-uniform question distribution

The start distribution `D` weights the questions; the exact update and `J` use it directly."""),
    ("code", """\
M = 5
start = np.array([0.6, 0.1, 0.1, 0.1, 0.1])
P0 = symmetric_matrix([0.2, 0.2], M)
uniform = iterate_dense(P0, 6)
skewed = iterate_dense(P0, 6, start=start)
print("uniform D:", np.round(uniform.J, 4))
print("skewed D :", np.round(skewed.J, 4))"""),
]

NB3 = [
    ("md", """\
# 03 · GPT-2 on the zip task: theory against learned transition matrices

The paper checks its theory with GPT-2 on the "zip" task. `rlstar zip-experiment` runs that
experiment on a CPU with a small GPT-2 and, because the model is Markov over a finite state
set, reads off its **whole** transition matrix per step (every valid next state scored for
every current state). Theory is then checked against those learned `(N, M, M)` matrices at every
RL-STaR iteration, not against a handful of sampled answers.

This notebook shows the task, reads the committed paper-preset runs in
`figures/zip_paper_d02/` and `figures/zip_paper_d01/` (about 10 minutes each to regenerate with
`python benchmarks/bench_zip_paper.py`), and, if the `gpt2` extra is installed, runs a small
experiment end to end."""),
    ("code", SETUP),
    ("md", """\
## The task

Two `n`-bit numbers `a`, `b`; each step moves the least significant remaining digit pair into
the zipped part. `n = 3` gives the paper's `M = 64` questions and `N = 3` steps. Every step is a
bijection on the `M` valid states of that step."""),
    ("code", """\
from rlstar_theory.zip.task import ZipTask

task = ZipTask(3)
q = task.to_index(0, task.states(0)[45])
for k in range(task.N + 1):
    print(f"s{k}:", " ".join(task.to_tokens(k, q)))
    if k < task.N:
        q = int(task.truth()[k][q])
truth = task.truth()
print("every step a bijection:", all(sorted(g) == list(range(task.M)) for g in truth))"""),
    ("md", """\
## The pre-training curriculum

Trained directly on the noisy data (`delta_diag_0 = 0.2`), the model sits on a loss plateau for
a seed-dependent 1,000 to more than 4,000 steps and then fits loosely. Data with
`delta_diag = 0.9` leave the plateau in about 250 steps, so pre-training starts there and moves
the data linearly to the target, under one optimiser."""),
    ("code", """\
import matplotlib.pyplot as plt

from rlstar_theory.zip.config import make_config
from rlstar_theory.zip.pretrain import curriculum

plan = curriculum(make_config("paper", delta0_diag=0.2))
steps = np.arange(plan.steps)
data = [plan.delta_diag_at_level(plan.level(s))[0] for s in steps]
lr = [plan.lr_factor(s) for s in steps]
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(steps, data, label="delta_diag of the data")
ax.plot(steps, lr, label="learning rate / 2e-3")
ax.set_xlabel("optimiser step")
ax.legend()
show(fig)
print([(p["name"], p["steps"]) for p in plan.phases()])"""),
    ("md", """\
## The paper-preset runs

`results.json` holds, per iteration, the learned `J`, the dense engine's prediction from the
learned `P_{t-1}`, the closed form from the fitted `delta_diag_hat_0`, and the entry gaps
between learned and predicted matrices (and between the raw kept-trajectory counts and the
prediction)."""),
    ("code", """\
import json

from rlstar_theory.zip.report import summary_lines

root = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
for name in ("zip_paper_d02", "zip_paper_d01"):
    run = root / "figures" / name
    print("\\n".join(summary_lines(run)))
    print()"""),
    ("code", """\
run = root / "figures" / "zip_paper_d02"
display(Image(filename=str(run / "J.png"), width=800))
display(Image(filename=str(run / "pred_vs_learned.png"), width=700))"""),
    ("md", """\
The closed form from the fitted `delta_diag_hat_0` can be recomputed here from the fitted `λ`
(`rlstar_theory.iterate_symmetric`); it matches what the run recorded."""),
    ("code", """\
from rlstar_theory import iterate_symmetric

res = json.loads((run / "results.json").read_text())
cfg = json.loads((run / "config.json").read_text())
lam_hat = np.array(res["pretrain"]["lam"])
curve = iterate_symmetric(lam_hat, 4 ** cfg["n_bits"], len(res["iterations"]),
                          temperature=cfg["temperature"])
recorded = [res["pretrain"]["J"]] + [e["J"] for e in res["iterations"]]
print("closed form from the fit:", np.round(np.asarray(curve.J, dtype=float), 6))
print("recorded closed form    :", np.round(res["theory"]["J_closed_form_from_fit"]
                                             [:len(recorded)], 6))
print("GPT-2 (learned)         :", np.round(recorded, 6))
assert np.allclose(np.asarray(curve.J, dtype=float),
                   res["theory"]["J_closed_form_from_fit"][:len(recorded)], atol=1e-12)"""),
    ("md", """\
## Run one yourself

With the `gpt2` extra (`pip install torch==2.13.0 && pip install -e ".[gpt2]"`) this runs the
`smoke` preset (`M = 16`, `N = 2`, the same model and curriculum, 256 samples per question) for
one iteration, about half a minute. From the command line:
`rlstar zip-experiment --preset smoke --out runs/smoke`."""),
    ("code", """\
import tempfile

if find_spec("torch") is None or find_spec("transformers") is None:
    print("the gpt2 extra is not installed: skipping the run")
else:
    from rlstar_theory.zip.loop import run_experiment

    out = Path(tempfile.mkdtemp()) / "smoke"
    run_experiment(make_config("smoke", iterations=1), out, progress=False, log=print)
    print("\\n".join(summary_lines(out)))"""),
]


def build(cells, title: str) -> nbformat.NotebookNode:
    """A notebook (python3 kernel) from ``(kind, source)`` pairs."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["title"] = title
    nb.cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src)
                for kind, src in cells]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    return nb


NOTEBOOKS = {
    "01_model_and_theorems.ipynb": (NB1, "The RL-STaR model and the paper's theorems"),
    "02_beyond_the_paper.ipynb": (NB2, "Beyond the paper"),
    "03_gpt2_zip.ipynb": (NB3, "GPT-2 on the zip task"),
}


def main() -> None:
    """Write every notebook next to this script."""
    for name, (cells, title) in NOTEBOOKS.items():
        nb = build(cells, title)
        nbformat.validate(nb)
        nbformat.write(nb, HERE / name)
        print(f"wrote {name} ({len(cells)} cells)")


if __name__ == "__main__":
    main()
