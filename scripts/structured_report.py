"""The structured grid's frontier and paired table, from its records only (issue 28, "Evidence").

    python scripts/structured_report.py          # results/structured: frontier.png, frontier.md, README block

Reads the measured levels (scripts/structured_levels.py) and each finished run's metrics.json and trace.jsonl
under runs/<task>/<method>_s<sparsity>_seed<k>/; loads no model and times nothing. Two measurements:

- levels/levels.json, the first (2026-12-04, a loaded machine): it fixed the levels "2x" and "3-4x" before any run;
- levels_quiet/levels.json, if present, the quiet-machine re-measure of the same shapes (2026-12-05), which also
  fixed the third level "4x+" (1 of 6 layers kept). A level's shape is never re-chosen by a later measurement: the
  grid's runs were made at the first one's sparsities; where the re-measure's rule would pick another shape, the
  report says so.

The x axis (the "frontier axis") is a shape's batch-1 speed-up, the lower of the torch and onnxruntime medians,
from the quiet re-measure when there is one (else the first); the levels table shows both measurements. A run's
shape is its last prune event's kept layers, heads and FFN neurons (trace.jsonl); its speed-up is the one measured
for that shape, so a run whose shape was not measured is named and left out, never guessed.

The table is the study's format (results/study/README.md): mean ± std over seeds per cell, and SDP-CC minus MP
and minus KD paired by seed (one dense model per task and seed, shared by every method and level), 95%
t-intervals (sdp/report/claims.py's `interval`: none with fewer than 3 units); pooled over tasks per level,
units are (task, seed). A cell whose mean sits at its task's floor (the best constant prediction's dev score,
sdp/report/floors.py, as claims.md marks it) is marked ‡, and so is a paired row that compares such a cell: there the
pruned model predicts one class, and the row measures the metric, not the method.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sdp.objectives.naming import base_method  # noqa: E402
from sdp.report.evidence import holm, interval, p_value  # noqa: E402
from sdp.report.floors import at_floor, floor_legend, scored_floor_rows, task_floor  # noqa: E402

METHODS = ("MP", "KD", "SDP-CC(mean)")
TASKS = ("sst2", "mrpc")
SEEDS = (1, 2, 3)
MARK = "structured_report: frontier.md"


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def last_shape(trace: Path) -> dict | None:
    """The kept layers, heads and FFN neurons of the last prune event (the highest step; the file's line order is not
    the events' order: a prune record can be written after later updates), or None."""
    shape, last = None, None
    try:
        lines = trace.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        try:
            ev = json.loads(line)
        except json.JSONDecodeError:
            continue
        if ev.get("event") == "prune" and "kept_layers" in ev:
            step = ev.get("step", -1)
            if last is None or step >= last:
                shape, last = {k: ev[k] for k in ("kept_layers", "kept_heads", "kept_ffn")}, step
    return shape


def speedups(levels: dict) -> dict[int, float]:
    """layers kept -> the measured batch-1 speed-up (the lower of the two runtimes), for every measured shape."""
    b1 = {int(k): float(v) for k, v in levels["batch1_speedup_min_of_runtimes"].items()}
    return {6: 1.0, **b1}


def grid_levels(first: dict, quiet: dict | None) -> tuple[list[dict], list[str]]:
    """The grid's levels, by sparsity: the first measurement's, then those only the re-measure named ("4x+");
    and a note for every level whose shape the re-measure's rule would choose differently (it is not changed)."""
    names = {lv["level"]: lv for lv in first["levels"]}
    levels, notes = list(first["levels"]), []
    for lv in (quiet or {}).get("levels", []):
        old = names.get(lv["level"])
        if old is None:
            levels.append({**lv, "added_by_remeasure": True})
        elif old["layers_kept"] != lv["layers_kept"]:
            notes.append(f"the quiet re-measure's rule would put 'about {lv['level']}' at {lv['layers_kept']} layers "
                         f"kept; the grid keeps the first measurement's {old['layers_kept']} (fixed before its runs)")
    return sorted(levels, key=lambda v: v["sparsity"]), notes


def collect(root: Path, speed: dict[int, float]) -> tuple[list[dict], list[str]]:
    """One row per finished run: task, method, sparsity, seed, score (x100), dense score, layers kept, speed-up
    (``speed``: layers kept -> the frontier axis's batch-1 speed-up)."""
    rows, problems = [], []
    for metrics_path in sorted((root / "runs").glob("*/*/metrics.json")):
        run = metrics_path.parent
        m = _json(metrics_path)
        if not m or m.get("status") != "completed":
            continue
        shape = last_shape(run / "trace.jsonl")
        label = run.relative_to(root).as_posix()
        if shape is None:
            problems.append(f"{label}: no prune event with kept_layers in trace.jsonl (not a structured run?)")
            continue
        layers = int(shape["kept_layers"])
        if shape["kept_heads"] != 12 * layers or shape["kept_ffn"] != 1536 * layers or layers not in speed:
            problems.append(f"{label}: shape {shape} is not a measured full-width shape; left out")
            continue
        rows.append({"task": m["task"], "method": base_method(m["method"]),  # "MP (taylor)" -> "MP": one criterion here
                     "sparsity": float(m["target_sparsity"]),
                     "seed": int(m["seed"]), "score": 100 * m["final"]["main"], "dense": 100 * m["dense"]["main"],
                     "layers": layers, "speedup": speed[layers], "label": label,
                     "eval_examples": m.get("eval_examples"), "data_fingerprint": m.get("data_fingerprint")})
    return rows, problems


def _mean_std(values: list[float]) -> str:
    if not values:
        return "—"
    sd = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
    return f"{statistics.mean(values):.2f}{sd} (n={len(values)})"


def _ci(diffs: list[float], adjusted: float | None = None) -> str:
    ci = interval(diffs)
    if ci is None:
        return f"— (n={len(diffs)})"
    holm_p = f"; Holm p {adjusted:.3f}" if adjusted is not None else ""
    return f"{ci[0]:+.2f} [{ci[1]:+.2f}, {ci[2]:+.2f}] (n={len(diffs)}{holm_p})"


def paired(rows: list[dict], a: str, b: str, task: str | None, sparsity: float) -> list[float]:
    """a minus b per (task, seed) at one level, where both ran (sorted for a stable order)."""
    by = {(r["task"], r["seed"], r["method"]): r["score"] for r in rows if r["sparsity"] == sparsity
          and (task is None or r["task"] == task)}
    return [by[(t, s, a)] - by[(t, s, b)] for (t, s, m) in sorted(by) if m == a and (t, s, b) in by]


def _b1(record: dict | None, layers: int) -> str:
    """``torch / onnxruntime`` batch-1 median speed-ups of a shape in one measurement, or a dash."""
    try:
        return " / ".join(f"{record['speedup'][k][f'layers{layers}']['median']:.2f}x"
                          for k in ("torch_b1", "onnxruntime_b1"))
    except (KeyError, TypeError):
        return "—"


def _when(record: dict, path: str) -> str:
    load = record.get("machine", {})
    start, end = ((load.get(k) or [None])[0] for k in ("loadavg_start", "loadavg_end"))
    at = "" if start is None else f", load average {start:.2f} at start" + ("" if end is None else f", {end:.2f} at end")
    return f"{path}, measured {record.get('measured_at', '?')}{at}"


def render_levels(levels: list[dict], first: dict, quiet: dict | None, notes: list[str]) -> list[str]:
    """The levels with both measurements side by side, and which one the frontier axis uses."""
    axis = speedups(quiet or first)
    lines = ["Frontier axis: " + (
        f"the quiet re-measure ({_when(quiet, 'levels_quiet/levels.json')}); the first measurement "
        f"({_when(first, 'levels/levels.json')}), taken beside other jobs, fixed the older levels and is shown "
        "beside it." if quiet else
        f"the first measurement ({_when(first, 'levels/levels.json')}); no quiet re-measure "
        "(levels_quiet/levels.json) found."), "",
        "Batch-1 speed-up over dense, 128 tokens, median of interleaved rounds, torch / onnxruntime; the axis is the "
        "lower of the two:", "",
        "| level | sparsity | layers kept | first measurement | quiet re-measure | frontier axis |",
        "|---|---|---|---|---|---|"]
    for v in levels:
        k = v["layers_kept"]
        first_cell = _b1(first, k) + (" (not a level then)" if v.get("added_by_remeasure") else "")
        lines.append(f"| about {v['level']} | {v['sparsity']} | {k} | {first_cell} | {_b1(quiet, k)} | "
                     f"{axis[k]:.2f}x |")
    return lines + ([""] + [f"Note: {n}." for n in notes] if notes else []) + [""]


def floored_cells(rows: list[dict], floors: dict[str, float | None]) -> tuple[set[tuple[str, float, str]], int]:
    """(task, sparsity, method) of each cell whose mean score is at its task's floor (scores are x 100), and how many
    cells were not judged: a run scored on a sample of the dev split (max_eval_samples) has that sample's floor, not
    the file's (claims.md's rule, sdp/report/floors.py ``scored_floor_rows``)."""
    out, sampled = set(), 0
    for task, sparsity, method in {(r["task"], r["sparsity"], r["method"]) for r in rows}:
        cell = [r for r in rows if (r["task"], r["sparsity"], r["method"]) == (task, sparsity, method)]
        if not all(scored_floor_rows(task, None, r.get("eval_examples"), r.get("data_fingerprint")) for r in cell):
            sampled += 1
        elif at_floor(statistics.mean(r["score"] for r in cell) / 100, floors.get(task)):
            out.add((task, sparsity, method))
    return out, sampled


def floor_note(floors: dict[str, float | None], floored: set[tuple[str, float, str]], levels: list[dict],
               sampled: int = 0) -> str:
    name = {v["sparsity"]: v["level"] for v in levels}
    return floor_legend(floors, [f"{t} about {name.get(s, s)} {m}" for t, s, m in sorted(floored)], paired=True,
                        sampled=sampled)


def _pair_mark(floored: set, task: str | None, sparsity: float, a: str, b: str) -> str:
    """‡ where either side of a paired difference is a cell at its floor (in this task; pooled: in any task)."""
    return " ‡" if any((t, sparsity, m) in floored for t in ((task,) if task else TASKS) for m in (a, b)) else ""


def render(rows: list[dict], problems: list[str], first: dict, quiet: dict | None, planned: int,
           floors: dict[str, float | None] | None = None) -> str:
    """``floors``: each task's floor (x 1, as metrics.json), None where unknown; left out, none is marked."""
    cc = METHODS[2]
    floors = floors if floors is not None else {t: None for t in TASKS}
    floored, sampled = floored_cells(rows, floors)
    lv, notes = grid_levels(first, quiet)
    axis = speedups(quiet or first)
    # Counted by the planned (task, method, level, seed) each run fills, not by how many records there are: extra
    # seeds or tasks made "67 of 54 runs finished. The comparison is complete." with whole planned cells missing.
    plan = {(t, m, v["sparsity"], s) for t in TASKS for m in METHODS for v in lv for s in SEEDS}
    done = {(r["task"], r["method"], r["sparsity"], r["seed"]) for r in rows}
    extra = len(rows) - len(done & plan)
    lines = ["# Structured grid: frontier and paired differences (generated by scripts/structured_report.py)", "",
             f"**{len(done & plan)} of {planned} pruning runs finished** (the planned ones; the dense models are not counted)"
             + (f"; {extra} more runs outside the plan (other seeds, tasks or levels) are in the cells below"
                if extra else "") + ". "
             + ("The comparison is complete." if plan <= done else
                "The comparison is incomplete until the grid finishes: cells with fewer than 3 seeds have no "
                "interval, and the numbers below will change."), "",
             *render_levels(lv, first, quiet, notes),
             "Dev score (main metric x 100), mean ± std over seeds (n); speed-up: the frontier axis above.", "",
             "| task | level | layers kept | speed-up (b1) | dense | MP | KD | SDP-CC(mean) |", "|---|---|---|---|---|---|---|---|"]
    for task in TASKS:
        for v in lv:
            cell = [r for r in rows if r["task"] == task and r["sparsity"] == v["sparsity"]]
            dense = sorted({(r["seed"], r["dense"]) for r in cell})
            lines.append(f"| {task} | about {v['level']} (sparsity {v['sparsity']}) | {v['layers_kept']} | "
                         f"{axis[v['layers_kept']]:.2f}x | {_mean_std([d for _, d in dense])} | "
                         + " | ".join(_mean_std([r['score'] for r in cell if r['method'] == m])
                                      + (" ‡" if (task, v["sparsity"], m) in floored else "") for m in METHODS) + " |")
    lines += ["", floor_note(floors, floored, lv, sampled)]
    # One Holm family over every interval of the table (per task and pooled, every level, both baselines): read
    # alone, one unadjusted interval of 18 that excludes 0 is what luck gives at 5% each (docs/evidence.md).
    diffs = {f"{task or 'pooled'}|{v['sparsity']}|{base}": paired(rows, cc, base, task, v["sparsity"])
             for task in (*TASKS, None) for v in lv for base in ("MP", "KD")}
    adjusted = holm({key: p_value(d) for key, d in diffs.items()})
    family = sum(p is not None for p in adjusted.values())
    lines += ["", f"{cc} minus each baseline, paired by seed, 95% t-interval (n: seeds; pooled rows: task x seed units); "
              f"Holm p: the two-sided t-test's p, Holm-adjusted over the {family} intervals of this table with n >= 3 "
              "(an interval that excludes 0 holds only with Holm p < 0.05):",
              "", "| task | level | vs MP | vs KD |", "|---|---|---|---|"]
    for task in (*TASKS, None):
        for v in lv:
            key = f"{task or 'pooled'}|{v['sparsity']}|"
            cells = [_ci(diffs[key + base], adjusted[key + base])
                     + _pair_mark(floored, task, v["sparsity"], cc, base) for base in ("MP", "KD")]
            lines.append(f"| {task or 'pooled'} | about {v['level']} | {cells[0]} | {cells[1]} |")
    if problems:
        lines += ["", "Left out:", "", *(f"- {p}" for p in problems)]
    return "\n".join(lines) + "\n"


def _mean_sd(values: list[float]) -> tuple[float, float | None]:
    """Mean, and the std only where there are 2 or more values (an error bar needs them)."""
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else None


def plot(rows: list[dict], levels: list[dict], axis: dict[int, float], axis_name: str, path: Path) -> Path:
    """Score against the frontier axis per task: dense at 1x, every method at every level (a dotted line marks
    each level, runs or not), mean with ± std error bars where n >= 2, one dot per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(TASKS), figsize=(11, 4.4), squeeze=False)
    ticks = sorted({1.0, *(axis[v["layers_kept"]] for v in levels)})
    for ax, task in zip(axes[0], TASKS):
        sub = [r for r in rows if r["task"] == task]
        for v in levels:
            ax.axvline(axis[v["layers_kept"]], color="0.7", ls=":", lw=1)
            ax.annotate(f"about {v['level']}", (axis[v["layers_kept"]], 1), xycoords=("data", "axes fraction"),
                        xytext=(2, -10), textcoords="offset points", fontsize=7, color="0.4")
        dense = [d for _, d in sorted({(r["seed"], r["dense"]) for r in sub})]
        if dense:
            mean, sd = _mean_sd(dense)
            ax.errorbar([1.0], [mean], yerr=None if sd is None else [sd], color="k", marker="s", capsize=3,
                        label=f"dense (n={len(dense)})")
        for i, method in enumerate(METHODS):
            pts = [r for r in sub if r["method"] == method]
            xs = sorted({r["speedup"] for r in pts})
            if not xs:
                continue
            shift = 1 + 0.02 * (i - 1)  # side by side on the log axis, so methods of one level do not overlap
            stats = [_mean_sd([r["score"] for r in pts if r["speedup"] == x]) for x in xs]
            ax.plot([x * shift for x in xs], [m for m, _ in stats], marker="o", color=f"C{i}", label=method)
            bars = [(x * shift, m, sd) for x, (m, sd) in zip(xs, stats) if sd is not None]
            if bars:
                ax.errorbar([b[0] for b in bars], [b[1] for b in bars], yerr=[b[2] for b in bars], fmt="none",
                            ecolor=f"C{i}", capsize=3)
            ax.scatter([r["speedup"] * shift for r in pts], [r["score"] for r in pts], s=10, alpha=0.5, color=f"C{i}")
        ax.set_xscale("log")
        ax.set_xlim(0.9, max(ticks) * 1.15)
        ax.set_xticks(ticks, [f"{t:.2f}x" for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel(f"batch-1 CPU speed-up over dense, 128 tokens ({axis_name})", fontsize=8)
        ax.set_ylabel("dev score (main metric x 100)")
        ax.set_title(f"{task}: {len(sub)} runs")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # a task with no run yet has nothing to label
            ax.legend(fontsize=8)
    fig.suptitle("Structured MP / KD / SDP-CC, MiniLM, whole layers removed (mean ± std where n >= 2; dots: seeds)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path


def embed(readme: Path, text: str) -> None:
    """Replace the README's block between the markers with ``text`` (its title left out); no markers: untouched."""
    start, end = f"<!-- {MARK} -->", f"<!-- /{MARK} -->"
    old = readme.read_text() if readme.is_file() else ""
    if start not in old or end not in old:
        return
    head, rest = old.split(start, 1)
    body = text.split("\n", 1)[1].strip("\n")
    readme.write_text(f"{head}{start}\n{body}\n{end}{rest.split(end, 1)[1]}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=REPO / "results" / "structured")
    args = ap.parse_args(argv)
    first = _json(args.root / "levels" / "levels.json")
    if first is None:
        sys.exit(f"structured_report: no {args.root / 'levels' / 'levels.json'}: run scripts/structured_levels.py first")
    quiet = _json(args.root / "levels_quiet" / "levels.json")  # optional: the quiet re-measure (and "4x+")
    axis = speedups(quiet or first)
    levels, _ = grid_levels(first, quiet)
    rows, problems = collect(args.root, axis)
    planned = len(TASKS) * len(SEEDS) * len(METHODS) * len(levels)
    floors = {task: task_floor(task, None) for task in TASKS}  # SDP_DATA_DIR's dev files; None where absent
    text = render(rows, problems, first, quiet, planned, floors)
    (args.root / "frontier.md").write_text(text)  # beside, not in, tables/ (sdp-tables clears that folder)
    plot(rows, levels, axis, "quiet re-measure" if quiet else "first measurement", args.root / "frontier.png")
    embed(args.root / "README.md", text)
    print(f"structured_report: {len(rows)} runs for {planned} planned; {len(problems)} left out; "
          f"wrote {args.root}/frontier.md and frontier.png")


if __name__ == "__main__":
    main()
