"""What probe round 7 found silently wrong (issue 26; docs/probe_round7.md): each now a one-line error, or a change
that the run's identity sees. Small files and folders only: no training here."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from sdp.run import code

REPO = Path(__file__).resolve().parents[1]


def _weights(path: Path, matrices: dict[str, np.ndarray]) -> Path:
    from safetensors.numpy import save_file

    path.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in matrices.items()},
              str(path / "model.safetensors"))
    return path


def test_zero_rows_past_the_first_entries_count_as_pruned(tmp_path):
    """b_rows/b_tail: a hidden-384 model whose removed heads and neurons were zeroed as rows past each matrix's first
    65,536 entries (29% of its encoder weights; or 50%, all in the second half of every matrix) read as 0.0% zeros
    and ran as a dense.checkpoint: a pruned model's score reported as the dense one."""
    from sdp.models.inspect import SAMPLE, encoder_zero_fraction

    rng = np.random.default_rng(0)
    query = rng.normal(size=(512, 512))  # 262,144 entries: more than SAMPLE
    query[256:] = 0.0  # rows: what zeroing whole heads or FFN neurons leaves
    ffn_out = rng.normal(size=(512, 1024))
    ffn_out[:, 512:] = 0.0  # columns
    small = rng.normal(size=(64, 64))  # smaller than SAMPLE: read whole
    assert query.size > SAMPLE
    folder = _weights(tmp_path / "m", {"bert.encoder.layer.0.attention.self.query.weight": query,
                                       "bert.encoder.layer.0.output.dense.weight": ffn_out,
                                       "bert.encoder.layer.1.attention.output.dense.weight": small,
                                       "bert.embeddings.word_embeddings.weight": np.zeros((100, 512))})
    true_share = (256 * 512 + 512 * 512) / (query.size + ffn_out.size + small.size)
    assert encoder_zero_fraction(folder) == pytest.approx(true_share, abs=0.01)
    dense = _weights(tmp_path / "d", {"bert.encoder.layer.0.attention.self.query.weight": rng.normal(size=(512, 512))})
    assert encoder_zero_fraction(dense) == 0.0


def _source_tree(root: Path) -> Path:
    """sdp/, conf/ and cli/ side by side with no .git: an unpacked archive, or a checkout run without git on PATH."""
    for name in code.PACKAGE_DIRS:
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return root


def test_without_git_an_edit_to_cli_or_conf_is_other_code(tmp_path):
    """a01/a07: with no git (not on PATH, or an unpacked archive installed editable) the identity hashed sdp/ alone:
    cli/run.py edited to halve every score, the same command returned the old result as "already completed"."""
    root = _source_tree(tmp_path / "src")
    first = code.fingerprint(root, root / "sdp")
    assert first["commit"] is None and first == code.fingerprint(root, root / "sdp")
    run = root / "cli" / "run.py"
    run.write_text(run.read_text() + "\n# an edit to the front end\n")
    edited = code.fingerprint(root, root / "sdp")
    assert edited["id"] != first["id"]
    conf = root / "conf" / "regularizer" / "cross_correlation.yaml"
    conf.write_text(conf.read_text() + "\n# an edit to a config group\n")
    assert code.fingerprint(root, root / "sdp")["id"] not in (first["id"], edited["id"])


