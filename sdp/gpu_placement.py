"""``hydra/launcher=gpu``: a sweep that keeps every visible GPU busy with several runs each.

One MiniLM run leaves an H200 mostly idle: its update is a few milliseconds of kernels between much longer
host-side work (results/bench/gpu.md). Runs side by side overlap one's host work with another's kernels, so
the sweep runs ``SDP_JOBS_PER_GPU`` (default 4) jobs per visible GPU at once (Hydra's joblib plugin), and each
job is placed on GPU ``job number mod GPUs`` with ``CPUs / jobs`` torch threads. Without a GPU the sweep says
so, once, and runs at most one job per CPU core side by side (4 jobs on 2 cores would only fight over them).

The GPU count is read without importing torch (config errors stay fast): ``CUDA_VISIBLE_DEVICES``, else
``nvidia-smi -L``.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess

log = logging.getLogger("sdp")
DEFAULT_JOBS_PER_GPU = 4


def visible_gpus() -> int:
    """GPUs this process may use, without initialising CUDA."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        ids = [x for x in env.split(",") if x.strip() and x.strip() != "-1"]
        return len(ids)
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    return sum(line.startswith("GPU ") for line in out.stdout.splitlines()) if out.returncode == 0 else 0


def jobs_per_gpu(value: object = None) -> int:
    """``SDP_JOBS_PER_GPU`` (or ``value``), checked. A ConfigError: sdp-run checks it before Hydra composes
    (cli/run.py), as raised inside the launcher's resolver it came out as OmegaConf's 40-line traceback."""
    from sdp.errors import ConfigError

    raw = value if value not in (None, "") else os.environ.get("SDP_JOBS_PER_GPU", DEFAULT_JOBS_PER_GPU)
    try:
        n = int(str(raw))
    except ValueError:
        n = 0
    if n < 1:
        raise ConfigError(f"SDP_JOBS_PER_GPU={raw!r} must be an integer >= 1 (jobs side by side on each GPU)")
    return n


def cpu_cores() -> int:
    """The cores this process may run on (its affinity, e.g. a container's or taskset's share), else all."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


# Set once the no-GPU line is out: the resolver runs again in every job (each resolves hydra.launcher), and the
# joblib workers inherit the environment, so the line is said once per sweep, not once per job.
NOTED_ENV = "SDP_GPU_SWEEP_NOTED"


def sweep_jobs(per_gpu: object = None) -> int:
    """The joblib launcher's n_jobs for hydra/launcher=gpu (the ``sdp_gpu_jobs`` resolver)."""
    gpus, per = visible_gpus(), jobs_per_gpu(per_gpu)
    if gpus > 0:
        return gpus * per
    jobs = min(per, cpu_cores())
    if not os.environ.get(NOTED_ENV):
        os.environ[NOTED_ENV] = "1"
        log.warning("hydra/launcher=gpu: no GPU visible (CUDA_VISIBLE_DEVICES / nvidia-smi): running %d jobs side by "
                    "side on the CPU (%d cores; SDP_JOBS_PER_GPU=%d counts per GPU)", jobs, cpu_cores(), per)
    return jobs


def place_job(job_num: int, n_jobs: int) -> str:
    """Put this job on GPU ``job_num mod GPUs`` and give it its share of the CPU threads; says where."""
    import torch

    threads = max(1, cpu_cores() // max(1, n_jobs))
    torch.set_num_threads(threads)
    if not torch.cuda.is_available():
        return f"cpu ({threads} thread{'s' if threads > 1 else ''})"  # the sweep said once that no GPU is visible
    device = job_num % torch.cuda.device_count()
    torch.cuda.set_device(device)
    return f"cuda:{device} ({threads} CPU threads)"


def place_swept_job() -> str | None:
    """In a job of a ``hydra/launcher=gpu`` sweep: place it (above) and say where; elsewhere None."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    hydra = HydraConfig.get()
    if hydra.runtime.choices.get("hydra/launcher") != "gpu":
        return None
    return place_job(int(hydra.job.num), int(hydra.launcher.n_jobs))
