"""Exact training data, soft targets, trajectory sampling and configuration (numpy only)."""

import dataclasses
import json

import numpy as np
import pytest

from rlstar_theory.dense import posterior, star_step
from rlstar_theory.zip.config import ZipConfig, load_config, make_config, override_config
from rlstar_theory.zip.data import (
    exact_filtered_weights,
    noisy_weights,
    sequence_tables,
    training_data,
)
from rlstar_theory.zip.sampling import sample_trajectories
from rlstar_theory.zip.task import ZipTask


def _random_policy(rng, N, M, conc=0.3):
    P = rng.dirichlet(np.full(M, conc), size=(N, M)) + 2 * np.eye(M)
    return P / P.sum(axis=2, keepdims=True)


def test_noisy_weights_are_the_papers_generator():
    task = ZipTask(2)
    W = noisy_weights(task, [0.3, 0.0])
    M = task.M
    np.testing.assert_allclose(W.sum(axis=(1, 2)), 1.0)
    T = W * M
    np.testing.assert_allclose(np.diag(T[0]), 1 / M + 0.3)
    np.testing.assert_allclose(T[0][~np.eye(M, dtype=bool)], (1 - 1 / M - 0.3) / (M - 1))
    np.testing.assert_allclose(T[1], 1 / M)


def test_soft_targets_multiply_to_the_target_rows():
    task = ZipTask(2)
    tables = sequence_tables(task)
    rng = np.random.default_rng(1)
    W = exact_filtered_weights(_random_policy(rng, 2, 16), task.truth(), 0.5)
    data = training_data(tables, W)
    for p, (k, i) in enumerate(data.pairs):
        prob = np.ones(16)
        for pos in range(tables.prefix_len[k], tables.lengths[k]):
            tok = tables.ids[k, i, :, pos]
            prob *= data.soft[p, np.arange(16), pos - 1, tok]
        np.testing.assert_allclose(prob, data.target[p], atol=1e-6)
    # each predicted position is a distribution; nothing predicted in the prefix
    s = data.soft.sum(axis=3)
    assert np.all((np.abs(s - 1) < 1e-6) | (s == 0))
    assert np.all(s[:, :, : tables.prefix_len.min() - 1] == 0)


def test_exact_filtered_weights_refit_to_star_step():
    rng = np.random.default_rng(2)
    P = _random_policy(rng, 3, 8)
    W = exact_filtered_weights(P, None, 0.7)
    np.testing.assert_allclose(W.sum(axis=(1, 2)), 1.0)
    rows = W.sum(axis=2, keepdims=True)
    np.testing.assert_allclose(W / rows, star_step(P, temperature=0.7), atol=1e-12)


def test_sampled_counts_match_the_exact_posterior():
    """Counts are multinomial: 5-sigma binomial bounds from the sample size."""
    rng = np.random.default_rng(3)
    P = _random_policy(rng, 2, 16, conc=1.0)
    truth = np.tile(np.arange(16), (2, 1))
    K = 2000
    res = sample_trajectories(P, truth, K, 0.5, np.random.default_rng(4))
    total = 16 * K
    post = posterior(P, truth, temperature=0.5)
    p = post.joint  # Pr(transition and success), per trajectory
    sigma = np.sqrt(total * p * (1 - p))
    assert np.all(np.abs(res.counts - total * p) <= 5 * sigma + 1)
    ps = post.success
    assert abs(res.kept - total * ps) <= 5 * np.sqrt(total * ps * (1 - ps))
    assert res.counts.sum(axis=(1, 2)).tolist() == [res.kept] * 2


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_bits=0), "n_bits"),
    (dict(n_bits=2, delta0_diag=(0.2, 0.3, 0.4)), "one value per step"),
    (dict(n_bits=2, delta0_diag=(0.2, 0.99)), r"\[-1/M, \(M-1\)/M\]"),
    (dict(temperature=0.0), "temperature"),
    (dict(train_lr=-1.0), "train_lr"),
    (dict(n_embd=30, n_head=4), "divisible"),
    (dict(restart="base"), "restart"),
    (dict(data="perfect"), "data"),
    (dict(samples_per_question=0), "samples_per_question"),
    (dict(pretrain_steps=0, warm_delta_diag="none"), "init_from"),
    (dict(pretrain_ramp_steps=-1), "pretrain_ramp_steps"),
    (dict(warm_delta_diag=1.0), "warm_delta_diag"),
])
def test_bad_configurations_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_config("paper", **kwargs)


