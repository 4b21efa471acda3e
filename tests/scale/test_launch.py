"""What the launcher decides reaches the run: process count (DDP on CPU without ``cpu=true``), one run
directory for all ranks, the launcher's mixed precision, and one source for gradient accumulation."""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sdp.run.launch import (
    LauncherError,
    asked_processes,
    check_accumulation,
    check_rank_set,
    check_world_size,
    rank_argv,
    resolve_precision,
    single_process_line,
    use_cpu,
)

_spec = importlib.util.spec_from_file_location("scale_helpers", Path(__file__).with_name("helpers.py"))
h = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(h)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=h.REPO_ROOT, env=h.env(**env), capture_output=True, text=True, timeout=300)


def test_two_launched_processes_on_cpu_join_one_ddp_run_in_rank0s_directory(tmp_path, data_dir):
    base = tmp_path / "runs"
    launch = [
        str(Path(h.sys.executable).with_name("accelerate")), "launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
        "-m", "cli.run", *h.smoke_args(data_dir), "dense.max_steps=2", "prune.max_steps=4",
        # A template that resolves differently in each process: only rank 0's may be used.
        "hydra.run.dir=" + str(base) + "/rank${oc.env:RANK,none}",
    ]
    proc = _run(launch, CUDA_VISIBLE_DEVICES="")  # no cpu=true: no GPU + 2 processes is enough
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert sorted(p.name for p in base.iterdir()) == ["rank0"], out[-2000:]  # one run directory
    dist = h.metrics(base / "rank0")["distributed"]
    assert dist["world_size"] == 2 and dist["ranks"] == [0, 1] and dist["distributed_type"] == "MULTI_CPU"
    assert len(dist["mask_digests"]) == 2 and dist["mask_digests"][0] == dist["mask_digests"][1]
    assert out.count("RESULT ") == 1, out[-4000:]
    assert (base / "rank0" / "run.log").read_text().count("RESULT ") == 1
    # --multi_gpu without a GPU: one line (rank 0's) says what runs instead (issue 25)
    assert out.count("no GPU visible (CUDA_VISIBLE_DEVICES, torch.cuda), so on the CPU: one run in 2 processes") == 1


