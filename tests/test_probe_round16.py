"""What probe round 16 found (issue 26; docs/probe_round16.md): `hydra.job.chdir=true` moved a run's files into
Hydra's job folder while its line named the folder asked for, a swept key given twice lost its sweep without a word,
the claims' frontier asked a negative dense score for more than itself, a loss weight for no term was taken and
recorded, and a float sweep's 0.7000000000000001 was a config apart from 0.7. Each test fails on the commit the
probe ran (0cd6e62) and passes after its fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _sdp_run(args: list[str], cwd: Path, data_dir: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "CUDA_VISIBLE_DEVICES": ""}
    if data_dir is not None:
        env["SDP_DATA_DIR"] = str(data_dir)
    env.pop("HYDRA_FULL_ERROR", None)
    return subprocess.run([sys.executable, "-m", "sdp.cli.run", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_run_refuses_hydra_job_chdir(tmp_path, data_dir):
    """k11: `sdp-run ... hydra.job.chdir=true output_dir=out` ended `RESULT ... run dir out`, exit 0, with no out/
    where it ran: the run, and its cache_dir, went to outputs/runs/rte/<name>/out (paths resolved in Hydra's folder)."""
    proc = _sdp_run(["debug=smoke", "task=rte", "train.num_threads=1", "dense.max_steps=1", "prune.max_steps=1",
                     "hydra.job.chdir=true", "output_dir=out", "cache_dir=cache"], tmp_path, data_dir)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "ConfigError: hydra.job.chdir=true is not supported" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list(tmp_path.rglob("metrics.json"))


def test_sweep_refuses_a_swept_key_given_twice(tmp_path, data_dir):
    """k13: `sdp-run -m ... seed=1,2 seed=3` ran one job (seed 3): Hydra keeps the last, and the sweep said only
    `1 jobs noted`. A plain key given twice keeps Hydra's rule (the last wins)."""
    proc = _sdp_run(["-m", "debug=smoke", "task=rte", "train.num_threads=1", "dense.max_steps=1", "prune.max_steps=1",
                     "seed=1,2", "seed=3", f"hydra.sweep.dir={tmp_path / 'sweep'}", f"cache_dir={tmp_path / 'cache'}"],
                    tmp_path, data_dir)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "ConfigError: seed is given 2 times (seed=1,2, seed=3) and one of them is a sweep" in proc.stderr
    assert not list(tmp_path.rglob("metrics.json"))
    plain = _sdp_run(["debug=smoke", "task=rte", "sparsity=0.3", "sparsity=0.6", "--cfg", "job"], tmp_path)
    assert plain.returncode == 0, plain.stderr[-2000:]
    assert "\nsparsity: 0.6\n" in plain.stdout


def test_frontier_keeps_a_negative_dense_score_that_the_run_beats():
    """t09: STS-B seeds whose dense score was negative: MP's -15.14 "did not keep 90%" of the dense -15.33 (90% of a
    negative number is above it), so the frontier said 0 vs SDP-CC's 0.8 although both beat their dense score."""
    from sdp.report.claims import frontier

    key = ("stsb", "tiny-bert", "cubic", "frozen", 0.8, 1)
    pairs = {key: {"MP": {"final": -0.1514, "dense": -0.1533}, "SDP-CC": {"final": -0.1328, "dense": -0.1533}}}
    assert frontier(pairs, "MP", "SDP-CC") == 0.8
    assert frontier(pairs, "SDP-CC", "MP") == 0.8
    worse = {key: {"MP": {"final": -0.1700, "dense": -0.1533}, "SDP-CC": {"final": -0.1328, "dense": -0.1533}}}
    assert frontier(worse, "MP", "SDP-CC") == 0.0  # lost more than 10% of the dense score's size
    positive = {key: {"MP": {"final": 0.74, "dense": 0.82}, "SDP-CC": {"final": 0.73, "dense": 0.82}}}
    assert frontier(positive, "MP", "SDP-CC") == 0.8 and frontier(positive, "SDP-CC", "MP") == 0.0  # 0.9 * 0.82 = 0.738


def test_run_refuses_a_weight_for_no_term(tmp_path, data_dir):
    """k09: `method=mp regularizer.alpha=2` ran MP with alpha 2.0 recorded (a weight of nothing), its config hash
    apart from the same MP runs without it; so did `weight_reg.beta=0.3` with weight_reg=none."""
    common = ["debug=smoke", "task=rte", "train.num_threads=1", "dense.max_steps=1", "prune.max_steps=1",
              f"cache_dir={tmp_path / 'cache'}"]
    proc = _sdp_run([*common, "method=mp", "regularizer.alpha=2", f"output_dir={tmp_path / 'a'}"], tmp_path, data_dir)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "ConfigError: regularizer.alpha=2.0 weights no term with regularizer=none (MP)" in proc.stderr
    proc = _sdp_run([*common, "weight_reg.beta=0.3", f"output_dir={tmp_path / 'b'}"], tmp_path, data_dir)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "ConfigError: weight_reg.beta=0.3 weights no term with weight_reg=none" in proc.stderr
    assert not [p for p in tmp_path.rglob("metrics.json") if '"completed"' in p.read_text()]  # a failed run's record


def test_a_float_sweeps_sparsity_noise_is_the_same_config():
    """k10: `-m 'sparsity=range(0.3,0.8,0.2)'` ran a job at 0.7000000000000001, a config of its own: the tables split
    its cell from the runs at 0.7 (two SDP-CC rows at 70%, labelled by hash) and the skip search never found the
    0.7 run as its twin. A value that differs in a real digit is still another config."""
    from sdp.run.env import config_hash

    cfg = {"task": {"name": "rte"}, "regularizer": {"name": "kd", "alpha": 1.0}}
    assert config_hash({**cfg, "sparsity": 0.7000000000000001}) == config_hash({**cfg, "sparsity": 0.7})
    assert config_hash({**cfg, "sparsity": 0.8000000000000002}) == config_hash({**cfg, "sparsity": 0.8})
    assert config_hash({**cfg, "sparsity": 0.71}) != config_hash({**cfg, "sparsity": 0.7})
