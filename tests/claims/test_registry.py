"""The claims registry: registration, verdict validation, evaluation and the report section."""

import pytest

from rlstar_theory.claims import registry
from rlstar_theory.claims.registry import CONDITIONAL, FAILS, HOLDS, Measurement
from rlstar_theory.report import ProofSummary, Report, report_markdown


def test_measurement_rejects_an_unknown_verdict():
    with pytest.raises(ValueError, match="verdict must be one of"):
        Measurement("s", {}, "maybe", "r")


def test_registration_evaluation_and_report_section(monkeypatch, tmp_path):
    monkeypatch.setattr(registry, "CLAIMS", {})
    monkeypatch.setattr(registry, "_load_all", lambda: None)

    @registry.claim("toy", "Someone et al., arXiv 0000.00000", "x is small")
    def _measure():
        x = 0.25
        verdict = HOLDS if x < 0.5 else FAILS
        return Measurement("toy setting", {"x": x}, verdict, f"x = {x} < 0.5")

    with pytest.raises(ValueError, match="registered twice"):
        registry.claim("toy", "s", "t")(_measure)
    with pytest.raises(ValueError, match="unknown claim"):
        registry.evaluate_claims(["nope"])
    results = registry.evaluate_claims(out_dir=tmp_path)
    assert [r.key for r in results] == ["toy"] and results[0].verdict == HOLDS
    report = Report(checks=(), proofs=ProofSummary(False, None, note="skipped"),
                    claims=tuple(results))
    text = report_markdown(report)
    assert "## Claims from the field" in text and "| `toy` | Someone et al." in text
    assert "**Verdict: holds.** x = 0.25 < 0.5" in text
    assert report.to_dict()["claims"][0]["numbers"] == {"x": 0.25}
    assert report.ok  # verdicts are findings: they never fail the report


def test_the_three_verdicts_are_distinct():
    assert len({HOLDS, FAILS, CONDITIONAL}) == 3
