"""What the launcher decided, read once per job: process count, device, run directory, precision.

    argv = rank_argv(sys.argv)         # cli/run.py, before Hydra: non-zero ranks write no Hydra folder
    run_dir = join_processes(cfg, run_dir_of_rank0)   # sdp/sweep.py: process group up, one run dir
    apply_launcher_settings(cfg)       # mixed precision "inherit" resolved, accumulation checked
    reset_accelerator_state()          # after each job: the next job of a sweep may change precision

Why each exists:

* **Several processes, no GPU.** ``accelerate launch --multi_gpu --num_processes N`` on a machine without
  a visible CUDA device starts N torchrun workers, but ``Accelerator()`` joins them only with
  ``cpu=True``; without it every worker runs alone, as rank 0, into the same folder. So the CPU (gloo)
  process group is chosen here whenever the launcher's world size is above one and CUDA is not visible.
  If a launcher still started several processes and the Accelerator sees one, the run stops
  (:class:`LauncherError`) instead of letting N copies race on one run directory.
* **One run directory.** Each process resolves Hydra's ``hydra.run.dir`` (``${now:...}``, a PID, a host
  name) for itself; they can differ. Rank 0's resolved directory is broadcast and used by every rank;
  the other ranks point Hydra at a throw-away folder (:func:`rank_argv`), so they create nothing beside it.
* **Precision.** ``train.mixed_precision: inherit`` (the default) takes ``ACCELERATE_MIXED_PRECISION``,
  which ``accelerate launch`` sets from ``--mixed_precision`` or the ``accelerate config`` file, else "no".
* **Accumulation.** ``train.gradient_accumulation_steps`` is the one source: the pruning schedule counts
  optimizer updates with it. Accelerate would silently prefer ``ACCELERATE_GRADIENT_ACCUMULATION_STEPS``,
  so a different value there is an error.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# The variables torchrun / accelerate launch / MPI launchers set for the number of processes, and for the process's
# rank: by position, each launcher's pair (RANK with WORLD_SIZE, PMI_RANK with PMI_SIZE: check_rank_in_world).
WORLD_SIZE_VARS = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
RANK_VARS = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")
PRECISION_ENV = "ACCELERATE_MIXED_PRECISION"
ACCUMULATION_ENV = "ACCELERATE_GRADIENT_ACCUMULATION_STEPS"
INHERIT = "inherit"


class LauncherError(RuntimeError):
    """The launcher and the run disagree (process count, precision or accumulation)."""


def _digits(value: object) -> bool:
    """ASCII digits: `²` is a digit to str.isdigit and no number to int() (probe round 48, rk_sup: a traceback)."""
    return str(value).strip().isascii() and str(value).strip().isdigit()


def _first_int(env: Mapping[str, str], names: tuple[str, ...], default: int) -> int:
    for name in names:
        if _digits(env.get(name, "")):
            return int(env[name])
    return default


def launcher_world_size(env: Mapping[str, str] | None = None) -> int:
    """How many processes the launcher started (1 outside a launcher)."""
    return _first_int(os.environ if env is None else env, WORLD_SIZE_VARS, 1)


def launcher_rank(env: Mapping[str, str] | None = None) -> int:
    """This process's global rank as the launcher set it (0 outside a launcher)."""
    return _first_int(os.environ if env is None else env, RANK_VARS, 0)


def use_cpu(cfg: Any, env: Mapping[str, str] | None = None, cuda: bool | None = None) -> bool:
    """``cpu=true``, or several launched processes and no visible CUDA device (gloo on CPU)."""
    if cfg.get("cpu", False):
        return True
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    return launcher_world_size(env) > 1 and not cuda


def check_world_size(num_processes: int, env: Mapping[str, str] | None = None) -> None:
    """Raise :class:`LauncherError` when the launcher started more processes than joined the run."""
    launched = launcher_world_size(env)
    if launched > 1 and num_processes != launched:
        raise LauncherError(
            f"the launcher started {launched} processes (WORLD_SIZE={launched}) but the run joined "
            f"{num_processes}: each process would run alone as rank 0 into the same run directory. "
            "Launch with `accelerate launch --multi_gpu --num_processes N -m sdp.cli.run ...` (or torchrun), "
            "which sets LOCAL_RANK/RANK/WORLD_SIZE, and without --cpu; `cpu=true` forces the CPU process group"
        )


