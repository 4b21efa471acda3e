"""A distillation term added as a one-file plug-in (tests/plugins/toy_term.py) runs through sdp-run and sdp-tables,
joined only through the documented route: the SDP_PLUGINS environment variable (issue 24)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from plugin_runner import REPO, run_with_plugins  # tests/plugins is on sys.path (pytest's rootdir insertion)


def _run(args: list[str], cwd: Path, plugins: str | None = "toy_term") -> subprocess.CompletedProcess:
    return run_with_plugins(args, cwd, plugins)


@pytest.fixture(scope="module")
def toy_run(data_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("toy") / "runs" / "toy"
    proc = _run(["cli.run", "debug=smoke", "task=rte", "regularizer=toy_term", "regularizer.scale=2.0",
                 f"data_dir={data_dir}", f"cache_dir={out.parent / 'cache'}", f"output_dir={out}", "cpu=true",
                 "max_train_samples=16", "max_eval_samples=8", "dense.max_steps=2", "prune.max_steps=3",
                 "train.num_threads=1"], cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_a_plugin_term_runs_end_to_end_and_shows_in_the_tables(toy_run):
    metrics = json.loads((toy_run / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["method"] == "TOY-MSE"
    config = json.loads((toy_run / "run.json").read_text())["config"]
    assert config["regularizer"] == {"name": "toy_term", "alpha": 1.0, "scale": 2.0}
    trace = [json.loads(line) for line in (toy_run / "trace.jsonl").read_text().splitlines()]
    distill = [r["distill"] for r in trace if r.get("stage") == "prune" and "distill" in r]
    assert distill and any(v > 0 for v in distill)  # the term was in the loss

    tables = toy_run.parents[1] / "tables"
    proc = _run(["cli.tables", f"results_dir={toy_run.parent}", f"out_dir={tables}", "plots=false"], cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "TOY-MSE" in "".join(p.read_text() for p in tables.glob("*.md"))


def test_a_bad_plugin_option_is_one_line_naming_the_allowed_options(tmp_path):
    proc = _run(["cli.run", "debug=smoke", "regularizer=toy_term", "regularizer.nope=1", "data_dir=null",
                 f"output_dir={tmp_path / 'run'}"], cwd=REPO)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == ["sdp-run: error: ConfigError: regularizer=toy_term does not take regularizer.nope; "
                     "its options are ['scale']"], proc.stderr


def test_without_the_plugin_the_name_is_unknown(tmp_path):
    proc = _run(["cli.run", "debug=smoke", "regularizer=toy_term", "data_dir=null",
                 f"output_dir={tmp_path / 'run'}"], cwd=REPO, plugins=None)
    assert proc.returncode != 0 and "toy_term" in proc.stderr
    proc = _run(["cli.run", "debug=smoke", "data_dir=null", f"output_dir={tmp_path / 'run2'}"], cwd=REPO,
                plugins="no_such_plugin")
    assert proc.returncode == 2
    assert "SDP_PLUGINS: cannot import plug-in module 'no_such_plugin'" in proc.stderr
