"""PNG plots: score vs sparsity, recovery after each pruning step, per-language degradation (deterministic)."""

from __future__ import annotations

import re
import textwrap
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless and byte-stable
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from sdp.report.aggregate import long_scores, method_rank, short_label, with_variants  # noqa: E402
from sdp.report.collect import load_trace  # noqa: E402
from sdp.report.tables import order_languages  # noqa: E402

DPI = 100
# No "Software" (matplotlib version) chunk, so the bytes do not depend on the installed version.
PNG_METADATA = {"Software": None}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, metadata=PNG_METADATA)
    plt.close(fig)
    return path


def _fit_titles(fig: plt.Figure) -> None:
    """Lay ``fig`` out (tight_layout), each axes' title wrapped at spaces until it lies within the figure and clear of
    the axes beside it: the score plot's title ran past the figure's edge (session 18, noticed). A title that fits is
    drawn as before."""
    renderer = fig.canvas.get_renderer()
    fig.tight_layout()
    for ax in fig.axes:
        text, size = ax.get_title(), ax.title.get_fontsize()
        width = max(map(len, text.splitlines() or [""]))
        while width > 20 and not _clear(fig, ax, ax.title.get_window_extent(renderer)):
            width -= max(1, width // 8)
            ax.set_title("\n".join(textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False)
                                   for line in text.splitlines()), fontsize=size)
            with warnings.catch_warnings():  # "not compatible with tight_layout" while it does not fit yet
                warnings.simplefilter("ignore", UserWarning)
                fig.tight_layout()


def _clear(fig: plt.Figure, ax: plt.Axes, box) -> bool:
    """Whether a title's ``box`` lies within the figure and between the axes left and right of ``ax``."""
    left, right = 0.0, fig.bbox.width
    own = ax.get_window_extent()
    for other in fig.axes:
        there = other.get_window_extent()
        if other is ax or not (there.y1 > own.y0 and there.y0 < own.y1):  # not beside it (another row)
            continue
        if there.x1 <= own.x0:
            left = max(left, there.x1)
        elif there.x0 >= own.x1:  # (a twin axes over the same area is neither)
            right = min(right, there.x0)
    return left <= box.x0 and box.x1 <= right


def _label(model: str, method: str, schedule: str, teacher: str, variant: str, many_models: bool) -> str:
    parts = [f"{model}/{method}" if many_models else method]
    parts += [p for p in (schedule, teacher, variant) if p]
    return " ".join(parts[:1]) + (f" ({', '.join(parts[1:])})" if len(parts) > 1 else "")


def score_title(task: str, seeds_per_point: pd.Series, cut: bool = False) -> str:
    """What the line, band and dots are, and over how many seeds: "mean ± std over seeds" was the title where each
    point had one seed (no band; the dots are the runs themselves). ``cut``: a band was cut at the scale's end."""
    low, high = int(seeds_per_point.min()), int(seeds_per_point.max())
    n = f"n={low}" if low == high else f"n={low}-{high}"
    if high == 1:
        return f"{task}: score vs sparsity (one seed per point, {n}: no spread shown)"
    band = "± std, cut at ±100" if cut else "± std"
    return f"{task}: score vs sparsity (line: mean, band: {band}, dots: seeds; {n} per point)"


