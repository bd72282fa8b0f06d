"""``rlstar prove``: table, JSON, exit status and option validation."""

from __future__ import annotations

import json

from rlstar_theory.cli import main
from rlstar_theory.proofs import registry
from rlstar_theory.proofs.result import ProofResult


def test_prove_prints_table_and_exits_zero(capsys):
    assert main(["prove", "--max-n", "2", "--only", "closure_pair", "--only", "star_update"]) == 0
    out = capsys.readouterr().out
    assert "closure_pair" in out and "star_update" in out
    assert "method" in out and "proved" in out
    assert "all facts proved" in out


def test_prove_json(capsys):
    assert main(["prove", "--max-n", "2", "--only", "authors_J", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["all_proved"] is True and data["max_n"] == 2
    (proof,) = data["proofs"]
    assert proof["key"] == "authors_J" and proof["status"] == "proved"
    assert {"claim", "method", "detail", "n_values", "seconds"} <= set(proof)


def test_prove_exits_one_when_a_proof_fails(monkeypatch, capsys):
    def wrong(max_n):
        return ProofResult("closure_pair", "c", "m", "failed", "failed: demo", None)

    monkeypatch.setitem(registry.PROOFS, "closure_pair", wrong)
    assert main(["prove", "--only", "closure_pair", "--brief"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_prove_rejects_bad_max_n(capsys):
    assert main(["prove", "--max-n", "9"]) == 2
    err = capsys.readouterr().err
    assert "--max-n" in err and "1..8" in err
    assert main(["prove", "--max-n", "0"]) == 2


def test_prove_rejects_unknown_key(capsys):
    assert main(["prove", "--only", "nope"]) == 2
    assert "unknown proof" in capsys.readouterr().err
