"""claims.md: the frontier and one verdict per paper claim (docs/method.md, "Claims worth measuring").

Runs are *paired* by (task, model, schedule, teacher, sparsity, seed) and by their *setup*, the config without
the distillation and weight terms and the sparsity (setups.setup_hash; so the same budget, data and dense model):
the MP, KD and SDP-CC runs of one pair share the dense model, data and data order, so their difference is the
effect of the method alone. A pairing key with several runs of one method is left out and counted, never
guessed. Nothing is pooled across setups: a task with several shows one frontier per setup, labelled by it.

Verdicts use the pairs at sparsity >= HIGH. The pairs of one (task, seed) at several sparsities share their dense
model, so they are not independent: each (task, seed) contributes one value, the mean of its paired differences over
those sparsities, and n counts (task, seed) units. A 95% interval is the t-interval of the mean over the units
(scipy.stats.t). A claim *holds* when its interval lies on the claimed side of 0, *fails* when it lies on the other
side, and is *inconclusive* otherwise or with fewer than 3 units. A secondary row (one measure of a run, such as the
Fisher ratio) whose whole interval lies within +-1% of MP's mean value on that measure is *negligible* whichever side
of 0 it lies: detectable, too small to matter. Main scores of different tasks are pooled as the GLUE score pools them
(points of each task's main metric); the by-task table shows each task on its own.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sdp.report.aggregate import mixed_code, short_label
from sdp.report.claim_pairs import data_of, dense_of, judged, partner_overlaps, unit_fields
from sdp.report.claim_pairs import get as _get
from sdp.report.evidence import ALPHA, detectable, holm, interval, none_differ, p_value, verdict
from sdp.report.floors import at_floor, floor_legend, scored_floor_rows, task_floor
from sdp.report.setups import PAIR_KEYS
from sdp.report.trace_read import recovery_as_counted_now
from sdp.run.rundir import read_metrics

HIGH = 0.8  # the papers' "high sparsity": 80% and above
KEEP = 0.9  # the frontier: the highest sparsity whose mean score keeps 90% of the mean dense score
BASELINES = ("MP", "KD")
NEGLIGIBLE = 0.01  # a secondary row's interval within +-1% of MP's mean value on its measure is too small to matter


def is_sdp_cc(method: str) -> bool:
    """SDP-CC alone, whichever representation (SDP-CC, SDP-CC(mean)); not SDP-CC with a weight term."""
    return method.startswith("SDP-CC") and "+" not in method


def _fmt_ci(ci: tuple[float, float, float] | None, n: int, scale: float = 1.0, digits: int = 2) -> str:
    if ci is None:
        return f"— (n={n})"
    mean, low, high = (scale * v for v in ci)
    return f"{mean:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}] (n={n})"


def _cc_rep(rec: dict) -> str | None:
    """The representation the run's held-out CC(student, teacher) was measured on."""
    node = rec["analysis"].get("cross_correlation")
    return node.get("representation") if isinstance(node, dict) else None


def _pairs(runs: pd.DataFrame, results_dir: Path) -> tuple[dict[tuple, dict[str, dict]], int]:
    """pairing key (PAIR_KEYS, the run's setup and pair setup: setups.setup_hash, setups.pair_hash) -> method
    -> record (final, dense, analysis); and how many (key, method) were ambiguous."""
    out: dict[tuple, dict[str, dict]] = {}
    ambiguous: set[tuple] = set()
    for run in runs.itertuples(index=False):  # completed runs that pruned (collect_runs leaves out sparsity 0)
        run_dir = results_dir / run.path
        key = (*(getattr(run, k) for k in PAIR_KEYS), run.setup or None, run.pair_setup or None)
        if run.method in out.get(key, {}):
            ambiguous.add((key, run.method))
            continue
        record = read_metrics(run_dir) or {}
        out.setdefault(key, {})[run.method] = {
            "final": run.final_main, "dense": (run.dense or {}).get("main"), "version": run.sdp_version,
            "core": getattr(run, "sdp_core", None), "row_setup": run.row_setup,
            "dense_model": getattr(run, "dense_model", "") or "", "analysis": _analysis(run_dir, record),
            "eval_examples": record.get("eval_examples"), "data_fingerprint": record.get("data_fingerprint"),
            "rel": run.path, "run_dir": str(run_dir), "model_sha256": record.get("model_sha256")}
    for key, method in ambiguous:
        out[key].pop(method, None)
    return out, len(ambiguous)


