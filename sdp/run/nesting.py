"""Whether a folder is, or is inside, a training run's folder: sdp-run's output_dir (sdp/run/rundir.py), sdp-eval's
(sdp/eval_output.py) and sdp-tables' out_dir (cli/tables.py) are refused there, by one rule (review of round 37: two
rules disagreed on another tool's run.json)."""

from __future__ import annotations

import json
from pathlib import Path


def run_folder_above(path: str | Path, itself: bool = True) -> Path | None:
    """The training run's folder that ``path`` is (where ``itself``), or is inside; None if none. A run's folder holds
    sdp's run.json: a record with its ``config``, or one that does not read (an interrupted write's); another tool's
    run.json is not a run's."""
    path = Path(path).expanduser().resolve()
    for folder in [path, *path.parents] if itself else path.parents:
        try:
            record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        except OSError:
            continue
        except ValueError:  # not JSON: a damaged record
            return folder
        if isinstance(record, dict) and isinstance(record.get("config"), dict):
            return folder
    return None
