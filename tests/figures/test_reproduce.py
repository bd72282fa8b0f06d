"""``rlstar reproduce --quick`` end to end: files written, JSON numbers right, exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rlstar_theory.cli import main
from rlstar_theory.figures import FIGURES, authors
from rlstar_theory.report import find_tests, report_markdown, write_report


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    rc = main(["reproduce", "--out", str(out), "--quick"])
    return rc, out


def test_exit_status_zero(quick_run):
    rc, _ = quick_run
    assert rc == 0


def test_every_figure_file_exists(quick_run):
    _, out = quick_run
    for spec in FIGURES:
        for ext in ("png", "pdf", "json"):
            path = out / f"{spec.stem}.{ext}"
            assert path.is_file() and path.stat().st_size > 500, path
        assert (out / f"{spec.stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / f"{spec.stem}.pdf").read_bytes()[:5] == b"%PDF-"
    assert not list(out.glob(".*.tmp"))


def test_authors_json_has_the_published_curve(quick_run):
    _, out = quick_run
    meta = json.loads((out / "fig_a_authors_setting.json").read_text())
    data = meta["data"]
    assert "theory script" in meta["conventions"]["lam"]
    i = [k for k, (c, v) in enumerate(zip(data["start_convention"], data["start_value"],
                                          strict=True)) if c == "lam" and v == 0.2][0]
    np.testing.assert_allclose(data["J"][i][:5], authors.PUBLISHED_J_LAM02, rtol=0,
                               atol=authors.PUBLISHED_TOLERANCE)
    csv = (out / "fig_a_authors_setting.csv").read_text().splitlines()
    assert csv[0].startswith("start_convention,start_value,lam0,t,lam,delta_diag,J")


def test_criteria_json_freeze_and_phase_json(quick_run):
    _, out = quick_run
    crit = json.loads((out / "fig_b_pretrained_criteria.json").read_text())["data"]
    k = crit["kinds"].index("frozen")
    assert set(crit["J"][k]) == {1 / crit["M"]}
    phase = json.loads((out / "fig_d_phase_diagram.json").read_text())["data"]["panels"][0]
    i, j = phase["lam1"].index(0.0), phase["lam2"].index(0.0)
    assert phase["iterations"][i][j] == -1


def test_report_json_numbers(quick_run):
    _, out = quick_run
    rep = json.loads((out / "report.json").read_text())
    assert rep["status"] == "pass" and rep["failed"] == [] and rep["quick"] is True
    checks = {c["key"]: c for c in rep["checks"]}
    assert {"closure", "expected_return", "star_update", "improvement", "robustness",
            "convergence_all_positive", "one_zero_delay", "two_zeros_freeze",
            "authors_curves", "finite_sample"} <= set(checks)
    auth = checks["authors_curves"]
    assert auth["status"] == "pass" and "numeric" in auth["methods"]
    np.testing.assert_allclose(auth["numbers"]["computed_J"], authors.PUBLISHED_J_LAM02,
                               rtol=0, atol=5e-7)
    assert auth["numbers"]["max_abs_vs_published"] <= 5e-7
    assert checks["two_zeros_freeze"]["numbers"]["entries_changed_tau1"] == 0
    if rep["proofs"]["available"]:
        assert "symbolic" in checks["closure"]["methods"]
        assert all(r["status"] == "proved" for r in rep["proofs"]["results"])
    assert [f["key"] for f in rep["figures"]] == [s.key for s in FIGURES]


def test_report_markdown_lists_every_check(quick_run):
    _, out = quick_run
    md = (out / "report.md").read_text()
    rep = json.loads((out / "report.json").read_text())
    assert "Overall status: PASS" in md
    for c in rep["checks"]:
        assert f"`{c['key']}`" in md
    assert "theory script" in md and "data generator" in md


def test_bad_figure_key_is_exit_2(tmp_path, capsys):
    assert main(["reproduce", "--out", str(tmp_path), "--only", "z"]) == 2
    err = capsys.readouterr().err
    assert "unknown figure" in err and len(err.strip().splitlines()) == 1


def test_out_is_a_file_is_exit_2(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    assert main(["reproduce", "--out", str(target), "--quick"]) == 2


def test_only_no_proofs_and_failed_check_gives_exit_1(tmp_path, monkeypatch, capsys):
    import rlstar_theory.report as report_mod

    real = report_mod.numeric_checks

    def broken(*args, **kwargs):
        checks = real(*args, **kwargs)
        first = checks[0]
        checks[0] = report_mod.Check(first.key, first.paper_item, first.claim, first.how,
                                     first.numbers, first.tolerance, "fail")
        return checks

    monkeypatch.setattr(report_mod, "numeric_checks", broken)
    rc = main(["reproduce", "--out", str(tmp_path), "--quick", "--only", "a,e", "--no-proofs"])
    assert rc == 1
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["status"] == "fail" and rep["failed"] == ["delta_conventions"]
    assert rep["proofs"]["available"] is False
    # --only draws just those figures
    assert (tmp_path / "fig_a_authors_setting.png").is_file()
    assert (tmp_path / "fig_e_convergence_rate.png").is_file()
    assert not (tmp_path / "fig_b_pretrained_criteria.png").exists()
    printed = capsys.readouterr()
    assert "[a]" in printed.out and "[e]" in printed.out
    assert "failed checks: delta_conventions" in printed.err


def test_find_tests_and_write_report(tmp_path):
    found = find_tests(("golden",))
    assert any("test_golden" in f for f in found)
    assert find_tests(()) == ()
    from rlstar_theory.report import ProofSummary, Report

    rep = Report((), ProofSummary(False, None, note="none"))
    md, js = write_report(rep, tmp_path)
    assert "Not run: none" in md.read_text() and json.loads(js.read_text())["status"] == "pass"
    assert report_markdown(rep).startswith("# RL-STaR reproduction report")