def test_two_machines_on_localhost_form_one_run(tmp_path, data_dir):
    """The multi-node command of the README, both "machines" on this host (CPU, one process each)."""
    base, port = tmp_path / "runs", str(_free_port())
    procs = [
        subprocess.Popen(
            [str(Path(h.sys.executable).with_name("accelerate")), "launch", "--multi_gpu", "--num_machines", "2",
             "--machine_rank", str(rank), "--main_process_ip", "127.0.0.1", "--main_process_port", port,
             "--num_processes", "2", "--dynamo_backend", "no", "-m", "cli.run", *h.smoke_args(data_dir),
             "dense.max_steps=2", "prune.max_steps=4", "hydra.run.dir=" + str(base) + "/node${oc.env:RANK,none}"],
            cwd=h.REPO_ROOT, env=h.env(CUDA_VISIBLE_DEVICES=""), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        for rank in (0, 1)
    ]
    outs = [h.finish(p) for p in procs]
    assert sorted(p.name for p in base.iterdir()) == ["node0"]
    assert [o.count("RESULT ") for o in outs] == [1, 0]
    dist = h.metrics(base / "node0")["distributed"]
    assert dist["world_size"] == 2 and dist["mask_digests"][0] == dist["mask_digests"][1]


def test_launcher_precision_is_inherited_and_a_sweep_may_change_it(tmp_path, data_dir):
    # bf16 on this CPU is ~20x slower than fp32: two dense and two prune updates on 16 dev examples.
    sweep = tmp_path / "sweep"
    proc = _run([h.sys.executable, "-m", "cli.run", "-m", *h.smoke_args(data_dir), "dense.max_steps=2",
                 "prune.max_steps=2", "max_eval_samples=16", "prune.monitor_representation=null",
                 f"hydra.sweep.dir={sweep}", "hydra.sweep.subdir=${train.mixed_precision}",
                 "train.mixed_precision=inherit,no"], ACCELERATE_MIXED_PRECISION="bf16")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    inherited, explicit = h.metrics(sweep / "inherit"), h.metrics(sweep / "no")
    assert inherited["status"] == explicit["status"] == "completed"
    assert inherited["distributed"]["mixed_precision"] == "bf16"
    # The second job of the same process re-created the Accelerator with another precision.
    assert explicit["distributed"]["mixed_precision"] == "no"
    assert inherited["config_hash"] != explicit["config_hash"]  # the precision used is in the identity


def test_conflicting_launcher_accumulation_is_refused(tmp_path, data_dir):
    proc = _run([h.sys.executable, "-m", "cli.run", *h.smoke_args(data_dir), f"output_dir={tmp_path / 'run'}"],
                ACCELERATE_GRADIENT_ACCUMULATION_STEPS="4")
    assert proc.returncode == 2 and "sdp-run: error: LauncherError: " in proc.stderr  # one line, no traceback
    assert "Traceback" not in proc.stderr
    assert "ACCELERATE_GRADIENT_ACCUMULATION_STEPS=4" in proc.stderr
    assert "train.gradient_accumulation_steps=1" in proc.stderr
    assert h.metrics(tmp_path / "run")["error_type"] == "LauncherError"


def test_launcher_settings_units():
    with pytest.raises(LauncherError, match=r"started 2 processes .* joined 1.*accelerate launch --multi_gpu"):
        check_world_size(1, {"WORLD_SIZE": "2"})
    check_world_size(2, {"WORLD_SIZE": "2"})
    with pytest.raises(LauncherError, match=r"WORLD_SIZE=2 is set but no rank .* or unset WORLD_SIZE"):
        check_rank_set({"WORLD_SIZE": "2"})
    check_rank_set({"WORLD_SIZE": "2", "LOCAL_RANK": "0"})
    check_rank_set({"WORLD_SIZE": "1"})
    check_world_size(1, {})
    cfg = {"cpu": False}
    assert use_cpu(cfg, {"WORLD_SIZE": "2"}, cuda=False) is True
    assert use_cpu(cfg, {"WORLD_SIZE": "2"}, cuda=True) is False
    assert use_cpu(cfg, {}, cuda=False) is False
    assert use_cpu({"cpu": True}, {}, cuda=True) is True
    assert resolve_precision("inherit", {"ACCELERATE_MIXED_PRECISION": "BF16"}) == "bf16"
    assert resolve_precision("inherit", {}) == "no"
    assert resolve_precision("fp16", {"ACCELERATE_MIXED_PRECISION": "bf16"}) == "fp16"
    check_accumulation(2, {"ACCELERATE_GRADIENT_ACCUMULATION_STEPS": "2"})
    with pytest.raises(LauncherError, match="conflicts with train.gradient_accumulation_steps=1"):
        check_accumulation(1, {"ACCELERATE_GRADIENT_ACCUMULATION_STEPS": "3"})
    argv = ["cli.run", "hydra.run.dir=/x"]
    assert rank_argv(argv, {"WORLD_SIZE": "2", "RANK": "0"}) == argv
    other = rank_argv(argv, {"WORLD_SIZE": "2", "RANK": "1"})
    assert other[:2] == argv and other[2].startswith("hydra.run.dir=") and other[2] != "hydra.run.dir=/x"
    assert "hydra.output_subdir=null" in other


def test_a_locked_folder_refuses_every_rank_of_a_launch(tmp_path, data_dir):
    """Only rank 0 takes the run-folder lock; its refusal must reach rank 1, or rank 1 would train on and
    wait forever at its first collective. Both ranks stop at once with the lock holder named."""
    from sdp.run.lock import run_lock

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    launch = [
        str(Path(h.sys.executable).with_name("accelerate")), "launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
        "-m", "cli.run", *h.smoke_args(data_dir), f"hydra.run.dir={run_dir}",
    ]
    with run_lock(run_dir):  # another live run holds the folder
        proc = _run(launch, CUDA_VISIBLE_DEVICES="")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert out.count("RunLockedError") >= 2, out[-3000:]  # both ranks refused, neither trained
    assert "RESULT" not in out and not (run_dir / "metrics.json").exists()


def test_fp16_on_a_cpu_is_recorded_as_the_full_precision_it_runs_in():
    from accelerate import Accelerator

    from sdp.run.launch import reset_accelerator_state
    from sdp.training.distributed import effective_precision

    try:
        reset_accelerator_state()  # an earlier test's run in this process (test_dense_only) left its precision set
        fp16 = Accelerator(mixed_precision="fp16", cpu=True)
        assert fp16.mixed_precision == "fp16" and effective_precision(fp16) == "no"  # accelerate turned it off
        reset_accelerator_state()
        assert effective_precision(Accelerator(mixed_precision="bf16", cpu=True)) == "bf16"  # bf16 does run on CPU
    finally:
        reset_accelerator_state()


def test_a_launch_asked_for_several_processes_that_started_one_says_so(tmp_path):
    """``accelerate launch --num_processes 2 --cpu`` runs one process (accelerate's rule: --cpu without --multi_cpu)
    and sets no variable with the 2 (probe round 9, m01): the run trained alone and nothing said so."""
    env = {"ACCELERATE_USE_CPU": "True"}
    launch = ["/venv/bin/python", "/venv/bin/accelerate", "launch", "--num_processes", "2", "--cpu", "-m", "cli.run"]
    assert single_process_line(env, launch).startswith("accelerate launch was asked for --num_processes 2 but "
                                                       "started 1 process")
    assert asked_processes(env, [*launch[:3], "--num_processes=3", "x.py"]) == 3
    assert single_process_line(env, [*launch[:3], "--num_processes", "1", "--cpu", "x.py"]) is None
    assert single_process_line({}, launch) is None  # not under accelerate launch
    assert single_process_line({**env, "WORLD_SIZE": "2"}, launch) is None  # several did start
    assert single_process_line(env, ["/venv/bin/python", "-m", "pytest", "--num_processes", "2"]) is None
    # The real launcher, reading its command line from /proc as a run does.
    script = tmp_path / "probe.py"
    script.write_text("from sdp.run.launch import single_process_line\nprint('LINE', single_process_line())\n")
    accelerate = Path(sys.executable).with_name("accelerate")
    proc = subprocess.run([str(accelerate), "launch", "--num_processes", "2", "--cpu", str(script)], cwd=h.REPO_ROOT,
                          env=h.env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("LINE")]
    assert lines == ["LINE accelerate launch was asked for --num_processes 2 but started 1 process (accelerate "
                     "runs --cpu without --multi_cpu as one process): this run trains alone, world_size 1. For "
                     "several CPU processes launch with `accelerate launch --multi_gpu --num_processes N` without "
                     "--cpu (docs/scale-out.md)"]
