"""What tells apart the rows a table labels by setup hash (``MP [3668ec8f]``, ``MP [918c9154]``): the config keys
whose values differ between the setups, read from the runs' run.json, for summary.md. The hashes alone sent a
reader to the records to learn that one row ran in bf16 (probe round 25, noticed: mx1, me1)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from sdp.report.aggregate import given_within, given_words, one_dense_row, short_label, within_by_row
from sdp.report.render import fmt_sparsity
from sdp.report.setups import PRUNING_STAGE_GROUPS
from sdp.run.env import NON_IDENTITY_GROUP_KEYS, NON_IDENTITY_KEYS, PER_SEED_INPUTS
from sdp.run.rundir import read_run_record

VALUE_CHARS = 60  # a value's repr is cut past this (a list of 40 layer names would fill the line)

# Not the setup (setups.setup_hash leaves them out): the task, the method's terms, the sparsity, the seed, where
# things go, and the per-seed inputs.
_NOT_SETUP = ({"task", "regularizer", "weight_reg", "sparsity", "hydra", *NON_IDENTITY_KEYS}
              | {f"{g}.{k}" for groups in (NON_IDENTITY_GROUP_KEYS, PER_SEED_INPUTS) for g, ks in groups.items()
                 for k in ks})


# The task's data files and columns (task=custom): rows of one budget on two data sets are two setups, and summary.md
# said nothing of what told them apart, as "the task" was left out whole (probe round 27, mx1). A GLUE task has none.
_TASK_DATA = ("train_file", "validation_file", "test_file", "text_fields", "label_column", "label_names", "metric",
              "target_range")


# Rows of one setup that glue.md labels by config (KD [796688ab], KD [856281c2]: regularizer.temperature=1,4) differ in
# the method's own terms, which the setup leaves out: summary.md named nothing that told them apart (round 28, kt1).
_METHOD_TERMS = ("regularizer", "weight_reg")
_NOT_CONFIG = _NOT_SETUP - set(_METHOD_TERMS)


def _flat(node: Any, prefix: str = "", skip: frozenset | set = _NOT_SETUP) -> dict[str, Any]:
    if not isinstance(node, dict):
        return {prefix.rstrip("."): node}
    out: dict[str, Any] = {}
    for key, value in node.items():
        path = f"{prefix}{key}"
        if path == "task" and isinstance(value, dict):
            out.update({f"task.{k}": value[k] for k in _TASK_DATA if value.get(k) is not None})
            continue
        if path in skip or path.split(".", 1)[0] in skip:
            continue
        out.update(_flat(value, f"{path}.", skip) if isinstance(value, dict) else {path: value})
    return out


def _labels(labels: list[str]) -> str:
    return ", ".join(f"[{label}]" for label in labels)


def setup_differences(runs: pd.DataFrame, results_dir: Path) -> list[str]:
    """One line per table row group whose rows glue.md labels by setup (as aggregate.with_variants groups them:
    model, method, schedule, teacher; and each model's Dense rows): the keys that differ, with each setup's values."""
    lines: list[str] = []
    if runs.empty:
        return lines
    configs: dict[str, dict[str, Any]] = {}  # row setup (or setup) -> its flattened config (the first run's)
    for run in runs.itertuples(index=False):
        for label in (run.row_setup, getattr(run, "setup", None)):
            if label is not None and label not in configs:
                configs[label] = _flat((read_run_record(Path(results_dir) / run.path) or {}).get("config") or {})
    one = one_dense_row(runs)  # setups sharing one Dense row: no line where that leaves the model's rows unlabelled
    groups = [((model, "Dense"), grp) for model, grp in runs.groupby("model", sort=True)
              if not one or not (set(grp["setup"]) & set(one)) or _dense_labels(grp, one) > 1]
    groups += list(runs.groupby(["model", "method", "schedule", "teacher"], sort=True))
    within = given_within(runs)
    for key, grp in groups:
        # rows of one row setup are labelled by their setup where a cell mixes setups (aggregate.with_variants: two
        # custom data sets of one budget); those were in no line (probe round 27, mx1)
        where = " / ".join(str(k) for k in key if k)
        # Dense rows: no pruning key is their difference, and a given setup's row of another row's models says so
        # (a second Dense row "differ[ed] in prune.criterion", which no dense model reads: probe round 50, dga_alone)
        dense = key[-1] == "Dense"
        names = _dense_names(grp, one) if dense else {}  # each Dense row as glue.md labels it, before any is taken out
        if dense and "setup" in grp and (given := sorted(set(grp["setup"]) & set(within))):
            rows = within_by_row({s: within[s] for s in given}, one)  # a shared Dense row: one line, its seeds all
            lines += [_given_line(where, grp, row, rows[row], one) for row in sorted(rows)]
            grp = grp[~grp["setup"].isin(given)]
        if grp["row_setup"].nunique() > 1 or "setup" not in grp:
            lines += filter(None, [_differ_line(where, sorted(set(grp["row_setup"].dropna())), configs, dense=dense,
                                                models=_models_said(grp, one, names) if dense else "",
                                                terms=_terms(grp, "row_setup", Path(results_dir), dense))])
            # and the setups within one row setup ([e7adb8fd/38fa1234] beside [e7adb8fd/be345122]: accuracy and a
            # regression in one column) were in no line beside other row setups (probe round 33, mt1)
            # (one task's: another task's setup is another column; the processes are said by the line above)
            for (row, _), sub in grp.groupby(["row_setup", "task"], sort=True) if "setup" in grp else ():
                lines += filter(None, [_differ_line(f"{where} [{short_label(row)}/...]", sorted(set(sub["setup"].dropna())),
                                                    configs, world=False, dense=dense,
                                                    models=_models_said(sub, one, names) if dense else "",
                                                    terms=_terms(sub, "setup", Path(results_dir), dense))])
        else:
            lines += filter(None, [_differ_line(where, sorted(set(grp["setup"].dropna())), configs, dense=dense,
                                                models=_models_said(grp, one, names) if dense else "",
                                                terms=_terms(grp, "setup", Path(results_dir), dense))])
    return lines + _config_differences(runs, Path(results_dir))


def _dense_labels(runs: pd.DataFrame, one: dict[str, str]) -> int:
    """How many labels a model's Dense rows take (aggregate_cells: the row setups of the setups sharing each row)."""
    rows: dict[str, set[str]] = {}
    scored = runs["dense"].map(lambda d: isinstance(d, dict) and bool(d))  # (one: its columns are there)
    for setup, row in zip(runs.loc[scored, "setup"], runs.loc[scored, "row_setup"]):  # as aggregate_cells counts
        rows.setdefault(one.get(setup, setup), set()).add(row)
    return len({frozenset(v) for v in rows.values()})


def _given_line(where: str, runs: pd.DataFrame, setup: str, within: tuple, one: dict[str, str]) -> str:
    """A given setup's Dense row that is some of another row's dense models (aggregate.given_within: which, in
    given_words' words), each row labelled as glue.md labels it (the setups sharing it, joined by '+': review of
    round 50's fixes)."""
    label = {s: short_label(r) for s, r in zip(runs["setup"], runs["row_setup"])}

    def row(of: str) -> str:
        return "+".join(sorted({label[s] for s in label if one.get(s, s) == one.get(of, of)})) or short_label(of)

    by = "+".join(sorted({label[s] for s in within[2] if s in label}))  # the setups that trained them (review of
    # session 24's fixes: a row pooled from a trained and a given setup named the pooled label's seeds)
    return f"`{where}` row [{row(setup)}]: {given_words(row(within[0]), within[1], by=by)}"


def _dense_names(runs: pd.DataFrame, one: dict[str, str]) -> dict[tuple[str, str], str]:
    """(task, Dense row) -> its label in glue.md, as aggregate_cells writes it: the row setups of the setups sharing
    the row, where the model's Dense rows take several, and the row's setup, where a task's rows outnumber them."""
    if not {"setup", "row_setup", "task", "dense"} <= set(runs.columns):
        return {}
    scored = runs[runs["dense"].map(lambda d: isinstance(d, dict) and bool(d))]
    row_of: dict[str, set[str]] = {}
    for setup, row in zip(scored["setup"], scored["row_setup"]):
        row_of.setdefault(one.get(setup, setup), set()).add(row)
    label = {s: "+".join(sorted(short_label(r) for r in rows)) for s, rows in row_of.items()}
    names = {}
    for task, sub in scored.groupby("task", sort=True):
        keys = {one.get(s, s) for s in sub["setup"]}
        for key in keys:
            names[(task, key)] = "/".join([*([label[key]] if len(set(label.values())) > 1 else []),
                                           *([short_label(key)] if len(keys) > len({label[k] for k in keys}) else [])])
    return names


# What _differ_line says of Dense rows' models, by _models_said's kind (its tests pin these sentences).
_MODEL_WORDS = {
    "same": "their dense models are the same by fingerprint, scored otherwise (other code or data content, or dense "
            "scores that differ seed by seed)",
    "shared": "some of their dense models are the same by fingerprint (given as dense.checkpoint), each row holding "
              "another set of them",
    "shared_trained": "some of their dense models are the same by fingerprint (trained alike by their own runs, none "
                      "given), each row holding another set of them",
    "": "their dense models are others (other code, data content or dense.checkpoint, or dense scores that differ "
        "seed by seed)",
    "unknown": "their dense models are not all known by fingerprint (runs recorded before sdp kept it): other "
               "models, or the same ones scored otherwise",
}


def _models_said(runs: pd.DataFrame, one: dict[str, str], names: dict[tuple[str, str], str] | None = None) -> str:
    """What the fingerprints say of the dense models of the Dense rows ``runs`` fall in, task by task (a model's rows
    of two tasks hold other models by nature: review of round 51's fixes): "one" row a task; "same" models, every one
    known by content, in every row; "shared" (every row holds some of another's, no two rows the same set: a row given
    some of another's, said to hold "others": review of round 51's fixes); "" (others, or not known); else the words
    for a mix, each row named as glue.md labels it (``names``: _dense_names). Rows whose every model is one by
    fingerprint were said to hold "others" (probe round 51, dgc_cross); B and C of one model scored otherwise beside E
    of another were said to be "each row holding another set" of shared models (review of session 24's fixes)."""
    if not {"setup", "dense_model", "dense_by_content", "task"} <= set(runs.columns):  # (no setups: round 27)
        return ""
    said = {}
    for task, sub in runs.groupby("task", sort=True):
        rows: dict[str, set] = {}
        for setup, model, known in zip(sub["setup"], sub["dense_model"], sub["dense_by_content"]):
            rows.setdefault(one.get(setup, setup), set()).add(model if known and model else None)
        said[task] = _rows_kind({(names or {}).get((task, k)) or short_label(k): m for k, m in rows.items()})
        given = set(sub.loc[~sub["own_dense_stage"].astype(bool), "dense_model"]) if "own_dense_stage" in sub else set()
        if said[task] == "shared" and not given & {m for a in rows.values() for b in rows.values() if a is not b
                                                   for m in a & b}:
            said[task] = "shared_trained"  # no run was given them: said "given" (probe round 54, dn_trained_shared)
    kinds = set(said.values()) - {"one"} or {"one"}
    if len(kinds) == 1:
        return kinds.pop()
    # tasks of other kinds (rte's rows the same, mrpc's sharing some) read as "others" (review of session 24's fixes)
    return "; ".join(f"on {task}: {_MODEL_WORDS.get(kind, kind)}" for task, kind in said.items() if kind != "one")


def _rows_kind(rows: dict[str, set]) -> str:
    """_models_said's kind of one task's rows (label -> its models' fingerprints, None for one not known), pair by
    pair: the same set (every model known), some in both, or none; a mix is said row by row."""
    labels = sorted(rows)
    if len(labels) < 2:
        return "one"
    known = {label: rows[label] - {None} for label in labels}
    # "unknown": no model in both as far as the records tell, and one not known (a record from before fingerprints):
    # rows given one dense.checkpoint by path were said to hold "others" (review of session 24's fixes, noticed)
    pairs = {(a, b): "same" if None not in rows[a] | rows[b] and rows[a] == rows[b] else "some" if known[a] & known[b]
             else "none" if None not in rows[a] | rows[b] else "unknown"
             for i, a in enumerate(labels) for b in labels[i + 1:]}
    # a row of known models none of which another row holds, as far as the records tell (review: one unknown pair
    # left a known row apart from every other unsaid)
    alone = [label for label in labels if None not in rows[label]
             and all(kind in ("none", "unknown") for pair, kind in pairs.items() if label in pair)]
    unknown = [label for label in labels if None in rows[label]]
    if len(set(pairs.values())) == 1 and (kind := next(iter(pairs.values()))) != "some":
        return {"none": ""}.get(kind, kind)
    if not {"same", "unknown"} & set(pairs.values()) and not alone:
        return "shared"
    words, done = [], set()
    for label in labels:  # each set of rows holding the same models
        group = [label] + [b for (a, b), kind in pairs.items() if a == label and kind == "same"]
        if len(group) > 1 and label not in done:
            done |= set(group)
            words.append(f"rows {_and(group)} hold the same dense models, scored otherwise" + (
                " (other code or data content, or dense scores that differ seed by seed)" if len(words) == 0 else ""))
    if some := [f"[{a}] and [{b}]" for (a, b), kind in pairs.items() if kind == "some"]:
        words.append(f"rows {', '.join(some)} hold some of the same dense models, each another set of them")
    if alone:
        words.append(f"row{'s' if len(alone) > 1 else ''} {_and(alone)} hold{'' if len(alone) > 1 else 's'} other dense "
                     f"models, none of another row's{' known so' if unknown else ''} (other code, data content or "
                     "dense.checkpoint, or dense scores that differ seed by seed)")
    if unknown and "unknown" in pairs.values():
        words.append(f"row{'s' if len(unknown) > 1 else ''} {_and(unknown)} hold{'' if len(unknown) > 1 else 's'} "
                     "dense models no record fingerprints (runs recorded before sdp kept it)")
    return "by fingerprint, " + "; ".join(words)


def _and(labels: list[str]) -> str:
    shown = [f"[{label}]" for label in labels]
    return ", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 else shown[0]


class _Values:
    """A key's values over one setup's runs where they differ (alpha 1 and 50 in one setup's rows), printed so."""

    def __init__(self, values: list[Any]) -> None:
        self.shown = " or ".join(sorted({repr(v) for v in values}))

    def __repr__(self) -> str:
        return self.shown


def _terms(runs: pd.DataFrame, column: str, results_dir: Path, dense: bool) -> dict[str, dict[str, Any]]:
    """Each ``column`` label's method terms (the regularizer and weight_reg keys), over every run of the label: a
    key's value, or a _Values of the values its runs hold. A method's rows are told apart by them too, which the setup
    leaves out ("differ in prune.lr" of rows whose regularizer.alpha differed as well read as all that told them
    apart: probe round 52, al_two); Dense rows (``dense``) read none."""
    if dense or not {column, "path"} <= set(runs.columns):
        return {}
    held: dict[str, dict[str, list[Any]]] = {}
    for label, path in zip(runs[column], runs["path"]):
        if not isinstance(label, str):
            continue
        config = (read_run_record(results_dir / path) or {}).get("config") or {}
        for key, value in _flat({k: config[k] for k in _METHOD_TERMS if isinstance(config.get(k), dict)},
                                skip=frozenset()).items():
            held.setdefault(label, {}).setdefault(key, []).append(value)
    return {label: {k: vs[0] if len({repr(v) for v in vs}) == 1 else _Values(vs) for k, vs in keys.items()}
            for label, keys in held.items()}


def _differ_line(where: str, setups: list[str], configs: dict[str, dict[str, Any]], world: bool = True,
                 dense: bool = False, models: str = "", terms: dict[str, dict[str, Any]] | None = None) -> str | None:
    """The line naming the config keys ``setups`` differ in (with each one's values), or None; ``world``: and the
    setups that ran on other numbers of processes; ``dense``: Dense rows, which no key of the pruning stage tells
    apart (setups.PRUNING_STAGE_GROUPS: probe round 50, dga_alone); ``models``: what their fingerprints say
    (_models_said), so that rows of one set of models are never said to hold others (probe round 51, dgc_cross);
    ``terms``: each setup's method terms (_terms), compared beside the setup's keys."""
    if len(setups) < 2:
        return None
    unrecorded = [short_label(s) for s in setups if not configs[s]]
    flats = {s: {**configs[s], **(terms or {}).get(s, {})} for s in setups if configs[s]}
    keys = sorted({k for flat in flats.values() for k in flat})
    differ = [k for k in keys if len({repr(flat.get(k)) for flat in flats.values()}) > 1] if len(flats) > 1 else []
    pruning = [k for k in differ if dense and k.split(".")[0] in PRUNING_STAGE_GROUPS]
    differ = [k for k in differ if k not in pruning]
    world = [short_label(s) for s in setups if "/ws" in s] if world else []
    if not differ and not unrecorded and not world:
        return None if not pruning or models == "one" else (
            f"`{where}` rows of other setups: differ in no key the dense stage reads (only in {', '.join(pruning)}, "
            f"which the pruning stage reads): {_MODEL_WORDS.get(models, models)}")
    parts = ([_differ_words(differ, {short_label(s): flat for s, flat in flats.items()})] if differ else []) + (
        [f"{_labels(world)} ran on other numbers of processes (/ws<N>: N processes, a global batch N times the config's)"]
        if world else []) + ([f"{_labels(unrecorded)} hold runs that record no config"] if unrecorded else [])
    return f"`{where}` rows of other setups: " + "; ".join(parts)


def _config_differences(runs: pd.DataFrame, results_dir: Path) -> list[str]:
    """One line per cell whose rows glue.md labels by config hash: the keys, the method's terms included, that differ."""
    lines: list[str] = []
    cell = ["task", "model", "method", "target_sparsity", "setup"]
    if not {*cell, "config_hash", "path"} <= set(runs.columns):
        return lines
    for key, grp in runs.groupby(cell, sort=True):
        hashes = sorted(set(grp["config_hash"]) - {""})
        if len(hashes) < 2:
            continue
        flats = {h: _flat((read_run_record(results_dir / grp[grp["config_hash"] == h]["path"].iloc[0]) or {})
                          .get("config") or {}, skip=_NOT_CONFIG) for h in hashes}
        keys = sorted({k for flat in flats.values() for k in flat})
        differ = [k for k in keys if len({repr(flat.get(k)) for flat in flats.values()}) > 1]
        if differ:
            words = _differ_words(differ, {short_label(h, "no-hash"): flats[h] for h in hashes})
            lines.append(f"`{key[0]} / {key[1]} / {key[2]} / {fmt_sparsity(key[3])}` rows of other configs: {words}")
    return lines


def _differ_words(differ: list[str], flats: dict[str, dict[str, Any]]) -> str:
    """``differ in k1, k2: [label] k1=v, k2=v; [label] ...``: every key (six were named and the rest counted, "(and 6
    more)", so a seventh that mattered was never seen: round 33, noticed), long values cut (_cut)."""

    shown = {k: _cut([repr(flat.get(k)) for flat in flats.values()]) for k in differ}
    values = "; ".join(f"[{label}] " + ", ".join(f"{k}={shown[k][i]}" for k in differ)
                       for i, label in enumerate(flats))
    return f"differ in {', '.join(differ)}: {values}"


def _cut(texts: list[str], context: int = 12) -> list[str]:
    """Values cut to about VALUE_CHARS around where they differ: the part all of them share before and after is cut
    (a long path differing past its 60th character printed as one value twice: review)."""
    if all(len(t) <= VALUE_CHARS for t in texts):
        return texts
    head = len(os.path.commonprefix(texts))
    tail = len(os.path.commonprefix([t[head:][::-1] for t in texts]))
    out = []
    for text in texts:
        start, end = max(0, head - context), len(text) - max(0, tail - context)
        middle = text[start:end]
        middle = middle if len(middle) <= VALUE_CHARS else middle[: VALUE_CHARS - 1] + "…"
        out.append(("…" if start else "") + middle + ("…" if end < len(text) else ""))
    return out
