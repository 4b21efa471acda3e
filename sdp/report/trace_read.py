"""Reading a run's trace.jsonl for the tables: its pruning events (with loss before/after and recovery) and
whether the run resumed. Kept apart from collect.py, which reads metrics.json."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from sdp.training.recovery_summary import summarize_recovery


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(float(x))


def _trace_records(path: Path) -> tuple[list[Any], int]:
    """The parsed lines of a trace.jsonl (blank lines skipped) and the number of unparsable ones; ([], 1) for
    an unreadable file."""
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return [], 1
    records, bad = [], 0
    for line in lines:
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            bad += 1
    return records, bad


def _is_empty_event(obj: dict[str, Any]) -> bool:
    """A pruning event that removed nothing (a structured step already past its target), which a record made before
    probe round 39's fix (sr1) traced and counted as a pruning step."""
    return obj.get("removed") == 0 and not isinstance(obj.get("removed"), bool)


def recovery_as_counted_now(run_dir: Path, recorded: Any) -> Any:
    """A record's ``analysis.recovery``, recomputed from its trace.jsonl without the pruning events that removed
    nothing, where it counted them (the committed structured runs: 13 steps of which 10 removed nothing, their mean
    loss jump and recovery diluted by them, and claims.md read that summary); anything else as recorded."""
    if not isinstance(recorded, dict):
        return recorded
    events = [obj for obj in _trace_records(Path(run_dir) / "trace.jsonl")[0]
              if isinstance(obj, dict) and obj.get("event") == "prune"]
    empty = sum(map(_is_empty_event, events))
    if not empty or recorded.get("pruning_steps") != len(events):  # counted as now, or not from this trace
        return recorded
    kept = [obj for obj in events if not _is_empty_event(obj)]
    return {**recorded, **summarize_recovery(kept, recorded.get("smoothing")),
            "recounted": f"from trace.jsonl, without its {empty} pruning event(s) that removed nothing"}


def was_resumed(path: Path) -> bool:
    """Did the run of this trace.jsonl resume from a checkpoint (a ``resume`` record)?"""
    return any(isinstance(obj, dict) and obj.get("event") == "resume" for obj in _trace_records(path)[0])


def load_trace(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Pruning-step records of a trace.jsonl and the number of unreadable lines.

    A prune record may carry `loss_before`, `loss_after` and `recovery_steps` itself; where it does not,
    they are derived from the pruning stage's `train` records: the last logged loss before the step, the
    first one at or after it, and the steps until the loss is back at `loss_before` (None if it is not
    back before the next pruning step). The task loss is preferred, as it is comparable across methods.
    """
    prunes, train = [], []
    records, bad = _trace_records(path)
    for obj in records:
        if not isinstance(obj, dict):
            bad += 1
        elif obj.get("event") == "prune":
            if _is_empty_event(obj):
                continue  # an event that removed nothing, recorded before round 39 (sr1): no pruning step
            if all(_is_number(obj.get(k)) for k in ("step", "sparsity")):
                prunes.append(obj)
            else:
                bad += 1
        elif obj.get("event") == "train" and obj.get("stage", "prune") == "prune" and _is_number(obj.get("step")):
            loss = obj.get("task_loss", obj.get("loss"))
            if _is_number(loss):
                train.append((obj["step"], float(loss)))
    train.sort()
    prunes.sort(key=lambda e: e["step"])
    for i, ev in enumerate(prunes):
        if all(k in ev for k in ("loss_before", "loss_after", "recovery_steps")) or not train:
            continue
        step = ev["step"]
        nxt = prunes[i + 1]["step"] if i + 1 < len(prunes) else float("inf")
        before = [loss for st, loss in train if st < step]
        after = [(st, loss) for st, loss in train if step <= st < nxt]
        if not before or not after:
            continue
        ev.setdefault("loss_before", before[-1])
        ev.setdefault("loss_after", after[0][1])
        back = [st for st, loss in after if loss <= ev["loss_before"]]
        ev.setdefault("recovery_steps", back[0] - step if back else None)
    return prunes, bad
