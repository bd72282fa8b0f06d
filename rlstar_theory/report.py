"""The reproduction report: every claim of the paper, how this project checks it, the numbers.

:func:`build_report` runs the numeric checks *now* (each with a stated tolerance and a
pass/fail status) and attaches the symbolic proofs of :mod:`rlstar_theory.proofs` that cover each
claim (run through :func:`rlstar_theory.proofs.registry.all_proofs`). Those two are everything
``rlstar reproduce`` runs. It does not run the test suite: :data:`TEST_MODULES` only *names* the
test modules (run by ``pytest``) that cover each claim, as documentation; the library never
reads ``tests/``. :func:`report_markdown` renders the result; :func:`write_report` writes
``report.md`` and ``report.json`` (deterministic: no timings, no machine or commit, floats
rounded to :data:`rlstar_theory.figures.io.COMMITTED_DIGITS` significant digits) and, beside
them, ``timings.json`` and ``provenance.json`` (what varies from run to run).

The paper's results are referred to by their content (pre-trained criteria, policy
improvement, convergence, robustness), the four contributions listed in its abstract, plus the
model facts they rest on and the authors' published curves. Two "delta" conventions exist:
``lam`` is the mixing weight (the authors' theory script's delta), ``delta_diag = (M-1) lam/M``
the diagonal excess (their data generator's delta); the report always says which.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from rlstar_theory.atomic import write_bytes_atomic
from rlstar_theory.conventions import delta_diag_to_lam, lam_to_delta_diag
from rlstar_theory.criteria import classify_start, iterations_to_reach
from rlstar_theory.dense import expected_return, iterate_dense, robustness, star_step
from rlstar_theory.figures import authors as fig_authors
from rlstar_theory.figures import finite_sample as fig_finite
from rlstar_theory.figures import rate as fig_rate
from rlstar_theory.figures import robustness as fig_robust
from rlstar_theory.figures.io import COMMITTED_DIGITS, save_json, to_jsonable
from rlstar_theory.provenance import provenance
from rlstar_theory.symmetric import (
    iterate_symmetric,
    iterate_symmetric_exact,
    symmetric_matrix,
    symmetric_star_step,
)
from rlstar_theory.tempering import temper_lam

__all__ = [
    "Check",
    "ProofSummary",
    "Report",
    "ReportFiles",
    "PROOF_KEYS",
    "TEST_MODULES",
    "numeric_checks",
    "run_proofs",
    "build_report",
    "report_markdown",
    "write_report",
]

PASS, FAIL = "pass", "fail"


@dataclass(frozen=True)
class Check:
    """One claim and its verification.

    Attributes
    ----------
    key : str
        Stable identifier.
    paper_item : str
        Which result of the paper (or which model fact) the claim is.
    claim : str
        The claim in words.
    how : str
        How the numeric check was done right now.
    numbers : dict
        The computed numbers (and reference values where there are some).
    tolerance : str
        The stated tolerance of the numeric check.
    numeric_status : {"pass", "fail"}
    proofs : tuple of dict
        Symbolic proofs covering the claim (``ProofResult.to_dict()``), if any; they were run
        with the report.
    tests : tuple of str
        Test modules of the repository that cover the claim (:data:`TEST_MODULES`). They are
        run by ``pytest``, not by the report; they are named here as documentation.
    status : {"pass", "fail"}
        ``"fail"`` if the numeric check failed or a covering proof failed.
    """

    key: str
    paper_item: str
    claim: str
    how: str
    numbers: dict
    tolerance: str
    numeric_status: str
    proofs: tuple[dict, ...] = ()
    tests: tuple[str, ...] = ()
    status: str = PASS

    @property
    def methods(self) -> tuple[str, ...]:
        """What the report itself ran for this claim: ``"symbolic"`` (sympy proofs) when
        covering proofs are attached, and always ``"numeric"``."""
        return ("symbolic", "numeric") if self.proofs else ("numeric",)

    def to_dict(self) -> dict:
        """Plain dictionary (with ``methods``)."""
        d = asdict(self)
        d["methods"] = list(self.methods)
        return d


@dataclass(frozen=True)
class ProofSummary:
    """Outcome of running the symbolic proofs registry.

    Attributes
    ----------
    available : bool
        Whether :mod:`rlstar_theory.proofs.registry` could be imported and run.
    max_n : int or None
    results : tuple of dict
        ``ProofResult.to_dict()`` of every proof.
    seconds : float
        Wall time (written to ``timings.json`` only).
    note : str
        Why the proofs are missing, when they are.
    """

    available: bool
    max_n: int | None
    results: tuple[dict, ...] = ()
    seconds: float = 0.0
    note: str = ""

    @property
    def failed(self) -> tuple[str, ...]:
        """Keys of the proofs that did not prove their claim."""
        return tuple(r["key"] for r in self.results if r.get("status") != "proved")


@dataclass(frozen=True)
class Report:
    """The whole report.

    Attributes
    ----------
    checks : tuple of Check
    proofs : ProofSummary
    figures : tuple of dict
        ``{"key", "title", "files"}`` per figure written alongside, plus ``"seconds"`` (kept
        for ``timings.json``, left out of ``report.json``).
    quick : bool
    seconds : float
        Wall time of the checks (written to ``timings.json`` only).
    claims : tuple of ClaimResult
        The field's claims measured now (:mod:`rlstar_theory.claims`). Their verdicts are
        findings (a claim may fail in the exact model); they never make the report fail.
    """

    checks: tuple[Check, ...]
    proofs: ProofSummary
    figures: tuple[dict, ...] = field(default_factory=tuple)
    quick: bool = False
    seconds: float = 0.0
    claims: tuple = field(default_factory=tuple)

    @property
    def failed(self) -> tuple[str, ...]:
        """Keys of failed checks and failed proofs."""
        return tuple(c.key for c in self.checks if c.status != PASS) + tuple(
            f"proof:{k}" for k in self.proofs.failed)

    @property
    def ok(self) -> bool:
        """True when every check passed and no proof failed."""
        return not self.failed

    def to_dict(self) -> dict:
        """Plain JSON-ready dictionary, free of timings (see :meth:`timings`)."""
        return {
            "status": PASS if self.ok else FAIL,
            "failed": list(self.failed),
            "quick": self.quick,
            "runs": RUNS_TEXT,
            "conventions": {
                "lam": "mixing weight: P(lam) = lam I + (1 - lam)/M 11^T (theory script's delta)",
                "delta_diag": "diagonal excess: P[s, s] = 1/M + delta_diag, delta_diag = "
                              "(M - 1) lam / M (data generator's delta)",
            },
            "checks": [c.to_dict() for c in self.checks],
            "proofs": {"available": self.proofs.available, "max_n": self.proofs.max_n,
                       "note": self.proofs.note, "results": list(self.proofs.results)},
            "figures": [{k: v for k, v in f.items() if k != "seconds"} for f in self.figures],
            "claims": [c.to_dict() for c in self.claims],
        }

    def timings(self) -> dict:
        """Wall times in seconds: ``{"checks", "proofs", "figures": {key: seconds},
        "claims": {key: seconds}}``."""
        return {"checks": self.seconds, "proofs": self.proofs.seconds,
                "figures": {f["key"]: f["seconds"] for f in self.figures if "seconds" in f},
                "claims": {c.key: c.seconds for c in self.claims}}


@dataclass(frozen=True)
class ReportFiles:
    """Paths written by :func:`write_report`.

    Attributes
    ----------
    markdown, json : Path
        ``report.md`` and ``report.json``: the same bytes for the same code and numbers.
    timings, provenance : Path
        ``timings.json`` and ``provenance.json``: what differs from run to run (wall times;
        package versions, git commit, CPU). Git ignores them in the committed ``figures/``.
    """

    markdown: Path
    json: Path
    timings: Path
    provenance: Path


#: what ``rlstar reproduce`` runs, in words (the report states it)
RUNS_TEXT = (
    "rlstar reproduce runs two things now: the numeric checks below (each with its tolerance) "
    "and the sympy proofs of rlstar_theory.proofs (rlstar prove) that cover them. It does not "
    "run the test suite; the test modules named under each check are run by pytest."
)


# --------------------------------------------------------------------------------------------
# cross-references: proofs and test modules covering each check

#: check key -> keys of the symbolic proofs (``rlstar_theory.proofs.registry.PROOFS``)
PROOF_KEYS: dict[str, tuple[str, ...]] = {
    "closure": ("closure_pair", "closure_product"),
    "expected_return": ("expected_return",),
    "star_update": ("star_update", "minimal_N2_M2"),
    "improvement": ("improvement", "sign_improvement"),
    "error_contraction": ("error_contraction",),
    "convergence_all_positive": ("sign_improvement",),
    "one_zero_delay": ("sign_one_zero",),
    "two_zeros_freeze": ("sign_freeze",),
    "robustness": ("robust_all_correct", "robust_step_wrong"),
    "authors_curves": ("authors_update", "authors_J"),
}

#: check key -> test modules of the repository (paths from its root) that cover the claim.
#: Documentation only: the report names them and never reads or runs them (``pytest`` does);
#: ``tests/test_report.py`` checks that every module named here exists.
TEST_MODULES: dict[str, tuple[str, ...]] = {
    "delta_conventions": ("tests/test_conventions.py", "tests/cli/test_simulate.py"),
    "closure": ("tests/test_symmetric.py", "tests/proofs/test_can_fail.py"),
    "expected_return": ("tests/test_symmetric.py", "tests/test_dense.py"),
    "star_update": ("tests/test_symmetric.py", "tests/test_dense.py"),
    "improvement": ("tests/test_symmetric.py",),
    "error_contraction": ("tests/test_symmetric.py",),
    "convergence_all_positive": ("tests/test_symmetric.py", "tests/test_criteria.py"),
    "one_zero_delay": ("tests/test_symmetric.py", "tests/figures/test_figure_data.py"),
    "two_zeros_freeze": ("tests/test_symmetric.py", "tests/test_criteria.py"),
    "negative_start": ("tests/test_symmetric.py", "tests/figures/test_figure_data.py"),
    "robustness": ("tests/test_symmetric.py", "tests/test_dense.py", "tests/test_sampling.py"),
    "authors_curves": ("tests/test_symmetric.py", "tests/figures/test_figure_data.py"),
    "quadratic_rate": ("tests/test_symmetric.py", "tests/figures/test_figure_data.py"),
    "finite_sample": ("tests/test_sampling.py", "tests/figures/test_figure_data.py"),
    "temperature": ("tests/test_tempering.py", "tests/test_symmetric.py",
                    "tests/test_criteria.py"),
}


# --------------------------------------------------------------------------------------------
# numeric checks


def _status(ok: bool) -> str:
    return PASS if bool(ok) else FAIL


def _values_text(values: Any) -> str:
    """``(0.3, 0.2)`` for a sequence of numbers: plain ``{:g}`` text, never a numpy repr."""
    return "(" + ", ".join(f"{float(v):g}" for v in np.ravel(values)) + ")"


def _rng() -> np.random.Generator:
    return np.random.default_rng(20241031)


def _random_lams(rng: np.random.Generator, M: int, N: int, count: int,
                 lo: float | None = None) -> np.ndarray:
    lo = -1.0 / (M - 1) if lo is None else lo
    return rng.uniform(lo, 1.0, size=(count, N))


def _check_conventions() -> Check:
    M = 64
    lam = delta_diag_to_lam(0.2, M)
    back = lam_to_delta_diag(lam, M)
    exact = delta_diag_to_lam(Fraction(1, 5), M)
    ok = abs(back - 0.2) <= 1e-15 and exact == Fraction(64, 315) and abs(lam - 64 / 315) <= 1e-15
    return Check(
        "delta_conventions", "Model (two 'delta' conventions in the authors' code)",
        "The theory script's delta is the mixing weight lam; the data generator's delta is the "
        "diagonal excess delta_diag = (M-1) lam / M. For M = 64, delta_diag = 0.2 is "
        "lam = 64/315 = 0.2032.",
        "conversions in rlstar_theory.conventions, float round trip and exact Fractions",
        {"M": M, "delta_diag": 0.2, "lam": lam, "lam_exact": str(exact), "round_trip": back},
        "|round trip - 0.2| <= 1e-15; exact value 64/315", _status(ok))


def _check_closure() -> Check:
    rng = _rng()
    worst = 0.0
    for M, N in ((2, 2), (5, 3), (7, 4), (64, 3)):
        for lam in _random_lams(rng, M, N, 5):
            mats = symmetric_matrix(lam, M)
            prod = mats[0]
            for m in mats[1:]:
                prod = prod @ m
            worst = max(worst, float(np.abs(prod - symmetric_matrix([np.prod(lam)], M)[0]).max()))
    lam_q = [Fraction(1, 3), Fraction(-1, 7), Fraction(2, 5)]
    mats = symmetric_matrix(lam_q, 8)
    exact_prod = mats[0] @ mats[1] @ mats[2]
    exact_ok = bool(np.all(exact_prod == symmetric_matrix([lam_q[0] * lam_q[1] * lam_q[2]],
                                                          8)[0]))
    return Check(
        "closure", "Model fact (symmetric family)",
        "A product of family matrices is a family matrix: P(lam_1) ... P(lam_N) = "
        "P(lam_1 ... lam_N).",
        "explicit M x M products of random members (M in {2, 5, 7, 64}, N up to 4) against "
        "P(prod lam); one exact product in Fractions",
        {"max_abs_entry_error": worst, "exact_fraction_product_equal": exact_ok},
        "max |entry error| <= 1e-13 (float); exact equality (Fractions)",
        _status(worst <= 1e-13 and exact_ok))


def _check_expected_return() -> Check:
    rng = _rng()
    worst = 0.0
    for M, N in ((3, 2), (6, 3), (64, 3), (10, 5)):
        for lam in _random_lams(rng, M, N, 5):
            J_dense = expected_return(symmetric_matrix(lam, M))
            worst = max(worst, abs(J_dense - (1 + (M - 1) * np.prod(lam)) / M))
    lam_q = [Fraction(1, 5)] * 3
    J_q = expected_return(symmetric_matrix(lam_q, 8))
    ok_q = J_q == (1 + 7 * Fraction(1, 125)) / 8
    return Check(
        "expected_return", "Model fact (symmetric family)",
        "J(P) = (1 + (M-1) Lam) / M with Lam = prod_n lam_n.",
        "dense engine's expected_return (forward products) against the formula on random "
        "members; exact Fractions for lam = 1/5, M = 8, N = 3",
        {"max_abs_error": worst, "J_exact_lam_1_5_M8": str(J_q), "exact_equal": ok_q},
        "max |error| <= 1e-14; exact equality", _status(worst <= 1e-14 and ok_q))


def _check_star_update() -> Check:
    rng = _rng()
    worst = 0.0
    for M, N in ((2, 2), (4, 3), (9, 4), (64, 3)):
        for lam in _random_lams(rng, M, N, 5):
            dense = star_step(symmetric_matrix(lam, M))
            closed = symmetric_matrix(symmetric_star_step(lam, M), M)
            worst = max(worst, float(np.abs(dense - closed).max()))
    lam_q = [Fraction(1, 4), Fraction(1, 3), Fraction(-1, 9)]
    dense_q = star_step(symmetric_matrix(lam_q, 10))
    exact = iterate_symmetric_exact(lam_q, 10, 1).lam[1]
    ok_q = bool(np.all(dense_q == symmetric_matrix(list(exact), 10)))
    return Check(
        "star_update", "Model fact (exact STaR step of the family)",
        "One exact STaR step keeps the family and maps lam_n to "
        "(lam_n + Lam_-n + (M-2) Lam) / (1 + (M-1) Lam).",
        "general dense engine (forward/backward products, no family assumption) against the "
        "closed form on random members; exact Fractions for one start",
        {"max_abs_entry_error": worst, "exact_fraction_equal": ok_q},
        "max |entry error| <= 1e-12; exact equality", _status(worst <= 1e-12 and ok_q))


def _others(lam: np.ndarray) -> np.ndarray:
    return np.array([np.prod(np.delete(lam, n)) for n in range(len(lam))])


def _check_improvement() -> Check:
    rng = _rng()
    worst_imp = worst_err = 0.0
    min_gain = np.inf
    for M, N in ((3, 2), (8, 3), (64, 3), (16, 5)):
        for lam in _random_lams(rng, M, N, 20, lo=0.0):
            new = symmetric_star_step(lam, M)
            L, Lo = np.prod(lam), _others(lam)
            denom = 1 + (M - 1) * L
            gain = Lo * (1 - lam) * (1 + (M - 1) * lam) / denom
            worst_imp = max(worst_imp, float(np.abs((new - lam) - gain).max()))
            worst_err = max(worst_err,
                            float(np.abs((1 - new) - (1 - lam) * (1 - Lo) / denom).max()))
            min_gain = min(min_gain, float((new - lam).min()))
    imp = Check(
        "improvement", "Policy improvement (paper contribution 2)",
        "lam'_n - lam_n = Lam_-n (1 - lam_n)(1 + (M-1) lam_n) / (1 + (M-1) Lam) >= 0 when "
        "every lam_k >= 0: each STaR step improves every step of the policy.",
        "closed-form step on random non-negative starts against the improvement formula",
        {"max_abs_error": worst_imp, "min_gain": min_gain},
        "max |error| <= 1e-12 and min gain >= 0",
        _status(worst_imp <= 1e-12 and min_gain >= 0))
    err = Check(
        "error_contraction", "Convergence rate (model fact behind contribution 3)",
        "1 - lam'_n = (1 - lam_n)(1 - Lam_-n) / (1 + (M-1) Lam): the error contracts, "
        "quadratically near lam = 1.",
        "closed-form step on random non-negative starts against the contraction formula",
        {"max_abs_error": worst_err}, "max |error| <= 1e-12", _status(worst_err <= 1e-12))
    return imp, err


def _check_convergence() -> Check:
    rng = _rng()
    bad_err = bad_J = not_conv = 0
    count = 0
    for M, N in ((4, 2), (8, 3), (64, 3), (16, 4)):
        lam0 = rng.uniform(0.05, 1.0, size=(50, N))
        run = iterate_symmetric(lam0, M, 120)
        d_err = np.diff(run.err, axis=0)
        bad_err += int(np.sum(~((d_err < 0) | (run.err[:-1] == 0))))
        d_gap = np.diff(run.one_minus_J, axis=0)
        bad_J += int(np.sum(~((d_gap < 0) | (run.one_minus_J[:-1] == 0))))
        not_conv += int(np.sum(run.one_minus_J[-1] > 1e-12))
        count += len(lam0)
    return Check(
        "convergence_all_positive", "Convergence to the optimal policy (contribution 3) and "
        "pre-trained criterion 'all steps positive' (contribution 1)",
        "If every lam_0,n > 0, every lam_t,n increases strictly, J(P_t+1) > J(P_t), and "
        "P_t,n -> I_M (J -> 1).",
        f"{count} random all-positive starts (M in {{4, 8, 64, 16}}, N in {{2, 3, 4}}), 120 "
        "iterations of the closed form: count violations of strict decrease of 1 - lam and "
        "of 1 - J (until they reach 0), and starts with 1 - J_120 > 1e-12",
        {"starts": count, "lam_not_increasing": bad_err, "J_not_increasing": bad_J,
         "not_converged": not_conv},
        "zero violations", _status(bad_err == 0 and bad_J == 0 and not_conv == 0))


def _check_one_zero() -> Check:
    M = 8
    lam0 = [0.3, 0.0, 0.25]
    run = iterate_symmetric(lam0, M, 20)
    lam = run.lam
    moved_first = lam[1, 1] > 0 and lam[1, 0] == lam[0, 0] and lam[1, 2] == lam[0, 2]
    then_all = bool(np.all(lam[2] > lam[1]))
    conv = run.one_minus_J[-1] <= 1e-12
    kind = classify_start(lam0, M).kind.value
    return Check(
        "one_zero_delay", "Pre-trained criteria (contribution 1): one step at zero",
        "Exactly one step at lam = 0 (others > 0): that step moves first, the others wait "
        "one iteration, then all converge.",
        f"closed form from lam_0 = {tuple(lam0)}, M = {M}: lam_1 against lam_0 exactly",
        {"lam_0": lam[0], "lam_1": lam[1], "lam_2": lam[2], "one_minus_J_20": run.one_minus_J[-1],
         "class": kind},
        "others exactly unchanged at t = 1; all strictly larger at t = 2; 1 - J_20 <= 1e-12",
        _status(moved_first and then_all and conv and kind == "one_zero"))


def _check_freeze() -> Check:
    starts = [([0.3, 0.0, 0.0], 8), ([0.0, 0.0], 64), ([0.0, 0.5, 0.0, 0.9], 5)]
    changed = zeros_moved = 0
    J_dev = 0.0
    dense_dev = 0.0
    for lam0, M in starts:
        run = iterate_symmetric(lam0, M, 30)
        changed += int(np.sum(run.lam != run.lam[0]))
        J_dev = max(J_dev, float(np.abs(run.J - 1 / M).max()))
        cold = iterate_symmetric(lam0, M, 30, temperature=0.5)
        zero = np.asarray(lam0) == 0
        zeros_moved += int(np.sum(cold.lam[:, zero] != 0))
        J_dev = max(J_dev, float(np.abs(cold.J - 1 / M).max()))
        P = symmetric_matrix(lam0, M)
        dense_dev = max(dense_dev, float(np.abs(star_step(P) - P).max()))
    return Check(
        "two_zeros_freeze", "Pre-trained criteria (contribution 1): two or more steps at zero",
        "Two or more steps at lam = 0: a fixed point; nothing ever changes and J stays 1/M.",
        "30 iterations of the closed form from three starts at temperature 1 (no entry may "
        "change) and at temperature 0.5 (the zero steps stay at 0 and J at 1/M; the positive "
        "steps are sharpened by the tempered sampler, so they do move); one dense-engine step "
        "on the explicit matrices",
        {"starts": [s[0] for s in starts], "entries_changed_tau1": changed,
         "zero_steps_moved_tau0.5": zeros_moved, "max_abs_J_minus_1_over_M": J_dev,
         "dense_step_max_change": dense_dev},
        "no entry changes at tau = 1; zero steps stay 0 at tau = 0.5; |J - 1/M| <= 1e-15; "
        "dense step changes <= 1e-15",
        _status(changed == 0 and zeros_moved == 0 and J_dev <= 1e-15 and dense_dev <= 1e-15))


def _check_negative() -> Check:
    M = 8
    lam0 = np.array([0.3, 0.25, -0.1])
    run = iterate_symmetric(lam0, M, 40)
    degraded = bool(run.lam[1, 0] < lam0[0] and run.lam[1, 1] < lam0[1])
    recovered = run.one_minus_J[-1] <= 1e-12
    corner = iterate_symmetric([-0.2, -0.25], 4, 300)
    corner_J = float(corner.J[-1])
    corner_ok = abs(corner_J - 1 / 3) <= 1e-9
    kind = classify_start(lam0, M).kind.value
    return Check(
        "negative_start", "Pre-trained criteria (contribution 1): negative steps",
        "Negative lam's carry no guarantee: they can make the other steps degrade.",
        "closed form from lam_0 = (0.3, 0.25, -0.1), M = 8: steps 1-2 at t = 1 against t = 0; "
        "beyond the paper: from (-0.2, -0.25), M = 4, RL-STaR runs to the all-wrong corner "
        "lam = -1/(M-1) with J = 1/(M-1) = 1/3",
        {"lam_0": lam0, "lam_1": run.lam[1], "class": kind, "one_minus_J_40": run.one_minus_J[-1],
         "J_limit_negative_quadrant_M4": corner_J},
        "steps 1 and 2 strictly smaller at t = 1; this start still converges (1 - J_40 <= "
        "1e-12); |J_limit - 1/3| <= 1e-9",
        _status(degraded and recovered and kind == "has_negative" and corner_ok))


def _check_robustness(data: fig_robust.RobustnessData | None) -> Check:
    data = data if data is not None else fig_robust.compute()
    some_wrong = data.some_wrong
    chain_dev = float(np.max(np.abs(some_wrong - data.some_wrong_core)))
    rng = _rng()
    worst_dense = 0.0
    for M, N in ((4, 2), (6, 3), (64, 3)):
        for lam in _random_lams(rng, M, N, 3, lo=0.0):
            run = iterate_symmetric(lam, M, 0)
            rob = robustness(symmetric_matrix(lam, M))
            worst_dense = max(worst_dense,
                              float(abs(run.p_all_correct_given_success[0]
                                        - rob.p_all_correct_given_success)),
                              float(np.abs(run.p_step_wrong_given_success[0]
                                           - rob.p_step_wrong_given_success).max()))
    start_wrong = float(some_wrong[0, 0])
    end_wrong = float(some_wrong[:, -1].max())
    end_step = float(data.step_wrong[:, -1].max())
    ok = (start_wrong > 0.5 and end_wrong < 1e-6 and end_step < 1e-6 and chain_dev <= 1e-14
          and worst_dense <= 1e-12 and bool(np.all(np.diff(some_wrong, axis=1) < 0)))
    return Check(
        "robustness", "Robustness to wrong intermediate steps (contribution 4)",
        "Pr(all steps correct | success) = prod_n p_n / J and Pr(step n wrong | success) = "
        "1 - p'_n; both tend to the ideal (1 and 0) although D_t contains wrong steps.",
        "closed form, M = 64, N = 3, starts (0.2,0.2,0.2), (0.1,0.1,0.1), (0.3,0.1,0.2); "
        "Pr(some wrong | success) by a cancellation-free 3-state chain, compared with the "
        "core's 1 - Pr(all correct | success) (which cancels below ~1e-16); dense engine's "
        "robustness() "
        "against the closed form on random members",
        {"Pr_some_wrong_t0_lam0.2": start_wrong, "Pr_some_wrong_last_max": end_wrong,
         "Pr_step_wrong_last_max": end_step, "chain_vs_core_max_abs": chain_dev,
         "dense_vs_closed_max_abs": worst_dense, "t_last": int(data.t[-1])},
        "D_0 has Pr(some wrong | success) > 0.5; strictly decreasing; < 1e-6 at t = 5; "
        "|chain - core| <= 1e-14; dense vs closed <= 1e-12", _status(ok))


def _check_authors(data: fig_authors.AuthorsData | None) -> Check:
    data = data if data is not None else fig_authors.compute()
    i02 = int(np.flatnonzero((np.array(data.start_convention) == "lam")
                             & (data.start_value == 0.2))[0])
    i01 = int(np.flatnonzero((np.array(data.start_convention) == "lam")
                             & (data.start_value == 0.1))[0])
    published = np.array(fig_authors.PUBLISHED_J_LAM02)
    computed = data.J[i02, : len(published)]
    dev_pub = float(np.abs(computed - published).max())
    dev_script = float(np.abs(data.J - data.J_theory_script).max())
    dev_script_lam = float(np.abs(data.lam - data.lam_theory_script).max())
    exact = iterate_symmetric_exact([Fraction(1, 5)] * 3, 64, 4)
    exact_J0 = exact.J[0]
    dev_exact = float(max(abs(float(j) - c) for j, c in zip(exact.J, data.J[i02, :5],
                                                            strict=True)))
    dense = iterate_dense(symmetric_matrix([0.2] * 3, 64), 5)
    dev_dense = float(np.abs(dense.J - data.J[i02, :6]).max())
    ok = (dev_pub <= fig_authors.PUBLISHED_TOLERANCE and dev_script <= 1e-12
          and dev_script_lam <= 1e-12 and exact_J0 == Fraction(47, 2000) and dev_exact <= 1e-12
          and dev_dense <= 1e-12)
    return Check(
        "authors_curves", "The authors' published curves (theory script, N = 3, M = 64)",
        "lam_0 = 0.2 (theory script's delta = mixing weight) gives J = 0.023500, 0.130984, "
        "0.869432, 0.999777, 1.000000 for t = 0..4; lam_0 = 0.1 follows the same recurrence "
        "lam' = ((M-2) lam^3 + lam^2 + lam) / ((M-1) lam^3 + 1).",
        "package closed form against the published values; against an independent "
        "implementation of the theory script's recurrence and J formula (lam_0 = 0.2 and 0.1, "
        "and delta_diag_0 = 0.2 and 0.1, t = 0..9); exact Fractions; the dense engine",
        {"published_J": published, "computed_J": computed, "max_abs_vs_published": dev_pub,
         "J_lam0_0.1": data.J[i01], "lam_lam0_0.1": data.lam[i01],
         "max_abs_vs_theory_script_J": dev_script, "max_abs_vs_theory_script_lam": dev_script_lam,
         "exact_J0": str(exact_J0), "max_abs_exact_vs_float": dev_exact,
         "max_abs_dense_vs_closed": dev_dense},
        f"|computed - published| <= {fig_authors.PUBLISHED_TOLERANCE:g} (six published "
        "decimals); theory script, exact and dense agreement <= 1e-12", _status(ok))


def _check_rate(data: fig_rate.RateData | None) -> Check:
    data = data if data is not None else fig_rate.compute()
    target = (data.N - 1) / data.M
    q = data.quadratic_constant
    last = [row[np.isfinite(row)][-1] for row in q]
    rel = float(max(abs(v - target) / target for v in last))
    slow = float(data.err[:, 1].min() / data.err[:, 0].max())
    return Check(
        "quadratic_rate", "Convergence rate (beyond the paper's statement)",
        "Near lam = 1 with equal steps, 1 - lam' ~ (N-1)(1 - lam)^2 / M (quadratic); far from "
        "1 the error barely moves (slow phase).",
        f"closed form, M = {data.M}, N = {data.N}, lam_0 in {_values_text(data.lam0)}: last "
        "finite "
        "err_t+1 / err_t^2 against (N-1)/M",
        {"target": target, "last_ratio": last, "max_rel_dev": rel,
         "first_step_error_ratio_min": slow},
        "relative deviation <= 1e-3", _status(rel <= 1e-3))


def _finite_panel_numbers(p: fig_finite.FiniteSamplePanel) -> tuple[dict, bool]:
    """The finite-sample checks of one panel of figure (f); see :func:`_check_finite`."""
    z_max = fig_finite.Z_BOUND
    T = len(p.t) - 1
    # (1) at every K and t: the seeds' mean sampled success rate against the mean exact J of
    # the policies sampled from, in units of the binomial sampling error derived from K
    gap = p.success_rate.mean(axis=1) - p.J_runs[:, :, :T].mean(axis=1)
    rate_z = np.abs(gap) / np.maximum(p.rate_sigma, 1e-300)
    rate_ok = bool(np.all((np.abs(gap) <= z_max * p.rate_sigma) | (np.abs(gap) <= 1e-12)))
    # (2) the seed mean approaches the exact curve as K grows: the largest deviation over t does
    # not grow from one K to the next beyond sampling noise, and shrinks from the smallest K to
    # the largest by more than the noise
    dev = np.abs(p.J_mean - p.J_exact)
    worst_t = dev.argmax(axis=1)
    worst = dev[np.arange(len(p.K)), worst_t]
    noise = p.J_sem[np.arange(len(p.K)), worst_t]
    steps_ok = all(worst[a + 1] <= worst[a] + z_max * np.hypot(noise[a], noise[a + 1])
                   for a in range(len(p.K) - 1))
    shrinks = bool(worst[-1] + z_max * np.hypot(noise[0], noise[-1]) < worst[0])
    numbers = {
        "M": p.M, "K": [int(k) for k in p.K], "seeds": len(p.seeds),
        "max_z_success_rate": float(rate_z.max()),
        "max_abs_mean_minus_exact": worst.tolist(),
        "standard_error_there": noise.tolist(),
    }
    return numbers, bool(rate_ok and steps_ok and shrinks)


def _check_finite(data: fig_finite.FiniteSampleData | None, quick: bool) -> Check:
    if data is None:
        data = fig_finite.compute(quick=quick)
    rows, ok = [], True
    for p in data.panels:
        numbers, within = _finite_panel_numbers(p)
        rows.append({**numbers, "pass": within})
        ok &= within
    z = f"{fig_finite.Z_BOUND:g}"
    return Check(
        "finite_sample", "Exact STaR as the K -> infinity limit (beyond the paper)",
        "With K sampled trajectories per question the sampler observes success at the rate J of "
        "the policy it samples from, and the mean over seeds of J approaches the exact curve "
        "as K grows.",
        "finite-sample RL-STaR over seeds at every K of figure (f): (1) at every K and t, the "
        "seeds' mean sampled success rate against their mean exact J, in units of the binomial "
        "sampling error sigma = sqrt(sum_s J_s (1 - J_s) / (M K)) / S derived from K; (2) the "
        "largest deviation over t of the seed mean of J from the exact curve, from each K to "
        "the next and from the smallest K to the largest, in units of the standard error of "
        "the seed mean (std / sqrt(S)). The deviation at a given K is not checked against a "
        "fixed bound: refitting from finitely many kept trajectories biases J by O(1/K), and "
        "near the steep rise of J a small shift in timing is a large gap",
        {"settings": rows},
        f"(1) |z| <= {z} at every K and t; (2) the deviation grows by at most {z} standard "
        f"errors from one K to the next and shrinks by more than {z} standard errors from the "
        "smallest K to the largest",
        _status(ok))


def _check_temperature() -> Check:
    """What holds at which sampling temperature, over a grid of tau on both sides of 1."""
    taus = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)
    lam = np.linspace(-1 / 7, 1.0, 41)
    flips = sum(int(np.sum(np.sign(temper_lam(lam, 8, tau)) != np.sign(lam))) for tau in taus)
    # tau <= 1: all-positive (8 x 8 grid, M = 8, N = 2) and one-zero starts converge with J
    # strictly increasing; at every tau two zero steps keep J = 1/M
    grid = np.stack(np.meshgrid(np.linspace(0.05, 1, 8), np.linspace(0.05, 1, 8)),
                    axis=-1).reshape(-1, 2)
    starts = np.concatenate([grid, [[0.0, 0.3], [0.6, 0.0]]])
    cold_violations = 0
    for tau in (t for t in taus if t <= 1):
        run = iterate_symmetric(starts, 8, 100, temperature=tau)
        gap = run.one_minus_J
        cold_violations += int(np.sum(~((gap[1:] < gap[:-1]) | (gap[:-1] == 0))))
        cold_violations += int(np.sum(gap[-1] > 0.01))
    frozen_moved = sum(int(np.any(iterate_symmetric([0.7, 0.0, 0.0], 8, 30,
                                                    temperature=tau).J != 1 / 8)) for tau in taus)
    # tau > 1: measured share of equal all-positive starts reaching J >= 0.99 (M = 64, N = 3)
    lam0 = np.linspace(0.05, 0.95, 19)
    equal = np.repeat(lam0[:, None], 3, axis=1)
    reached = {f"tau={tau:g}": int(np.sum(iterations_to_reach(equal, 64, 0.01, 300,
                                                               temperature=tau) >= 0))
               for tau in taus}
    hot_failures = sum(len(lam0) - reached[f"tau={tau:g}"] for tau in taus if tau > 1)
    example = {f"N={N}": float(iterate_symmetric([0.8] * N, 64, 60, temperature=1.5).J[-1])
               for N in (3, 4)}
    # near lam = 1 one tempered step maps err to about (N-1) M^(1-2/tau) err^(2/tau)
    local = {}
    for tau in (1.25, 1.5, 2.0, 3.0):
        err1 = float(iterate_symmetric([1 - 1e-8] * 3, 8, 1, temperature=tau).err[1, 0])
        local[f"tau={tau:g}"] = err1 / (2 * 8 ** (1 - 2 / tau) * 1e-8 ** (2 / tau)) - 1
    local_ok = all(abs(v) <= 1e-2 for v in local.values())
    return Check(
        "temperature", "Sampling temperature (the paper's theorems sample at tau = 1; its "
        "experiment at tau = 0.5)",
        "Tempering keeps every lam's sign at any temperature. For tau <= 1 it never lowers a "
        "positive weight, so the criteria hold: all-positive and one-zero starts converge with "
        "J increasing strictly, and two zero steps keep J = 1/M. For tau > 1 only the last "
        "holds: tempering flattens positive weights and all-positive starts can fall to "
        "J = 1/M (at M = 64, tau = 1.5, lam_0 = 0.8 converges for N = 3 and falls for N = 4). "
        "Near lam = 1 one step maps err = 1 - lam to about (N-1) M^(1-2/tau) err^(2/tau) "
        "(N >= 2): starts close to the optimum still converge for tau < 2 and move away for "
        "tau > 2.",
        f"tau in {{{', '.join(f'{t:g}' for t in taus)}}}: temper_lam on 41 lam values (M = 8); "
        "100 closed-form iterations of an 8 x 8 grid of positive starts and two one-zero "
        "starts (M = 8, N = 2) at tau <= 1; a frozen start (M = 8, N = 3) for 30 iterations at "
        "every tau; iterations to J >= 0.99 (at most 300) for 19 equal starts lam_0 in "
        "[0.05, 0.95] (M = 64, N = 3) at every tau; one step from err = 1e-8 (M = 8, N = 3) "
        "against the local formula",
        {"sign_flips": flips, "violations_tau_le_1": cold_violations,
         "frozen_starts_moved": frozen_moved, "starts_reaching_0.99_of_19": reached,
         "J_60_tau1.5_lam0.8_M64": example, "local_formula_relative_error": local},
        "no sign flips; at tau <= 1 no step where 1 - J fails to decrease strictly (before it "
        "reaches 0) and every start within 0.01 of J = 1 after 100 iterations; the frozen "
        "start keeps J = 1/M at every tau; at least one all-positive start misses J >= 0.99 at "
        "some tau > 1; the local formula within 1%",
        _status(flips == 0 and cold_violations == 0 and frozen_moved == 0 and hot_failures > 0
                and example["N=4"] < 1 / 64 + 1e-9 and example["N=3"] > 0.99 and local_ok))


def numeric_checks(figure_data: dict[str, Any] | None = None,
                   quick: bool = False) -> list[Check]:
    """Run every numeric check now.

    Parameters
    ----------
    figure_data : dict, optional
        Figure key -> data already computed by :func:`rlstar_theory.figures.make_figure`
        (``"a"``, ``"c"``, ``"e"``, ``"f"`` are reused; missing ones are computed).
    quick : bool
        Reduced finite-sample runs when figure (f) is not given.

    Returns
    -------
    list of Check
        Without proofs and tests attached (see :func:`build_report`).
    """
    fd = figure_data or {}
    imp, err = _check_improvement()
    return [
        _check_conventions(),
        _check_closure(),
        _check_expected_return(),
        _check_star_update(),
        imp,
        err,
        _check_convergence(),
        _check_one_zero(),
        _check_freeze(),
        _check_negative(),
        _check_robustness(fd.get("c")),
        _check_authors(fd.get("a")),
        _check_rate(fd.get("e")),
        _check_finite(fd.get("f"), quick),
        _check_temperature(),
    ]


def run_proofs(max_n: int = 5) -> ProofSummary:
    """Run :func:`rlstar_theory.proofs.registry.all_proofs` defensively.

    Returns
    -------
    ProofSummary
        ``available=False`` (with a note) when the registry cannot be imported; a registry
        that raises is reported as unavailable too, never as a crash.
    """
    start = time.perf_counter()
    try:
        from rlstar_theory.proofs import registry
    except ImportError as exc:
        return ProofSummary(False, None, note=f"proofs registry not importable: {exc}")
    runner: Callable | None = getattr(registry, "all_proofs", None) or getattr(
        registry, "run_all", None)
    if runner is None:
        return ProofSummary(False, None, note="registry has neither all_proofs nor run_all")
    try:
        results = runner(max_n=max_n)
    except Exception as exc:  # the report must still be written
        return ProofSummary(False, max_n, note=f"registry raised {type(exc).__name__}: {exc}",
                            seconds=time.perf_counter() - start)
    dicts = tuple(r.to_dict() if hasattr(r, "to_dict") else asdict(r) for r in results)
    return ProofSummary(True, max_n, dicts, time.perf_counter() - start)


def _attach(check: Check, proofs: ProofSummary) -> Check:
    by_key = {r["key"]: r for r in proofs.results}
    covering = tuple(by_key[k] for k in PROOF_KEYS.get(check.key, ()) if k in by_key)
    tests = TEST_MODULES.get(check.key, ())
    proof_ok = all(p.get("status") == "proved" for p in covering)
    status = _status(check.numeric_status == PASS and proof_ok)
    return Check(check.key, check.paper_item, check.claim, check.how, check.numbers,
                 check.tolerance, check.numeric_status, covering, tests, status)


def build_report(figure_data: dict[str, Any] | None = None, quick: bool = False,
                 proofs: ProofSummary | None = None, proofs_max_n: int = 5,
                 figures: Sequence[dict] = (), claims: Sequence = ()) -> Report:
    """Run the numeric checks, attach proofs and test-module names, return the :class:`Report`.

    Parameters
    ----------
    figure_data : dict, optional
        Figure key -> data, reused by the checks.
    quick : bool
    proofs : ProofSummary, optional
        Already-run proofs; when ``None`` they are run here with ``proofs_max_n``.
    proofs_max_n : int
    figures : sequence of dict
        Figure records to list in the report.
    claims : sequence of ClaimResult
        Measured claims (:func:`rlstar_theory.claims.evaluate_claims`) for the claims section.
    """
    start = time.perf_counter()
    if proofs is None:
        proofs = run_proofs(proofs_max_n)
    checks = tuple(_attach(c, proofs) for c in numeric_checks(figure_data, quick))
    return Report(checks, proofs, tuple(figures), quick, time.perf_counter() - start,
                  tuple(claims))


def _claims_markdown(claims: Sequence) -> list[str]:
    """The claims section: a verdict table, then one subsection per claim."""
    lines = ["## Claims from the field, measured on the exact model", "",
             "Each claim is registered once in `rlstar_theory.claims` with its citation; the "
             "numbers below were measured now, and each verdict follows from them by the rule "
             "stated in its reason. A claim that fails in this model is a finding about the "
             "model, not a failed check.", "",
             "| claim | source | verdict |", "|---|---|---|"]
    for c in claims:
        lines.append(f"| `{c.key}` | {c.source} | **{c.verdict}** |")
    lines.append("")
    for c in claims:
        lines += [f"### `{c.key}`: {c.source}", "", f"**Claim.** {c.statement}", "",
                  f"**Setting.** {c.setting}", ""]
        for k, v in c.numbers.items():
            lines.append(f"- `{k}` = {_fmt(v)}")
        lines += ["", f"**Verdict: {c.verdict}.** {c.reason}", ""]
        if c.figure:
            lines += [f"Figure: `{c.figure}`", ""]
    return lines


# --------------------------------------------------------------------------------------------
# rendering


def _fmt(value: Any) -> str:
    value = to_jsonable(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        if len(value) > 12:
            return "[" + ", ".join(_fmt(v) for v in value[:12]) + ", …]"
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


def report_markdown(report: Report) -> str:
    """The report as Markdown (what it runs, summary table, one section per check, proofs,
    figures). No timings, dates or machine details: the same numbers give the same text."""
    lines = ["# RL-STaR reproduction report", ""]
    status = "PASS" if report.ok else "FAIL: " + ", ".join(report.failed)
    lines += [f"**Overall status: {status}**"
              + ("  (quick mode: reduced grids)" if report.quick else ""), ""]
    pr = report.proofs
    proofs_run = (f"the sympy proofs of `rlstar_theory.proofs` (`rlstar prove`) up to "
                  f"N = {pr.max_n}" if pr.available else f"no symbolic proofs ({pr.note})")
    lines += ["**What this report runs.** `rlstar reproduce` ran, just now, the numeric check "
              f"of every claim below (each with its tolerance) and {proofs_run}. It does not "
              "run the test suite: the test modules named under each claim cover it and are "
              "run by `pytest`. The \"checked by\" column lists what this report ran.", ""]
    lines += ["Conventions: `lam` is the mixing weight of P(lam) = lam·I + (1−lam)/M·11ᵀ (the "
              "authors' theory script's δ); `delta_diag = (M−1)·lam/M` is the diagonal excess "
              "(their data generator's δ). Numbers below say which one they are.", ""]
    lines += ["| check | paper | checked by | status |", "|---|---|---|---|"]
    for c in report.checks:
        lines.append(f"| `{c.key}` | {c.paper_item} | {', '.join(c.methods)} | "
                     f"{c.status.upper()} |")
    lines.append("")
    for c in report.checks:
        lines += [f"## `{c.key}`: {c.paper_item}", "", f"**Claim.** {c.claim}", "",
                  f"**Numeric check (run now).** {c.how}. Tolerance: {c.tolerance}. "
                  f"Result: **{c.numeric_status.upper()}**.", ""]
        for k, v in c.numbers.items():
            lines.append(f"- `{k}` = {_fmt(v)}")
        lines.append("")
        if c.proofs:
            lines.append("**Symbolic proofs** (`rlstar_theory.proofs`, run now):")
            for p in c.proofs:
                lines.append(f"- `{p['key']}`: {p['status']} — {p['claim']}")
            lines.append("")
        if c.tests:
            lines.append("**Test modules** (run by `pytest`, not by this report): "
                         + ", ".join(f"`{t}`" for t in c.tests))
            lines.append("")
        lines += [f"Status: **{c.status.upper()}**", ""]
    lines += ["## Symbolic proofs", ""]
    if not pr.available:
        lines += [f"Not run: {pr.note}", ""]
    else:
        lines += [f"`rlstar_theory.proofs.registry.all_proofs(max_n={pr.max_n})`.", "",
                  "| proof | status | N checked | claim |", "|---|---|---|---|"]
        for r in pr.results:
            nv = r.get("n_values")
            nv = "—" if not nv else ", ".join(str(n) for n in nv)
            claim = str(r.get("claim", "")).replace("|", "\\|")
            lines.append(f"| `{r['key']}` | {r['status']} | {nv} | {claim} |")
        lines.append("")
    if report.claims:
        lines += _claims_markdown(report.claims)
    if report.figures:
        lines += ["## Figures", "", "Each figure is written as PNG and PDF with its raw numbers "
                  "(JSON, and CSV for small tables) beside it.", ""]
        for f in report.figures:
            names = ", ".join(f"`{Path(p).name}`" for p in f["files"])
            lines.append(f"- ({f['key']}) {f['title']}: {names}")
        lines.append("")
    lines += ["Wall times are in `timings.json`; the package versions, git commit and CPU that "
              "produced these numbers are in `provenance.json` (both written beside this "
              "report, neither committed)."]
    return "\n".join(lines) + "\n"


def write_report(report: Report, out_dir: str | Path) -> ReportFiles:
    """Write ``report.md``, ``report.json``, ``timings.json`` and ``provenance.json``.

    ``report.md`` and ``report.json`` hold no timings, dates, machine or commit, and round
    floats to :data:`~rlstar_theory.figures.io.COMMITTED_DIGITS` significant digits, so the same
    numbers give the same bytes; ``timings.json`` (:meth:`Report.timings`) and
    ``provenance.json`` (:func:`rlstar_theory.provenance.provenance`) hold what changes from
    run to run. Every file is written atomically.

    Parameters
    ----------
    report : Report
    out_dir : str or Path
        Destination folder (created if needed).

    Returns
    -------
    ReportFiles
    """
    out = Path(out_dir)
    md = write_bytes_atomic(out / "report.md", report_markdown(report).encode("utf-8"))
    js = save_json(report.to_dict(), out / "report.json", indent=1,
                   significant_digits=COMMITTED_DIGITS)
    timings = save_json(report.timings(), out / "timings.json", indent=1)
    prov = save_json(provenance(), out / "provenance.json", indent=1)
    return ReportFiles(md, js, timings, prov)
