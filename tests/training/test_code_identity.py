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


def _grid_judges_in(checkout: Path, monkeypatch) -> None:
    """scripts/gridrun.py judges records against ``checkout`` (not this repository), with nothing committed."""
    monkeypatch.setattr(gridrun, "judge", lambda rec, any_code=False, **kw: code_policy.judge(rec, any_code,
                                                                                                root=checkout, **kw))
    monkeypatch.setattr(gridrun, "committed_record", lambda d: None)


def test_the_grid_flags_a_kept_record_reruns_a_changed_one_and_resumes_across_harmless_commits(
        checkout, tmp_path, monkeypatch):  # fmt: skip
    made = _git(checkout, "rev-parse", "HEAD")
    help_text = checkout / "conf" / "hydra" / "help" / "sdp.yaml"
    help_text.write_text(help_text.read_text() + "# reworded\n")
    _commit(checkout, "help only")
    _grid_judges_in(checkout, monkeypatch)
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


def test_a_grid_spanning_commits_keeps_what_a_docs_commit_left_reruns_after_an_objectives_commit(
        checkout, tmp_path, monkeypatch):  # fmt: skip
    """The declared policy (sdp/run/code_policy.py), through the grid: a record made before a commit that
    touches only docs is kept and flagged; after a commit that touches sdp/objectives it is run again. A record
    from before runs recorded their code identity (versions.sdp only, as the committed study's 186) is kept as
    made and flagged as such: a plain `make study` resumes the study instead of running it all again."""
    from sdp.report.collect import code_flag

    made = _git(checkout, "rev-parse", "HEAD")
    (checkout / "docs").mkdir()
    (checkout / "docs" / "usage.md").write_text("how to run it\n")
    _commit(checkout, "docs only")
    _grid_judges_in(checkout, monkeypatch)
    calls: list[str] = []

    def fake_call(self, run_dir, overrides):  # stands in for sdp-run: a record made by this code
        calls.append(run_dir.name)
        (run_dir / "metrics.json").write_text(json.dumps({**_record(made), "code": code.code_identity()}))
        return 0

    monkeypatch.setattr(gridrun.Grid, "_call", fake_call)
    root = tmp_path / "grid"
    recorded, unrecorded, foreign = root / "recorded", root / "unrecorded", root / "foreign"
    old_style = {"status": "completed", "dense": {"main": 0.8}, "final": {"main": 0.7},
                 "versions": {"sdp": made, "sdp_dirty": False}}  # no code block
    for run_dir, record in ((recorded, _record(made)), (unrecorded, old_style),
                            (foreign, {**old_style, "versions": {"sdp": "e" * 40, "sdp_dirty": False}})):
        run_dir.mkdir(parents=True)
        (run_dir / "metrics.json").write_text(json.dumps(record))
    grid = gridrun.Grid(root, [])
    assert grid.launch(recorded, [])["final"]["main"] == 0.7 and not calls  # docs only: kept...
    flag = json.loads((recorded / "metrics.json").read_text())["code_changed_since"]
    assert flag["commit"] == made and flag["training_files_changed"] == [] and flag["files_changed"] == 0
    loss = checkout / "sdp" / "objectives" / "distill_terms" / "cross_correlation.py"
    loss.write_text(loss.read_text() + "# a change to the objective\n")
    _commit(checkout, "objectives")
    (recorded / "metrics.json").write_text(json.dumps(_record(made)))  # as it was committed, before the flag
    assert grid.launch(recorded, [])["code"]["id"] == code.code_identity()["id"] and calls == ["recorded"]
    assert grid.launch(unrecorded, [])["final"]["main"] == 0.7 and calls == ["recorded"]  # kept as made
    flag = json.loads((unrecorded / "metrics.json").read_text())["code_changed_since"]
    assert flag["code_identity"] == "unrecorded" and flag["n_training_files_changed"] == 1
    assert code_flag(flag).endswith("training files changed: 1 (sdp/objectives/distill_terms/cross_correlation.py)"
                                    "; no code identity recorded (made before runs recorded it)")
    dirty = root / "dirty"  # made from uncommitted changes, before code identities: kept too, saying so
    dirty.mkdir()
    (dirty / "metrics.json").write_text(json.dumps({**old_style, "versions": {"sdp": made, "sdp_dirty": True}}))
    assert grid.launch(dirty, [])["final"]["main"] == 0.7 and calls == ["recorded"]
    dirty_flag = json.loads((dirty / "metrics.json").read_text())["code_changed_since"]
    assert dirty_flag["uncommitted_changes"] is True and code_flag(dirty_flag).endswith("from uncommitted changes)")
    assert grid.launch(foreign, [])["code"]["id"] == code.code_identity()["id"]  # not this history: run again
    assert calls == ["recorded", "foreign"] and not grid.failed
    # A flag says when the record was first kept: a later launch (or commit) does not rewrite the record.
    before = (unrecorded / "metrics.json").read_bytes()
    assert code_policy.with_flag(json.loads(before), {**flag, "code": "another"}) is None
    grid.launch(unrecorded, [])
    assert (unrecorded / "metrics.json").read_bytes() == before
    # An unfinished run is never continued by code it cannot be compared with (no clause for unrecorded code).
    assert not code_policy.judge(old_style, root=checkout, completed=False)[0]