def _analysis(run_dir: Path, record: dict) -> dict:
    """The record's analysis, its recovery summary as counted now (trace_read.recovery_as_counted_now)."""
    analysis = dict(record.get("analysis") or {})
    if "recovery" in analysis:
        analysis["recovery"] = recovery_as_counted_now(run_dir, analysis["recovery"])
    return analysis


def _setup_unit(key: tuple) -> tuple:
    """A pairing key less its sparsity: the pairs of one dense model (one task, seed and setup)."""
    return key[:4] + key[5:]


def _unit(key: tuple) -> tuple:
    """The (task, seed) unit of a pairing key (with its model, schedule and teacher), whatever its setup: two setups
    of one task and seed share the data and seed, so they are one unit, their values averaged (as its sparsities
    are). Counted apart, a sweep over task.max_seq_length=8,32 whose runs were bit-identical gave n=6 for 3 seeds, an
    interval that excluded 0 and 'holds' verdicts (probe round 23, r11)."""
    return _setup_unit(key)[:5]


def _ordered(pairs: dict) -> list[tuple[tuple, dict]]:
    return sorted(pairs.items(), key=lambda kv: str(kv[0]))


def _unit_values(pairs: dict, a: str, b: str, value: Callable[[dict], float | None],
                 group: tuple | None = None, sparsity: float | None = None) -> list[list[tuple[float, float]]]:
    """(value(a), value(b)) of each pair at sparsity >= HIGH where both ran, grouped by (task, seed) unit (only
    the units of one (task, setup) ``group`` if given; only the pairs at ``sparsity`` if given)."""
    units: dict[tuple, list[tuple[float, float]]] = {}
    for key, rec in _ordered(pairs):
        at = key[4] >= HIGH if sparsity is None else key[4] == sparsity
        if at and a in rec and b in rec and group in (None, (key[0], key[6])):
            x, y = value(rec[a]), value(rec[b])
            if x is not None and y is not None:
                units.setdefault(_unit(key) + data_of(key[0], rec[b]), []).append((x, y))  # a dataset each (cm1)
    return [v for _, v in sorted(units.items(), key=lambda kv: str(kv[0]))]


def _diffs(pairs: dict, a: str, b: str, value: Callable[[dict], float | None],
           group: tuple | None = None, sparsity: float | None = None) -> list[float]:
    """value(a) - value(b) per (task, seed) unit: the mean over its pairs (_unit_values)."""
    return [statistics.mean(x - y for x, y in unit) for unit in _unit_values(pairs, a, b, value, group, sparsity)]


def _setups(pairs: dict) -> list[tuple]:
    """(task, setup) groups: a task's runs of one budget, data and dense models (setups.setup_hash)."""
    return sorted({(k[0], k[6]) for k in pairs}, key=str)


def _label(task: str, setup: str | None, pairs: dict) -> str:
    """The task, with its setup's short hash where the folder holds the task under several setups: the hash of the
    setup less the task (setups.row_setup_hash), which glue.md and costs.md show for the same runs (one per setup
    within a task). The setup's own hash, with the task in it, named the same experiment otherwise here."""
    setups = {k[6] for k in pairs if k[0] == task}
    if len(setups) <= 1:
        return task
    rows = {s: _row_setup(task, s, pairs) for s in setups}
    # Setups of one task that differ in the task's own settings (max_seq_length) share the hash less the task:
    # their own is added, as glue.md's [row/setup].
    extra = f"/{short_label(setup)}" if len(set(rows.values())) < len(setups) else ""
    # Setups of other models: the model named, as glue.md's Model column names it (round 28, mm2: a hash alone)
    model = next(k[1] for k in pairs if (k[0], k[6]) == (task, setup))
    model = f" {model}" if len({k[1] for k in pairs if k[0] == task}) > 1 else ""
    return f"{task}{model} [{short_label(rows[setup])}{extra}]"


