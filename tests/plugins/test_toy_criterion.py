"""A pruning criterion added as a one-file plug-in (tests/plugins/toy_criterion.py) runs through sdp-run and
sdp-tables, joined only through the documented route: the SDP_PLUGINS environment variable (issue 24)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from plugin_runner import REPO, run_with_plugins  # tests/plugins is on sys.path (pytest's rootdir insertion)


def _run(args: list[str], cwd: Path, plugins: str | None = "toy_criterion") -> subprocess.CompletedProcess:
    return run_with_plugins(args, cwd, plugins)


@pytest.fixture(scope="module")
def toy_run(data_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("toy_criterion") / "runs" / "toy"
    proc = _run(["cli.run", "debug=smoke", "task=rte", "regularizer=none", "prune.criterion=toy_random",
                 "prune.criterion_options={seed: 3}", "sparsity=0.6", f"data_dir={data_dir}", f"cache_dir={out.parent / 'cache'}", f"output_dir={out}",
                 "cpu=true", "max_train_samples=16", "max_eval_samples=8", "dense.max_steps=2", "prune.max_steps=3",
                 "train.num_threads=1"], cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_a_plugin_criterion_runs_end_to_end_and_shows_in_the_tables(toy_run):
    metrics = json.loads((toy_run / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["method"] == "MP (RAND)"
    total = metrics["prunable_params"]
    assert round(metrics["achieved_sparsity"]["prunable"] * total) == round(0.6 * total)
    config = json.loads((toy_run / "run.json").read_text())["config"]
    assert config["prune"]["criterion"] == "toy_random" and config["prune"]["criterion_options"] == {"seed": 3}

    tables = toy_run.parents[1] / "tables"
    proc = _run(["cli.tables", f"results_dir={toy_run.parent}", f"out_dir={tables}", "plots=false"], cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "MP (RAND)" in "".join(p.read_text() for p in tables.glob("*.md"))


def test_a_bad_plugin_option_value_is_one_line(tmp_path):
    """The plug-in's own check() refuses the value before anything runs (an option it does not take: as a term's,
    tests/pruning/test_criteria.py)."""
    proc = _run(["cli.run", "debug=smoke", "prune.criterion=toy_random", "prune.criterion_options={seed: -1}",
                 "data_dir=null", f"output_dir={tmp_path / 'run'}"], cwd=REPO)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == ["sdp-run: error: ConfigError: prune.criterion_options={'seed': -1} for prune.criterion=toy_random: "
                     "seed=-1 must be >= 0"], proc.stderr


def test_without_the_plugin_the_criterion_is_unknown(tmp_path):
    proc = _run(["cli.run", "debug=smoke", "prune.criterion=toy_random", "data_dir=null",
                 f"output_dir={tmp_path / 'run'}"], cwd=REPO, plugins=None)
    assert proc.returncode == 2
    assert "prune.criterion='toy_random' is not one of ['magnitude', 'movement', 'taylor']" in proc.stderr


def test_sdp_run_help_lists_a_plugin_criterion(tmp_path):
    """sdp-run loads the plug-ins before Hydra composes its help: the criterion is listed for its granularity."""
    proc = _run(["cli.run", "--help"], cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "\nprune.criterion with unstructured: magnitude (null's choice), movement, taylor, toy_random\n" in proc.stdout
    assert "\nprune.criterion with structured: l2 (null's choice), taylor\n" in proc.stdout
