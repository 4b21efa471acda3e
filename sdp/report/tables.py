"""Build the GLUE, XGLUE and delta tables from aggregated cells (runs and published rows)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from sdp.data.tasks import GLUE_TASKS
from sdp.objectives.naming import base_method
from sdp.report.aggregate import ROW_KEYS, long_scores, method_rank, mixed_code, with_variants
from sdp.report.render import FLAG, MISSING, Table, fmt_num, fmt_sparsity
from sdp.report.setups import PAIR_KEYS
from sdp.report.undefined import UNDEFINED, UNDEFINED_NOTE

# Column label and displayed metrics per task, in the paper's order (MNLI m/mm, MRPC F1/acc, STS-B P/S).
TASK_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "cola": ("CoLA", ("mcc",)),
    "sst2": ("SST-2", ("accuracy",)),
    "mrpc": ("MRPC F1/acc", ("f1", "accuracy")),
    "stsb": ("STS-B P/S", ("pearson", "spearman")),
    "qqp": ("QQP acc/F1", ("accuracy", "f1")),
    "mnli": ("MNLI m/mm", ("accuracy_m", "accuracy_mm")),
    "qnli": ("QNLI", ("accuracy",)),
    "rte": ("RTE", ("accuracy",)),
    "wnli": ("WNLI", ("accuracy",)),
}
PUB_PREFIX = "[pub] "
RowKey = tuple  # ROW_KEYS + (source,)


def task_label(task: str) -> str:
    return TASK_COLUMNS[task][0] if task in TASK_COLUMNS else task


def order_tasks(tasks: set[str] | list[str]) -> list[str]:
    """GLUE tasks in the paper's order, then any other task alphabetically."""
    tasks = set(tasks)
    return [t for t in GLUE_TASKS if t in tasks] + sorted(tasks - set(GLUE_TASKS))


def _row_sort(key: RowKey) -> tuple:
    origin, model, method, schedule, teacher, sparsity, variant, source = key
    # Sparsity first so that dense, runs and published rows at one sparsity sit side by side.
    return (sparsity, origin != "run", model, method_rank(method), schedule, teacher, variant, source)


class CellIndex:
    """Lookup of cells by (row key, task, metric)."""

    def __init__(self, cells: pd.DataFrame) -> None:
        self.cells = cells
        self.index: dict[tuple, dict[str, Any]] = {}
        for rec in cells.to_dict("records"):
            row = tuple(rec[k] for k in ROW_KEYS) + (rec["source"],)
            self.index[(row, rec["task"], rec["metric"])] = rec

    def rows(self, tasks: list[str] | None = None) -> list[RowKey]:
        rows = {k[0] for k in self.index if tasks is None or k[1] in tasks}
        return sorted(rows, key=_row_sort)

    def get(self, row: RowKey, task: str, metric: str) -> dict[str, Any] | None:
        return self.index.get((row, task, metric))


def format_cell(recs: list[dict[str, Any] | None], suffix: str = "") -> str:
    """'a/b ± s/t (n=3)' from one cell per displayed metric; missing metrics show as '—'."""
    present = [r for r in recs if r is not None]
    if not present:
        return MISSING
    text = "/".join(fmt_num(r["mean"]) if r else MISSING for r in recs) + suffix
    if present[0]["origin"] == "run":
        counts = [int(r["n"]) for r in present]
        n = min(counts)
        if n >= 2:
            text += " ± " + "/".join(fmt_num(r["std"]) if r else MISSING for r in recs)
        # Metrics over different seed sets (a run without one of them) are shown as such, never as one n.
        text += f" (n={n})" if len(set(counts)) == 1 else f" (n={'/'.join(map(str, counts))})"
    if any(r["flagged"] for r in present):
        text += FLAG
    if any(r.get("undefined") for r in present):
        text += UNDEFINED
    return text


def _task_cell(idx: CellIndex, row: RowKey, task: str) -> str:
    metrics = TASK_COLUMNS[task][1] if task in TASK_COLUMNS else ("main",)
    recs = [idx.get(row, task, m) for m in metrics]
    if any(recs):
        return format_cell(recs)
    # A run that logged only `main`, or a published number whose metric is not stated.
    if (rec := idx.get(row, task, "main")) is not None:
        return format_cell([rec])
    if (rec := idx.get(row, task, "unspecified")) is not None:
        return format_cell([rec], suffix="?")
    return MISSING