def check_rank_set(env: Mapping[str, str] | None = None) -> None:
    """Several processes announced without this one's rank (e.g. a stray WORLD_SIZE in the shell): joining would
    fail on a missing MASTER_ADDR, or wait for peers that were never started."""
    env = os.environ if env is None else env
    launched = launcher_world_size(env)
    if launched > 1 and not any(_digits(env.get(name, "")) for name in (*RANK_VARS, "LOCAL_RANK")):
        size_var = next(name for name in WORLD_SIZE_VARS if _digits(env.get(name, "")))
        raise LauncherError(
            f"{size_var}={launched} is set but no rank (none of {[*RANK_VARS, 'LOCAL_RANK']}): this process was not "
            "started by a launcher. Launch with `accelerate launch --multi_gpu --num_processes N -m sdp.cli.run ...` "
            f"(or torchrun), or unset {size_var} for one process"
        )


def check_rank_in_world(env: Mapping[str, str] | None = None) -> None:
    """A rank the launcher's world does not hold: a job script's ``RANK=1`` inherited by one process ran it as rank 1
    of a world of one, so rank 0's work was nobody's: no RESULT line, no run.log, no lock, and a failure left only
    rank-1.error (probe round 47, rk1, lr1, rk2, rk4). Each launcher sets a rank with its own world size (torchrun and
    accelerate: RANK with WORLD_SIZE; MPI: PMI_RANK with PMI_SIZE, ...), so the rank :func:`launcher_rank` reads must
    come with its own world size, and be below it. Called before Hydra composes (cli/run.py) and by the library run."""
    env = os.environ if env is None else env
    named = [name for name in (*RANK_VARS, *WORLD_SIZE_VARS, "LOCAL_RANK") if str(env.get(name, "")).strip()]
    if bad := next((name for name in named if not _digits(env[name])), None):  # `RANK=²`: int() (round 48, rk_sup)
        raise LauncherError(f"{bad}={env[bad]!r} is not a number of a launcher's: unset it, or launch with `torchrun` "
                            "or `accelerate launch`, which set it")
    given = next((i for i, name in enumerate(RANK_VARS) if _digits(env.get(name, ""))), None)
    world = launcher_world_size(env)
    launched = world > 1 or "LOCAL_RANK" in named  # one process (RANK=0 alone too) reads no port (Kubernetes sets
    port = str(env.get("MASTER_PORT", "")).strip()  # MASTER_PORT=tcp://ip:port in every pod: review of round 49's)
    if launched and port and not _digits(port):  # int()'s traceback (round 49, rk_port)
        raise LauncherError(f"MASTER_PORT={port!r} is not a port number: unset it, or launch with `torchrun` or "
                            "`accelerate launch`, which set it")
    if launched and port and int(port) > 65535:  # torch's ValueError traceback (probe round 50, rk_port_range)
        raise LauncherError(f"MASTER_PORT={port!r} is past the last port: a port is 0 to 65535; give a free port in "
                            "that range, or unset it (torchrun and accelerate launch set it)")
    if (given is not None or "LOCAL_RANK" in named) and (world > 1 or "LOCAL_RANK" in named) and not str(
            env.get("MASTER_ADDR", "")).strip():  # torch's rendezvous: a traceback, a failed record (round 49, rk_*)
        told = " ".join(f"{n}={env[n].strip()}" for n in named)
        raise LauncherError(
            f"{told} {'are' if len(named) > 1 else 'is'} set but MASTER_ADDR is not: the processes have nowhere to meet "
            "(accelerate takes any LOCAL_RANK for a launched process); launch with `torchrun` or `accelerate launch`, "
            "which set it (with mpirun, export MASTER_ADDR too), or unset them")
    if given is None:
        if "LOCAL_RANK" in named:  # accelerate takes it for a launched process (round 48, lrank1, lrank0)
            raise LauncherError(f"LOCAL_RANK={env['LOCAL_RANK'].strip()} is set but no RANK and WORLD_SIZE: this "
                                "process was not started by a launcher; unset LOCAL_RANK (e.g. one inherited from a job "
                                "script) for one process, or launch with `torchrun` or `accelerate launch`")
        return  # no rank: one process (a world size without a rank is check_rank_set's)
    if (world == 1 and "LOCAL_RANK" in named and "TORCHELASTIC_RUN_ID" not in env
            and (problem := _not_here(str(env.get("MASTER_ADDR", "")).strip()))):
        # a world of one with no launcher around it (torchrun's agent hosts the store itself) hosts its own process
        # group: at another machine's address torch waited 30 minutes, unsaid, through a SIGTERM (round 51, rk_unreach)
        raise LauncherError(f"MASTER_ADDR={env['MASTER_ADDR'].strip()} {problem}, and a launch of one process "
                            "(WORLD_SIZE=1, LOCAL_RANK set) hosts its own process group there; give MASTER_ADDR="
                            "127.0.0.1, or unset LOCAL_RANK, RANK and WORLD_SIZE for one process")
    rank_var, size_var = RANK_VARS[given], WORLD_SIZE_VARS[given]
    rank, size = int(env[rank_var]), str(env.get(size_var, "")).strip()
    if (_digits(size) and rank < int(size)) or (not size and rank == 0):  # rank 0 alone: one process, as it runs
        return
    if not size and rank < launcher_world_size(env):  # a job script's RANK beside MPI's PMI_SIZE: the world it reads
        return
    what = (f"{size_var} is not set" if not size else f"{size_var}={size!r} is not a number of processes"
            if not _digits(size) else f"{size_var}={int(size)}, and a rank is below the world size")
    alone = f" and would run as rank {rank}, with no result line, log or lock of rank 0" if rank else ""
    raise LauncherError(
        f"{rank_var}={rank} is set but {what}: this process was not started by a launcher{alone}. Unset {rank_var} "
        "(e.g. one inherited from a job script) for one process, or launch with `torchrun` or `accelerate launch "
        "--multi_gpu --num_processes N -m sdp.cli.run ...`, which set RANK and WORLD_SIZE together")


