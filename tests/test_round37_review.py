"""The review of probe round 37's merge (a82db45), fixed by the lead. Each test fails on 6957ca9."""

from __future__ import annotations

import json

import numpy as np
from test_probe_round37 import _custom, _said


def test_a_custom_dev_files_rows_under_two_labels_are_said_among_the_rows_scored(tmp_path, caplog):
    """An 11-row dev file whose rows 1 and 11 are one text under two labels, max_eval_samples=3 (rows 5, 7, 8 scored):
    `2 of 11 rows repeat another row of the file under another label ...: no prediction scores both`, into the
    record, where round 37 said a training file's among the rows trained and the lead a GLUE dev file's."""
    from sdp.crosslingual import resolve_run_task

    train = [(f"film number {i} here", ("pos", "neg")[i % 2]) for i in range(12)]
    dev = [(f"a dev film {i}", ("pos", "neg")[i % 2]) for i in range(10)] + [("a dev film 0", "neg")]
    scored = sorted(np.random.default_rng(0).permutation(11)[:3].tolist())
    assert 0 not in scored and 10 not in scored, scored
    assert "2 of 11 rows repeat another row" in _said(caplog, lambda: resolve_run_task(_custom(tmp_path, train, dev)),
                                                       "under another label")
    sampled = _custom(tmp_path, train, dev, "max_eval_samples=3")
    assert _said(caplog, lambda: resolve_run_task(sampled), "under another label") == ""
    dev[scored[0]] = ("a dev film 0", "neg")  # row 1's text under the other label, and in the sample...
    dev[scored[1]] = ("a dev film 0", "pos")  # ...with another row of it
    text = _said(caplog, lambda: resolve_run_task(_custom(tmp_path, train, dev, "max_eval_samples=3")), "under")
    assert "2 of the 3 rows scored (max_eval_samples=3) repeat" in text, text


def test_the_recovery_plot_names_each_curve_as_glue_md_names_its_row(tmp_path, monkeypatch):
    """Two setups differing only in task keys share a row setup: the merge named both curves `MP (e7adb8fd, n=1)`,
    where glue.md tells the rows apart by each setup's own hash (aggregate.with_variants)."""
    import matplotlib.figure
    import pandas as pd

    from sdp.report.plots import _glue_labels, recovery

    runs = []
    for name, setup in (("a", "e19732e3aaaa"), ("b", "9e83376fcccc")):
        (tmp_path / name).mkdir()
        events = [{"event": "prune", "step": s, "sparsity": 0.4 * s, "loss_before": 1.0, "loss_after": 1.1,
                   "recovery_steps": 1} for s in (1, 2)]
        (tmp_path / name / "trace.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
        runs.append({"task": "custom", "target_sparsity": 0.8, "has_trace": True, "path": name, "model": "tiny-bert",
                     "method": "MP", "schedule": "cubic", "teacher": "frozen", "setup": setup,
                     "row_setup": "e7adb8fdbbbb", "config_hash": f"h-{name}", "seed": 1, "sdp_version": "aaa",
                     "final": {"main": 0.5}, "dense": {"main": 0.4}, "per_language": None})
    runs = pd.DataFrame(runs)
    legends = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: legends.extend(
        t.get_text() for t in fig.axes[0].get_legend().get_texts()))
    recovery(runs, tmp_path, "custom", 0.8, tmp_path)
    assert len(set(legends)) == 2, legends
    table = set(_glue_labels(runs).values())  # glue.md's: one row setup, so each setup's own hash
    assert table == {"e19732e3", "9e83376f"}, table
    assert {t.split(" (")[1].split(",")[0] for t in legends} == table, (legends, table)


def test_one_rule_for_a_run_folder_above_a_folder(tmp_path):
    """sdp-run refused an output_dir under any run.json (another tool's too), where sdp-eval and sdp-tables ask for
    sdp's record (a config, or a run.json that does not read)."""
    from sdp.run.nesting import run_folder_above
    from sdp.run.rundir import prepare_run_dir

    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "run.json").write_text(json.dumps({"tool": "another"}))
    assert prepare_run_dir(tmp_path / "proj" / "runs" / "a").is_dir()
    assert run_folder_above(tmp_path / "proj" / "runs" / "a") is None
    (tmp_path / "proj" / "run.json").write_text("{not json")  # an interrupted write of sdp's record
    assert run_folder_above(tmp_path / "proj" / "runs" / "b") == (tmp_path / "proj").resolve()


def test_a_carves_untrained_classes_are_counted_among_the_rows_scored(tmp_path, caplog):
    """`task.validation_from_train=0.25 left no training row of class(es) ['mid']: ... their 2 held-out row(s) are
    scored` counted the whole carve where max_eval_samples=3 scored one of them (round 37's cv2, another warning)."""
    from sdp.crosslingual import resolve_run_task
    from sdp.data.loading import load_run_splits
    from sdp.data.rows_kept import sample_positions

    held = np.sort(np.random.default_rng(0).permutation(40)[:10])  # the carve's held-out rows (seed 0)
    scored = set(sample_positions(10, 3).tolist())  # of them, the 3 scored
    one, other = next(i for i in range(10) if i in scored), next(i for i in range(10) if i not in scored)
    train = [(f"film number {i} here", ("pos", "neg")[i % 2]) for i in range(40)]
    train[held[one]], train[held[other]] = ("a film in the middle", "mid"), ("another film in the middle", "mid")
    dev = [("a dev film", "pos"), ("another dev film", "neg"), ("a third", "mid")]
    for extra, count in (((), 2), (("max_eval_samples=3",), 1)):
        cfg = _custom(tmp_path, train, dev, "task.validation_from_train=0.25", *extra)
        text = _said(caplog, lambda cfg=cfg: load_run_splits(cfg, resolve_run_task(cfg)), "left no training row")
        assert f"their {count} held-out row(s) are scored" in text, (extra, text)