def _row_setup(task: str, setup: str | None, pairs: dict) -> str | None:
    return next((r.get("row_setup") for k, recs in _ordered(pairs) if (k[0], k[6]) == (task, setup)
                 for r in recs.values()), None)


def kept_floor(dense: float) -> float:
    """The lowest score that keeps KEEP of ``dense``: at most (1 - KEEP) of its size lost. KEEP * dense alone asked a
    negative dense score (an STS-B or CoLA model below chance) for more than itself: -15.14 failed to keep 90% of
    -15.33 (probe round 16, t09). For a positive score the two are the same."""
    return dense - (1.0 - KEEP) * abs(dense)


def frontier(pairs: dict, method: str, other: str) -> float | None:
    """The highest sparsity whose mean score over ``pairs``' seeds keeps KEEP of the mean dense score (0.0: none
    does), over the sparsities where ``method`` and ``other`` both ran, so two frontiers compare (None: none
    shared). ``pairs``: one (task, setup), or one (task, seed) unit of it."""
    shared = sorted({k[4] for k, r in pairs.items() if method in r and other in r})
    kept = [0.0] if shared else []
    for sparsity in shared:
        cell = [r[method] for k, r in pairs.items() if k[4] == sparsity and method in r]
        dense = [c["dense"] for c in cell if c["dense"] is not None]
        if dense and statistics.mean(c["final"] for c in cell) >= kept_floor(statistics.mean(dense)):
            kept.append(sparsity)
    return max(kept) if kept else None


def _mean_std(values: list[float]) -> str:
    if not values:
        return "—"
    if len(values) == 1:
        return f"{100 * values[0]:.2f} (n=1)"
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f} (n={len(values)})"


@dataclass
class Row:
    """One verdict row: its text cells, and the per-unit differences behind it (one list per comparison; claim 1
    compares with MP and with KD) for the Holm and power columns. ``family``: judged with the other claims."""

    claim: str
    measure: str
    cell: str
    said: str
    diffs: dict[str, list[float]]
    scale: float = 1.0
    digits: int = 2
    family: bool = True


def _row(claim: str, measure: str, pairs: dict, cc: str, value: Callable[[dict], float | None], sign: int,
         scale: float = 1.0, digits: int = 2, family: bool = True) -> Row:
    """A secondary row: cc minus MP on one measure of the run, with MP's mean value the negligible margin's base."""
    units = _unit_values(pairs, cc, "MP", value)
    diffs = [statistics.mean(x - y for x, y in unit) for unit in units]
    ci = interval(diffs)
    margin = NEGLIGIBLE * abs(statistics.mean(y for unit in units for _, y in unit)) if units else None
    said = verdict(ci, sign, margin)
    if said == "negligible":  # every unit 0: "within +-0.0" read as no margin at all (probe round 37, noticed)
        said += none_differ(diffs) or f" (within +-{scale * margin:.{digits}f}: {NEGLIGIBLE:.0%} of MP's mean)"
    return Row(claim, measure, _fmt_ci(ci, len(diffs), scale, digits), said, {"MP": diffs}, scale, digits, family)


def _family(sections: dict[str, list[Row]]) -> dict[str, float | None]:
    """Holm-adjusted p-values of every claim row of every SDP-CC variant, keyed ``<variant>|<row>:<baseline>``: the
    variants of one folder are one family. Adjusted within each variant alone, a folder of several variants gave
    each its own 5% family-wise error: picking the variant that held, after the fact, was a free look."""
    return holm({f"{cc}|{i}:{label}": p_value(d) for cc, rows in sections.items() for i, r in enumerate(rows)
                 if r.family for label, d in r.diffs.items()})