def _not_here(address: str) -> str | None:
    """Why ``address`` is no address of this machine (a socket cannot be bound to it, or it names no host), else
    None. Only an address this machine holds can host a process group (binding port 0 takes no port)."""
    import socket

    try:
        found = socket.getaddrinfo(address, 0, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return "names no host that resolves"
    for family, kind, proto, _, where in found:
        with contextlib.suppress(OSError), socket.socket(family, kind, proto) as probe:
            probe.bind(where)
            return None
    return "is no address of this machine"


def asked_processes(env: Mapping[str, str] | None = None, parent_cmdline: list[str] | None = None) -> int:
    """The ``--num_processes`` of the ``accelerate launch`` that started this process when it ran only one (1 when
    not known). ``accelerate launch --num_processes 2 --cpu`` runs a single process, by accelerate's rule (--cpu
    without --multi_cpu), and sets no variable that says 2 were asked for (probe round 9, m01): only the
    launcher's command line, read from /proc where there is one, still holds it."""
    env = os.environ if env is None else env
    if launcher_world_size(env) > 1 or not any(name.startswith("ACCELERATE_") for name in env):
        return 1
    if parent_cmdline is None:
        try:
            raw = Path(f"/proc/{os.getppid()}/cmdline").read_bytes()
        except OSError:
            return 1  # no /proc (macOS, Windows) or the parent is gone: nothing to tell
        parent_cmdline = [part.decode(errors="replace") for part in raw.split(b"\0") if part]
    if not any(part == "launch" or part.endswith(".launch") for part in parent_cmdline):
        return 1
    for i, part in enumerate(parent_cmdline):
        for flag in ("--num_processes", "--num-processes"):
            value = (parent_cmdline[i + 1] if part == flag and i + 1 < len(parent_cmdline)
                     else part[len(flag) + 1:] if part.startswith(flag + "=") else None)
            if value is not None and _digits(value):
                return int(value)
    return 1


def single_process_line(env: Mapping[str, str] | None = None, parent_cmdline: list[str] | None = None) -> str | None:
    """A warning when the launcher was asked for several processes but started one (None otherwise)."""
    asked = asked_processes(env, parent_cmdline)
    if asked <= 1:
        return None
    return (f"accelerate launch was asked for --num_processes {asked} but started 1 process (accelerate runs "
            "--cpu without --multi_cpu as one process): this run trains alone, world_size 1. For several CPU "
            "processes launch with `accelerate launch --multi_gpu --num_processes N` without --cpu (docs/scale-out.md)")


def join_processes(cfg: Any, run_dir: Path, identity: str | None = None) -> Path:
    """Start (or reuse) the process group and return rank 0's run directory on every rank. ``identity``: this
    rank's config identity (sdp/run/rundir.py ``resume_identity``), which must be every rank's."""
    if launcher_world_size() == 1 and not cfg.get("cpu", False):
        return run_dir  # one process: nothing to join, and no torch import for a config error
    check_rank_set()
    # torch waits for every process to start, for up to 30 minutes: said, so a wait for one never started is no
    # silent hang (probe round 48, r0w2: RANK=0 WORLD_SIZE=2 set by hand)
    logging.getLogger("sdp").info("joining %d processes (this one rank %d) at %s:%s; it waits until all have started",
                                  launcher_world_size(), launcher_rank(), os.environ.get("MASTER_ADDR", "?"),
                                  os.environ.get("MASTER_PORT", "29500 (accelerate's default)"))
    from accelerate import PartialState

    with port_in_use_said():
        state = PartialState(cpu=use_cpu(cfg))
    check_world_size(state.num_processes)
    if state.num_processes == 1:
        return run_dir
    if state.is_main_process and (line := cpu_processes_line(cfg, state.num_processes)) is not None:
        logging.getLogger("sdp").warning("%s", line)  # --multi_gpu without a GPU trains on the CPU: say so
    from accelerate.utils import broadcast_object_list, gather_object

    # Every rank must run the config rank 0 records. Ranks given different overrides (another sparsity, lr or
    # seed) trained the whole dense stage apart and then stopped at the first pruning event with a
    # MaskMismatchError traceback that blamed non-deterministic kernels, or, where the masks happened to agree,
    # went on under rank 0's record (probe round 9).
    identities = gather_object([identity])
    if len(set(identities)) != 1:
        raise LauncherError(
            f"the {state.num_processes} processes of this launch were given different configs (identity per rank: "
            f"{[str(i)[:8] for i in identities]}): one run needs the same overrides on every rank; launch them with "
            "one command line (accelerate launch ... -m sdp.cli.run <overrides>)")
    shared = broadcast_object_list([str(run_dir) if state.is_main_process else None], from_process=0)
    return Path(shared[0])


@contextmanager
def port_in_use_said() -> Iterator[None]:
    """Where a process group starts (accelerate's PartialState, the Accelerator): rank 0's port already taken is one
    LauncherError naming it, not torch's DistNetworkError traceback (EADDRINUSE). Two runs of one inherited LOCAL_RANK
    each start a process group on one port (accelerate's 29500 by default): the second failed so (probe round 50,
    rk_portbusy). Caught as it fails, not checked before: another process may take the port between a check and
    torch's listen."""
    try:
        yield
    except RuntimeError as exc:  # torch.distributed.DistNetworkError is one
        if "EADDRINUSE" not in str(exc) and "address already in use" not in str(exc).lower():
            raise
        where = f"{os.environ.get('MASTER_ADDR') or '127.0.0.1'}:{os.environ.get('MASTER_PORT') or '29500'}"
        raise LauncherError(
            f"MASTER_ADDR:MASTER_PORT={where} is in use (another process listens on that port: another launch, or a "
            "run with an inherited LOCAL_RANK, starts its process group there): give this launch a free port "
            "(MASTER_PORT=<port>, torchrun --master_port, accelerate launch --main_process_port), or, for one "
            "process, unset LOCAL_RANK, RANK and WORLD_SIZE") from None


def cpu_processes_line(cfg: Any, processes: int, cuda: bool | None = None) -> str | None:
    """What a multi-process launch on the CPU actually runs, in one line (None on GPUs). ``accelerate launch
    --multi_gpu`` on a machine without a visible GPU does not fail: it would otherwise train on the CPU unsaid."""
    if not use_cpu(cfg, {"WORLD_SIZE": str(processes)}, cuda):
        return None
    why = "cpu=true" if cfg.get("cpu", False) else "no GPU visible (CUDA_VISIBLE_DEVICES, torch.cuda), so on the CPU"
    return (f"{why}: one run in {processes} processes (DDP over gloo; the global batch is {processes} x "
            "train.batch_size)")


def from_main_process(value: Any) -> Any:
    """Rank 0's ``value`` on every rank of a launch (a no-op for one process): a decision only rank 0 can make,
    such as taking the run-folder lock, must reach the others before they act on it."""
    if launcher_world_size() == 1:
        return value
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([value], from_process=0)[0]


def rank_argv(argv: list[str], env: Mapping[str, str] | None = None) -> list[str]:
    """On a non-zero rank, point Hydra's run and sweep folders at a temporary folder (removed at exit)
    and skip its ``.hydra/`` copy: the rank's real run directory is rank 0's, received by
    :func:`join_processes`. Rank 0 and single processes get ``argv`` unchanged."""
    if launcher_world_size(env) <= 1 or launcher_rank(env) == 0:
        return argv
    scratch = tempfile.mkdtemp(prefix=f"sdp-rank{launcher_rank(env)}-")
    atexit.register(shutil.rmtree, scratch, True)
    # Last override wins in Hydra, so these replace any hydra.run.dir / hydra.sweep.dir given before.
    return [*argv, f"hydra.run.dir={scratch}", f"hydra.sweep.dir={scratch}", "hydra.output_subdir=null"]


def resolve_precision(value: str, env: Mapping[str, str] | None = None) -> str:
    """``inherit`` -> the launcher's ``ACCELERATE_MIXED_PRECISION`` (else "no"); any other value as given."""
    if value != INHERIT:
        return value
    env = os.environ if env is None else env
    return str(env.get(PRECISION_ENV) or "no").lower()


def check_accumulation(steps: int, env: Mapping[str, str] | None = None) -> None:
    env = os.environ if env is None else env
    given = str(env.get(ACCUMULATION_ENV, "")).strip()
    if given and given != str(steps):
        raise LauncherError(
            f"{ACCUMULATION_ENV}={given} (from accelerate launch --gradient_accumulation_steps or the "
            f"environment) conflicts with train.gradient_accumulation_steps={steps}; the pruning schedule counts "
            f"optimizer updates with the config value. Set train.gradient_accumulation_steps={given} and unset "
            f"{ACCUMULATION_ENV} (or make them equal)"
        )


def apply_launcher_settings(cfg: Any) -> None:
    """Resolve ``train.mixed_precision: inherit`` in ``cfg`` (so the config hash, the checkpoint identity
    and metrics.json see the precision actually used) and refuse a conflicting accumulation setting."""
    given, launched = cfg.train.mixed_precision, str(os.environ.get(PRECISION_ENV) or "no").lower()
    if given != INHERIT and launched not in ("no", given):
        import logging

        logging.getLogger("sdp").warning(
            "train.mixed_precision=%s overrides the launcher's %s=%s (train.mixed_precision=inherit takes it)",
            given, PRECISION_ENV, launched)
    cfg.train.mixed_precision = resolve_precision(given)
    check_accumulation(cfg.train.gradient_accumulation_steps)


def reset_accelerator_state() -> None:
    """Forget the Accelerator's per-job singletons (precision, accumulation) but keep the process group,
    so the next job of a multirun may use another ``train.mixed_precision``."""
    import sys

    if "accelerate.state" not in sys.modules:
        return  # no Accelerator was made (e.g. a config error): nothing to forget, and no torch to import
    try:
        from accelerate.state import AcceleratorState, GradientState
    except ImportError:  # pragma: no cover - accelerate is a dependency
        return
    AcceleratorState._reset_state(reset_partial_state=False)
    GradientState._reset_state()
