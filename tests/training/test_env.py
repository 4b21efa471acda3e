"""Provenance: the dirty flag follows the code, not the run records a sweep keeps writing under results/."""

from __future__ import annotations

import subprocess

import sdp.run.env as env


def _git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_dirty_flag_ignores_results_but_not_code(tmp_path, monkeypatch):
    _git(tmp_path, "init", "-q")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "PROGRESS.md").write_text("a")
    (tmp_path / "code.py").write_text("x = 1")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    monkeypatch.setattr(env, "REPO_ROOT", tmp_path)
    assert env.git_commit()[1] is False
    (tmp_path / "results" / "PROGRESS.md").write_text("b")  # a running sweep's progress file
    assert env.git_commit()[1] is False
    (tmp_path / "code.py").write_text("x = 2")
    commit, dirty = env.git_commit()
    assert dirty is True and len(commit) == 40


def test_versions_record_the_runs_own_thread_count():
    """train.num_threads is applied in setup(), after versions() is taken: the record says what the run uses."""
    import torch

    from sdp.run.env import versions

    assert versions(1)["num_threads"] == 1
    assert versions(None)["num_threads"] == torch.get_num_threads()
