"""The zip loop with any rule (issue 14): the rule bridge against the rules layer (numpy),
the agreement measures, the command line, and smoke runs of a refit rule, a gradient rule
(with resume) and a comparison, all from ONE shared pre-training (module fixture)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from rlstar_theory.dense import star_step
from rlstar_theory.mdp import operator
from rlstar_theory.mdp.exact import success_edges, success_probability
from rlstar_theory.rules import make_rule
from rlstar_theory.tempering import temper
from rlstar_theory.zip import agreement, rule_step
from rlstar_theory.zip.config import load_config, make_config

IDENTITY = np.tile(np.arange(4), (2, 1))  # N = 2 steps, M = 4 states


def random_policy(rng, N=2, M=4):
    return rng.dirichlet(np.ones(M), size=(N, M))


def chain(test_fraction=0.0, seed=0, M=4, N=2):
    truth = np.tile(np.arange(M), (N, 1))
    return rule_step.chain_model(truth, rule_step.train_mask(M, test_fraction, seed))


# ---- which rules run, and how ------------------------------------------------------------


def test_the_issues_rules_run_in_their_mode():
    refit = ["star", "ei-dedup", "rationalization", "rft", "sft", "step-rft"]
    gradient = ["reinforce", "grpo", "dr-grpo", "fisft+-", "fisft-"]
    for name in refit:
        assert rule_step.rule_kind(make_rule(name, samples_per_question=16)) == "refit", name
    for name in gradient:
        assert rule_step.rule_kind(make_rule(name, samples_per_question=16)) == "gradient"
    assert rule_step.rule_kind(make_rule("fisft+", refit=True)) == "refit"
    assert rule_step.rule_kind(make_rule("fisft+")) == "gradient"
    assert set(refit + gradient) <= set(rule_step.supported_rules())
    with pytest.raises(ValueError, match="cannot run in the zip experiment; supported: star"):
        rule_step.rule_kind(make_rule("ppo"))


def test_rule_options_are_typed_by_the_rules_fields():
    parse = rule_step.parse_rule_options
    assert parse("grpo", ["lr=0.5", "group_size=4", "std=population"]) == (
        ("group_size", 4), ("lr", 0.5), ("std", "population"))
    assert parse("fisft+", {"refit": "true"}) == (("refit", True),)
    assert parse("grpo", {"lr": 2}) == (("lr", 2.0),)  # an int where a float is expected
    assert parse("star", ["group_size=4", "bogus=1"], strict=False) == (("group_size", 4),)
    with pytest.raises(ValueError, match="rule 'star' has no option 'bogus'"):
        parse("star", ["bogus=1"])
    with pytest.raises(ValueError, match="set by the zip experiment: use --samples"):
        parse("grpo", ["samples_per_question=8"])
    with pytest.raises(ValueError, match="use --temperature"):
        parse("star", ["temperature=0.5"])
    with pytest.raises(ValueError, match="must be NAME=VALUE"):
        parse("grpo", ["lr"])
    with pytest.raises(ValueError, match="grpo:group_size must be of type int"):
        parse("grpo", ["group_size=many"])
    with pytest.raises(ValueError, match="rule must be one of"):
        parse("nope", [])


def test_train_mask_holds_out_the_requested_fraction():
    for M, f in ((16, 0.25), (64, 0.25), (4, 0.1), (4, 0.99)):
        mask = rule_step.train_mask(M, f, seed=3)
        held = int((~mask).sum())
        assert held == min(M - 1, max(1, round(f * M)))
        np.testing.assert_array_equal(mask, rule_step.train_mask(M, f, seed=3))
    assert rule_step.train_mask(16, 0.0, 0).all()
    assert not np.array_equal(rule_step.train_mask(64, 0.25, 0), rule_step.train_mask(64, 0.25, 1))
    with pytest.raises(ValueError, match=r"test_fraction must lie in \[0, 1\)"):
        rule_step.train_mask(16, 1.0, 0)


# ---- refit rules: the prediction and the data ----------------------------------------------


def test_star_prediction_is_star_step_at_the_temperature():
    P = random_policy(np.random.default_rng(0))
    star = rule_step.build_rule("star", (), 16)
    pred = rule_step.predict(star, chain(), P, None, 0.5)
    np.testing.assert_allclose(pred.P, star_step(P, temperature=0.5), rtol=0, atol=1e-13)


def test_refit_data_fit_to_the_prediction_and_rows_without_data_keep_their_row():
    """F-ISFT+ refitted, with a quarter of the questions held out: the maximum-likelihood fit
    of the training weights is the prediction; step-1 rows of held-out questions get no data
    (only training questions start there) and keep their row."""
    rng = np.random.default_rng(1)
    P = random_policy(rng)
    model = chain(0.25)
    rule = rule_step.build_rule("fisft+", (("group_size", 4), ("refit", True)), 16)
    pred = rule_step.predict(rule, model, P, None, 0.7)
    Ps = temper(P, 0.7)
    p = success_probability(Ps, model.answers)
    w = model.weights("train") * (1 - (1 - p) ** 4) / p / model.N
    expected = operator.refit(Ps, success_edges(Ps, w, model.answers, model.identity))
    held = np.flatnonzero(model.test)
    assert len(held) == 1
    expected[0, held] = P[0, held]
    np.testing.assert_allclose(pred.P, expected, rtol=0, atol=1e-13)
    data = rule_step.refit_data(rule, model, P, None, 0.7, "exact", None, exact=pred)
    np.testing.assert_allclose(data.weights.sum(axis=(1, 2)), 1.0)
    rows = data.weights.sum(axis=2, keepdims=True)
    np.testing.assert_allclose(np.where(rows > 0, data.weights / np.where(rows > 0, rows, 1),
                                        pred.P), pred.P, atol=1e-13)
    assert np.all(rows[0, held] == 0) and np.all(rows[1] > 0)


def test_sft_is_not_tempered_and_predicts_its_eta_step():
    P = random_policy(np.random.default_rng(2))
    rule = rule_step.build_rule("sft", (("eta", 0.25),), 16)
    model = chain()
    pred = rule_step.predict(rule, model, P, None, 0.5)
    np.testing.assert_array_equal(pred.P, rule.exact_step(P, model).P)
    gold = np.eye(4)
    np.testing.assert_allclose(pred.P, 0.75 * P + 0.25 * gold, atol=1e-15)


# ---- gradient rules: signed counts ---------------------------------------------------------


@pytest.mark.parametrize("name", ["grpo", "fisft-", "fisft+-", "reinforce", "dr-grpo"])
def test_expected_signed_edges_have_the_rules_tabular_gradient(name):
    P = random_policy(np.random.default_rng(3))
    model = chain(0.25)
    rule = rule_step.build_rule(name, (("group_size", 4),), 16)
    E = rule_step.expected_signed_edges(rule, model, P)
    exact = success_edges(P, rule.weights(P, model), model.answers, model.identity)
    np.testing.assert_allclose(operator.gradient(P, E), operator.gradient(P, exact),
                               rtol=0, atol=1e-14)


@pytest.mark.parametrize("name", ["grpo", "fisft-"])
def test_sampled_signed_edges_average_to_the_expected_ones(name):
    """R independent batches of K = 16 samples per question: every entry's mean lies within
    5 standard errors (the batches' empirical std / sqrt(R)) of the expectation."""
    rng = np.random.default_rng(4)
    P = random_policy(rng)
    model = chain(0.25)
    rule = rule_step.build_rule(name, (("group_size", 4),), 16)
    E = rule_step.expected_signed_edges(rule, model, P)
    R = 400
    draws = np.stack([rule_step.signed_edges(rule, model, P, rng)[0] for _ in range(R)])
    mean, se = draws.mean(axis=0), draws.std(axis=0, ddof=1) / np.sqrt(R)
    moving = se > 0
    assert np.all(np.abs(mean - E)[moving] <= 5 * se[moving])
    assert np.all(np.abs(E[~moving]) < 1e-3)  # never drawn: only (very) rare edges
    C_plus, C_minus = rule_step.split_signed(draws[0])
    np.testing.assert_array_equal(C_plus - C_minus, draws[0])
    assert C_plus.min() >= 0 and C_minus.min() >= 0


# ---- agreement measures --------------------------------------------------------------------


def test_change_agreement_on_known_changes():
    rng = np.random.default_rng(5)
    P_prev = random_policy(rng)
    P_pred = random_policy(rng)
    d = P_pred - P_prev
    same = agreement.change_agreement(P_prev, P_pred, P_prev + 2 * d)
    assert same["sign_agreement"] == 1.0 and same["spearman"] == pytest.approx(1.0)
    assert same["slope"] == pytest.approx(2.0) and same["entries"] == d.size
    opposite = agreement.change_agreement(P_prev, P_pred, P_prev - d)
    assert opposite["sign_agreement"] == 0.0 and opposite["spearman"] == pytest.approx(-1.0)
    assert len(same["per_step"]) == 2 and same["per_step"][1]["slope"] == pytest.approx(2.0)
    unmoved = agreement.change_agreement(P_prev, P_prev, P_pred)
    assert unmoved["entries"] == 0 and unmoved["spearman"] is None


def test_row_changes_and_split_returns():
    P_prev = np.stack([np.eye(4)] * 2)
    P = P_prev.copy()
    P[0, 3] = [0.5, 0, 0, 0.5]  # a row without data moves by TV 0.5
    no_data = np.zeros((2, 4), dtype=bool)
    no_data[0, 3] = True
    rows = agreement.row_changes(P_prev, P_prev, P, no_data)
    assert rows == {"rows_without_data": 1, "tv_learned_without_data": 0.5,
                    "tv_learned_with_data": 0.0, "tv_pred_with_data": 0.0}
    model = chain(0.25)  # question 3 or another one held out
    J = agreement.split_returns(P, model)
    p = np.ones(4)
    p[3] = 0.5  # 3 -> 3 with probability 1/2, then 3 -> 3
    assert J["J_train"] == pytest.approx(p[model.train].mean())
    assert J["J_test"] == pytest.approx(p[model.test].mean())
    raw = agreement.split_returns(agreement.raw_matrices(P, np.full((2, 4), 0.9)), model, "J_raw")
    assert raw["J_raw_train"] == pytest.approx(0.81 * J["J_train"])
    assert agreement.data_free_rows(np.where(no_data[..., None], 0.0, 1.0)).tolist() == \
        no_data.tolist()


# ---- configuration and the command line (no training) --------------------------------------


def test_rule_and_options_are_recorded_and_read_back(tmp_path):
    cfg = make_config("smoke", rule="grpo", rule_options=["lr=100", "group_size=4"],
                      test_fraction=0.25)
    assert cfg.rule_options == (("group_size", 4), ("lr", 100.0)) and cfg.kind == "gradient"
    (tmp_path / "config.json").write_text(json.dumps(cfg.to_json()))
    assert json.loads((tmp_path / "config.json").read_text())["rule_options"] == {
        "group_size": 4, "lr": 100.0}
    assert load_config(tmp_path) == cfg
    old = make_config("smoke").to_json()
    for key in ("rule", "rule_options", "test_fraction", "pg_steps", "pg_lr", "pg_optimizer"):
        old.pop(key)
    (tmp_path / "config.json").write_text(json.dumps(old))  # written before issue 14
    assert load_config(tmp_path) == make_config("smoke")
    from rlstar_theory.zip.loop import _check_config

    assert _check_config(tmp_path, make_config("smoke"))  # an old run folder resumes
    with pytest.raises(ValueError, match="samples_per_question must be a multiple of "
                                         "group_size = 3"):
        make_config("smoke", rule="grpo", rule_options=["group_size=3"])


def test_command_line_rule_options(tmp_path):
    import argparse

    from rlstar_theory.cli import zip_experiment

    parser = argparse.ArgumentParser()
    zip_experiment.add_arguments(parser)
    args = parser.parse_args(["--out", "x", "--preset", "smoke", "--rule", "fisft+-",
                              "--rule-option", "lr=30", "--rule-option", "group_size=4",
                              "--pg-steps", "7", "--test-fraction", "0.25"])
    cfg = zip_experiment.make_config_from_args(args)
    assert cfg == make_config("smoke", rule="fisft+-", rule_options={"lr": 30.0, "group_size": 4},
                              pg_steps=7, test_fraction=0.25)


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("argv, message", [
    (["--rule", "star", "--rule-option", "bogus=1"], "rule 'star' has no option 'bogus'"),
    (["--rule", "grpo", "--rule-option", "group_size=3"], "multiple of group_size"),
    (["--rules", "star,grpo", "--rule", "grpo"], "do not give --rule as well"),
    (["--rules", "star,ppo"], "'ppo' is not a rule the zip experiment runs"),
    (["--rules", "star,grpo", "--rule-option", "eta=0.5"], "eta belong to none of the rules"),
    (["--test-fraction", "1"], "test_fraction must lie in [0, 1)"),
])
def test_bad_rule_options_are_one_line_exit_2(capsys, tmp_path, argv, message):
    from rlstar_theory.cli import main

    code = main(["zip-experiment", "--preset", "smoke", "--out", str(tmp_path / "r"), *argv])
    assert code == 2
    assert message in one_error_line(capsys)
    assert not (tmp_path / "r").exists()


# ---- smoke runs from one shared pre-training (torch) ---------------------------------------


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """The smoke preset's pre-training, once for the module (about 25 s of CPU)."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from rlstar_theory.zip.compare import pretrain_config
    from rlstar_theory.zip.loop import run_experiment

    out = tmp_path_factory.mktemp("shared") / "pretrain"
    run_experiment(pretrain_config(make_config("smoke")), out, progress=False)
    return out


def gradient_config(**over):
    values = dict(rule="grpo", rule_options=["lr=30", "group_size=8"], iterations=2,
                  pg_steps=10, pg_lr=1e-4, test_fraction=0.25)
    values.update(over)
    return make_config("smoke", **values)


@pytest.mark.slow
def test_refit_rule_from_the_shared_pretraining(pretrained, tmp_path):
    """F-ISFT+ refitted for one iteration: the run records the rule, starts from the shared
    model, its prediction is the rule's exact step on the learned P_0, and the transformer
    covers most of the predicted improvement."""
    from rlstar_theory.zip.loop import run_experiment

    cfg = make_config("smoke", rule="fisft+", rule_options={"refit": True}, iterations=1,
                      test_fraction=0.25)
    res = run_experiment(cfg, tmp_path / "run", progress=False,
                         pretrained_from=pretrained).results
    assert json.loads((tmp_path / "run" / "config.json").read_text())["rule"] == "fisft+"
    assert res["rule"]["mode"] == "refit" and res["rule"]["refit"] is True
    assert res["pretrain"]["shared_from"] == str(pretrained)
    P0 = np.load(tmp_path / "run" / "matrices" / "P_000.npy")
    np.testing.assert_array_equal(P0, np.load(pretrained / "matrices" / "P_000.npy"))
    model = rule_step.chain_model(np.tile(np.arange(16), (2, 1)),
                                  np.isin(np.arange(16), res["questions"]["train"]))
    rule = make_rule("fisft+", refit=True, samples_per_question=256)
    Ps = temper(P0, 0.5)
    expected = rule.exact_step(Ps, model).P
    rows = success_edges(Ps, rule.weights(Ps, model), model.answers, model.identity).sum(2)
    expected = np.where(rows[..., None] > 0, expected, P0)
    pred = np.load(tmp_path / "run" / "matrices" / "pred_001.npy")
    np.testing.assert_allclose(pred, expected, rtol=0, atol=1e-12)
    (e,) = res["iterations"]
    assert len(res["questions"]["test"]) == 4 and "J_test" in e and "J_pred_test" in e
    J0 = res["theory"]["J_exact_from_P0_train"][0]
    assert abs(e["J_train"] - e["J_pred_train"]) < 0.1 * abs(e["J_pred_train"] - J0)
    assert e["change"]["sign_agreement"] > 0.5 and e["change"]["spearman"] > 0
    # step-1 rows of the held-out questions get no data
    assert e["rows"]["rows_without_data"] >= 4


@pytest.mark.slow
def test_gradient_rule_runs_and_resumes_with_the_same_numbers(pretrained, tmp_path):
    from rlstar_theory.zip.loop import run_experiment

    cfg = gradient_config()
    ref = run_experiment(cfg, tmp_path / "ref", progress=False,
                         pretrained_from=pretrained).results
    assert [e["t"] for e in ref["iterations"]] == [1, 2]
    for e in ref["iterations"]:
        assert e["sampled"] == 12 * 256  # the training questions only
        assert e["edge_mass"]["positive"] > 0 and e["edge_mass"]["negative"] > 0
        assert 0 <= e["valid_mass"]["min"] <= e["valid_mass"]["mean"] <= 1 + 1e-12
        assert e["J_raw_train"] <= e["J_train"] + 1e-12
        assert -1 <= e["change"]["spearman"] <= 1 and 0 <= e["change"]["sign_agreement"] <= 1
        P_prev = np.load(tmp_path / "ref" / "matrices" / f"P_{e['t'] - 1:03d}.npy")
        model = rule_step.chain_model(np.tile(np.arange(16), (2, 1)),
                                      np.isin(np.arange(16), ref["questions"]["train"]))
        pred = make_rule("grpo", lr=30.0, group_size=8, samples_per_question=256
                         ).exact_step(P_prev, model).P
        np.testing.assert_allclose(np.load(tmp_path / "ref" / "matrices" /
                                           f"pred_{e['t']:03d}.npy"), pred, atol=1e-13)

    def interrupt(t):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, tmp_path / "run", progress=False, pretrained_from=pretrained,
                       after_iteration=interrupt)
    again = run_experiment(cfg, tmp_path / "run", progress=False)
    assert again.resumed_from == 1
    strip = lambda r: [{k: v for k, v in e.items() if k != "timing"}  # noqa: E731
                       for e in r["iterations"]]
    assert strip(again.results) == strip(ref)
    np.testing.assert_array_equal(np.load(tmp_path / "run" / "matrices" / "P_002.npy"),
                                  np.load(tmp_path / "ref" / "matrices" / "P_002.npy"))


@pytest.mark.slow
def test_comparison_reuses_one_pretraining_and_writes_a_figure_and_a_table(pretrained,
                                                                           tmp_path):
    from rlstar_theory.zip.compare import run_comparison

    out = tmp_path / "cmp"
    out.mkdir()
    shutil.copytree(pretrained, out / "pretrain")
    stamp = (out / "pretrain" / "matrices" / "P_000.npy").stat().st_mtime_ns
    base = gradient_config(iterations=1)
    result = run_comparison(base, ["star", "grpo"], out, options=["lr=30"], progress=False)
    assert (out / "pretrain" / "matrices" / "P_000.npy").stat().st_mtime_ns == stamp
    table = (out / "compare.md").read_text().splitlines()
    assert len(table) == 4 and table[2].startswith("| star | refit | 1 |")
    assert table[3].startswith("| grpo | gradient | 1 |")
    summary = json.loads((out / "compare.json").read_text())
    assert [r["rule"] for r in summary["rows"]] == ["star", "grpo"] == \
        [r["rule"] for r in result.rows]
    assert summary["rows"][0]["J_test"] is not None  # held-out questions reported
    assert [o["lr_factor"] for o in summary["tabular_order"]] == [0.1, 1.0, 10.0]
    for name in ("star", "grpo"):  # each rule takes the options it has (both have lr)
        assert json.loads((out / name / "config.json").read_text())["rule_options"] == {
            "lr": 30.0}
    for name in ("compare.png", "star/J.png", "grpo/J.png"):
        assert (out / name).stat().st_size > 0
    from rlstar_theory.zip.compare import export_small

    export_small(out, tmp_path / "small")
    kept = sorted(str(p.relative_to(tmp_path / "small")) for p in
                  (tmp_path / "small").rglob("*") if p.is_file())
    assert kept == sorted(["compare.json", "compare.md", "compare.png",
                           "pretrain/config.json", "pretrain/results.json",
                           *(f"{r}/{f}" for r in ("star", "grpo")
                             for f in ("config.json", "results.json"))])


@pytest.mark.slow
def test_a_rules_state_survives_a_resume(pretrained, tmp_path):
    """Offline RFT collects its data once (the rule's state); a run interrupted after the
    first iteration resumes from the pickled state and ends where an uninterrupted run does."""
    from rlstar_theory.zip.loop import run_experiment

    cfg = make_config("smoke", rule="rft", iterations=2, train_steps=30, test_fraction=0.25)
    ref = run_experiment(cfg, tmp_path / "ref", progress=False,
                         pretrained_from=pretrained).results

    def interrupt(t):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_experiment(cfg, tmp_path / "run", progress=False, pretrained_from=pretrained,
                       after_iteration=interrupt)
    assert (tmp_path / "run" / "checkpoints" / "rule_state_001.pkl").exists()
    again = run_experiment(cfg, tmp_path / "run", progress=False).results
    assert [e["sampled"] for e in again["iterations"]] == [12 * 256, 0]  # drawn once
    strip = lambda r: [{k: v for k, v in e.items() if k != "timing"}  # noqa: E731
                       for e in r["iterations"]]
    assert strip(again) == strip(ref)