def _adjusted_verdict(r: Row, cc: str, i: int, adjusted: dict[str, float | None]) -> str:
    """The row's verdict as the table shows it: a claim row that holds on its own interval but not under Holm's
    adjustment says so in the verdict cell. It said "holds" there, and only the paragraph under the table said that
    no row held family-wise (probe round 11): a reader of the column took a lead for a finding."""
    if not (r.family and r.said.startswith("holds")):
        return r.said
    kept = [label for label in r.diffs if (p := adjusted.get(f"{cc}|{i}:{label}")) is not None and p < ALPHA]
    if not kept:
        return "holds unadjusted; not after Holm's adjustment"
    return r.said if len(kept) == len(r.diffs) else f"{r.said} (after Holm's adjustment: vs {', '.join(kept)} only)"


def _render_rows(rows: list[Row], cc: str, adjusted: dict, variants: int, unit: str = "task x seed") -> list[str]:
    """The verdict table with its Holm and power columns (``adjusted``: _family's), and the family-wise reading."""
    lines = [f"| claim | measure | difference [95% CI] (n: {unit} units) | Holm-adjusted p | smallest "
             "difference detectable (80% power) | verdict |", "|---|---|---|---|---|---|"]
    survivors = []
    for i, r in enumerate(rows):
        several = len(r.diffs) > 1
        holm_cell, power_cell = [], []
        for label, d in r.diffs.items():
            name = f"{label} " if several else ""
            p = adjusted.get(f"{cc}|{i}:{label}")
            holm_cell.append(f"{name}{p:.3f}" if p is not None else f"{name}—" if r.family else f"{name}(not in family)")
            mde = detectable(d)
            power_cell.append(f"{name}{r.scale * mde:.{r.digits}f}" if mde is not None else f"{name}—")
            if p is not None and p < ALPHA and r.said.startswith("holds"):
                survivors.append(f"{r.claim}{f' (vs {label})' if several else ''}")
        lines.append(f"| {r.claim} | {r.measure} | {r.cell} | {'; '.join(holm_cell)} | {'; '.join(power_cell)} "
                     f"| {_adjusted_verdict(r, cc, i, adjusted)} |")
    m = sum(p is not None for p in adjusted.values())
    over = (f"the claim rows of all {variants} SDP-CC variants in these tables (one family: a variant chosen after "
            "seeing which held is no free look)") if variants > 1 else "the claim rows above"
    lines += ["", f"Holm's adjustment over the {m} comparisons of {over} (the check row is not a claim): "
              f"at a family-wise {ALPHA:.0%}, " + (f"still holding: {'; '.join(survivors)}." if survivors else
                                                    "no claim row holds.") + " The power column is the smallest true "
              "mean difference that n and the spread of the units would detect 80% of the time (two-sided 5% "
              "t-test): an inconclusive row rules out only differences beyond its interval's bounds."]
    return lines