def _label_columns(rows: list[RowKey]) -> list[str]:
    """Model/Method/Sparsity always; Schedule and Teacher only where the runs differ in them."""
    cols = ["Model", "Method", "Sparsity"]
    runs = [r for r in rows if r[0] == "run" and r[2] != "Dense"]
    if len({r[3] for r in runs}) > 1:
        cols.append("Schedule")
    if len({r[4] for r in runs}) > 1:
        cols.append("Teacher")
    return cols


def _labels(row: RowKey, cols: list[str]) -> list[str]:
    origin, model, method, schedule, teacher, sparsity, variant, _ = row
    name = (PUB_PREFIX if origin == "published" else "") + method + (f" [{variant}]" if variant else "")
    out = [model, name, fmt_sparsity(sparsity)]
    if "Schedule" in cols:
        out.append(schedule or MISSING)
    if "Teacher" in cols:
        out.append(teacher or MISSING)
    return out


def glue_average(idx: CellIndex, row: RowKey, tasks: list[str]) -> tuple[float, str] | None:
    """Mean of the tasks' main scores (percent) and the marks of its cells (FLAG, UNDEFINED); None unless the row
    has every task of the set, and None for a set of fewer than two: one task's score is never an average."""
    recs = [idx.get(row, t, "main") for t in tasks]
    if len(tasks) < 2 or any(r is None for r in recs):
        return None
    marks = (FLAG if any(r["flagged"] for r in recs) else "") + (UNDEFINED if any(r.get("undefined") for r in recs)
                                                                  else "")
    return sum(r["mean"] for r in recs) / len(recs), marks


def _short(task: str) -> str:
    return task_label(task).split(" ")[0]


def build_glue_table(cells: pd.DataFrame, avg_tasks: list[str], no_runs: bool,
                     run_tasks: list[str] | None = None) -> Table:
    """Methods x sparsity rows, one column per task, the GLUE average and the source of each row. Where the
    runs cover fewer GLUE tasks than the table (published rows bring the rest), a second average over the runs'
    tasks, for every row that has them, so the runs have an average that compares with the published rows'."""
    idx = CellIndex(cells)
    tasks = order_tasks(set(cells["task"]))
    rows = idx.rows()
    cols = _label_columns(rows)
    averages = [avg_tasks] + ([run_tasks] if run_tasks and len(run_tasks) >= 2 and run_tasks != avg_tasks else [])
    table = Table("GLUE (dev, percent)", cols + [task_label(t) for t in tasks] + ["GLUE avg"]
                  + ["Avg of runs' tasks"] * (len(averages) - 1) + ["Source"],
                  [], n_label_cols=len(cols), n_trailing_text=1)  # fmt: skip
    for row in rows:
        avg_texts = [MISSING if (avg := glue_average(idx, row, a)) is None else fmt_num(avg[0]) + avg[1]
                     for a in averages]
        source = row[7] if row[0] == "published" else "run here"
        table.rows.append(_labels(row, cols) + [_task_cell(idx, row, t) for t in tasks] + avg_texts + [source])
    table.notes += _glue_notes(avg_tasks, no_runs, cells)
    if len(averages) > 1:
        table.notes.append(f"Avg of runs' tasks = mean of the main scores of {', '.join(map(_short, run_tasks))} "
                           "(the GLUE tasks the runs cover); shown for every row that has all of them, published "
                           "rows too.")
    return table