def test_a_wheels_identity_is_its_package_alone(tmp_path):
    """An installed wheel ships conf/ and cli/ inside sdp/: folders named conf/ and cli/ beside it in site-packages
    (another distribution's) are not this code, and its identity is what it was before round 7."""
    site = tmp_path / "site"
    shutil.copytree(REPO / "sdp", site / "sdp", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copytree(REPO / "conf", site / "sdp" / "conf", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "cli", site / "sdp" / "cli", ignore=shutil.ignore_patterns("__pycache__"))
    before = code.fingerprint(site, site / "sdp")
    _source_tree(tmp_path / "other")
    shutil.copytree(tmp_path / "other" / "conf", site / "conf")
    shutil.copytree(tmp_path / "other" / "cli", site / "cli")
    (site / "cli" / "run.py").write_text("# someone else's\n")
    assert code.fingerprint(site, site / "sdp")["id"] == before["id"]


def test_code_edited_while_a_sweep_runs_refuses_its_later_jobs(tmp_path, monkeypatch):
    """a08: a local sweep (its jobs forked from one process) edited after its first job started: the second job
    computed the edit's identity but ran the cross-correlation module its parent had imported before the edit, so
    its record named code that did not make it. Each job of a sweep now checks the code against the identity the
    sweep took (sdp/local_launch.py takes it before the first fork); the sweep's outcome lists the job as refused."""
    import functools
    import subprocess

    from sdp.errors import is_user_error

    root = _source_tree(tmp_path / "repo")
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    real = code.fingerprint
    monkeypatch.setattr(code, "fingerprint", lambda: real(root, root / "sdp"))
    monkeypatch.setattr(code, "code_identity", functools.lru_cache(maxsize=1)(lambda: real(root, root / "sdp")))
    code.code_identity()  # the sweep's identity, taken as it starts
    code.check_unchanged()  # the first job: the same code
    term = root / "sdp" / "objectives" / "distill_terms" / "cross_correlation.py"
    term.write_text(term.read_text().replace("return cross_correlation_loss(", "return 1000 * cross_correlation_loss("))
    with pytest.raises(code.CodeChangedError, match=r"the code changed while this sweep ran \(code \w+ when it "
                                                    r"started, \w+ now\).*launch the sweep again") as err:
        code.check_unchanged()
    assert is_user_error(err.value)
    from sdp.sweep import REFUSALS

    assert code.CodeChangedError in REFUSALS  # nothing recorded in the job's folder: noted as refused


def test_an_earlier_launchs_job_note_is_not_this_ones_when_the_clock_went_back(tmp_path, monkeypatch):
    """c06: a sweep's job notes left by an earlier launch, stamped ahead (the clock set back since), were read as this
    launch's: a sweep of one job was reported with the earlier launch's jobs too ("2 jobs noted: 2 completed"), and
    a job killed before it wrote its own note would be reported by the earlier note, as completed."""
    import json
    import os
    import time

    from sdp.local_launch import note_killed
    from sdp.sweep_outcome import JOBS_DIR, LAUNCH_ENV, read_jobs

    jobs = tmp_path / "sweep" / JOBS_DIR
    jobs.mkdir(parents=True)
    old = {"job": 1, "status": "completed", "run_dir": str(tmp_path / "seed2"), "error": None, "launch": "earlier"}
    (jobs / "1.json").write_text(json.dumps(old))
    ahead = time.time() + 3600
    os.utime(jobs / "1.json", (ahead, ahead))
    monkeypatch.setenv(LAUNCH_ENV, "now")
    started = time.time() - 1.0
    assert read_jobs(tmp_path / "sweep", started) == []
    note = note_killed(tmp_path / "sweep", 1, started, "its process was killed by SIGKILL")
    assert note["status"] == "killed" and note["run_dir"] is None and note["launch"] == "now"
    assert [n["status"] for n in read_jobs(tmp_path / "sweep", started)] == ["killed"]


def test_a_dense_model_edited_between_a_kill_and_its_resume_is_refused(tmp_path):
    """d16: killed in the pruning stage, dense_model/model.safetensors's header edited to call one F32 matrix I32
    (the same bytes): the resume loaded it (position embeddings as integers) and the teacher distilled from other
    weights, no word (distill 1.236 at the last update against 1.129). Each prune checkpoint now records the dense
    model's sha256, and a resume checks it."""
    import json
    import struct

    from sdp.training.state_io import CheckpointError, check_dense_model, dense_digest

    dense = _weights(tmp_path / "dense_model", {"bert.embeddings.position_embeddings.weight": np.ones((16, 4))})
    recorded = dense_digest(str(dense))
    check_dense_model(str(dense), recorded)  # unchanged: resumes
    path = dense / "model.safetensors"
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = raw[8:8 + n].replace(b'"F32"', b'"I32"')
    assert json.loads(header)["bert.embeddings.position_embeddings.weight"]["dtype"] == "I32"
    path.write_bytes(raw[:8] + header + raw[8 + n:])
    with pytest.raises(CheckpointError, match=r"the dense model '.*model.safetensors' changed since the checkpoint "
                                              r"was written \(sha256 \w+\.\.\. then, \w+\.\.\. now\)"):
        check_dense_model(str(dense), recorded)
