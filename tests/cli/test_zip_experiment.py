"""`rlstar zip-experiment` options: derived from ZipConfig, defaults shown, --config, and bad
--out / oversized runs refused with one line and exit status 2 before any training.

None of these tests trains a model (the refusals come first), so they need no torch.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import pytest

from rlstar_theory.cli import main, zip_experiment
from rlstar_theory.zip.config import ZipConfig, make_config


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    zip_experiment.add_arguments(parser)
    return parser.parse_args(["--out", "unused", *argv])


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_every_config_field_is_an_option_and_its_help_shows_the_default():
    parser = argparse.ArgumentParser()
    zip_experiment.add_arguments(parser)
    by_dest = {a.dest: a for a in parser._actions}
    for f in dataclasses.fields(ZipConfig):
        action = by_dest[f.name]
        assert action.option_strings == [f.metadata["flag"]]
        assert "(default: " in action.help, f.name
    assert "(default: 0)" in by_dest["seed"].help
    assert "(default: 4096; smoke preset: 256)" in by_dest["samples_per_question"].help
    assert "(default: paper)" in by_dest["preset"].help


def test_options_reach_the_config():
    cfg = zip_experiment.make_config_from_args(parse(
        "--preset", "smoke", "--bits", "1", "--delta0", "0.3", "--warm-delta", "none",
        "--samples", "8", "--temperature", "0.7", "--restart", "last", "--seed", "4",
        "--weight-decay", "0.01", "--score-batch", "64"))
    assert cfg == make_config("smoke", n_bits=1, delta0_diag=0.3, warm_delta_diag="none",
                              samples_per_question=8, temperature=0.7, restart="last", seed=4,
                              weight_decay=0.01, score_batch=64)
    assert zip_experiment.make_config_from_args(parse()) == make_config("paper")


def test_config_file_reruns_a_recorded_configuration_with_overrides(tmp_path):
    cfg = make_config("smoke", seed=5, delta0_diag=(0.4, 0.3), iterations=3)
    (tmp_path / "config.json").write_text(json.dumps(cfg.to_json()))
    again = zip_experiment.make_config_from_args(parse("--config",
                                                       str(tmp_path / "config.json")))
    assert again == cfg
    changed = zip_experiment.make_config_from_args(parse("--config", str(tmp_path),
                                                         "--seed", "6"))
    assert changed == dataclasses.replace(cfg, seed=6)


def test_config_and_preset_exclude_each_other(capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["zip-experiment", "--preset", "smoke", "--config", "c.json", "--out",
              str(tmp_path)])
    assert info.value.code == 2
    assert "not allowed with argument" in one_error_line(capsys)


def test_missing_config_file_is_one_line_exit_2(capsys, tmp_path):
    assert main(["zip-experiment", "--config", str(tmp_path / "none.json"), "--out",
                 str(tmp_path / "r")]) == 2
    assert "cannot read the configuration" in one_error_line(capsys)


@pytest.mark.parametrize("kind", ["file", "empty", "below a file"])
def test_bad_out_is_one_line_exit_2(capsys, tmp_path, kind):
    """Issue 9: an existing file as --out gave a traceback; '' wrote into the current folder."""
    f = tmp_path / "f"
    f.write_text("x")
    out = {"file": str(f), "empty": "", "below a file": str(f / "run")}[kind]
    assert main(["zip-experiment", "--preset", "smoke", "--out", out]) == 2
    assert "--out" in one_error_line(capsys)


def test_unwritable_out_is_one_line_exit_2(capsys):
    from tests.cli.test_main import _proc_refuses_files

    if not _proc_refuses_files():
        pytest.skip("needs Linux /proc")
    assert main(["zip-experiment", "--preset", "smoke", "--out", "/proc/rlstar_run"]) == 2
    assert "is not writable" in one_error_line(capsys)


def test_oversized_sampling_is_refused_before_pretraining(capsys, tmp_path):
    """Issue 9: --samples 1000000000 failed with a 358 GiB allocation after pre-training."""
    start = time.perf_counter()
    assert main(["zip-experiment", "--preset", "smoke", "--samples", "1000000000",
                 "--out", str(tmp_path / "run")]) == 2
    line = one_error_line(capsys)
    assert "GiB" in line and "--samples" in line
    assert time.perf_counter() - start < 5
    assert not (tmp_path / "run").exists()
