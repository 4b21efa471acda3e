"""Issue 25, code-aware runs: after the package is edited, re-running a command does not return the result
made by the old code. Tiny in-process runs; the edit is simulated by another code identity (what
sdp/run/code.py computes from a real edit: tests/training/test_code_identity.py)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import sdp.config  # noqa: F401  (registers the schema)
import sdp.run_summary
from sdp.run import code
from sdp.run.rundir import ResumeRefusedError
from sdp.sweep import run_job

REPO_ROOT = Path(__file__).resolve().parents[2]
SMOKE = ["debug=smoke", "task=rte", "train.num_threads=1", "dense.max_steps=2", "prune.max_steps=2",
         "max_train_samples=16", "max_eval_samples=8", "prune.teacher_cache=off"]


@pytest.fixture
def data(tmp_path, data_dir) -> Path:
    dst = tmp_path / "data" / "glue" / "RTE"
    dst.mkdir(parents=True)
    for name in ("train.tsv", "dev.tsv"):
        lines = (data_dir / "glue" / "RTE" / name).read_text(encoding="utf-8").split("\n")[:40]
        (dst / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path / "data"


def _run(tmp_path: Path, data: Path, run_dir: Path, *extra: str) -> dict:
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[*SMOKE, f"data_dir={data}", f"output_dir={run_dir}",
                                           f"output_root={run_dir.parent}", f"cache_dir={tmp_path / 'cache'}", *extra])
    return run_job(cfg)


def _edit_code(monkeypatch, name: str) -> dict:
    """From now on this process runs 'edited' code: another code identity, as an edit to the package gives."""
    edited = {**code.fingerprint(), "id": name, "diff": name}
    monkeypatch.setattr(code, "code_identity", lambda: edited)
    monkeypatch.setattr(sdp.run_summary, "code_identity", lambda: edited)
    return edited


def test_a_completed_run_by_other_code_is_run_again_not_returned(tmp_path, data, monkeypatch, caplog):
    run_dir = tmp_path / "runs" / "a"
    old = _run(tmp_path, data, run_dir)
    assert old["code"]["id"] == code.code_identity()["id"]
    assert json.loads((run_dir / "run.json").read_text())["code"] == old["code"]
    _edit_code(monkeypatch, "edited1")
    with caplog.at_level(logging.WARNING, logger="sdp"):
        new = _run(tmp_path, data, run_dir)
    assert new["code"]["id"] == "edited1" and new["finished_at"] >= old["finished_at"]
    assert "re-running" in caplog.text and "made by code" in caplog.text and "reuse=any_code" in caplog.text
    (previous,) = run_dir.glob("previous-*")  # the old result is set aside, not lost
    assert json.loads((previous / "metrics.json").read_text())["code"]["id"] == old["code"]["id"]
    # The same code: returned as it is, nothing recomputed; reuse=any_code returns another code's result.
    before = (run_dir / "metrics.json").read_bytes()
    assert _run(tmp_path, data, run_dir) == new and (run_dir / "metrics.json").read_bytes() == before
    _edit_code(monkeypatch, "edited2")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdp"):  # said as another code's (it said "already completed" alone)
        assert _run(tmp_path, data, run_dir, "reuse=any_code") == new and len(list(run_dir.glob("previous-*"))) == 1
    assert "already completed by code edited1 (" in caplog.text and "(reuse=any_code), not by this code" in caplog.text


def test_the_skip_search_takes_only_a_twin_made_by_this_code(tmp_path):
    from sdp.sweep import find_completed

    record = {"status": "completed", "config_hash": "abc", "seed": 1, "code": {"id": "older"}}
    twin = tmp_path / "twin"
    twin.mkdir()
    (twin / "metrics.json").write_text(json.dumps(record))
    assert find_completed(tmp_path, "abc", 1) is None
    assert find_completed(tmp_path, "abc", 1, any_code=True) == twin  # reuse=any_code
    (twin / "metrics.json").write_text(json.dumps({**record, "code": code.code_identity()}))
    assert find_completed(tmp_path, "abc", 1) == twin


def test_an_unfinished_run_by_other_code_is_refused_naming_the_override(tmp_path, data, monkeypatch):
    from sdp.training.checkpoint import Checkpointer

    run_dir = tmp_path / "runs" / "a"
    with monkeypatch.context() as keep:  # an unfinished run has its checkpoints (one without is set aside instead)
        keep.setattr(Checkpointer, "cleanup", lambda self: None)
        record = _run(tmp_path, data, run_dir)
    assert (run_dir / "checkpoints" / "latest.json").is_file()
    (run_dir / "metrics.json").write_text(json.dumps({**record, "status": "interrupted"}))
    before = sorted(p.name for p in run_dir.iterdir())
    _edit_code(monkeypatch, "edited")
    with pytest.raises(ResumeRefusedError, match=r"unfinished run started by code .* resuming it would mix code\. "
                                                 r"reuse=any_code resumes it anyway, resume=false starts it over"):
        _run(tmp_path, data, run_dir)
    assert sorted(p.name for p in run_dir.iterdir()) == before
    assert _run(tmp_path, data, run_dir, "reuse=any_code")["code"]["id"] == "edited"
    assert json.loads((run_dir / "run.json").read_text())["earlier_code"] == [record["code"]]  # the trail
