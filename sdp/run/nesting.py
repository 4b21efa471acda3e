"""Whether a folder is, or is inside, a training run's folder: sdp-run's output_dir (sdp/run/rundir.py), sdp-eval's
(sdp/eval_output.py) and sdp-tables' out_dir (cli/tables.py) are refused there, and sdp-tables lists a run folder
without a record (sdp/report/walk.py), by one rule (review of round 37: the rules disagreed on another tool's
run.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sdp.io import is_sdp_run_record
from sdp.run.logs import RUN_LOG, starts_a_record

# sdp/run/lock.py's lock file, kept when released: the mark of a folder sdp ran or recorded a failure in. Defined
# here, and imported by lock.py: this module must not import lock.py (it imports sdp/run/rundir.py, which imports this)
LOCK_NAME = ".sdp.lock"


def run_folder_above(path: str | Path, itself: bool = True) -> Path | None:
    """The training run's folder that ``path`` is (where ``itself``), or is inside; None if none. A run's folder holds
    sdp's run.json: a record with its ``config``, or one that does not read (an interrupted write's); another tool's
    run.json is not a run's."""
    path = Path(path).expanduser().resolve()
    return next((folder for folder in ([path, *path.parents] if itself else path.parents) if is_run_folder(folder)),
                None)


def is_run_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds sdp's run.json: a record with its ``config`` and the ``config_hash`` sdp writes with it
    (another Hydra app's run.json holds a config too: probe rounds 42-43, oth4, a4), or one that does not read (an
    interrupted write's)."""
    try:
        record = json.loads((Path(folder) / "run.json").read_text(encoding="utf-8"))
    except OSError:
        return False
    except ValueError:  # not JSON: a damaged record
        return True
    return is_sdp_run_record(record)


# metrics.json as sdp writes it: its status, with the keys that status always has
RUN_RECORD_KEYS = {"completed": ("config_hash",), "failed": ("error", "error_type"), "interrupted": ("error",),
                   "killed": ("error",)}
EVAL_RECORD_KEYS = ("task", "model_dir")  # sdp-eval's ("kind": "eval"; sdp/evaluation.py)


def is_sdp_metrics(record: Any, folder: str | Path) -> bool:
    """Whether a parsed metrics.json in ``folder`` is a record sdp wrote: a run's, with its status's keys, in a folder
    sdp ran in (its run.json, or the lock every run and every recorded failure takes: kept when released, not
    committed in results/); a failure record sdp wrote (its ``before_run``: copied without the lock); a completed
    record beside sdp's run.log that has begun (records older than run.json have only that); or sdp-eval's, with its
    keys. Another tool's `{"status": "failed", "error": ..., "error_type": ...}` beside the user's files was taken for a
    dead run's, and the files moved aside (probe rounds 42-43, oth1, oth3, a5, a7, a8, b6; reviews)."""
    if not isinstance(record, dict):
        return False
    if record.get("kind") == "eval":
        return record.get("status") == "completed" and all(key in record for key in EVAL_RECORD_KEYS)
    status = record.get("status")
    if status not in RUN_RECORD_KEYS or not all(key in record for key in RUN_RECORD_KEYS[status]):
        return False
    if is_run_folder(folder) or (Path(folder) / LOCK_NAME).is_file():
        return True
    if status == "failed":
        return isinstance(record.get("before_run"), bool)
    return status == "completed" and has_sdps_run_log(folder)


def has_sdps_run_log(folder: str | Path) -> bool:
    """Whether ``folder``'s run.log is sdp's: begun as sdp's records are, not another tool's (review of round 42's
    fixes). An empty one is anyone's (a user's beside their notes made the folder a run's: round 45, noticed); sdp
    attaches its own only once it holds the folder's lock, a mark (sdp-run and the library's sdp.recipe.run alike)."""
    try:
        with open(Path(folder) / RUN_LOG, encoding="utf-8", errors="replace") as fh:
            first = fh.readline()
    except OSError:
        return False
    return starts_a_record(first)


def holds_others_metrics(folder: str | Path) -> bool:
    """Whether ``folder`` holds a metrics.json that is no record of sdp's: another tool's results, or a file that does
    not read (sdp writes its records whole: oth2)."""
    path = Path(folder) / "metrics.json"
    if not path.is_file():
        return False
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    return not is_sdp_metrics(record, folder)