def render_claims(runs: pd.DataFrame, results_dir: Path | str) -> str | None:
    """claims.md's text, or None when no SDP-CC run has an MP partner (nothing to judge)."""
    results_dir = Path(results_dir)
    pairs, ambiguous = _pairs(runs, results_dir)
    unit = " x ".join(fields := unit_fields(pairs))  # what one verdict unit is (n counts them)
    cc_methods = sorted({m for rec in pairs.values() for m in rec if is_sdp_cc(m) and "MP" in rec})
    if not cc_methods:
        return None
    lines = ["# Claims: frontier and verdicts", "",
             "Generated by `sdp-tables` (`make tables`) from the completed runs of the results folder these "
             "tables belong to (sdp/report/claims.py; do not edit). Pairs: the same "
             f"{', '.join(PAIR_KEYS)} and setup (the config less the method and the sparsity: one budget, data and "
             "dense model). Verdicts: pairs at sparsity >= "
             f"{HIGH:g}, averaged per ({', '.join(fields)}); 95% t-intervals of the mean over those units (n), SDP-CC minus "
             f"the baseline. A secondary row whose whole interval lies within +-{NEGLIGIBLE:.0%} of MP's mean value "
             "on its measure is negligible. `— (n=1)`, `— (n=2)`: under 3 units, no interval, p-value or power is computed (a "
             "t-interval of 2 units is 12.7 standard errors wide each way); such a verdict is inconclusive.", ""]
    if ambiguous:
        lines += [f"Left out: {ambiguous} (pairing key, method) with several runs (several configs of one method).",
                  ""]
    # A difference between two codes is not the method's alone: said where the runs recorded code identities that
    # differ (records with a commit only, made before runs recorded one, are flagged by commit in summary.md).
    mixed = sum(mixed_code((r.get("version"), r.get("core")) for r in rec.values()
                           if str(r.get("version") or "").startswith("code:")) for rec in pairs.values())
    if mixed:
        lines += [f"Warning: {mixed} of {len(pairs)} pairing keys pair runs made by different code (their recorded "
                  "code identities differ; summary.md, \"Code versions\"): their differences are not the method's "
                  "alone.", ""]
    methods = [m for m in (*BASELINES, *cc_methods) if any(m in r for r in pairs.values())]
    pairs, other = judged(pairs, methods)
    if other:
        lines += [f"Left out: the runs of {', '.join(other)} (pairing keys with none of {', '.join(methods)}: another "
                  "criterion or setup; their pairs are in deltas.md).", ""]
    if recounted := sum("recounted" in (rec[m]["analysis"].get("recovery") or {}) for key, rec in pairs.items()
                        if key[4] >= HIGH and "MP" in rec and any(c in rec for c in cc_methods)
                        for m in ("MP", *cc_methods) if m in rec):  # the runs the recovery rows read: SDP-CC vs MP
        lines += [f"Recounted: the recovery of {recounted} run(s) at sparsity >= {HIGH:g}, from their trace.jsonl "
                  "without the pruning events that removed nothing (their metrics.json, recorded before sdp left "
                  "those out, counts them as steps).", ""]
    lines += ["## Frontier: dev score (main metric x 100), mean ± std over seeds (n)", "",
              "| task | sparsity | dense | " + " | ".join(methods) + " |", "|---|---|---|" + "---|" * len(methods)]
    floored: list[str] = []
    sampled = 0  # cells whose runs were scored on a sample of the dev split: the file's floor is not theirs
    floors = {task: task_floor(task, None) for task, _ in _setups(pairs)}
    for task, setup in _setups(pairs):  # never pooled across setups: another budget is another experiment
        for sp in sorted({k[4] for k in pairs if (k[0], k[6]) == (task, setup)}):
            recs = [r for k, r in _ordered(pairs) if (k[0], k[6], k[4]) == (task, setup, sp)]
            dense = list({dense_of(r, methods)["dense_model"] or i: dense_of(r, methods)["dense"]  # one given
                          for i, r in enumerate(recs) if dense_of(r, methods)["dense"] is not None}.values())
            cells = []
            for m in methods:
                scores = [r[m]["final"] for r in recs if m in r]
                whole = all(scored_floor_rows(task, None, r[m]["eval_examples"], r[m]["data_fingerprint"])
                            for r in recs if m in r)
                floor = scores and whole and at_floor(statistics.mean(scores), floors[task])
                sampled += bool(scores) and not whole
                cells.append(_mean_std(scores) + (" ‡" if floor else ""))
                if floor:
                    floored.append(f"{_label(task, setup, pairs)} {sp:g} {m}")
            lines.append(f"| {_label(task, setup, pairs)} | {sp:g} | {_mean_std(dense)} | " + " | ".join(cells) + " |")
    lines += ["", floor_legend(floors, floored, sampled=sampled)]
    if any(len({k[6] for k in pairs if k[0] == task}) > 1 for task, _ in _setups(pairs)):
        lines += ["", "task [hash] = the runs' setup where a task has several (one frontier each, never pooled): "
                      "glue.md's and costs.md's setup hash for the same runs."]
    sections = {cc: _verdicts(pairs, cc) for cc in cc_methods}
    adjusted = _family({cc: rows for cc, (rows, _) in sections.items()})
    for cc, (rows, tail) in sections.items():
        lines += ["", f"## Verdicts for {cc}", "", *_render_rows(rows, cc, adjusted, len(cc_methods), unit), *tail]
    return "\n".join(lines) + "\n"