def test_presets_and_curriculum_default():
    assert make_config("paper").delta0_diag == (0.2, 0.2, 0.2)
    assert make_config("paper").warm_delta_diag == 0.9
    assert make_config("paper", warm_delta_diag="none").warm_delta_diag is None
    cfg = make_config("paper", delta0_diag=0.1)
    assert cfg.warm_delta_diag == 0.9 and cfg.delta0_diag == (0.1,) * 3
    # where 0.9 is impossible (M = 4: at most 3/4) the default warm-up data are 0.9 of the maximum
    assert make_config("paper", n_bits=1, delta0_diag=0.3).warm_delta_diag == 0.9 * 3 / 4
    # a curriculum alone is enough training
    assert make_config("paper", pretrain_steps=0).pretrain_ramp_steps > 0
    assert make_config("smoke").M == 16
    assert ZipConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ValueError, match="unknown preset"):
        make_config("huge")


def test_cli_without_torch_says_how_to_install(monkeypatch, capsys, tmp_path):
    import importlib.util

    from rlstar_theory.cli import main

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    assert main(["zip-experiment", "--preset", "smoke", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pip install "rlstar_theory[gpt2]"' in err[0] and "torch" in err[0]
    assert not (tmp_path / "r").exists()


def test_cli_bad_option_is_one_line_exit_2(capsys, tmp_path):
    from rlstar_theory.cli import main

    with pytest.raises(SystemExit) as exit_info:  # argparse: one line, status 2
        main(["zip-experiment", "--preset", "smoke", "--delta0", "0.2,x", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--delta0" in err[0]


def test_integer_fields_have_one_check_naming_the_field():
    for name in ("n_bits", "iterations", "train_steps", "seed", "score_batch"):
        with pytest.raises(ValueError, match=rf"{name} must be an integer"):
            make_config("smoke", **{name: 2.5})
    cfg = make_config("smoke", seed=np.int64(3))
    assert type(cfg.seed) is int and json.loads(json.dumps(cfg.to_json()))["seed"] == 3


def test_n_bits_alone_keeps_the_default_delta_for_every_step():
    assert make_config("paper", n_bits=2).delta0_diag == (0.2, 0.2)


def test_recorded_configuration_round_trips_and_takes_overrides(tmp_path):
    cfg = make_config("smoke", seed=5, delta0_diag=(0.4, 0.3))
    (tmp_path / "config.json").write_text(json.dumps(cfg.to_json()))
    assert load_config(tmp_path / "config.json") == cfg
    assert load_config(tmp_path) == cfg  # the run folder works too
    assert override_config(cfg, seed=6, iterations=None) == dataclasses.replace(cfg, seed=6)
    assert override_config(cfg, delta0_diag=0.1).delta0_diag == (0.1, 0.1)


def test_recorded_configuration_written_by_an_older_version_takes_defaults(tmp_path):
    data = make_config("smoke").to_json()
    del data["score_batch"]
    (tmp_path / "config.json").write_text(json.dumps(data))
    assert load_config(tmp_path).score_batch == ZipConfig.score_batch


@pytest.mark.parametrize("text, match", [
    (None, "cannot read"),
    ("{", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"n_bits": 2, "colour": "red"}', "unknown configuration field.*colour"),
    ('{"n_bits": 2, "delta0_diag": [0.5, 0.5], "seed": -1}', "seed must be an integer >= 0"),
])
def test_bad_recorded_configuration_names_the_file_and_the_problem(tmp_path, text, match):
    path = tmp_path / "config.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ValueError, match=match) as info:
        load_config(path)
    assert str(path) in str(info.value)