def _glue_notes(avg_tasks: list[str], no_runs: bool, cells: pd.DataFrame) -> list[str]:
    notes = [
        "Cells: mean ± sample std (ddof=1) over seeds, with the number of seeds; n=1 has no ±. "
        f"{MISSING} = no run (an incomplete sweep), never 0.",
        f"{PUB_PREFIX.strip()} rows are published numbers (Source column), not run here; "
        "`?` marks a published number whose metric is not stated.",
        f"{FLAG} = the cell aggregates runs from different code versions (see summary.md).",
        "Dense = each run's dense fine-tuned score, averaged per seed, then over seeds.",
    ]
    dense = cells[(cells["origin"] == "run") & (cells["method"] == "Dense")]
    if "by_model" in dense and dense["by_model"].eq(True).any():  # a unit that is no seed: said (aggregate_cells;
        # a given-only row of one model read at seeds 1 and 2 is 46.88 (n=1): review of session 24's fixes)
        notes[-1] = notes[-1][:-1] + (
            "; but a dense model (known by its fingerprint) that runs of several seeds read, given as "
            "dense.checkpoint, or one given to a seed beside that seed's own, is one unit of the mean and of n: one "
            "model read at seeds 1 and 2 counts once.")
    if (cells["variant"].fillna("").astype(str) != "").any():  # the hashes said nothing of what they are (round 20)
        notes.append("[hash] after a method = the runs' setup: the short hash of their config less the method's "
                     "terms, the sparsity, the task and the per-seed inputs (one experiment across tasks; costs.md's "
                     "setup), shown where rows of one method mix setups; [setup/x] adds what tells a cell's runs "
                     "apart beyond it (the task's own setup, or the config, e.g. two lambdas). Each run's run.json "
                     "holds its config.")
    if ((cells["undefined"].fillna(0) > 0) & ~cells["metric"].astype(str).str.startswith("test_")).any():  # shown
        notes.append(UNDEFINED_NOTE)
    # a given setup's Dense row of some of another row's models read as other models (probe round 50, dga_alone):
    # which models, given to which seeds, in the note (probe round 51, dgf_twice: aggregate.given_words)
    given = cells[(cells["origin"] == "run") & (cells["method"] == "Dense") & (cells["note"].fillna("") != "")]
    for variant, note in sorted(set(zip(given["variant"], given["note"]))):
        notes.append(f"Dense [{variant}] = {note}.")
    if len(avg_tasks) >= 2:
        names = ", ".join(_short(t) for t in avg_tasks)
        notes.append(f"GLUE avg = mean of the main scores of {names}; shown only where a row has all of them.")
    else:  # its — read as "no run" by the legend above (probe round 34, ga1)
        notes.append("GLUE avg = the mean of the main scores of two or more GLUE tasks: this table has "
                     f"{f'one ({_short(avg_tasks[0])})' if avg_tasks else 'none'}, so the column is — in every row.")
    if no_runs:
        notes.insert(0, "No runs were found: only published rows are shown.")
    return notes


def order_languages(langs: set[str]) -> list[str]:
    """English (the training language) first, then alphabetical."""
    return (["en"] if "en" in langs else []) + sorted(langs - {"en"})


def build_xglue_tables(cells: pd.DataFrame, task: str) -> list[Table]:
    """Per-language scores with their mean (incl. Dense), then per-language drop (dense - final)."""
    sub = cells[cells["task"] == task]
    idx = CellIndex(sub)
    rows = idx.rows()
    cols = _label_columns(rows)
    langs = order_languages({m.split("/", 1)[1] for m in sub["metric"] if m.startswith(("lang/", "drop/"))})
    score = Table(f"{task}: score per language (percent)", cols + langs + ["Mean"], [], n_label_cols=len(cols))
    drop = Table(f"{task}: drop per language (dense − final, points)", cols + langs + ["Mean"], [],
                 n_label_cols=len(cols))  # fmt: skip
    for row in rows:
        labels = _labels(row, cols)
        score.rows.append(
            labels + [format_cell([idx.get(row, task, f"lang/{lg}")]) for lg in langs]
            + [format_cell([idx.get(row, task, "main")])]
        )  # fmt: skip
        if row[2] == "Dense":
            continue
        recs = [idx.get(row, task, f"drop/{lg}") for lg in langs]
        mean = sum(r["mean"] for r in recs) / len(recs) if recs and all(recs) else float("nan")
        drop.rows.append(labels + [format_cell([r]) for r in recs] + [fmt_num(mean)])
    score.notes.append("Mean = the run's mean over languages (its main score), over seeds.")
    drop.notes.append("Mean = mean of the per-language drops; shown only where every language is present.")
    return [score, drop]


