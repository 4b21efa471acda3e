"""What probe round 49 left open (docs/errors.md, "Probe round 49's findings"), fixed by the lead in session 24. Each
test fails on b43e2a8 and passes after its fix. Hand-written configs and environments, offline."""

from __future__ import annotations

import subprocess
import sys


def _sdp_run(tmp_path, *args):
    from offline_env import offline_env

    return subprocess.run([sys.executable, "-m", "cli.run", *args], cwd=tmp_path, env=offline_env(),
                          capture_output=True, text=True, timeout=600)


def test_a_sweep_under_a_file_url_root_keeps_its_own_files_there(tmp_path):
    """A multirun with output_root=file:///x ran its jobs under /x, but left multirun.yaml and .sdp-jobs/ (the notes
    its outcome is read from) under ./file:/x. Jobs that fail at once (no data folder) are enough to see the folders."""
    done = _sdp_run(tmp_path, "-m", "debug=smoke", f"output_root=file://{tmp_path}/s%20w",
                    f"data_dir={tmp_path / 'none'}", "seed=1,2")
    assert done.returncode == 1 and "2 of 2 jobs of the sweep failed" in done.stderr, done.stderr[-2000:]
    sweep = tmp_path / "s w" / "sweeps"
    assert (sweep / "multirun.yaml").is_file() and len(list((sweep / ".sdp-jobs").glob("*.json"))) == 2
    assert not (tmp_path / "file:").exists(), sorted(p.name for p in tmp_path.iterdir())


def test_an_output_root_url_of_another_host_is_one_line(tmp_path):
    """Hydra's folders are made of output_root's path (sdp_local_root): a URL naming another machine is sdp's one
    line and exit 2 before any folder is made, for a run and for a sweep."""
    for sweep in ([], ["-m", "seed=1,2"]):
        done = _sdp_run(tmp_path, *sweep, "debug=smoke", "output_root=file://host/x")
        assert done.returncode == 2, done.stderr[-2000:]
        assert done.stderr.strip().splitlines() == [
            "sdp-run: error: DataError: output_root='file://host/x' names the host 'host' (a file URL's path begins at "
            "its third slash, and sdp reads no file of another machine); a local file's URL is file:///<absolute "
            "path> (or file://localhost/<absolute path>); or give the path"], done.stderr[-2000:]
        assert list(tmp_path.iterdir()) == [], sorted(p.name for p in tmp_path.iterdir())
