"""A multirun's outcome in one place, and an exit status that says it.

Hydra exits 0 after a multirun whatever its jobs did, and a failed job of a sweep does not stop the others
(sdp/sweep.py). So each job notes how it ended in ``<sweep dir>/.sdp-jobs/<job number>.json`` (completed,
failed or refused; ``running`` from its start, so a job whose process died is told by its note: hydra/launcher=local
notes it ``killed``, sdp/local_launch.py), and at the end of the sweep :class:`SweepOutcome` (a Hydra callback,
conf/config.yaml) logs the counts with every failed, refused or killed job's folder, and exits 1 when there is
one, so that a script,
CI or a scheduler notices. A search (a sweeper other than Hydra's basic one, e.g. Optuna) keeps exit 0: a
failed trial is part of a search, and its result is the best trial's.

It also refuses, before any job starts, a sweep whose jobs would all write into one fixed ``output_dir``, and a
SLURM sweep on a machine that is not a SLURM node (submitit would end in its own traceback, "Could not detect
srun").
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from sdp.data.locations import check_name_lengths, is_file_url, local_path
from sdp.data.spec import DataError
from sdp.io import write_json

log = logging.getLogger("sdp")
JOBS_DIR = ".sdp-jobs"  # under the sweep dir: one small file per job, so parallel jobs never share a file
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
SLURM_LAUNCHER = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
FINAL_STATUSES = ("completed", "failed", "refused", "killed")  # "running": the job has not said how it ended


def note_job(status: str, run_dir: Path, error: BaseException | None = None, said: str | None = None) -> None:
    """Called by a job of a multirun as it ends (main process only; nothing outside a multirun). ``said``: its
    failure as this job recorded it (led by another rank's cause, sdp/run/rank_notes.py), else the error itself (not
    the folder's metrics.json, which may be an older launch's: review of round 39's merge)."""
    from hydra.core.hydra_config import HydraConfig

    hydra = HydraConfig.get()
    said = said or (f"{type(error).__name__}: {error}" if error is not None else None)
    record = {"job": hydra.job.num, "status": status, "run_dir": str(run_dir),
              "error": said[:500] if said is not None else None, "launch": os.environ.get(LAUNCH_ENV)}
    write_json(notes_dir(hydra.sweep.dir) / JOBS_DIR / f"{hydra.job.num}.json", record)


# The launch's sweep folder, named once as the sweep starts (inherited by its jobs): a job's own hydra.sweep.dir
# follows its overrides (output_root=a,b, or hydra.sweep.dir='s_${seed}'), and the notes it left there were never
# read: "0 jobs noted", exit 0, for a sweep whose every job failed (probe round 26, os1).
NOTES_ENV = "SDP_SWEEP_NOTES"


def notes_dir(fallback: Any) -> Path:
    """Where this launch's job notes go: the sweep folder of the launch, else ``fallback`` (a job's own)."""
    return Path(os.environ.get(NOTES_ENV) or str(fallback))


# Each launch of a sweep names itself here (set as it starts, inherited by its jobs) and its jobs' notes carry the
# name: a note is this launch's by its name, not by its file time. With the clock set back between two launches, an
# earlier launch's notes were newer than this one's start, and a killed job was reported by the note an earlier
# launch's job of that number left: as completed (probe round 7).
LAUNCH_ENV = "SDP_SWEEP_LAUNCH"


def this_launchs(note: dict[str, Any], path: Path, since: float) -> bool:
    """Whether a job note was written by the sweep launched now: by its launch name; a note without one (a job
    whose environment lost it) by its file time."""
    launch = os.environ.get(LAUNCH_ENV)
    if launch and note.get("launch"):
        return note["launch"] == launch
    return path.stat().st_mtime >= since


def read_jobs(sweep_dir: Path, since: float) -> list[dict[str, Any]]:
    """The job notes of this launch (a re-launched sweep overwrites its jobs' notes), by job number."""
    notes = []
    for path in sorted((sweep_dir / JOBS_DIR).glob("*.json")) if (sweep_dir / JOBS_DIR).is_dir() else []:
        try:
            note = json.loads(path.read_text())
            if isinstance(note, dict) and this_launchs(note, path, since):
                notes.append(note)
        except (OSError, ValueError):
            continue
    return sorted(notes, key=lambda note: note.get("job", 0))


def _swept(config: DictConfig) -> dict[str, str]:
    """{key: its override} of the keys a sweep varies: swept overrides, and the sweeper's own params."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    texts = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    swept = {o.key_or_group: o.input_line for o in OverridesParser.create().parse_overrides(texts)
             if o.is_sweep_override()}
    params = OmegaConf.to_container(config.hydra.sweeper, resolve=False).get("params") or {}
    swept.update({key: f"hydra.sweeper.params.{key}={value}" for key, value in params.items()})
    return swept


def _one_folder_for_many_jobs(config: DictConfig) -> str | None:
    """The swept overrides (or the sweeper's own params) of a sweep whose jobs would all share one ``output_dir``:
    one that is set and names nothing that differs per job (a swept key, or Hydra's job name or number); else None.
    Caught here, before any job, because each job alone sees only that the folder holds another job's run (a
    refusal per job). Nothing is resolved: Hydra's job values (``${hydra:job.num}``) do not exist yet."""
    raw = OmegaConf.to_container(config, resolve=False).get("output_dir")
    if not raw:
        return None
    swept = _swept(config)
    if not swept or "output_dir" in swept:
        return None
    per_job = re.compile(r"\$\{(hydra:job\.|(" + "|".join(map(re.escape, swept)) + r")[.}])")
    return None if per_job.search(str(raw)) else ", ".join(swept.values())


def _creatable_or_exit(config: DictConfig, key: str) -> None:
    """Hydra makes the run (or sweep) folder before any job starts, and an OSError there (output_root is a file,
    or on a read-only file system) was its traceback: one line naming the path instead, exit 2. So is a folder that
    is a file URL: output_root's naming no file here, or a user's ``hydra.run.dir=${output_root}/x`` (Hydra made
    ``./file:/...``; the default folders take output_root's path: sdp_local_root, review of the session-24 fix)."""
    folder = str(OmegaConf.select(config, key))
    if is_file_url(folder):
        try:
            local_path(str(config.output_root), "output_root")
            why = (f"{key} is {folder!r}, a file URL, which Hydra would make a folder of as a path (./file:/...); "
                   f"give {key} as a path (where it names ${{output_root}}, write ${{sdp_local_root:${{output_root}}}})")
        except DataError as err:
            why = str(err)
        print(f"sdp-run: error: DataError: {why}", file=sys.stderr)
        raise SystemExit(2)
    if folder.startswith("~"):  # Hydra would make ./~/... (probe round 50, run_tilde's Hydra twin)
        print(f"sdp-run: error: ConfigError: {key} is {folder!r}, which Hydra would make a folder named '~' of "
              f"(./~/...), not one in your home folder; give {key} as a path ($HOME/...)", file=sys.stderr)
        raise SystemExit(2)
    path = Path(os.path.abspath(folder))  # as Hydra takes it: `x/../r` made an empty x (probe round 50, or_dotdot)
    try:  # a part past 255 bytes: OSError 'File name too long' from the check itself (probe round 55, or_long)
        check_name_lengths(str(OmegaConf.select(config, "output_root") or ""), "output_root")  # the key given
        check_name_lengths(str(path), key)
    except DataError as err:
        print(f"sdp-run: error: DataError: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        blocker = next((p for p in [path, *path.parents] if p.exists() and not p.is_dir()), None)
        why = f"{str(blocker)!r} is a file, not a folder" if blocker is not None else (err.strerror or str(err))
        print(f"sdp-run: error: RunDirError: cannot create the run folder {str(path)!r} ({key}): {why}; set "
              "output_root (or output_dir) to a writable folder", file=sys.stderr)
        raise SystemExit(2) from None


def _swept_roots_or_exit(config: DictConfig) -> None:
    """Each output_root a sweep names, checked before any job: one naming no file here (``output_root=/a,file://h/x``)
    was the second job's traceback from inside Hydra (review of the session-24 fix)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    texts = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)
    for override in OverridesParser.create().parse_overrides(texts):
        if override.key_or_group == "output_root" and override.is_sweep_override():
            for value in getattr(override.value(), "list", None) or []:
                try:
                    local_path(str(getattr(value, "text", value)), "output_root")
                except DataError as err:
                    print(f"sdp-run: error: DataError: {err}", file=sys.stderr)
                    raise SystemExit(2) from None


class SweepOutcome(Callback):
    """Logs a multirun's outcome at its end and exits 1 if a job of a plain sweep failed or was refused."""

    def __init__(self) -> None:
        self.started = time.time()

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _creatable_or_exit(config, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.started = time.time() - 1.0  # file times may be coarser than time.time()
        os.environ[LAUNCH_ENV] = f"{os.getpid()}-{time.time_ns()}-{os.urandom(4).hex()}"
        _swept_roots_or_exit(config)
        _creatable_or_exit(config, "hydra.sweep.dir")
        os.environ[NOTES_ENV] = str(Path(str(config.hydra.sweep.dir)).resolve())
        named = "data_dir" in str(OmegaConf.to_container(config, resolve=False).get("output_dir") or "")
        if "data_dir" in _swept(config) and not named:  # data_dir names no job folder (a path): they'd share one
            print(f"sdp-run: error: ConfigError: {_swept(config)['data_dir']} sweeps data_dir, which is no part of a "
                  "job's folder name or run id (a data folder moved elsewhere keeps its runs), so these jobs would "
                  "share one folder and the second be refused as a run on other data; launch once per data "
                  "folder, each with its own output_root", file=sys.stderr)
            raise SystemExit(2)
        # submitit's own test (SlurmExecutor.affinity): srun on the PATH is what makes a machine a SLURM node.
        if config.hydra.launcher.get("_target_") == SLURM_LAUNCHER and shutil.which("srun") is None:
            print("sdp-run: error: LauncherError: hydra/launcher=slurm submits each job to SLURM, and this machine "
                  "has no `srun` on its PATH (not a SLURM node). Launch the sweep from the cluster's login node, "
                  "or run it here with hydra/launcher=local (side by side) or without hydra/launcher (one job at "
                  "a time)", file=sys.stderr)
            raise SystemExit(2)
        if (swept := _one_folder_for_many_jobs(config)) is not None:
            raw = OmegaConf.to_container(config, resolve=False)["output_dir"]
            print(f"sdp-run: error: ConfigError: output_dir={raw} is one folder for every job of this sweep "
                  f"({swept}), and a folder holds one run. Leave output_dir out (each job then runs in its own "
                  "folder under hydra.sweep.dir), or make it name what differs per job, e.g. "
                  "output_dir='runs/${hydra:job.override_dirname}'", file=sys.stderr)
            raise SystemExit(2)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        notes = read_jobs(notes_dir(config.hydra.sweep.dir), self.started)
        for note in notes:  # still "running" at the end: its process died before it could say how it ended
            if note.get("status") not in FINAL_STATUSES:
                note.update(status="killed", error="its process died before the job ended; launch the same sweep "
                                                   "again to resume it")
        bad = [n for n in notes if n.get("status") != "completed"]
        counts = {s: sum(n.get("status") == s for n in notes) for s in FINAL_STATUSES}
        if not counts["killed"]:
            del counts["killed"]  # said only when it happened
        log.info("sweep: %d jobs noted: %s", len(notes), ", ".join(f"{v} {k}" for k, v in counts.items()))
        for note in bad:
            log.error("  job %s %s in %s: %s", note.get("job"), note.get("status"), note.get("run_dir"),
                      note.get("error"))
        if bad and config.hydra.sweeper.get("_target_") == BASIC_SWEEPER:
            what = "failed, were refused or were killed" if "killed" in counts else "failed or were refused"
            print(f"sdp-run: error: {len(bad)} of {len(notes)} jobs of the sweep {what} "
                  f"(listed above; a failure is in its folder's metrics.json and error.txt where recorded)",
                  file=sys.stderr)
            raise SystemExit(1)
