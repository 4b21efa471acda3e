"""What probe round 24 found (issue 26; docs/probe_round24.md): published rows whose task, metric or unit the tables
spell otherwise were lost or shown as 0.56%, a published CSV with a BOM "lacked" its method column, a grid
re-launched with other overrides kept every record of the old config as done, runs of one setup on other data were
pooled in one cell, class names for a regression were ignored, a README block whose end marker was misspelt kept
its stale numbers, claims.md's absence under another criterion was misexplained, an unquoted path holding '=' got
Hydra's bare grammar error, and a regression model on a classification task had "1 unnamed labels". Each test fails
on the commit the probe ran (4b5d87c) and passes after its fix. Tiny models or none, offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

REPO = Path(__file__).resolve().parents[1]
CONF = str(REPO / "conf")
sys.path.insert(0, str(REPO / "scripts"))


def _compose(overrides: list[str]):
    import sdp.config  # noqa: F401  (the structured schema)

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def _run(root: Path, name: str, method: str, seed: int, final: float, fingerprint: dict | None = None,
         task: str = "rte", config: dict | None = None) -> Path:
    run_dir = root / name
    run_dir.mkdir(parents=True)
    record = {"status": "completed", "task": task, "model": "tiny-bert", "method": method, "schedule": "cubic",
              "teacher": "frozen", "seed": seed, "target_sparsity": 0.5, "final": {"main": final, "accuracy": final},
              "dense": {"main": final, "accuracy": final}, "analysis": {}, "config_hash": f"h{method}",
              "versions": {"sdp": "aaa", "sdp_dirty": False}, "finished_at": f"2026-12-06T10:0{seed}:00+00:00"}
    if fingerprint is not None:
        record["data_fingerprint"] = fingerprint
    (run_dir / "metrics.json").write_text(json.dumps(record))
    cfg = config or {"task": {"name": task}, "regularizer": {"name": method}, "sparsity": 0.5}
    (run_dir / "run.json").write_text(json.dumps({"config": cfg}))
    return run_dir


# --------------------------------------------------------------------------- b01-b03, b05: published rows
def test_published_rows_named_or_written_otherwise_are_said(tmp_path):
    """b01-b03: `wnli,accuracy,0.5634` showed as 0.56 in a percent column, `MRPC` made an empty column of its own,
    `acc` gave no cell: each without a word. b05: a CSV saved with a BOM 'lacked columns ['method']'."""
    from sdp.report.baselines import load_published

    path = tmp_path / "published.csv"
    path.write_text("\n".join([
        "method,model,sparsity,task,metric,value,source", "Dense (paper),tiny-bert,0.0,wnli,accuracy,0.5634,a",
        "MP (paper),tiny-bert,0.6,MRPC,f1,80.1,b", "KD (paper),tiny-bert,0.6,wnli,acc,55.0,c",
        "KD (paper),tiny-bert,0.6,mrpc,f1,81.0,c"]) + "\n")
    cells, problems = load_published(path)
    assert problems == [
        "`published.csv` line 2: value 0.5634 reads as a fraction, and the values are percent (write 56.34 for "
        "0.5634); row left out",
        "`published.csv` line 3: task 'MRPC' is not one of ['cola', 'mnli', 'mrpc', 'qnli', 'qqp', 'rte', 'sst2', "
        "'stsb', 'wnli'] (the GLUE tasks as the tables name them); row left out",
        "`published.csv` line 4: metric 'acc' is not one of ['accuracy', 'main', 'unspecified'] for wnli; row left "
        "out"]
    assert list(cells["mean"]) == [81.0]
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbfmethod,model,sparsity,task,metric,value,source\nX,tiny-bert,0.6,wnli,accuracy,55.5,s\n")
    cells, problems = load_published(bom)
    assert problems == [] and list(cells[cells["metric"] == "accuracy"]["mean"]) == [55.5]


# ------------------------------------------------------------------------------ g02: a grid's overrides
def test_a_grid_relaunched_with_other_overrides_runs_again(tmp_path, monkeypatch, capsys):
    """g02: the study grid re-launched with prune.max_steps=25 instead of 20 printed nothing, exited 0, and kept all
    21 records of prune.max_steps=20 as done (PROGRESS.md, --plan, the tables)."""
    import grid
    import gridrun
    from omegaconf import OmegaConf

    from sdp.run.code import code_identity

    base = ["experiment=study", "debug=smoke"]
    run_overrides = ["task=rte", "seed=1", "sparsity=0.5", "method=mp"]
    run_dir = tmp_path / "runs" / "mp"
    run_dir.mkdir(parents=True)
    made = OmegaConf.to_container(_compose([*base, "prune.max_steps=20", *run_overrides]), resolve=True)
    made["train"]["mixed_precision"] = "no"
    (run_dir / "run.json").write_text(json.dumps({"config": made}))
    record = {"status": "completed", "dense": {"main": 0.5}, "final": {"main": 0.5}, "code": code_identity()}
    (run_dir / "metrics.json").write_text(json.dumps(record))
    monkeypatch.setattr(gridrun, "committed_record", lambda d: None)
    calls = []

    def call(self, run_dir, overrides):  # stands in for the sdp-run process
        calls.append(overrides)
        return 0

    monkeypatch.setattr(gridrun.Grid, "_call", call)
    same = gridrun.Grid(tmp_path, [*base, "prune.max_steps=20"])
    assert same.launch(run_dir, run_overrides) is not None and calls == []  # the same config: done, as before
    other = gridrun.Grid(tmp_path, [*base, "prune.max_steps=25"])
    other.launch(run_dir, run_overrides)
    assert calls and "resume=false" in calls[0]
    assert "its record was made with another config (prune.max_steps: 20 -> 25)" in capsys.readouterr().out
    assert grid.status(other, run_dir, (), run_overrides).startswith("re-run (made with another config: "
                                                                       "prune.max_steps: 20 -> 25")


# ---------------------------------------------------------------------------- rp1: runs on other data
def test_runs_of_one_setup_on_other_data_are_not_pooled(tmp_path):
    """rp1: seed 1 on RTE and seed 2 on a copy whose dev labels were edited (data_dir) gave one cell `49.46 ± 4.59
    (n=2)`; the same seed on both data collapsed as an identical duplicate, or was kept as the newest conflict."""
    from sdp.report.report import build_report

    orig, edited = {"train": "t1", "validation": "v1"}, {"train": "t1", "validation": "v2"}
    _run(tmp_path, "a", "MP", 1, 0.5271, orig)
    _run(tmp_path, "b", "MP", 1, 0.5271, edited)
    _run(tmp_path, "c", "MP", 2, 0.4621, edited)
    report = build_report(tmp_path, plots=False)
    assert len(report.collection.runs) == 3 and report.collection.n_identical_duplicates == 0
    glue = (tmp_path / "tables" / "glue.md").read_text()
    rows = [x for x in glue.splitlines() if x.startswith("| tiny-bert | MP")]
    assert sorted(r.split("|")[4].strip() for r in rows) == ["49.46 ± 4.60 (n=2)", "52.71 (n=1)"], rows
    assert "trained or scored on 2 different data" in (tmp_path / "tables" / "summary.md").read_text()


# ------------------------------------------------------------------------------ rg2: classes of a regression
def test_class_names_for_a_regression_are_refused(tmp_path):
    """rg2: `task.metric=pearson_spearman 'task.label_names=[0,1,2,3,4,5]'` ran a regression, the names ignored
    (kept in run.json) without a word."""
    from sdp.data.custom import custom_task
    from sdp.data.tasks import DataError

    for name, n in (("train", 24), ("dev", 6)):
        rows = [f"{'good ' * (i % 6)}film {i},{i % 6}" for i in range(n)]
        (tmp_path / f"{name}.csv").write_text("\n".join(["text,score", *rows]) + "\n")
    keys = ["task=custom", "task.text_fields=[text]", "task.label_column=score", "task.metric=pearson_spearman",
            f"task.train_file={tmp_path / 'train.csv'}", f"task.validation_file={tmp_path / 'dev.csv'}"]
    assert custom_task(_compose(keys).task).is_regression
    with pytest.raises(DataError, match=r"names classes, but task.metric=pearson_spearman makes this task a "
                                        r"regression"):
        custom_task(_compose([*keys, "task.label_names=[0,1,2,3,4,5]"]).task)


# ---------------------------------------------------------------------------- rm1, r02: the results README
def test_a_readme_block_that_cannot_be_refreshed_is_said(tmp_path):
    """rm1: a README whose end marker lost a space kept its old costs block (999 s) with no word. r02: under another
    criterion the README said 'no SDP-CC run has an MP partner' beside SDP-CC (movement) runs paired in deltas.md."""
    from sdp.report.report import build_report

    for seed in (1, 2, 3):
        for method, final in (("MP (movement)", 0.6), ("SDP-CC(mean) (movement)", 0.62)):
            _run(tmp_path, f"{method[:2]}{seed}", method, seed, final)
    (tmp_path / "README.md").write_text("# loop\n<!-- sdp-tables: costs.md -->\n| rte | MP | 999 s |\n"
                                        "<!-- /sdp-tables: costs.md-->\n<!-- sdp-tables: claims.md -->\nold\n"
                                        "<!-- /sdp-tables: claims.md -->\n")
    report = build_report(tmp_path, plots=False)
    readme = (tmp_path / "README.md").read_text()
    assert "999 s" in readme and any("has `<!-- sdp-tables: costs.md -->` but no `<!-- /sdp-tables: costs.md -->` "
                                     "after it" in w for w in report.warnings)
    assert "no SDP-CC run has an MP partner" not in readme
    assert "the SDP-CC runs here rank weights by movement" in readme


def test_a_readme_block_sdp_tables_does_not_embed_is_said(tmp_path):
    """Probe round 25, rb1: a block `<!-- sdp-tables: glue.md -->` (only claims.md and costs.md are embedded) kept
    its old numbers, never refreshed and never said."""
    from sdp.report.report import build_report

    _run(tmp_path, "MP1", "MP", 1, 0.6)
    (tmp_path / "README.md").write_text("# loop\n<!-- sdp-tables: glue.md -->\n| rte | 99.9 |\n"
                                        "<!-- /sdp-tables: glue.md -->\n")
    report = build_report(tmp_path, plots=False)
    assert any("sdp-tables block(s) ['glue.md'], which sdp-tables does not refresh" in w for w in report.warnings)
    assert "99.9" in (tmp_path / "README.md").read_text()  # left as it was: said, not rewritten


# ------------------------------------------------------------------------------- u01: an unreadable override
def test_an_unquoted_path_holding_an_equals_sign_is_said_with_its_quoting(tmp_path):
    """u01: `dense.checkpoint=<a sweep job's folder>/dense_model` or `output_dir=/tmp/x=1` unquoted: Hydra's
    `mismatched input '=' expecting <EOF>`, naming neither the override nor the quoting."""
    path = tmp_path / "sweeps" / "method=mp,seed=1,id=ab12" / "dense_model"
    out = subprocess.run([sys.executable, "-m", "cli.run", "debug=smoke", f"dense.checkpoint={path}", "--cfg", "job"],
                         cwd=REPO, capture_output=True, text=True)
    assert out.returncode != 0
    assert "is not an override Hydra can read" in out.stderr and f"dense.checkpoint='{path}'" in out.stderr, out.stderr


# ----------------------------------------------------------------- e02: a regression model, a classification
def test_a_regression_model_on_a_classification_task_is_named_so():
    """e02: `sdp-eval model_dir=<a regression model> task=rte` said 'was trained for labels 1 unnamed labels'."""
    from sdp.data.tasks import TASKS
    from sdp.models.presets import ModelLoadError
    from sdp.saved_model import check_task_labels

    config = {"num_labels": 1, "problem_type": "regression", "id2label": {"0": "LABEL_0"}}
    with pytest.raises(ModelLoadError, match=r"is a regression model \(one score per row: config.json num_labels 1\); "
                                             r"task 'rte' is a classification with the labels"):
        check_task_labels("m", config, TASKS["rte"])
