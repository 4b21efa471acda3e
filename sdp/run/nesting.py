"""Whether a folder is, or is inside, a training run's folder: sdp-run's output_dir (sdp/run/rundir.py), sdp-eval's
(sdp/eval_output.py) and sdp-tables' out_dir (cli/tables.py) are refused there, and sdp-tables lists a run folder
without a record (sdp/report/walk.py), by one rule (review of round 37: the rules disagreed on another tool's
run.json)."""

from __future__ import annotations

import json
from pathlib import Path


def run_folder_above(path: str | Path, itself: bool = True) -> Path | None:
    """The training run's folder that ``path`` is (where ``itself``), or is inside; None if none. A run's folder holds
    sdp's run.json: a record with its ``config``, or one that does not read (an interrupted write's); another tool's
    run.json is not a run's."""
    path = Path(path).expanduser().resolve()
    return next((folder for folder in ([path, *path.parents] if itself else path.parents) if is_run_folder(folder)),
                None)


def is_run_folder(folder: str | Path) -> bool:
    """Whether ``folder`` holds sdp's run.json (a record with its ``config``, or one that does not read)."""
    try:
        record = json.loads((Path(folder) / "run.json").read_text(encoding="utf-8"))
    except OSError:
        return False
    except ValueError:  # not JSON: a damaged record
        return True
    return isinstance(record, dict) and isinstance(record.get("config"), dict)


RUN_STATUSES = frozenset({"completed", "failed", "interrupted", "killed"})  # metrics.json's status, as sdp writes it


def holds_others_metrics(folder: str | Path) -> bool:
    """Whether ``folder``'s metrics.json reads as JSON but is no record of sdp's (no status sdp writes): another tool's
    results. A missing or damaged one is not (a run killed mid-write left it cut short)."""
    path = Path(folder) / "metrics.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"status": "completed"}
    except (OSError, ValueError):
        return False
    return not (isinstance(record, dict) and record.get("status") in RUN_STATUSES)
