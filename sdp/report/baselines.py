"""Published (literature) numbers from `results/baselines/*.csv`, shaped like the run cells."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pandas as pd

from sdp.report.aggregate import CELL_COLUMNS, CELL_KEYS

REQUIRED = ("method", "model", "sparsity", "task", "metric", "value", "source")

# Tasks whose `main` is the mean of two metrics (docs/metrics_schema.md).
PAIR_METRICS = {
    "mrpc": ("f1", "accuracy"),
    "qqp": ("accuracy", "f1"),
    "stsb": ("pearson", "spearman"),
    "mnli": ("accuracy_m", "accuracy_mm"),
}
SINGLE_METRIC = {"cola": "mcc", "sst2": "accuracy", "qnli": "accuracy", "rte": "accuracy", "wnli": "accuracy"}
# The names a published row may give: a GLUE task's own and its metrics' (the table's columns), main, or unspecified
# (a number whose metric the paper does not state). Another spelling (MRPC, acc) made a column or cell of its own, or
# no cell: the number was lost without a word (probe round 24, b02, b03).
TASK_METRICS = {t: (*PAIR_METRICS.get(t, ()), *((SINGLE_METRIC[t],) if t in SINGLE_METRIC else ()), "main", "unspecified")
                for t in (*SINGLE_METRIC, *PAIR_METRICS)}


def load_published(path: Path | str) -> tuple[pd.DataFrame, list[str]]:
    """Cells of the published CSV (values already in percent) and a list of problems found in it."""
    path = Path(path)
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    if not path.is_file():
        return pd.DataFrame(columns=CELL_COLUMNS), [
            f"no published baselines at `{path.parent.name}/{path.name}` (optional: rows of the papers' cited numbers, "
            "e.g. `baselines=results/baselines/published_glue.csv`)"]
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's BOM is no part of the first column's name
    except (OSError, UnicodeDecodeError) as err:
        return pd.DataFrame(columns=CELL_COLUMNS), [f"`{path}` cannot be read as UTF-8 text: {err}"]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        fields, records = reader.fieldnames or [], list(reader)
    except csv.Error as err:
        return pd.DataFrame(columns=CELL_COLUMNS), [f"`{path}` is not a valid CSV: {err}"]
    missing = [c for c in REQUIRED if c not in fields]
    if missing:
        return pd.DataFrame(columns=CELL_COLUMNS), [f"`{path.name}` lacks columns {missing}"]
    seen: dict[tuple, int] = {}
    for lineno, rec in enumerate(records, start=2):
        try:
            value, sparsity = float(rec["value"]), float(rec["sparsity"])
        except (TypeError, ValueError):
            problems.append(f"`{path.name}` line {lineno}: value or sparsity is not a number")
            continue
        if not 0.0 <= sparsity <= 1.0:  # 90 for 90% would print as 9000%
            problems.append(f"`{path.name}` line {lineno}: sparsity {rec['sparsity']} is not a fraction in [0, 1] "
                            "(write 0.9 for 90%); row left out")
            continue
        problem = _name_or_unit_problem(rec["task"], rec["metric"], value, rec["value"])
        if problem:
            problems.append(f"`{path.name}` line {lineno}: {problem}; row left out")
            continue
        key = (rec["model"], rec["method"], round(sparsity, 6), rec["task"], rec["metric"])
        if key in seen:  # two published numbers for one cell: the table would show one of them silently
            problems.append(f"`{path.name}` line {lineno}: the same model, method, sparsity, task and metric as "
                            f"line {seen[key]}; row left out")
            continue
        seen[key] = lineno
        rows.append(
            {
                "origin": "published", "model": rec["model"], "method": rec["method"], "schedule": "",
                "teacher": "", "sparsity": round(sparsity, 6), "variant": "", "task": rec["task"],
                "metric": rec["metric"], "mean": value, "std": float("nan"), "n": 0, "flagged": False, "undefined": 0,
                "versions": "", "source": rec["source"], "note": rec.get("note") or "",
            }  # fmt: skip
        )
    frame = pd.DataFrame(rows, columns=CELL_COLUMNS)
    frame = pd.concat([frame, _mains(frame)], ignore_index=True) if not frame.empty else frame
    return frame.sort_values(CELL_KEYS, kind="mergesort").reset_index(drop=True), problems


def _name_or_unit_problem(task: Any, metric: Any, value: float, written: Any) -> str | None:
    """Why a published row cannot be shown as written, or None: a task or metric named otherwise than the tables
    do, or a value written as a fraction (0.5634 showed as 0.56 in a percent column; probe round 24, b01)."""
    if task not in TASK_METRICS:
        return f"task {task!r} is not one of {sorted(TASK_METRICS)} (the GLUE tasks as the tables name them)"
    if metric not in TASK_METRICS[task]:
        return f"metric {metric!r} is not one of {list(TASK_METRICS[task])} for {task}"
    if 0 < abs(value) <= 1:
        return f"value {written} reads as a fraction, and the values are percent (write {value * 100:g} for {written})"
    return None


def _mains(frame: pd.DataFrame) -> pd.DataFrame:
    """Derive `main` where the published metrics determine it (both of a pair, or the single metric)."""
    out = []
    keys = ["model", "method", "sparsity", "task"]
    for _, grp in frame.groupby(keys, sort=True):
        vals = dict(zip(grp["metric"], grp["mean"]))
        task = grp["task"].iloc[0]
        if "main" in vals:
            continue
        if task in PAIR_METRICS and all(m in vals for m in PAIR_METRICS[task]):
            main = sum(vals[m] for m in PAIR_METRICS[task]) / 2
        elif task in SINGLE_METRIC and SINGLE_METRIC[task] in vals:
            main = vals[SINGLE_METRIC[task]]
        else:
            continue
        rec = grp.iloc[0].to_dict()
        rec.update(metric="main", mean=main, note="")
        out.append(rec)
    return pd.DataFrame(out, columns=CELL_COLUMNS)