def score_vs_sparsity(cells: pd.DataFrame, scores: pd.DataFrame, task: str, out_dir: Path) -> Path | None:
    """Main score against target sparsity, one line per method, mean ± std band and every seed as a dot."""
    sub = cells[(cells["origin"] == "run") & (cells["task"] == task) & (cells["metric"] == "main")]
    pruned = sub[sub["method"] != "Dense"]
    if pruned.empty:
        return None
    seeds = with_variants(scores[(scores["metric"] == "main") & (scores["stage"] == "final")])  # rows' labels
    seeds = seeds[seeds["task"] == task]
    many = sub["model"].nunique() > 1
    line_keys = ["model", "method", "schedule", "teacher", "variant"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    groups = sorted(pruned.groupby(line_keys, sort=True), key=lambda g: (g[0][0], method_rank(g[0][1]), g[0]))
    cut = False  # a band past the scores' range (100: accuracy 90 ± 12 drew up to 102; round 31, noticed) is cut there
    for i, (key, grp) in enumerate(groups):
        grp = grp.sort_values("sparsity")
        x, y, s = grp["sparsity"] * 100, grp["mean"], grp["std"].fillna(0.0)
        color = f"C{i % 10}"
        ax.plot(x, y, marker="o", color=color, label=_label(*key, many_models=many))
        cut = cut or bool(((y + s) > 100).any() or ((y - s) < -100).any())
        ax.fill_between(x, (y - s).clip(lower=-100), (y + s).clip(upper=100), color=color, alpha=0.2, linewidth=0)
        pts = seeds[(seeds["model"] == key[0]) & (seeds["method"] == key[1]) & (seeds["schedule"] == key[2])
                    & (seeds["teacher"] == key[3]) & (seeds["variant"] == key[4])]  # fmt: skip
        ax.scatter(pts["sparsity"] * 100, pts["value"], color=color, s=10, alpha=0.6)
    for j, ((model, variant), grp) in enumerate(sorted(sub[sub["method"] == "Dense"].groupby(["model", "variant"]))):
        label = (f"{model}/Dense" if many else "Dense") + (f" [{variant}]" if variant else "")  # one per setup
        ax.axhline(grp["mean"].iloc[0], color="k", linestyle=["--", ":", "-."][j % 3], linewidth=1, label=label)
    ax.set_xlabel("target sparsity (%)")
    ax.set_ylabel(f"{task} main score (%)")
    ax.set_title(score_title(task, pruned["n"], cut), fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    _fit_titles(fig)
    return _save(fig, out_dir / f"score_vs_sparsity_{_safe(task)}.png")


def recovery_by_step(runs: pd.DataFrame, results_dir: Path, task: str, target: float,
                     labels: dict[str, str] | None = None) -> tuple[pd.DataFrame, list[str]]:  # fmt: skip
    """One row per (model, method, schedule, teacher, sparsity after a pruning step, or its target where a structured
    step went past it) of the runs pruned to ``target``, over their seeds: ``jump`` (mean loss jump), ``recovery`` (mean steps to recover over the seeds
    that recovered), ``never`` (seeds whose loss never came back) and ``seeds`` (runs). Steps of different
    seeds line up because the schedule, not the data, sets the sparsity of each step. ``labels``: _glue_labels,
    made once by make_plots for every plot (made here where not given)."""
    problems: list[str] = []
    rows = []
    labels = _glue_labels(runs) if labels is None else labels
    sel = (runs["task"] == task) & (runs["target_sparsity"] == target) & runs["has_trace"]
    for run in runs[sel].itertuples(index=False):
        events, bad = load_trace(Path(results_dir) / run.path / "trace.jsonl")
        if bad:
            problems.append(f"`{run.path}/trace.jsonl`: {bad} unreadable line(s) skipped")
        for ev in events:
            has_losses = all(isinstance(ev.get(k), (int, float)) for k in ("loss_before", "loss_after"))
            rows.append({
                "run": run.path, "model": run.model, "method": run.method, "schedule": run.schedule,
                "teacher": run.teacher, "setup": run.setup, "row_setup": getattr(run, "row_setup", "") or run.setup,
                "label": labels.get(run.path, short_label(getattr(run, "row_setup", "") or run.setup)),
                "sparsity": round(100 * ev["sparsity"], 3),  # the schedule's; a structured step may go past it:
                "past": isinstance(ev.get("achieved_sparsity"), (int, float)) and ev["achieved_sparsity"] > ev["sparsity"] + 1e-3,
                "jump": ev["loss_after"] - ev["loss_before"] if has_losses else float("nan"),
                "recovery": ev.get("recovery_steps"),
                # null recovery_steps with losses measured: the loss never came back within the stage
                "never": has_losses and ev.get("recovery_steps") is None,
            })  # fmt: skip
    # runs of another budget or data: another curve, named by the label glue.md gives its row (_glue_labels); the
    # setup's own hash, in no table, named the curves (probe round 37, rp1), then a row setup alone, one label for
    # two setups that glue.md tells apart (review)
    curve = ["model", "method", "schedule", "teacher", "setup", "row_setup", "label"]
    frame = pd.DataFrame(rows, columns=["run", *curve, "sparsity", "past", "jump", "recovery", "never"])
    frame["recovery"] = pd.to_numeric(frame["recovery"], errors="coerce")
    by_step = frame.groupby([*curve, "sparsity"], sort=True).agg(jump=("jump", "mean"), recovery=("recovery", "mean"),
                                                                never=("never", "sum"), seeds=("run", "nunique"),
                                                                past=("past", "any"))
    return by_step.reset_index().astype({"never": int, "seeds": int, "past": bool}), problems


def _glue_labels(runs: pd.DataFrame, scores: pd.DataFrame | None = None) -> dict[str, str]:
    """run path -> the label glue.md gives its row (aggregate.with_variants), e.g. `8a702b4b` or `no-setup/1b367371`,
    else its row setup's (a row glue.md leaves unlabelled); {} where ``runs`` lacks what it is made from. ``scores``:
    long_scores(runs), where the caller holds it."""
    try:
        final = long_scores(runs) if scores is None else scores
    except (AttributeError, KeyError):
        return {}
    final = with_variants(final[(final["stage"] == "final") & (final["metric"] == "main")])
    return {path: variant or short_label(row) for path, variant, row in zip(final["path"], final["variant"],
                                                                             final["row_setup"])}


def recovery(runs: pd.DataFrame, results_dir: Path, task: str, target: float,
             out_dir: Path, labels: dict[str, str] | None = None) -> tuple[Path | None, list[str]]:  # fmt: skip
    """Loss jump at each pruning step and the steps to recover, per method, from the trace.jsonl of the runs
    pruned to ``target`` (one plot per target sparsity: steps of different schedules do not line up). A step
    after which some seed's loss never came back is marked with an x on a "never" line above the others."""
    frame, problems = recovery_by_step(runs, results_dir, task, target, labels)
    if frame.empty or not (frame[["jump", "recovery"]].notna().any().any() or frame["never"].any()):
        return None, problems  # no trace, or prune records without any loss to compare
    many = frame["model"].nunique() > 1
    several = {col: frame[col].nunique() > 1 for col in ("schedule", "teacher")}  # named only if they vary
    labelled = frame["label"].nunique() > 1  # (two configs of one setup are two rows, two curves: review)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    groups = sorted(frame.groupby(["model", "method", "schedule", "teacher", "setup", "row_setup", "label"]),
                    key=lambda g: (g[0][0], method_rank(g[0][1]), g[0][2], g[0][3], g[0][6]))
    never_y = 1.1 * max(float(frame["recovery"].max()) if frame["recovery"].notna().any() else 0.0, 1.0)
    for i, ((model, method, schedule, teacher, _, _, shown), grp) in enumerate(groups):
        variant = f"{shown}, " if labelled else ""  # as glue.md names the row
        label = _label(model, method, schedule if several["schedule"] else "", teacher if several["teacher"] else "",
                       f"{variant}n={int(grp['seeds'].max())}", many)
        ax1.plot(grp["sparsity"], grp["jump"], marker=".", color=f"C{i % 10}", label=label)
        ax2.plot(grp["sparsity"], grp["recovery"], marker=".", color=f"C{i % 10}", label=label)
        never = grp[grp["never"] > 0]
        # one row of marks per method, so marks at the same step do not hide each other
        ax2.scatter(never["sparsity"], [never_y * (1 + 0.05 * i)] * len(never), marker="x", color=f"C{i % 10}")
    if frame["never"].any():
        ax2.axhline(never_y * 0.97, color="grey", linewidth=0.5, linestyle=":")
        ax2.annotate("x: never recovered (in at least one seed)", (0.01, never_y * 0.97), xycoords=("axes fraction", "data"),
                     textcoords="offset points", xytext=(0, -9), fontsize=7, color="grey")
    # A structured step past its target (61.72% for 49.85%) was drawn at the target as "sparsity after" (round 39, sr2)
    xlabel = ("the step's target sparsity (%; structured steps went past it)" if frame["past"].any()
              else "sparsity after the step (%)")
    ax1.set_xlabel(xlabel)
    ax1.set_ylabel("loss after − loss before (mean over seeds)")
    pct = f"{round(100 * target, 2):g}%"
    ax1.set_title(f"{task} → {pct}: loss jump at each pruning step")
    ax2.set_xlabel(xlabel)
    ax2.set_ylabel("steps to recover (mean over seeds that did)")
    ax2.set_title(f"{task} → {pct}: recovery after each pruning step")
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    _fit_titles(fig)
    return _save(fig, out_dir / f"recovery_{_safe(task)}_{_safe(pct[:-1])}.png"), problems


def per_language_drop(cells: pd.DataFrame, task: str, out_dir: Path) -> Path | None:
    """Grouped bars: mean drop (dense - final, points) per language, one bar per method and sparsity."""
    sub = cells[(cells["origin"] == "run") & (cells["task"] == task) & cells["metric"].str.startswith("drop/")]
    if sub.empty:
        return None
    langs = order_languages({m.split("/", 1)[1] for m in sub["metric"]})
    keys = sorted({(r.model, r.method, r.schedule, r.teacher, r.variant, r.sparsity)
                   for r in sub.itertuples(index=False)},
                  key=lambda k: (k[5], k[0], method_rank(k[1]), k))  # fmt: skip
    many = sub["model"].nunique() > 1
    width = 0.8 / len(keys)
    fig, ax = plt.subplots(figsize=(max(6.4, 0.6 * len(langs) * max(1, len(keys) / 3)), 4.2))
    for i, key in enumerate(keys):
        grp = sub[(sub["model"] == key[0]) & (sub["method"] == key[1]) & (sub["schedule"] == key[2])
                  & (sub["teacher"] == key[3]) & (sub["variant"] == key[4]) & (sub["sparsity"] == key[5])]  # fmt: skip
        vals = dict(zip(grp["metric"], zip(grp["mean"], grp["std"].fillna(0.0))))
        xs = [j + (i - (len(keys) - 1) / 2) * width for j in range(len(langs))]
        ys = [vals.get(f"drop/{lg}", (float("nan"), 0.0)) for lg in langs]
        label = _label(*key[:5], many_models=many) + f" @ {round(key[5] * 100, 2):g}%"
        ax.bar(xs, [y for y, _ in ys], width=width, yerr=[e for _, e in ys], color=f"C{i % 10}", label=label,
               capsize=2)  # fmt: skip
    ax.set_xticks(range(len(langs)), langs)
    ax.set_ylabel("drop, dense − final (points)")
    ax.set_title(f"{task}: per-language degradation under pruning")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    _fit_titles(fig)
    return _save(fig, out_dir / f"per_language_{_safe(task)}.png")


def make_plots(
    cells: pd.DataFrame, scores: pd.DataFrame, runs: pd.DataFrame, xl_tasks: list[str], results_dir: Path,
    out_dir: Path,
) -> tuple[list[Path], list[str]]:
    """All plots under out_dir; returns the files written and trace problems."""
    written, problems = [], []
    with matplotlib.rc_context():
        matplotlib.rcdefaults()  # user matplotlibrc must not change the bytes
        matplotlib.rcParams["svg.hashsalt"] = "sdp"
        # names are text: a model folder `m$\q$x` was parsed as mathtext, a traceback and no plots (probe round 33, mx1)
        matplotlib.rcParams["text.parse_math"] = False
        tasks = sorted(set(cells.loc[cells["origin"] == "run", "task"]))
        labels = _glue_labels(runs, scores)  # once, for every recovery plot
        for task in tasks:
            if (p := score_vs_sparsity(cells, scores, task, out_dir)) is not None:
                written.append(p)
            for target in sorted(set(runs.loc[runs["task"] == task, "target_sparsity"])):
                p, probs = recovery(runs, results_dir, task, target, out_dir, labels)
                problems += probs
                if p is not None:
                    written.append(p)
            if task in xl_tasks and (p := per_language_drop(cells, task, out_dir)) is not None:
                written.append(p)
    return written, problems
