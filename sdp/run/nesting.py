"""Whether a folder is, or is inside, a training run's folder: sdp-run's output_dir (sdp/run/rundir.py), sdp-eval's
(sdp/eval_output.py) and sdp-tables' out_dir (cli/tables.py) are refused there, and sdp-tables lists a run folder
without a record (sdp/report/walk.py), by one rule (review of round 37: the rules disagreed on another tool's
run.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


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


# metrics.json as sdp writes it: its status, with the keys that status always has (sdp-eval's record: "kind": "eval")
RUN_RECORD_KEYS = {"completed": ("config_hash",), "failed": ("error", "error_type"), "interrupted": ("error",),
                   "killed": ("error",)}


def is_sdp_metrics(record: Any) -> bool:
    """Whether a parsed metrics.json is a record sdp writes: `{"status": "failed"}` or `{"status": "completed", ...}`
    of another tool was taken for a dead sdp run's, and its folder's files moved aside (probe round 42, oth1, oth3)."""
    if not isinstance(record, dict) or record.get("status") not in RUN_RECORD_KEYS:
        return False
    return record.get("kind") == "eval" or all(key in record for key in RUN_RECORD_KEYS[record["status"]])


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
    return not is_sdp_metrics(record)
