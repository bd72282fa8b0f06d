"""``rlstar reproduce --quick`` end to end: files written, JSON numbers right, exit codes, and
byte-reproducible outputs (timings and provenance kept apart)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rlstar_theory.cli import main
from rlstar_theory.figures import FIGURES, authors
from rlstar_theory.report import report_markdown, write_report

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce")
    rc = main(["reproduce", "--out", str(out), "--quick", "--no-claims"])
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
    rc = main(["reproduce", "--out", str(tmp_path), "--quick", "--only", "a,e", "--no-proofs",
               "--no-claims"])
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


def test_write_report_on_an_empty_report(tmp_path):
    from rlstar_theory.report import ProofSummary, Report

    rep = Report((), ProofSummary(False, None, note="none"))
    files = write_report(rep, tmp_path)
    assert "Not run: none" in files.markdown.read_text()
    assert json.loads(files.json.read_text())["status"] == "pass"
    assert report_markdown(rep).startswith("# RL-STaR reproduction report")


def _strings(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)
    elif isinstance(obj, str):
        yield obj


def test_report_holds_no_timings_and_says_what_it_runs(quick_run):
    _, out = quick_run
    rep = json.loads((out / "report.json").read_text())
    keys = set(_strings(rep))
    assert "seconds" not in keys and "git_commit" not in keys
    assert "does not run the test suite" in rep["runs"]
    md = (out / "report.md").read_text()
    assert "does not run the test suite" in md and "property test" not in md
    assert "np.float64" not in md and "np.int64" not in md
    assert " s)" not in md and "computed in" not in md  # no wall times
    checks = {c["key"]: c for c in rep["checks"]}
    assert all(set(c["methods"]) <= {"symbolic", "numeric"} for c in checks.values())
    assert all(c["tests"] for c in checks.values())  # the covering test modules are named


def test_timings_and_provenance_beside_the_report(quick_run):
    _, out = quick_run
    timings = json.loads((out / "timings.json").read_text())
    assert set(timings["figures"]) == {s.key for s in FIGURES}
    assert all(v >= 0 for v in timings["figures"].values()) and timings["checks"] >= 0
    prov = json.loads((out / "provenance.json").read_text())
    assert {"packages", "python", "git_commit", "cpu", "platform"} <= set(prov)
    assert prov["packages"]["numpy"] == np.__version__


def test_finite_sample_check_covers_every_K(quick_run):
    _, out = quick_run
    rep = json.loads((out / "report.json").read_text())
    fs = {c["key"]: c for c in rep["checks"]}["finite_sample"]
    data = json.loads((out / "fig_f_finite_sample.json").read_text())["data"]
    for row, panel in zip(fs["numbers"]["settings"], data["panels"], strict=True):
        assert row["K"] == panel["K"]
        assert len(row["max_abs_mean_minus_exact"]) == len(panel["K"])
    assert "+ 2 M / K" not in fs["tolerance"]


@pytest.mark.slow
def test_two_runs_write_the_same_bytes(tmp_path, monkeypatch):
    """Everything but timings.json and provenance.json is byte-identical between runs (a
    subset of the real numeric checks keeps this fast; each check is seeded)."""
    import rlstar_theory.report as report_mod

    def some_checks(figure_data=None, quick=False):
        return [report_mod._check_conventions(), report_mod._check_star_update(),
                report_mod._check_authors((figure_data or {}).get("a"))]

    monkeypatch.setattr(report_mod, "numeric_checks", some_checks)
    runs = [tmp_path / "one", tmp_path / "two"]
    for run in runs:
        assert main(["reproduce", "--out", str(run), "--quick", "--only", "a,d",
                     "--no-proofs", "--no-claims"]) == 0
    names = sorted(p.name for p in runs[0].iterdir())
    assert names == sorted(p.name for p in runs[1].iterdir())
    assert {"timings.json", "provenance.json", "report.md", "report.json"} <= set(names)
    for name in names:
        if name not in ("timings.json", "provenance.json"):
            assert (runs[0] / name).read_bytes() == (runs[1] / name).read_bytes(), name


def test_default_out_is_ignored_by_git_and_committed_folder_stays_clean():
    from rlstar_theory.cli import build_parser

    args = build_parser().parse_args(["reproduce"])
    assert args.out == "runs/reproduce"
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "runs/" in ignored
    assert {"/figures/timings.json", "/figures/provenance.json"} <= set(ignored)
    committed = json.loads((ROOT / "figures" / "report.json").read_text())
    assert "seconds" not in set(_strings(committed))
