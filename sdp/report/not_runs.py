"""metrics.json records under a results folder that are not training runs, so sdp-tables never counts them as runs:
sdp-eval's scores of a saved model (``"kind": "eval"``, sdp/evaluation.py), listed apart as evaluations, and the
record of a launch that failed before its run started (``"before_run": true``, sdp/sweep.py: a config error),
counted apart from failed runs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from sdp.report.score_range import out_of_range
from sdp.report.undefined import undefined_scores

EVAL_COLUMNS = ["path", "task", "model", "method", "target_sparsity", "achieved", "achieved_of", "scored_on", "final", "final_main", "model_dir",
                "finished_at", "warnings", "undefined"]


class MalformedEval(ValueError):
    """An sdp-eval record that cannot be used (no finite final.main)."""


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(float(x))


def not_a_run(path: Path) -> tuple[str, dict[str, Any]] | None:
    """("eval", record) or ("launch_error", record); None for a run's record (or a file the run loader reports)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    if data.get("kind") == "eval":
        return "eval", data
    if data.get("status") == "failed" and data.get("before_run") is True:
        return "launch_error", data
    return None


def load_evaluation(data: dict[str, Any], run_dir: Path, results_dir: Path) -> dict[str, Any]:
    """An sdp-eval record as one row of ``Collection.evaluations``."""
    final = data.get("final")
    if not isinstance(final, dict) or not _number(final.get("main")):
        raise MalformedEval("`final.main` of an evaluation record is missing or not a finite number")
    if (problem := out_of_range(final, "final", " of an evaluation record")) is not None:  # as a run's (round 47, sc150)
        raise MalformedEval(problem)
    sparsity = data.get("target_sparsity")
    # The rows scored, by split: two evaluations of one model (its dev file, its run's carve) showed only their scores
    # (30.00 and 56.25), with nothing to tell them apart (probe round 22, o04)
    examples = data.get("eval_examples")
    scored_on = ", ".join(f"{split} ({n})" for split, n in examples.items()) if isinstance(examples, dict) else ""
    # and at which length, where not the model's own: 70.00 at 4 tokens beside 94.17 at 32 read alike (round 31, ev1)
    length, trained = data.get("max_seq_length"), data.get("trained_max_seq_length")
    if _number(length) and _number(trained) and int(length) != int(trained):
        scored_on = f"{scored_on} at {int(length)} tokens".lstrip() + f" (trained at {int(trained)})"
    # and under which metric, where a custom task's is not accuracy: 94.17, 94.40 and 88.33 of one model read alike
    names = [k for k in final if k != "main" and not str(k).startswith("test_")] if data.get("task") == "custom" else []
    if names and names != ["accuracy"]:
        scored_on = f"{scored_on} by {'/'.join(names)}".lstrip()
    said = data.get("warnings")
    # the weights the model holds at zero, measured by sdp-eval: the target column alone showed a structured model
    # pruned to 61.72% as 50% (round 33's leftover); the prunable share, else the whole model's
    measured = data.get("achieved_sparsity") if isinstance(data.get("achieved_sparsity"), dict) else {}
    of = next((k for k in ("prunable", "model") if _number(measured.get(k))), "")
    achieved = float(measured[of]) if of else float("nan")
    # an undefined metric recorded as 0.0 (constant predictions) is no measurement: marked and said (round 32, ew2)
    undefined = [str(w) for w in data.get("metric_warnings") or []] if isinstance(data.get("metric_warnings"), list) else []
    return {"path": run_dir.relative_to(results_dir).as_posix(), "task": str(data.get("task") or ""),
            "model": str(data.get("model") or ""), "method": str(data.get("method") or ""),
            "target_sparsity": float(sparsity) if _number(sparsity) else float("nan"), "achieved": achieved,
            "achieved_of": of, "scored_on": scored_on,
            "final": {k: float(v) for k, v in final.items() if _number(v)}, "final_main": float(final["main"]),
            "model_dir": str(data.get("model_dir") or ""), "finished_at": str(data.get("finished_at") or ""),
            "warnings": ([str(w) for w in said] if isinstance(said, list) else []) + undefined,
            # the dev score's own mark: a test split's undefined metric (named in the same notes) marked it (review)
            "undefined": ("final", "main") in undefined_scores(data)}
