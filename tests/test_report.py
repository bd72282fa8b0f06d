"""The report module: what it names, what it reads, and that its finite-sample check can fail."""

from __future__ import annotations

import pathlib
from pathlib import Path

import numpy as np
import pytest

import rlstar_theory.report as report_mod
from rlstar_theory.figures import finite_sample as fs
from rlstar_theory.report import (
    TEST_MODULES,
    Check,
    ProofSummary,
    build_report,
    report_markdown,
    write_report,
)

ROOT = Path(__file__).resolve().parents[1]


def test_named_test_modules_exist_and_hold_tests():
    assert len(TEST_MODULES) >= 15
    for key, modules in TEST_MODULES.items():
        assert modules, key
        for rel in modules:
            path = ROOT / rel
            assert path.is_file(), f"{key}: {rel} does not exist"
            assert "\ndef test_" in path.read_text(encoding="utf-8"), rel


def test_report_never_reads_the_tests_folder(tmp_path, monkeypatch):
    """Building, rendering and writing the report touches nothing under tests/."""
    touched: list[str] = []

    def spy(name):
        real = getattr(pathlib.Path, name)

        def wrapper(self, *args, **kwargs):
            touched.append(str(self))
            return real(self, *args, **kwargs)

        return wrapper

    for name in ("read_text", "read_bytes", "open", "glob", "rglob", "iterdir"):
        monkeypatch.setattr(pathlib.Path, name, spy(name))
    check = Check("closure", "Model fact", "claim", "how", {"x": np.float64(0.3)}, "tol", "pass")
    monkeypatch.setattr(report_mod, "numeric_checks", lambda *a, **k: [check])
    rep = build_report(proofs=ProofSummary(False, None, note="skipped"))
    write_report(rep, tmp_path)
    tests_dir = str(ROOT / "tests")
    assert not [p for p in touched if p.startswith(tests_dir)]
    assert rep.checks[0].tests == TEST_MODULES["closure"]
    assert rep.checks[0].methods == ("numeric",)
    md = report_markdown(rep)
    assert "`x` = 0.3" in md and "np.float64" not in md
    assert "run by `pytest`, not by this report" in md


def test_values_text_is_plain():
    assert report_mod._values_text(np.array([0.3, 0.05])) == "(0.3, 0.05)"


def _panel(dev: np.ndarray, rate_bias: float = 0.0, M: int = 8,
           S: int = 20) -> fs.FiniteSamplePanel:
    """A synthetic panel: exact curve, seed runs spread around ``J_exact + dev[k]``."""
    K = np.array([16, 256, 4096])
    T = dev.shape[1] - 1
    J_exact = np.linspace(0.2, 0.99, T + 1)
    rng = np.random.default_rng(0)
    spread = 1e-3 * rng.standard_normal((len(K), S, T + 1))
    spread[..., 0] = 0.0
    J_runs = J_exact + dev[:, None, :] + spread
    sigma = np.array([fs.success_rate_sigma(J_runs[a, :, :T], int(k), M)
                      for a, k in enumerate(K)])
    # success rates: exactly their mean J plus an optional bias (in units of sigma)
    rate = J_runs[:, :, :T] + rate_bias * sigma[:, None, :]
    return fs.FiniteSamplePanel(
        M=M, N=3, lam0=0.2, t=np.arange(T + 1), J_exact=J_exact, K=K, seeds=np.arange(S),
        J_runs=J_runs, J_mean=J_runs.mean(axis=1), J_std=J_runs.std(axis=1),
        J_p10=J_runs.min(axis=1), J_p90=J_runs.max(axis=1),
        kept_with_wrong_step=np.zeros((len(K), S, T), dtype=int),
        n_kept=np.zeros((len(K), S, T), dtype=int), success_rate=rate,
        J_sem=np.array([fs.mean_standard_error(J_runs[a]) for a in range(len(K))]),
        rate_sigma=sigma)


SHRINKING = np.array([[0, 0.3, 0.2, 0.1], [0, 0.05, 0.04, 0.02], [0, 0.004, 0.003, 0.001]])


def test_finite_sample_check_passes_a_converging_unbiased_panel():
    numbers, ok = report_mod._finite_panel_numbers(_panel(SHRINKING))
    assert ok and numbers["K"] == [16, 256, 4096]
    assert numbers["max_abs_mean_minus_exact"] == pytest.approx([0.3, 0.05, 0.004], abs=1e-3)


def test_finite_sample_check_fails_a_biased_sampler():
    _, ok = report_mod._finite_panel_numbers(_panel(SHRINKING, rate_bias=fs.Z_BOUND + 1))
    assert not ok
    _, ok = report_mod._finite_panel_numbers(_panel(SHRINKING, rate_bias=fs.Z_BOUND - 1))
    assert ok


@pytest.mark.parametrize("dev", [
    SHRINKING[[0, 2, 1]],  # grows from K = 256 to K = 4096
    np.full((3, 4), 0.05),  # the same gap at every K: no improvement
])
def test_finite_sample_check_fails_when_the_gap_does_not_shrink(dev):
    _, ok = report_mod._finite_panel_numbers(_panel(dev))
    assert not ok


def test_success_rate_sigma_is_the_binomial_bound():
    J = np.array([[0.5, 0.1], [0.5, 0.9]])  # two seeds, two iterations
    got = fs.success_rate_sigma(J, K=4, M=2)
    np.testing.assert_allclose(got, np.sqrt([0.5, 0.18] / np.array(8.0)) / 2)
    assert fs.mean_standard_error(J[:1]).tolist() == [0.0, 0.0]
