"""Leftovers of probe round 29 (issue 26), fixed by the lead; each test fails on 95f75ea.

A run's warnings travel with its record (sw3's and kt2's were in run.log only): metrics.json ``warnings``, the
card's "The run warned" list and summary.md's "Runs that warned". And what round 29 noticed: a representation said
twice, pawsx samples of other examples per language, a dense.checkpoint of other rows, one model in two rows."""
from __future__ import annotations

import json
from pathlib import Path

from hydra import compose, initialize_config_dir

import sdp.config  # noqa: F401  (registers the structured schema)

CONF = str(Path(__file__).resolve().parents[1] / "conf")


def test_logged_warnings_reads_run_log_in_order_each_once(tmp_path):
    from sdp.run.logs import logged_warnings

    assert logged_warnings(tmp_path) == []  # no run.log: none
    (tmp_path / "run.log").write_text(
        "2026-12-06 16:40:01,123 INFO dense stage: 2 updates\n"
        "2026-12-06 16:40:02,001 WARNING a first warning\n"
        "  that spans two lines\n"
        "2026-12-06 16:40:03,000 INFO update 1: pruned to 0.5\n"
        "2026-12-06 16:40:04,000 ERROR the push failed\n"
        "2026-12-06 16:41:00,000 INFO resumed prune stage at optimizer step 1\n"
        "2026-12-06 16:41:01,000 WARNING a first warning\n"  # said again by the resumed run: kept once
        "  that spans two lines\n"
        "2026-12-06 16:41:02,000 WARNING the last line, with no newline")
    assert logged_warnings(tmp_path) == ["a first warning\n  that spans two lines", "the push failed",
                                         "the last line, with no newline"]


def test_a_runs_warning_is_in_its_record_card_and_summary(data_dir, tmp_path):
    """kt2's case end to end: `task=stsb method=kd regularizer.temperature=4` warns that the temperature is unused;
    the warning was in run.log and on the console only."""
    from sdp.recipe import run
    from sdp.report.report import build_report

    overrides = ["debug=smoke", "task=stsb", "method=kd", "regularizer.temperature=4", f"data_dir={data_dir}",
                 f"cache_dir={tmp_path / 'cache'}", "cpu=true", "max_train_samples=16", "max_eval_samples=8",
                 "train.batch_size=8", "dense.max_steps=1", "prune.max_steps=1", "task.max_seq_length=16",
                 "train.num_threads=1"]
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    run_dir = tmp_path / "runs" / "kt"
    run(cfg, run_dir)
    said = json.loads((run_dir / "metrics.json").read_text())["warnings"]
    unused = [w for w in said if "regularizer.temperature=4 is not used" in w]
    assert len(unused) == 1, said
    card = (run_dir / "model" / "README.md").read_text()
    assert "The run warned:" in card and "regularizer.temperature=4 is not used" in card
    build_report(tmp_path / "runs", tmp_path / "tables", plots=False)
    summary = (tmp_path / "tables" / "summary.md").read_text()
    assert "## Runs that warned" in summary and "`kt`: " in summary and "temperature=4 is not used" in summary


def test_an_unknown_representation_is_said_once(data_dir):
    """Round 29 (noticed): `regularizer.representation=logits` named the allowed values twice in one line
    (`unknown representation 'logits'; allowed: [...]; regularizer.representation='logits' is not one of [...]`)."""
    import pytest

    from sdp.errors import ConfigError
    from sdp.validate import validate_config

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["task=rte", "regularizer.representation=logits"])
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    assert str(err.value).count("is not one of") == 1 and "regularizer.representation='logits'" in str(err.value)


def test_a_pawsx_sample_holds_the_same_examples_in_every_language(data_dir):
    """Round 29 (noticed): pawsx_small with max_eval_samples sampled each language after its NS rows were dropped
    (de 962 rows, en 1000), so the languages' samples held different examples where the full split's are parallel:
    a cross-lingual gap then compared scores on different rows. The sample is drawn over the rows' positions."""
    import datasets

    from sdp.crosslingual import select_languages
    from sdp.data.loading import load_splits, subsample
    from sdp.data.tasks import get_task
    from sdp.data.xglue import read_xtreme_split

    task = select_languages(get_task("pawsx_small"), ["en", "de"], eval_test=False)
    en, de = (read_xtreme_split(task, data_dir, f"validation.{lang}") for lang in ("en", "de"))
    assert de.dropped > 0 and en.size == de.size and en.positions == list(range(en.size))

    def picked(rows):  # the positions a 100-row sample keeps
        ds = datasets.Dataset.from_dict({"position": rows.positions})
        return subsample(ds, 100, positions=(rows.positions, rows.size))["position"]

    assert len(picked(en)) == 100 and picked(en) == subsample(
        datasets.Dataset.from_dict({"position": en.positions}), 100)["position"]  # no row dropped: as before
    assert picked(de) == [p for p in picked(en) if p in set(de.positions)] and len(picked(de)) < 100
    loaded = load_splits(task, data_dir, max_train_samples=8, max_eval_samples=100).datasets
    assert len(loaded["validation.en"]) == 100 and len(loaded["validation.de"]) == len(picked(de))


