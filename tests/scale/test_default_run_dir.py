"""Issue 25: the default run folder is a function of the config (conf/config.yaml, no timestamp). Two configs
started at once get two folders (no RunLockedError), and an interrupted command, launched again as it was,
resumes in its own folder."""

from __future__ import annotations

import importlib.util
import json
import signal
import time
from pathlib import Path

_spec = importlib.util.spec_from_file_location("scale_helpers", Path(__file__).with_name("helpers.py"))
h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h)


def test_two_configs_at_once_then_sigterm_and_the_same_command_resumes_in_its_folder(tmp_path, data_dir):
    root = tmp_path / "out"
    args = h.smoke_args(data_dir, "train.checkpoint_every=1", "max_train_samples=32", "max_eval_samples=16",
                        "dense.max_steps=2", "prune.max_steps=8", f"output_root={root}", f"cache_dir={tmp_path / 'c'}")
    victim = h.cli([*args, "prune.lr=1e-4"])
    other = h.cli([*args, "prune.lr=2e-4"])  # the same second, another config
    deadline = time.time() + 240
    latest = None
    while time.time() < deadline and victim.poll() is None:
        for path in root.glob("runs/rte/*/checkpoints/latest.json"):
            config = json.loads((path.parents[1] / "run.json").read_text())["config"]
            state = json.loads(path.read_text())
            if config["prune"]["lr"] == 1e-4 and state["stage"] == "prune" and state["step"] >= 2:
                latest = path
        if latest is not None:
            victim.send_signal(signal.SIGTERM)
            break
        time.sleep(0.05)
    out, _ = victim.communicate(timeout=120)
    assert latest is not None and victim.returncode == 128 + signal.SIGTERM, out[-3000:]
    h.finish(other)
    folders = sorted(p.parent for p in root.glob("runs/rte/*/run.json"))
    assert len(folders) == 2  # one per config, no RunLockedError
    run_dir = latest.parents[1]
    assert h.metrics(run_dir)["status"] == "interrupted"

    again = h.finish(h.cli([*args, "prune.lr=1e-4"]))  # the same command, nothing else
    assert "resumed prune stage at optimizer step" in again and str(run_dir) in again
    assert h.metrics(run_dir)["status"] == "completed"
    assert sorted(p.parent for p in root.glob("runs/rte/*/run.json")) == folders
