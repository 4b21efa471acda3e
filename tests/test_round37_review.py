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