def test_a_dense_checkpoint_of_other_rows_is_warned_in_the_record(data_dir, tmp_path):
    """Round 29 (noticed): a KD run given a dense.checkpoint fine-tuned on a 16-row sample, beside runs whose own
    dense stage read 24 rows, shared their setup with no word (only a tuning run's carve was checked). The warning,
    said by the config's checks before run.log opens, reaches run.log and the record's `warnings`."""
    from sdp.sweep import run_job

    base = ["debug=smoke", "task=rte", "train.num_threads=1", "dense.max_steps=1", "prune.max_steps=1",
            "max_eval_samples=8", "task.max_seq_length=16", f"data_dir={data_dir}", f"cache_dir={tmp_path / 'cache'}"]

    def sdp_run(*overrides: str) -> dict:
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            return run_job(compose(config_name="config", overrides=[*base, *overrides]))

    sdp_run("max_train_samples=16", f"output_dir={tmp_path / 'own'}")
    own = json.loads((tmp_path / "own" / "metrics.json").read_text())
    assert not [w for w in own.get("warnings", []) if "dense.checkpoint" in w]
    sdp_run("max_train_samples=24", "method=kd", f"dense.checkpoint={tmp_path / 'own' / 'dense_model'}",
            f"output_dir={tmp_path / 'given'}")
    said = json.loads((tmp_path / "given" / "metrics.json").read_text())["warnings"]
    assert [w for w in said if "was fine-tuned on other training rows than this run trains on (max_train_samples: "
            "16 there, 24 here)" in w], said
    assert "fine-tuned on other training rows" in (tmp_path / "given" / "run.log").read_text()


def test_runs_of_two_configs_that_saved_one_model_are_said(tmp_path):
    """MP with prune.teacher=frozen and =refresh saves one model (MP has no term): two rows, no word."""
    from sdp.report.report import build_report

    for name, teacher, sha in (("f", "frozen", "same"), ("r", "refresh", "same"), ("k", "frozen", "other")):
        run_dir = tmp_path / "runs" / name
        run_dir.mkdir(parents=True)
        method = "KD" if name == "k" else "MP"
        (run_dir / "metrics.json").write_text(json.dumps({
            "status": "completed", "task": "rte", "model": "tiny-bert", "method": method, "schedule": "cubic",
            "teacher": teacher, "seed": 1, "target_sparsity": 0.5, "final": {"main": 0.6, "accuracy": 0.6},
            "dense": {"main": 0.6, "accuracy": 0.6}, "config_hash": f"h-{name}", "finished_at": "2026-12-06T10:00:00",
            "model_sha256": {"model.safetensors": sha}}))
    build_report(tmp_path / "runs", tmp_path / "tables", plots=False)
    lines = [ln for ln in (tmp_path / "tables" / "summary.md").read_text().splitlines() if "one model" in ln]
    assert len(lines) == 1 and "`f` (MP, teacher frozen, seed 1" in lines[0] and "`r` (MP, teacher refresh" in lines[0]
    assert "`k`" not in lines[0]


def test_claims_name_a_unit_of_two_models_as_such(tmp_path):
    """Round 28's mm2, left: two models' runs of seeds 1-3 are six verdict units (n=6), which claims.md's column and
    legend called "task x seed" units, "averaged per (task, seed)". They now say what a unit is."""
    from sdp.report.claims import render_claims
    from sdp.report.collect import collect_runs

    for seed in (1, 2, 3):
        for model in ("tiny-bert", "tiny-xlmr"):
            for method, final in (("MP", 0.80 + seed / 100), ("SDP-CC", 0.82)):
                run_dir = tmp_path / f"{method}{model}{seed}"
                run_dir.mkdir()
                (run_dir / "metrics.json").write_text(json.dumps({
                    "status": "completed", "task": "rte", "model": model, "method": method, "schedule": "cubic",
                    "teacher": "frozen", "seed": seed, "target_sparsity": 0.9, "final": {"main": final},
                    "dense": {"main": 0.55}, "config_hash": f"h-{method}-{model}", "finished_at": "2026-12-06T10:00",
                    "data_fingerprint": {"train": "t0", "validation": "v0"}}))
                regularizer = {"name": "cross_correlation" if method == "SDP-CC" else "none"}
                (run_dir / "run.json").write_text(json.dumps({"config": {
                    "task": {"name": "rte"}, "model": {"name": model}, "regularizer": regularizer, "sparsity": 0.9,
                    "prune": {"criterion": "magnitude", "teacher": "frozen"}, "dense": {"max_steps": 2}}}))
    claims = render_claims(collect_runs(tmp_path).runs, tmp_path)
    assert "(n: task x model x seed units)" in claims and "averaged per (task, model, seed)" in claims
    assert "(n=6)" in claims and "task x seed units" not in claims