def delta_frame(runs: pd.DataFrame) -> pd.DataFrame:
    """Main-score deltas (points) of every pruned row, paired run by run: each run against its own dense score,
    and against the MP run of its setup, task, seed, sparsity, schedule and teacher (the same dense model and
    data; setups.pair_hash; so also the same criterion: "KD (movement)" pairs with "MP (movement)"). A row's
    delta is the mean over its runs that have the partner (n_dense, n_mp)."""
    cols = ["model", "method", "schedule", "teacher", "sparsity", "variant", "task", "mean", "delta_dense",
            "delta_mp", "n_dense", "n_mp", "flagged", "undefined_dense", "undefined_mp"]  # fmt: skip
    scores = long_scores(runs)
    main = scores[scores["metric"] == "main"]
    final = with_variants(main[main["stage"] == "final"])  # the row labels glue.md shows
    if final.empty:
        return pd.DataFrame(columns=cols)
    dense = dict(zip(main[main["stage"] == "dense"]["path"], main[main["stage"] == "dense"]["value"]))
    undefined = {(r.path, r.stage) for r in main[main["undefined"]].itertuples(index=False)}  # report/undefined.py
    pair_of = {r.path: (*(getattr(r, k) for k in PAIR_KEYS), r.pair_setup) for r in runs.itertuples(index=False)}
    mp: dict[tuple, list[tuple[float, str, str]]] = {}
    for rec in final[final["method"].map(base_method) == "MP"].itertuples(index=False):
        mp.setdefault(pair_of[rec.path], []).append((rec.value, (rec.version, rec.core), rec.path))
    out = []
    row_keys = ["model", "method", "schedule", "teacher", "sparsity", "variant", "task"]
    for key, grp in final.groupby(row_keys, sort=True, dropna=False):
        # the row's runs and their MP partners: one code unless sdp's or two plug-in sets differ (mixed_code)
        d_dense, d_mp, codes, marked = [], [], list(zip(grp["version"], grp["core"])), [0, 0]  # marked: undefined
        for rec in grp.itertuples(index=False):
            own = (rec.path, "final") in undefined
            if rec.path in dense:
                d_dense.append(rec.value - dense[rec.path])
                marked[0] += own or (rec.path, "dense") in undefined
            partners = mp.get(pair_of[rec.path], []) if base_method(rec.method) != "MP" else []
            if len(partners) == 1:  # several MP configs in one pair: not guessed
                d_mp.append(rec.value - partners[0][0])
                codes.append(partners[0][1])
                marked[1] += own or (partners[0][2], "final") in undefined
        out.append({**dict(zip(row_keys, key)), "mean": float(grp["value"].mean()),
                    "delta_dense": _mean(d_dense), "delta_mp": _mean(d_mp), "n_dense": len(d_dense), "n_mp": len(d_mp),
                    "flagged": mixed_code(codes),
                    "undefined_dense": marked[0], "undefined_mp": marked[1]})
    tasks = order_tasks({r["task"] for r in out})
    out.sort(key=lambda r: (_row_sort(("run", *(r[k] for k in row_keys[:-1]), "")), tasks.index(r["task"])))
    return pd.DataFrame(out, columns=cols)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def build_delta_tables(deltas: pd.DataFrame) -> list[Table]:
    """Two tables (vs Dense, vs MP) with one column per task; signed, two decimals, with the pairs' count."""
    tables = []
    for col, title, skip_mp in (("delta_dense", "Δ main score vs Dense (points)", False),
                                ("delta_mp", "Δ main score vs MP at the same sparsity (points)", True)):
        n_col = col.replace("delta", "n")
        frame = deltas[deltas["method"].map(base_method) != "MP"] if skip_mp else deltas
        tasks = order_tasks(set(frame["task"]))
        keys = sorted({("run", *r[:6], "") for r in frame.itertuples(index=False)}, key=_row_sort)
        cols = _label_columns(keys)
        lookup = {(("run", *r[:6], ""), r.task): r for r in frame.itertuples(index=False)}
        # Deltas are of the main score only, so the column is the bare task name.
        table = Table(title, cols + [task_label(t).split(" ")[0] for t in tasks], [], n_label_cols=len(cols))
        for key in keys:
            cells = []
            for task in tasks:
                rec = lookup.get((key, task))
                val = getattr(rec, col) if rec is not None else float("nan")
                text = fmt_num(val, signed=True)
                if text != MISSING:
                    text += f" (n={getattr(rec, n_col)})" + (FLAG if rec.flagged else "") + (
                        UNDEFINED if getattr(rec, col.replace("delta", "undefined")) else "")
                cells.append(text)
            table.rows.append(_labels(key, cols) + cells)
        # the dense score is the run's own record's, of the model it pruned: "by seed" read as the Dense row's seed,
        # which a model given to another seed is not (probe round 51, dgc_cross)
        table.notes.append(f"Paired run by run: each run minus the dense score of the model it pruned (its own "
                           f"record's, whichever seed trained that model), or minus the MP run of its setup, task, "
                           f"seed and sparsity; mean over the n seeds that have the partner; {MISSING} = no partner "
                           "or no run.")
        table.notes.append(f"{FLAG} = the cell aggregates runs from different code versions (see summary.md).")
        if (frame[col.replace("delta", "undefined")] > 0).any():
            table.notes.append(UNDEFINED_NOTE.replace("of the cell's runs", "of the runs a delta pairs"))
        tables.append(table)
    return tables