# ----------------------------------------------------------------- round 37's noticed items, fixed by the lead
def test_sdp_eval_of_a_classifier_with_a_regressions_metric_says_the_model_is_a_classifier(tmp_path, tokenizer):
    """`sdp-eval ... task.metric=pearson_spearman` of a classifier said `target 'neg' is not a finite number`, a data
    error, not that the metric is a regression's and the model a classifier."""
    import pytest
    from records import write_csv
    from sdp.cli.eval import compose_config
    from test_probe_round32 import _classifier

    from sdp.evaluation import fill_custom_task
    from sdp.saved_model import ModelLoadError

    model = _classifier(tokenizer, tmp_path / "m")
    dev = write_csv(tmp_path / "dv.csv", [("a film", "neg"), ("another", "pos")])
    cfg = compose_config(["task=custom", f"task.validation_file={dev}", "task.text_fields=[text]",
                          "task.label_column=label", "task.metric=pearson_spearman"])
    with pytest.raises(ModelLoadError, match=r"task.metric=pearson_spearman scores a regression, and model_dir is a "
                                             r"classifier of 2 classes \['neg', 'pos'\]"):
        fill_custom_task(cfg, json.loads((model / "config.json").read_text()))


def test_claims_say_no_difference_where_every_unit_is_zero():
    """`negligible (within +-0.0: 1% of MP's mean)` where every unit's difference was exactly 0."""
    from sdp.report.claims import _row

    # pairing keys: PAIR_KEYS (task, model, schedule, teacher, target_sparsity, seed), then setup and pair setup
    pairs = {("rte", "m", "cubic", "frozen", 0.8, s, "setup", "pair"): {"MP": {"v": 0.5}, "SDP-CC": {"v": 0.5}}
             for s in (1, 2, 3)}
    assert _row("claim", "measure", pairs, "SDP-CC", lambda run: run["v"], 1).said == \
        "negligible (no difference in any unit)"
    pairs[("rte", "m", "cubic", "frozen", 0.8, 1, "setup", "pair")]["SDP-CC"]["v"] = 0.501
    assert "within +-" in _row("claim", "measure", pairs, "SDP-CC", lambda run: run["v"], 1).said


def test_a_data_folder_holding_a_task_twice_says_which_is_read(tmp_path, caplog):
    """A data folder with both glue/RTE/ and RTE/: the first was read, no word of the other."""
    import logging

    from omegaconf import OmegaConf
    from records import write_rte_folder

    from sdp.crosslingual import resolve_task
    from sdp.data.glue_local import find_task_dir

    write_rte_folder(tmp_path, ["0\ta\tb\tentailment"], ["0\tc\td\tentailment"])
    (tmp_path / "RTE").mkdir()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        found = find_task_dir(resolve_task(OmegaConf.create({"name": "rte"})), tmp_path)
    assert found == tmp_path / "glue" / "RTE"
    assert "both" in caplog.text and "the first is read, the second not" in caplog.text, caplog.text
    task = resolve_task(OmegaConf.create({"name": "rte"}))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        find_task_dir(task, tmp_path)  # each file read: said once (review)
        linked = tmp_path / "linked"
        (linked / "glue").mkdir(parents=True)
        (linked / "glue" / "RTE").symlink_to(tmp_path / "glue" / "RTE")
        (linked / "RTE").symlink_to(tmp_path / "glue" / "RTE")  # one folder by two names: quiet
        assert find_task_dir(task, linked) == linked / "glue" / "RTE"
    assert "both" not in caplog.text, caplog.text


def test_the_quoting_advice_names_letters_outside_ascii():
    """Hydra's lexer refused a value with a Cyrillic letter; the advice named '=', ',', spaces and brackets only."""
    from sdp.command_line import unreadable_override_errors

    errors = unreadable_override_errors(["task.label_column=метка"])
    assert errors and "letters outside ASCII" in errors[0] and "task.label_column='метка'" in errors[0], errors


def test_review_dev_file_under_a_carve_and_another_tools_run_json(tmp_path, caplog):
    """Second review: under a carve a dev file is checked, not scored: its rows under two labels were counted in a
    max_eval_samples sample it never had ("2 of the 3 rows scored"); sdp-tables listed a folder with another tool's
    run.json as a run that died without a record."""
    from sdp.crosslingual import resolve_run_task
    from sdp.report.walk import walk_unrecorded

    train = [(f"film number {i} here", ("pos", "neg")[i % 2]) for i in range(40)]
    dev = [("a dev film 0", "neg")] + [(f"a dev film {i}", ("pos", "neg")[i % 2]) for i in range(10)]
    for extra in ((), ("max_eval_samples=3",)):
        cfg = _custom(tmp_path, train, dev, "task.validation_from_train=0.25", *extra)
        text = _said(caplog, lambda cfg=cfg: resolve_run_task(cfg), "under another label")
        assert "2 of 11 rows repeat" in text and "rows scored" not in text, (extra, text)
    (tmp_path / "res" / "proj").mkdir(parents=True)
    (tmp_path / "res" / "proj" / "run.json").write_text(json.dumps({"tool": "another"}))
    (tmp_path / "res" / "killed").mkdir()
    (tmp_path / "res" / "killed" / "run.json").write_text(json.dumps({"config": {"seed": 1}, "config_hash": "abc"}))
    assert [p.name for p in walk_unrecorded(tmp_path / "res")] == ["killed"]
