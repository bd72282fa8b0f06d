"""``rlstar compare``: every rule from one P0, exact and sampled, its files and its errors."""

import json

import numpy as np
import pytest

from rlstar_theory.cli import main
from rlstar_theory.mdp import ChainMDP
from rlstar_theory.rules import iterate, make_rule
from rlstar_theory.symmetric import symmetric_matrix


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_exact_json_matches_iterate_and_writes_files(tmp_path, capsys):
    rc = main(["compare", "--rules", "star,grpo", "--M", "4", "--N", "2", "--lambda0", "0.2",
               "--iterations", "3", "--k", "1,8", "--maj-k", "1,4", "--json",
               "--out", str(tmp_path)])
    assert rc == 0
    out = _json(capsys)
    assert out["mode"] == "exact" and set(out["rules"]) == {"star", "grpo"}
    star = out["rules"]["star"]
    assert len(star["J"]) == 4 and set(star["pass_at_k"]) == {"1", "8"}
    assert set(star["maj_at_k"]) == {"1", "4"}
    ref = iterate(make_rule("star", samples_per_question=8, group_size=8),
                  symmetric_matrix([0.2, 0.2], 4), ChainMDP.create(4, 2), 3, pass_ks=(1, 8),
                  maj_ks=(1, 4))
    np.testing.assert_allclose(star["J"], ref.J, rtol=0, atol=1e-15)
    np.testing.assert_allclose(star["pass_at_k"]["8"], ref.train.pass_at_k[8], atol=1e-15)
    assert star["samples"] == [0, 32, 64, 96]  # one group of G = 8 per question per step
    for name in ("compare.png", "compare.pdf", "compare.csv", "compare.md", "compare.json"):
        assert (tmp_path / name).stat().st_size > 0
    assert json.loads((tmp_path / "compare.json").read_text()) == out


def test_sampled_mode_is_seeded_and_independent_of_rule_order(tmp_path, capsys):
    args = ["--M", "4", "--N", "2", "--iterations", "2", "--samples-per-question", "16",
            "--group-size", "4", "--maj-k", "1", "--seed", "3", "--json"]
    main(["compare", "--rules", "star,reinforce", *args, "--out", str(tmp_path / "a")])
    a = _json(capsys)
    main(["compare", "--rules", "reinforce,star", *args, "--out", str(tmp_path / "b")])
    b = _json(capsys)
    assert a["mode"] == "sampled"
    # each rule's stream is spawned from the root seed by position: same order, same numbers
    main(["compare", "--rules", "star,reinforce", *args, "--out", str(tmp_path / "c")])
    assert _json(capsys) == a
    assert a["rules"]["star"]["samples"] == [0, 64, 128]
    assert set(b["rules"]) == set(a["rules"])


def test_train_fraction_reports_test_J(tmp_path, capsys):
    assert main(["compare", "--rules", "star", "--M", "6", "--N", "2", "--iterations", "2",
                 "--train-fraction", "0.5", "--maj-k", "1", "--json",
                 "--out", str(tmp_path)]) == 0
    out = _json(capsys)["rules"]["star"]
    assert len(out["J_test"]) == 3 and out["samples"][1] == 3 * 8


@pytest.mark.parametrize("argv, message", [
    (["--rules", "star,nope"], "unknown rule"),
    (["--rules", ""], "comma-separated"),
    (["--maj-k", "65"], "<= 64"),
    (["--k", "0"], "integers >= 1"),
    (["--lambda0", "2"], "lambda0"),
    (["--train-fraction", "0"], "train-fraction"),
    (["--samples-per-question", "6", "--group-size", "4"], "multiple of group_size"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    rc = main(["compare", "--M", "4", "--N", "2", "--iterations", "1", *argv,
               "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1


def test_matrices_file_and_bad_files(tmp_path, capsys):
    rng = np.random.default_rng(0)
    P = rng.random((2, 3, 3))
    P /= P.sum(-1, keepdims=True)
    np.save(tmp_path / "P0.npy", P)
    np.save(tmp_path / "complex.npy", P.astype(complex))
    assert main(["compare", "--rules", "star", "--matrices", str(tmp_path / "P0.npy"),
                 "--iterations", "1", "--maj-k", "1", "--json",
                 "--out", str(tmp_path / "o")]) == 0
    assert len(_json(capsys)["rules"]["star"]["J"]) == 2
    rc = main(["compare", "--matrices", str(tmp_path / "complex.npy"),
               "--out", str(tmp_path / "o")])
    assert rc == 2 and "complex" in capsys.readouterr().err
