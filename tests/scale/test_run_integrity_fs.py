"""Issue 26: a full disk and a run folder removed mid-run are one line naming the path, and what was written before
is kept. Rows of the "Run-integrity case" table (docs/errors.md); runs are in-process tiny-bert smoke runs."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import sdp.config  # noqa: F401  (registers the schema)
from sdp.errors import is_user_error, user_errors
from sdp.sweep import run_job

REPO_ROOT = Path(__file__).resolve().parents[2]
SMOKE = ["debug=smoke", "task=rte", "train.num_threads=1", "dense.max_steps=2", "prune.max_steps=3",
         "max_train_samples=16", "max_eval_samples=8", "prune.teacher_cache=off", "train.checkpoint_every=1"]
NO_SPACE = 'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })'

ROWS = {
    "disk full": "test_a_full_disk_is_one_line_naming_the_file_and_keeps_what_was_written",
    "run folder removed mid-run": "test_a_run_folder_removed_mid_run_is_one_line_and_not_made_anew",
}


def _run(tmp_path: Path, data_dir: Path, run_dir: Path) -> dict:
    with initialize_config_dir(config_dir=str(REPO_ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=[*SMOKE, f"data_dir={data_dir}", f"output_dir={run_dir}",
                                           f"cache_dir={tmp_path / 'cache'}"])
    return run_job(cfg)


def _one_line(exc: BaseException, capsys) -> str:
    """What sdp-run prints for it: one line, exit 2 (sdp/errors.py)."""
    capsys.readouterr()  # the run's own progress bars
    with pytest.raises(SystemExit) as code, user_errors():
        raise exc
    assert code.value.code == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    return err


def test_a_full_disk_is_one_line_naming_the_file_and_keeps_what_was_written(tmp_path, data_dir, monkeypatch, capsys):
    """safetensors says "No space left" in its own exception, not an OSError: it was a traceback. The checkpoint
    being written is dropped (no temporary folder left), the one before it stays the latest and intact, and the
    same command resumes from it."""
    from safetensors import SafetensorError

    import sdp.training.checkpoint as checkpoint

    real, calls = checkpoint.save_file, []

    def full_at_prune_step_2(tensors, filename, *args, **kwargs):
        calls.append(filename)
        if "/.prune-0000002." in filename:
            raise SafetensorError(NO_SPACE)
        return real(tensors, filename, *args, **kwargs)

    monkeypatch.setattr(checkpoint, "save_file", full_at_prune_step_2)
    run_dir = tmp_path / "run"
    with pytest.raises(Exception) as info:  # noqa: B017 - the class is checked by name below
        _run(tmp_path, data_dir, run_dir)
    assert type(info.value).__name__ == "DiskFullError" and is_user_error(info.value), repr(info.value)
    message = str(info.value)
    assert f"no space left on the device writing {str(run_dir / 'checkpoints' / 'prune-0000002')!r}" in message
    assert _one_line(info.value, capsys).startswith("sdp-run: error: DiskFullError: no space left on the device")
    checkpoints = run_dir / "checkpoints"
    assert json.loads((checkpoints / "latest.json").read_text())["name"] == "prune-0000001"
    assert not [p.name for p in checkpoints.iterdir() if p.name.startswith(".")]  # the half-written one is gone
    failed = json.loads((run_dir / "metrics.json").read_text())
    assert failed["status"] == "failed" and failed["error_type"] == "DiskFullError"

    monkeypatch.setattr(checkpoint, "save_file", real)  # space again: the same command resumes
    assert _run(tmp_path, data_dir, run_dir)["status"] == "completed"
    assert "resume" in [json.loads(line)["event"] for line in (run_dir / "trace.jsonl").read_text().splitlines()]


def test_each_file_writer_turns_a_full_disk_into_one_line_and_keeps_the_old_file(tmp_path, monkeypatch):
    """metrics.json and the other JSON files (written aside, then renamed), the trace (appended) and a folder
    (model/, a checkpoint): ENOSPC names the file, and the previous version is untouched."""
    import sdp.io as io
    from sdp.io import DiskFullError, append_jsonl, write_json
    from sdp.run.rundir import atomic_dir

    target = tmp_path / "metrics.json"
    write_json(target, {"status": "interrupted"})
    real_write_text = Path.write_text

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(DiskFullError, match=f"writing {str(target)!r}"):
        write_json(target, {"status": "completed"})
    monkeypatch.setattr(Path, "write_text", real_write_text)
    assert json.loads(target.read_text()) == {"status": "interrupted"} and sorted(tmp_path.iterdir()) == [target]

    trace = tmp_path / "trace.jsonl"
    append_jsonl(trace, {"event": "train"})
    monkeypatch.setattr(io, "open", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.EDQUOT, "Disk quota exceeded")),
                        raising=False)
    with pytest.raises(DiskFullError, match=f"writing {str(trace)!r}"):
        append_jsonl(trace, {"event": "eval"})
    monkeypatch.delattr(io, "open")

    model = tmp_path / "model"
    with atomic_dir(model) as tmp:
        (tmp / "config.json").write_text("{}")
    with pytest.raises(DiskFullError, match=f"writing {str(model)!r}"), atomic_dir(model) as tmp:
        raise OSError(errno.ENOSPC, "No space left on device")
    assert (model / "config.json").read_text() == "{}" and not list(tmp_path.glob(".model.*"))


def test_a_run_folder_removed_mid_run_is_one_line_and_not_made_anew(tmp_path, data_dir, monkeypatch, capsys):
    """`rm -r` of the run folder during the pruning stage: the next write names the folder (it was a
    FileNotFoundError traceback), and the failure record does not make the folder again for error.txt alone."""
    import sdp.training.checkpoint as checkpoint
    from sdp.run_summary import save_model_dir

    run_dir = tmp_path / "run"
    real = checkpoint.Checkpointer.save

    def remove_then_save(self, stage, step, *args, **kwargs):
        if stage == "prune" and step == 2:
            shutil.rmtree(run_dir)
        return real(self, stage, step, *args, **kwargs)

    monkeypatch.setattr(checkpoint.Checkpointer, "save", remove_then_save)
    with pytest.raises(Exception) as info:  # noqa: B017 - the class is checked by name below
        _run(tmp_path, data_dir, run_dir)
    assert type(info.value).__name__ == "FolderRemovedError" and is_user_error(info.value), repr(info.value)
    assert f"the folder {str(run_dir)!r} was removed (or moved) while" in str(info.value)
    assert _one_line(info.value, capsys).startswith("sdp-run: error: FolderRemovedError: the folder ")
    assert not run_dir.exists()

    # Removed during the final evaluation: model/ is not written into a folder made anew.
    with pytest.raises(Exception, match=f"the run folder {str(run_dir)!r} was removed") as info:
        save_model_dir(run_dir / "model", None, None)
    assert type(info.value).__name__ == "FolderRemovedError" and not run_dir.exists()
