"""Issue 25, code-aware runs: the code a run was made by is part of its identity, and a grid keeps a record
from older code only when nothing that affects training changed since (sdp/run/code.py, code_policy.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sdp.run import code, code_policy

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import gridrun  # noqa: E402


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()


def _commit(root: Path, message: str) -> str:
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message)
    return _git(root, "rev-parse", "HEAD")


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A git checkout holding a copy of this package (sdp/, conf/, cli/) and a README."""
    root = tmp_path / "repo"
    for name in code.PACKAGE_DIRS:
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (root / "README.md").write_text("readme\n")
    _git(root, "init", "-q")
    _commit(root, "first")
    return root


def test_editing_the_package_changes_the_code_identity(checkout):
    clean = code.fingerprint(checkout, checkout / "sdp")
    assert clean["commit"] == _git(checkout, "rev-parse", "HEAD") and clean["diff"] is None
    loss = checkout / "sdp" / "objectives" / "cross_correlation.py"
    loss.write_text(loss.read_text() + "\n# an edit to the loss\n")
    edited = code.fingerprint(checkout, checkout / "sdp")
    assert edited["id"] != clean["id"] and edited["diff"] and edited["commit"] == clean["commit"]
    (checkout / "sdp" / "new_module.py").write_text("x = 1\n")  # untracked files count too
    untracked = code.fingerprint(checkout, checkout / "sdp")
    assert untracked["id"] not in (clean["id"], edited["id"])
    _commit(checkout, "the edit")
    committed = code.fingerprint(checkout, checkout / "sdp")
    assert committed["diff"] is None and committed["id"] != clean["id"]
    (checkout / "README.md").write_text("other words\n")  # not the package: the code is the same
    _commit(checkout, "docs")
    assert code.fingerprint(checkout, checkout / "sdp")["id"] == committed["id"]
    # Outside a checkout (an installed package): a hash of the package's files.
    installed = checkout.parent / "site" / "sdp"
    shutil.copytree(checkout / "sdp", installed)
    before = code.fingerprint(installed.parent, installed)
    assert before["commit"] is None and before["version"] == code.package_version()
    (installed / "recipe.py").write_text((installed / "recipe.py").read_text() + "# edited\n")
    assert code.fingerprint(installed.parent, installed)["id"] != before["id"]


def test_reuse_takes_only_its_two_values():
    from hydra import compose, initialize_config_dir

    from sdp.errors import ConfigError
    from sdp.validate import validate_config

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=["debug=smoke", "reuse=sometimes"])
    with pytest.raises(ConfigError, match=r"reuse='sometimes' is not one of \['any_code', 'same_code'\]"):
        validate_config(cfg)


def test_default_run_folder_is_a_function_of_the_config():
    """No timestamp: the same config gets the same folder (a re-run finds it), another config another one."""
    from hydra import compose, initialize_config_dir

    def run_dir(*overrides: str) -> str:
        with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
            return str(compose("config", overrides=["debug=smoke", "task=rte", *overrides],
                               return_hydra_config=True).hydra.run.dir)

    first = run_dir("prune.lr=1e-4")
    assert first.startswith("outputs/runs/rte/tiny-bert_cross_correlation_s0.5_seed42_")
    assert run_dir("prune.lr=1e-4") == first == run_dir("prune.lr=1e-4", "train.log_every=3", "tracker=tensorboard")
    assert run_dir("prune.lr=2e-4") != first and run_dir("seed=1") != first


def _record(commit: str, **extra) -> dict:
    """A completed record made by older code at ``commit``."""
    return {"status": "completed", "dense": {"main": 0.8}, "final": {"main": 0.7},
            "code": {"id": "older", "version": "0", "commit": commit, "tree": "t", "diff": None}, **extra}


def test_a_record_from_older_code_is_kept_only_if_no_training_file_changed(checkout):
    made = _git(checkout, "rev-parse", "HEAD")
    report = checkout / "sdp" / "report" / "tables.py"
    report.write_text(report.read_text() + "# a reporting change\n")
    _commit(checkout, "report only")
    keep, flag, why = code_policy.judge(_record(made), root=checkout)
    assert keep and flag["training_files_changed"] == [] and flag["files_changed"] == 1, why
    loss = checkout / "sdp" / "objectives" / "distill_terms" / "kd.py"
    loss.write_text(loss.read_text() + "# a change to training, not committed\n")
    keep, flag, why = code_policy.judge(_record(made), root=checkout)
    assert not keep and flag is None and "sdp/objectives/distill_terms/kd.py" in why
    keep, flag, _ = code_policy.judge(_record(made), any_code=True, root=checkout)
    assert keep and flag["training_files_changed"] == ["sdp/objectives/distill_terms/kd.py"]
    # Unknown code (no commit, or one this checkout lacks, or uncommitted changes then): made again.
    assert not code_policy.judge({"status": "completed"}, root=checkout)[0]
    assert not code_policy.judge(_record("0" * 40), root=checkout)[0]
    dirty = _record(made)
    dirty["code"]["diff"] = "abc"
    assert not code_policy.judge(dirty, root=checkout)[0]
    assert code_policy.judge({**_record(made), "code": code.code_identity()}, root=checkout)[:2] == (True, None)


def test_the_grid_flags_a_kept_record_reruns_a_changed_one_and_resumes_across_harmless_commits(
        checkout, tmp_path, monkeypatch):  # fmt: skip
    made = _git(checkout, "rev-parse", "HEAD")
    help_text = checkout / "conf" / "hydra" / "help" / "sdp.yaml"
    help_text.write_text(help_text.read_text() + "# reworded\n")
    _commit(checkout, "help only")
    monkeypatch.setattr(gridrun, "judge", lambda rec, any_code=False: code_policy.judge(rec, any_code, root=checkout))
    monkeypatch.setattr(gridrun, "committed_record", lambda d: None)
    calls: list[tuple[str, list[str]]] = []

    def fake_call(self, run_dir, overrides):  # stands in for sdp-run: a record made by this code
        calls.append((run_dir.name, overrides))
        (run_dir / "metrics.json").write_text(json.dumps({**_record(made), "code": code.code_identity()}))
        return 0

    monkeypatch.setattr(gridrun.Grid, "_call", fake_call)
    root = tmp_path / "grid"
    kept, rerun, unfinished = root / "kept", root / "rerun", root / "unfinished"
    for d in (kept, rerun, unfinished):
        d.mkdir(parents=True)
    (kept / "metrics.json").write_text(json.dumps(_record(made)))
    (rerun / "metrics.json").write_text(json.dumps(_record("f" * 40)))  # a commit this checkout lacks
    (unfinished / "run.json").write_text(json.dumps({"config": {}, "code": _record(made)["code"]}))
    grid = gridrun.Grid(root, [])
    assert grid.launch(kept, [])["final"]["main"] == 0.7 and not calls
    flag = json.loads((kept / "metrics.json").read_text())["code_changed_since"]
    assert flag["commit"] == made and flag["training_files_changed"] == []
    assert grid.launch(rerun, [])["code"]["id"] == code.code_identity()["id"] and calls[-1] == ("rerun", [])
    grid.launch(unfinished, ["seed=1"])
    assert calls[-1] == ("unfinished", ["seed=1", "reuse=any_code"])  # resumed, not started over
    assert not grid.failed

    from sdp.report.collect import code_flag

    assert code_flag(flag) == f"made at {made[:10]}, kept for code {flag['code']}; training files changed: 0"