def _verdicts(pairs: dict, cc: str) -> tuple[list[Row], list[str]]:
    """The claim rows of one SDP-CC variant, and the by-task and by-sparsity tables shown under them."""
    vs = {b: _diffs(pairs, cc, b, lambda rec: rec["final"]) for b in BASELINES}
    ci = {b: interval(d) for b, d in vs.items()}
    both = [verdict(ci[b], +1) for b in BASELINES]  # a baseline without pairs is "inconclusive": never a win
    claim1 = "holds" if all(v == "holds" for v in both) else "fails" if "fails" in both else "inconclusive"
    fr = {}  # per (task, setup), from the means over seeds: what the frontier table shows
    for task, setup in _setups(pairs):
        group = {k: r for k, r in pairs.items() if (k[0], k[6]) == (task, setup)}
        if (ab := (frontier(group, cc, "MP"), frontier(group, "MP", cc)))[0] is not None:
            fr[_label(task, setup, pairs)] = ab
    # The verdict, like the others, over (task, seed) units: each dense model's own frontier difference (sparsity
    # points), averaged over the setups of a unit.
    groups: dict[tuple, dict] = {}
    for k, r in _ordered(pairs):
        groups.setdefault(_setup_unit(k), {})[k] = r
    units: dict[tuple, list[float]] = {}
    for key, group in groups.items():
        if (a := frontier(group, cc, "MP")) is not None and (b := frontier(group, "MP", cc)) is not None:
            units.setdefault(key[:5], []).append(a - b)
    fr_diffs = [statistics.mean(v) for _, v in sorted(units.items(), key=lambda kv: str(kv[0]))]
    # Did the objective do its job? Held-out CC(student, teacher) diagonal term, on the same representation.
    same_rep = {k: r for k, r in pairs.items() if cc in r and "MP" in r
                and _cc_rep(r[cc]) is not None and _cc_rep(r[cc]) == _cc_rep(r["MP"])}
    overlap, elsewhere = partner_overlaps(_ordered(pairs), cc, HIGH)
    # Every run records its overlap with the dense one-shot mask; only the overlap with MP's mask needs
    # prune.reference_mask. "no mask overlap recorded" stood for both, beside records that held the first (probe
    # round 12, t05). Over the pairs whose runs both record it: an MP run of no SDP-CC partner (probe round 43, cl1),
    # or a pair's one value, moved one method's mean alone (round 44, cl2, cl3).
    dense = _get("mask_overlap", "dense_magnitude")
    high = [r for k, r in pairs.items() if k[4] >= HIGH and "MP" in r and cc in r]
    both = [(a, b) for r in high if (a := dense(r["MP"])) is not None and (b := dense(r[cc])) is not None]
    dense_txt = (f"MP {statistics.mean(a for a, _ in both):.3f}, {cc} {statistics.mean(b for _, b in both):.3f}"
                 + (f" (over the {len(both)} of {len(high)} pairs whose runs both record it)"
                    if len(both) < len(high) else "")) if both else "no pair's two runs both record it" if any(
        dense(r[m]) is not None for r in high for m in ("MP", cc)) else ""
    ov = "; ".join(filter(None, [
        f"Jaccard(kept weights of {cc}, of MP) = {statistics.mean(overlap):.3f}" + (
            f" over {len(overlap)} runs; {elsewhere} whose prune.reference_mask is not their MP partner's left out"
            if elsewhere else "") if overlap
        else f"no overlap with MP's mask recorded: {elsewhere} runs' prune.reference_mask is not their MP partner's"
        if elsewhere else "no overlap with MP's mask recorded: that needs prune.reference_mask",
        dense_txt and f"with the dense one-shot mask: {dense_txt}"]))
    vs_txt = "; ".join(f"vs {b} {_fmt_ci(ci[b], len(vs[b]), 100)}" for b in BASELINES)
    by_task = [f"| {_label(*g, pairs)} | " + " | ".join(
        _fmt_ci(interval(d := _diffs(pairs, cc, b, lambda rec: rec["final"], g)), len(d), 100) for b in BASELINES)
        + " |" for g in _setups(pairs)]
    by_sparsity = [f"| {sp:g} | " + " | ".join(
        _fmt_ci(interval(d := _diffs(pairs, cc, b, lambda rec: rec["final"], sparsity=sp)), len(d), 100)
        for b in BASELINES) + " |" for sp in sorted({k[4] for k, r in pairs.items() if cc in r})]
    rows = [
        Row(f"{cc} beats MP and KD at >= {HIGH:.0%}", "dev main score x 100", vs_txt or "—", claim1,
            {b: vs[b] for b in BASELINES}, scale=100),
        Row(f"sparsity frontier (keeps {KEEP:.0%} of dense)", f"highest such sparsity, {cc} minus MP, per (task, "
            "seed); over seeds per task: " + ("; ".join(f"{t}: {a:g} vs {b:g}" for t, (a, b) in fr.items()) or "—")
            + f" (0: no tested sparsity keeps {KEEP:.0%})", _fmt_ci(interval(fr_diffs), len(fr_diffs), digits=2),
            verdict(interval(fr_diffs), +1) + none_differ(fr_diffs), {"MP": fr_diffs}),
        _row("class separability", "Fisher ratio of the final [CLS] states, dev", pairs, cc,
             _get("separability", "final", "fisher_ratio"), +1, digits=3),
        _row("signal-to-noise", "SNR of the final [CLS] states, dev", pairs, cc, _get("separability", "final", "snr"),
             +1, digits=3),
        _row("faster recovery after pruning steps", "mean optimizer updates to recover", pairs, cc,
             _get("recovery", "mean_recovery_steps"), -1, digits=1),
        _row("(recovery) fewer steps that never recover", "pruning steps whose loss never came back", pairs, cc,
             _get("recovery", "unrecovered"), -1, digits=2),
        _row("(recovery) smaller loss jump at a pruning step", "mean probe-loss jump", pairs, cc,
             _get("recovery", "mean_loss_jump"), -1, digits=4),
        _row("CC implicitly encourages sparsity", "share of the pre-pruning L1 mass a pruning step removes (the low "
             f"tail of the weight-magnitude distribution it prunes), x 1000 ({ov})", pairs, cc,
             _get("recovery", "mean_removed_mass"), -1, scale=1000, digits=3),
        _row(f"(check, not a claim) {cc} keeps the student closer to its teacher", "held-out CC(student, "
             "teacher) diagonal term, lower is closer (analysis.cross_correlation.cc_diag, dev)", same_rep, cc,
             _get("cross_correlation", "cc_diag"), -1, digits=3, family=False),
    ]
    return rows, [
        "", f"{cc} minus each baseline by task (dev main score x 100, pairs at sparsity >= {HIGH:g}, n = seeds):", "",
        "| task | " + " | ".join(f"vs {b}" for b in BASELINES) + " |", "|---|" + "---|" * len(BASELINES), *by_task,
        "", f"{cc} minus each baseline by sparsity (descriptive: every sparsity on its own, tasks pooled, n = "
        f"{' x '.join(unit_fields(pairs))} units; the verdict above keeps its rule):", "",
        "| sparsity | " + " | ".join(f"vs {b}" for b in BASELINES) + " |", "|---|" + "---|" * len(BASELINES),
        *by_sparsity,
    ]
