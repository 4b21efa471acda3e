"""Logs that belong to one job: run.log per job of a multirun, and a trace without repeats after a resume."""

from __future__ import annotations

import importlib.util
import json
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("scale_helpers", Path(__file__).with_name("helpers.py"))
h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h)


def test_each_job_of_a_multirun_has_its_own_run_log(tmp_path, data_dir):
    sweep = tmp_path / "sweep"
    h.finish(h.cli(["-m", *h.smoke_args(data_dir), "dense.max_steps=2", "prune.max_steps=2",
                    f"hydra.sweep.dir={sweep}", "hydra.sweep.subdir=seed${seed}", "seed=1,2"]))
    logs = {seed: (sweep / f"seed{seed}" / "run.log").read_text() for seed in (1, 2)}
    for seed, other in ((1, 2), (2, 1)):
        text = logs[seed]
        assert f"seed={seed}" in text and f"seed={other}" not in text, text
        assert text.count("RESULT ") == 1 and f"run dir {sweep / f'seed{seed}'}" in text, text


def _trace(run_dir: Path) -> list[dict]:
    try:
        return [json.loads(line) for line in (run_dir / "trace.jsonl").read_text().splitlines()]
    except (OSError, ValueError):
        return []


def _keys(events: list[dict]) -> list[tuple]:
    return [(e["event"], e.get("stage", "prune"), e["step"]) for e in events if e["event"] in ("train", "prune")]


def test_kill_then_resume_records_every_stage_step_once(tmp_path, data_dir):
    # Checkpoints every 4 updates; the kill lands 2+ updates after one, so those updates run twice.
    args = h.smoke_args(data_dir, "train.checkpoint_every=4")
    run_dir, ref_dir = tmp_path / "killed", tmp_path / "ref"
    ref = h.cli([*args, f"output_dir={ref_dir}"])
    victim = h.cli([*args, f"output_dir={run_dir}"])
    deadline, killed_after = time.time() + 240, None
    while time.time() < deadline and victim.poll() is None:
        ckpts = [e["step"] for e in _trace(run_dir) if e["event"] == "checkpoint" and e["stage"] == "prune"]
        steps = [e["step"] for e in _trace(run_dir) if e["event"] == "train" and e["stage"] == "prune"]
        if ckpts and max(ckpts) >= 4 and steps and max(steps) >= max(ckpts) + 2:
            victim.send_signal(signal.SIGKILL)
            killed_after = max(steps)
            break
        time.sleep(0.01)
    victim.communicate(timeout=60)
    assert killed_after is not None, "the run ended before it could be killed mid-prune"
    before = _keys(_trace(run_dir))
    assert len(before) == len(set(before))

    out = h.finish(h.cli([*args, f"output_dir={run_dir}"]))
    h.finish(ref)
    assert "resumed prune stage at optimizer step" in out
    keys = _keys(_trace(run_dir))
    assert [k for k, n in Counter(keys).items() if n > 1] == []
    assert sorted(keys) == sorted(_keys(_trace(ref_dir)))  # nothing lost either


def test_progress_bars_only_on_the_global_main_process(tmp_path, data_dir, monkeypatch, capfd):
    """A second node's local main process (local main, not global main) draws no tqdm bar; rank 0 does."""
    from accelerate import Accelerator
    from hydra import compose, initialize_config_dir

    import sdp.config  # noqa: F401  (registers the schema)
    from sdp.recipe import PruneRecipe
    from sdp.sweep import run_job

    class DenseTrained(Exception):
        pass

    def stop(self, label):  # the dense stage's bar is closed by then: nothing more is needed
        raise DenseTrained

    monkeypatch.setattr(PruneRecipe, "evaluate", stop)
    monkeypatch.setattr(Accelerator, "is_local_main_process", property(lambda self: True))
    for main in (True, False):
        monkeypatch.setattr(Accelerator, "is_main_process", property(lambda self, main=main: main))
        with initialize_config_dir(config_dir=str(h.REPO_ROOT / "conf"), version_base="1.3"):
            cfg = compose("config", overrides=[*h.smoke_args(data_dir), "dense.max_steps=2",
                                               f"output_dir={tmp_path / str(main)}", f"cache_dir={tmp_path / 'c'}"])
        with pytest.raises(DenseTrained):
            run_job(cfg)
        err = capfd.readouterr().err
        assert ("dense: 100%" in err) == main, err[-2000:]
