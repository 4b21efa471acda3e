"""Turn per-run records into per-cell statistics (mean, std, n over seeds), in percent."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from sdp.objectives.naming import base_method

XGLUE_TASKS = ("xnli", "pawsx", "nc", "qadsm", "qam", "wpr", "qg", "ntg", "ner", "pos", "mlqa")

# The columns that identify one table cell; `metric` is a schema key, `main`, `lang/<l>` or `drop/<l>`.
CELL_KEYS = ["origin", "model", "method", "schedule", "teacher", "sparsity", "variant", "task", "metric"]
ROW_KEYS = CELL_KEYS[:-2]
# undefined: how many of the cell's runs (Dense: seeds) hold a score undefined and recorded as 0.0 (report/undefined.py)
CELL_COLUMNS = [*CELL_KEYS, "mean", "std", "n", "flagged", "undefined", "versions", "source", "note"]
# by_model (Dense cells only, not written to the CSVs): the cell's units are dense models, not seeds (one given to
# several seeds counts once), so glue.md's note says so (review of session 24's fixes)

# Methods in the paper's order; anything else sorts after them, alphabetically.
METHOD_ORDER = (
    "Dense", "MP", "KD", "MSE", "COS", "SDP-CC", "AWR-cos", "AWR-fro", "MP+AWR-cos", "MP+AWR-fro",
    "KD+AWR-cos", "KD+AWR-fro", "SDP-CC+AWR-cos", "SDP-CC+AWR-fro",
)  # fmt: skip


def method_rank(method: str) -> tuple[int, str]:
    """Sort key for methods: paper order first, then alphabetical; a method with a criterion that is not the
    default ("MP (movement)") right after the method itself."""
    base = base_method(method)
    return (METHOD_ORDER.index(base), method if base != method else "") if base in METHOD_ORDER else (len(METHOD_ORDER), method)


def cross_lingual_tasks(runs: pd.DataFrame) -> list[str]:
    """Tasks reported per language: the known XGLUE tasks and any task whose runs carry per_language."""
    tasks = set(runs["task"][runs["per_language"].map(bool)]) if not runs.empty else set()
    tasks |= {t for t in (runs["task"] if not runs.empty else []) if t in XGLUE_TASKS}
    return sorted(tasks)


def _scores(stage: str, scores: dict[str, float] | None, per_lang: dict | None) -> dict[str, float]:
    """Metric -> value x100 for one stage of one run, languages as `lang/<l>` (and `drop/<l>` after pruning)."""
    out: dict[str, float] = {}
    for key, val in (scores or {}).items():
        if "/" in key:
            if not per_lang:  # only fall back on `accuracy/<lang>` keys without per_language
                out["lang/" + key.split("/", 1)[1]] = 100.0 * val
            continue
        out[key] = 100.0 * val
    for lang, rec in (per_lang or {}).items():
        if stage in rec:
            out[f"lang/{lang}"] = 100.0 * rec[stage]
        if stage == "final" and "drop" in rec:
            out[f"drop/{lang}"] = 100.0 * rec["drop"]
    return out


def long_scores(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, stage, metric): the tidy form every table and plot is built from."""
    rows: list[dict[str, Any]] = []
    for run in runs.itertuples(index=False):
        base = {
            "path": run.path, "model": run.model, "method": run.method, "schedule": run.schedule,
            "teacher": run.teacher, "sparsity": float(run.target_sparsity), "config_hash": run.config_hash,
            "task": run.task, "seed": int(run.seed), "version": run.sdp_version, "setup": run.setup,
            "row_setup": run.row_setup, "dense_model": getattr(run, "dense_model", "") or "",
            "own_dense": bool(getattr(run, "own_dense_stage", True)),
            "dense_by_content": bool(getattr(run, "dense_by_content", False)),
        }  # fmt: skip
        undefined = getattr(run, "undefined", frozenset())
        for stage, scores in (("final", run.final), ("dense", run.dense)):
            if scores is None:
                continue
            # a dense stage ran sdp's own code, whatever plug-ins the run loaded for its pruning stage (code.core_id)
            version = getattr(run, "sdp_core", run.sdp_version) if stage == "dense" else run.sdp_version
            for metric, value in _scores(stage, scores, run.per_language).items():
                rows.append({**base, "stage": stage, "metric": metric, "value": value, "version": version,
                             "core": getattr(run, "sdp_core", run.sdp_version),
                             "undefined": (stage, metric) in undefined})
    cols = ["path", "model", "method", "schedule", "teacher", "sparsity", "config_hash", "task", "seed",
            "version", "setup", "row_setup", "dense_model", "own_dense", "dense_by_content", "stage", "metric", "value", "undefined", "core"]  # fmt: skip
    return pd.DataFrame(rows, columns=cols)


def _stats(values: list[float]) -> tuple[float, float, int]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n >= 2 else float("nan")
    return mean, std, n


def _versions(series: pd.Series) -> list[str]:
    """The code versions of a cell's runs (a run resumed under other code holds two, space-separated)."""
    return sorted({one for v in series if v for one in str(v).split()})


def mixed_code(runs: Iterable[tuple[str, str]]) -> bool:
    """Do runs given as (version, core) (collect: ``sdp_version``, ``sdp_core``) hold other code? Yes where sdp's own
    code differs (their cores; a run resumed under other code holds two), or where two of them loaded plug-ins that
    differ (version != core: an edited plug-in criterion in a KD (RAND) run and in its MP (RAND) partner). A plug-in's
    runs beside runs made without plug-ins are one code: the plug-in is the method's own difference (they were marked
    as mixed versions: round 33, noticed)."""
    pairs = [(str(v), str(c or v)) for v, c in runs if v]
    cores = {one for _, c in pairs for one in c.split()}
    return len(cores) > 1 or len({v for v, c in pairs if v != c}) > 1


def short_label(setup: str, empty: str = "no-setup") -> str:
    """A setup hash as a row label: its first 8 hex digits and whatever collect appended after a '/' (``/ws2``:
    another world size). Cut to 8 characters, runs on 1 and 2 GPUs had one label and pooled in one cell."""
    head, sep, tail = str(setup).partition("/")
    return head[:8] + sep + tail if setup else empty


def with_variants(final: pd.DataFrame) -> pd.DataFrame:
    """Label rows only where they mix experiments. A row (a method at a sparsity, one column per task) is labelled
    by the short hash of its setup less the task (setups.row_setup_hash: one budget and data recipe across
    tasks) where the method's rows hold several (at any sparsity), so one experiment keeps one label in every
    task's column and at every sparsity. Within a cell, the
    setup's own hash is added where it mixes setups that the row's label does not tell apart, and the config's
    where configs differ within one setup (e.g. two lambdas)."""
    row = ["model", "method", "schedule", "teacher", "sparsity"]
    # Over the method's rows at every sparsity: a row whose sparsity only one setup has was left unlabelled beside
    # labelled rows of the same method, and could not be told apart from them (probe round 20's left).
    n_row = final.groupby(row[:-1], dropna=False)["row_setup"].transform("nunique")
    cell = final.groupby(["task", *row], dropna=False)
    n_cell_row = cell["row_setup"].transform("nunique")
    n_setup, n_hash = cell["setup"].transform("nunique"), cell["config_hash"].transform("nunique")
    final = final.copy()
    final["variant"] = [
        "/".join([*([short_label(r)] if nr > 1 else []), *([short_label(s)] if ns > ncr else []),
                  *([short_label(h, "no-hash")] if nh > ns else [])])
        for r, s, h, nr, ncr, ns, nh in zip(final["row_setup"], final["setup"], final["config_hash"], n_row,
                                             n_cell_row, n_setup, n_hash)
    ]
    return final


def aggregate_cells(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean/std/n over seeds per cell, plus the Dense row (each run's dense scores, averaged per seed first)."""
    scores = long_scores(runs)
    out: list[dict[str, Any]] = []
    final = with_variants(scores[scores["stage"] == "final"])
    for key, grp in final.groupby(CELL_KEYS[1:], sort=True, dropna=False):
        mean, std, n = _stats(list(grp.sort_values("seed")["value"]))
        versions = _versions(grp["version"])
        out.append(_cell(key, mean, std, n, versions, int(grp["undefined"].sum())))
    dense = scores[scores["stage"] == "dense"]
    # Several pruning runs share one dense stage per (setup, seed): average those first, then over seeds. One
    # Dense row per setup, labelled like the pruned rows (two budgets are two dense models). A dense model given as
    # dense.checkpoint to several seeds is one: one model read as 3 seeds was "± 0.00 (n=3)" (probe round 26, dk1).
    shared = {m for m, grp in dense[dense["dense_model"] != ""].groupby("dense_model") if grp["seed"].nunique() > 1}
    per_seed: dict[tuple, dict[tuple, tuple[list[float], set[str]]]] = {}
    undefined_units: dict[tuple, set[tuple]] = {}  # the seeds (or shared dense models) whose dense score is undefined
    unit_seeds: dict[tuple, dict[tuple, set[int]]] = {}  # the seeds each unit's runs are of
    row_of: dict[str, set[str]] = {}  # setup -> its row labels (the setup less the task), as in with_variants
    one_row = one_dense_row(runs)
    within_rows = within_by_row(given_within(runs), one_row)
    # A run given a dense model other than its seed's own (by fingerprint) brings a second dense model: averaged
    # with the seed's own as one seed, two models read "57.50 (n=1)", a score neither has (probe round 31, dk1). One
    # recorded by path only (an older record) is not known to be another: its seed's, as before.
    own = dense[dense["own_dense"]]
    own_models = set(zip(own["setup"], own["seed"], own["dense_model"]))
    known = {key for key, grp in own.groupby(["setup", "seed"]) if (grp["dense_model"] != "").all()}
    for row in dense.itertuples(index=False):
        other = (not row.own_dense and row.dense_by_content and (row.setup, row.seed) in known
                 and (row.setup, row.seed, row.dense_model) not in own_models)
        unit = ("given", row.dense_model) if row.dense_model in shared or other else ("seed", int(row.seed))
        setup = one_row.get(row.setup, row.setup)
        vals, vers = per_seed.setdefault((row.model, row.task, row.metric, setup), {}).setdefault(unit, ([], set()))
        vals.append(row.value)
        vers.add(row.version)
        unit_seeds.setdefault((row.model, row.task, row.metric, setup), {}).setdefault(unit, set()).add(int(row.seed))
        if row.undefined:
            undefined_units.setdefault((row.model, row.task, row.metric, setup), set()).add(unit)
        row_of.setdefault(setup, set()).add(row.row_setup)
    label = {s: "+".join(sorted(short_label(r) for r in rows)) for s, rows in row_of.items()}  # each pruned row's
    row_setup = dict(zip(dense["setup"], dense["row_setup"]))  # a setup's own label (the one that trained a model)
    rows = {m: {label[s] for (m2, _, _, s) in per_seed if m2 == m} for (m, _, _, _) in per_seed}
    setups = {(m, t): {s for (m2, t2, _, s) in per_seed if (m2, t2) == (m, t)} for (m, t, _, _) in per_seed}
    for (model, task, metric, setup), seeds in sorted(per_seed.items()):
        means = [sum(v) / len(v) for _, (v, _) in sorted(seeds.items())]
        versions = _versions(pd.Series([v for _, (_, vs) in seeds.items() for v in vs], dtype=object))
        same_label = {label[s] for s in setups[(model, task)]}
        variant = "/".join([*([label[setup]] if len(rows[model]) > 1 else []),
                            *([short_label(setup)] if len(setups[(model, task)]) > len(same_label) else [])])
        key = (model, "Dense", "", "", 0.0, variant, task, metric)
        out.append(_cell(key, *_stats(means), versions, len(undefined_units.get((model, task, metric, setup), ()))))
        # a unit that is not one seed: a model read at two seeds is one (46.88 (n=1)), which "averaged per seed, then
        # over seeds" said otherwise (review of session 24's fixes)
        units = unit_seeds[(model, task, metric, setup)]
        out[-1]["by_model"] = len(units) != len(set().union(*units.values())) or any(len(s) > 1 for s in units.values())
        if setup in within_rows:  # some of another row's models: which, said (probe rounds 50, dga_alone; 51, dgf_twice)
            whose, made, trainers = within_rows[setup]
            whose = one_row.get(whose, whose)
            by = "+".join(sorted({short_label(row_setup[t]) for t in trainers if t in row_setup}))
            out[-1]["note"] = given_words(label.get(whose, short_label(whose)), made, glue=True, by=by)
    frame = pd.DataFrame(out, columns=[*CELL_COLUMNS, "by_model"])
    return frame.sort_values(CELL_KEYS, kind="mergesort").reset_index(drop=True)


def seeds_words(seeds: Any) -> str:
    """`seed 2`, `seeds 1, 2` (it said "at seeds 2": review of round 50's fixes)."""
    distinct = sorted(set(map(int, seeds)))
    return f"seed{'s' if len(distinct) > 1 else ''} {', '.join(map(str, distinct))}"


def within_by_row(within: dict[str, tuple], one: dict[str, str]) -> dict[str, tuple[str, dict[str, tuple[set, set]], set]]:
    """given_within's map by Dense row: the setups sharing one row (one_dense_row) pooled, their models' seeds merged
    (a row of B's seed 1 and E's seed 2 said "given to seed 2" alone: review of round 51's fixes), and the setups
    that trained them."""
    rows: dict[str, tuple[str, dict[str, tuple[set, set]], set]] = {}
    for setup, (whose, made, trainers) in sorted(within.items()):
        _, pooled, by = rows.setdefault(one.get(setup, setup), (whose, {}, set()))
        by |= trainers
        for fingerprint, (trained, given) in made.items():
            was = pooled.get(fingerprint, (set(), set()))
            pooled[fingerprint] = (was[0] | set(trained), was[1] | set(given))
    return rows


def given_words(whose: str, made: dict[str, tuple[set, set]], glue: bool = False, by: str = "") -> str:
    """Which of row ``whose``'s dense models a given setup's Dense row holds (``made``: fingerprint -> the seeds of
    ``whose`` that trained it, the seeds given it), for glue.md's note (``glue``) and summary.md's line. Each seed
    given its own seed's model: `[A]'s dense models at seeds 1, 2 ...` (probe round 50, dga_alone); else each model
    by the seed that trained it and the seeds given it: one model given to two seeds is one (n=1, round 26's dk1), and
    "at seeds 1, 2" named a model f2 never read (probe round 51, dgf_twice). ``by``: the label of the setups that
    trained them, where the row pools others too: [A+E]'s seed 1 was a1 (A's) and a2 (E's, given), and "[A+E]'s dense
    models at seed 1" named a2 too (review of session 24's fixes); one model is "model"."""
    pairs = sorted((sorted(map(int, t)), sorted(map(int, g))) for t, g in made.values())
    owner, one = by or whose, len(pairs) == 1
    if all(t == g and len(t) == 1 for t, g in pairs):
        given = " (given as dense.checkpoint)" if glue else ", given as dense.checkpoint"
        what = f"[{owner}]'s dense model{'' if one else 's'} at {seeds_words(t[0] for t, _ in pairs)}{given}: "
        if owner == whose:
            return what + (f"the same model{'' if one else 's'} as that row's, at th{'is seed' if one else 'ese seeds'}"
                           " only")
        return what + (f"one of row [{whose}]'s models, the one [{owner}] trained at that seed" if one else
                       f"some of row [{whose}]'s models, those [{owner}] trained at these seeds")
    which = (f"model of {seeds_words(pairs[0][0])}, given to {seeds_words(pairs[0][1])}" if one else
             "models of " + " and ".join(f"{seeds_words(t)} (given to {seeds_words(g)})" for t, g in pairs))
    row = "that row's" if owner == whose else f"row [{whose}]'s"
    return (f"[{owner}]'s dense {which} as dense.checkpoint: some of {row} models, each counted once however many "
            "seeds read it")


def one_dense_row(runs: pd.DataFrame, within: bool = False) -> dict[str, str]:
    """setup -> the setup whose Dense row it shares: the setups of one model and task that differ only in what the
    pruning stage reads (prune.*, schedule.*: setups.dense_setup_hash; prune.exclude, a criterion's option), on the
    same data (each run's data digest), each of whose runs trained its own dense model, with the same dense scores
    seed by seed: their one dense model was two Dense rows (probe rounds 35-36, noticed). The scores are compared
    too, as a setup's dense model is not recorded apart from its config (config.json holds the prunable set). Runs
    given one dense.checkpoint, known by its content, share its row too (probe round 44, dr1), and so does a setup
    given, seed by seed, the dense models another setup trained (_given_own). Any other difference (max_eval_samples,
    an eval file, edited or not) keeps a setup's own row. ``within``: given_within's map instead."""
    need = {"model", "task", "setup", "dense_setup", "data", "seed", "own_dense_stage", "dense", "sdp_core"}
    if runs.empty or not need <= set(runs.columns):
        return {}
    alike: dict[tuple, list[str]] = {}
    for key, grp in runs.groupby(["model", "task", "dense_setup", "data", "setup"], sort=True):
        own = grp["own_dense_stage"].astype(bool)
        given = ~own & (grp["dense_by_content"].astype(bool) if "dense_by_content" in grp else False)
        per_seed: dict[Any, set] = {}
        for run in grp.itertuples(index=False):
            per_seed.setdefault(run.seed, set()).add(_dense_identity(run))
        if key[2] and key[3] and (own.all() or given.all()) and all(
                len(v) == 1 and None not in v for v in per_seed.values()):
            # setups given models by content share a row where they read the same models, whatever the seeds given
            # each (c1 given x2 and c2 x1 beside b1 given x1 and b2 x2: one set; probe round 51, dgc_cross)
            scores = frozenset(next(iter(v)) if given.all() else (seed, next(iter(v))) for seed, v in per_seed.items())
            alike.setdefault((*key[:4], scores), []).append(key[4])
    row = {s: min(group) for group in alike.values() if len(group) > 1 for s in group}
    return {**row, **_given_own(runs, row)} if not within else _given_own(runs, row, both=True)[1]


def given_within(runs: pd.DataFrame) -> dict[str, tuple[str, dict[str, tuple[set, set]], set[str]]]:
    """given setup -> (the setup whose Dense row holds the dense models it was given, by content, and more models;
    which of them: fingerprint -> (that row's seeds that trained it, the seeds given it); the setups of that row that
    trained them): its own Dense row is some of that row's models (round 49's dgy keeps it apart), and says which
    (given_words). Shown as a second row of other models, said to differ in prune.criterion, which no dense model reads
    (probe round 50, dga_alone)."""
    return one_dense_row(runs, within=True)


def _given_own(runs: pd.DataFrame, row: dict[str, str], both: bool = False) -> Any:
    """given setup -> the row of the setup(s) that trained its dense models: every run of the given setup read, by
    content, a dense model one of that row's runs trained, on the same data, with the same dense scores, and the
    models it read are that row's models (probe round 45, dr3: a setup's dense_model/ given to another setup was two
    Dense rows). A model is matched by its fingerprint whatever the seed it is given to: matched by seed too, c1 given
    a2's model and c2 a1's matched nothing, and kept a second Dense row of the same two models, said to be "others"
    (probe round 51, dgc_cross). Several setups may have trained one model (one seed and dense config): each is a
    candidate, and the row whose models are exactly the given setup's takes it (round 48, dg_col: a third setup's run
    took a1's place, and B kept a row of its own; round 49, dgy: a row with a model more would show B a model it never
    read). ``both``: and given setup -> (the row holding its models and more, which, the setups that trained them:
    given_within's)."""
    by_content = runs["dense_by_content"].astype(bool) if "dense_by_content" in runs else False
    ours = runs["own_dense_stage"].astype(bool)
    trained: dict[tuple, set[tuple]] = {}  # (model, task, data, fingerprint) -> (row, scores and code, seed, setup)
    models: dict[str, set] = {}  # a row's dense models, over every setup it holds (a seed's, where unrecorded)
    for r in runs[ours].itertuples(index=False):
        name, known = row.get(r.setup, r.setup), bool(getattr(r, "dense_by_content", False)) and r.dense_model
        models.setdefault(name, set()).add(r.dense_model if known else ("seed", r.seed))
    for r in runs[ours & by_content].itertuples(index=False):
        if (identity := _dense_identity(r)) is not None:
            trained.setdefault((r.model, r.task, r.data, r.dense_model), set()).add(
                (row.get(r.setup, r.setup), identity[:2], r.seed, r.setup))
    out, within = {}, {}
    for setup, grp in runs.groupby("setup", sort=True):
        if grp["own_dense_stage"].astype(bool).any():  # its own dense models too: a row of its own (review, S and A)
            continue
        rows: set[str] | None = None
        made: dict[str, dict[str, tuple[set, set]]] = {}  # row -> fingerprint -> (its seeds, the seeds given it)
        trainers: dict[str, set[str]] = {}  # row -> the setups that trained the models given (the row may pool more)
        for r in grp.itertuples(index=False):
            mine = _dense_identity(r)
            made_by = trained.get((r.model, r.task, r.data, r.dense_model), ())
            these = {(s, seed, by) for s, identity, seed, by in made_by
                     if r.dense_by_content and r.data and mine and identity == mine[:2]}
            rows = {s for s, _, _ in these} if rows is None else rows & {s for s, _, _ in these}
            for s, seed, by in these:
                made.setdefault(s, {}).setdefault(r.dense_model, (set(), set()))[0].add(seed)
                made[s][r.dense_model][1].add(r.seed)
                trainers.setdefault(s, set()).add(by)
        given = set(grp["dense_model"])
        if exact := {s for s in rows or () if models.get(s) == given}:  # every model of both rows one by content
            out[setup] = min(exact)
        elif wider := {s for s in rows or () if models.get(s, set()) > given}:
            within[setup] = (min(wider), made[min(wider)], trainers[min(wider)])  # some of a row's (round 50, dga_alone)
    return (out, within) if both else out


def _dense_identity(run: Any) -> tuple | None:
    """What one Dense row must share seed by seed: every score it shows (F1 beside accuracy, languages), the code of
    the dense stage (one row of two codes was marked as mixing them: review), and a given dense model's fingerprint;
    None where the run records no dense scores."""
    if not isinstance(run.dense, dict) or not run.dense:
        return None
    given = "" if run.own_dense_stage else str(getattr(run, "dense_model", ""))
    return json.dumps(run.dense, sort_keys=True, default=str), run.sdp_core, given


def _cell(key: tuple, mean: float, std: float, n: int, versions: list[str], undefined: int) -> dict[str, Any]:
    return {
        "origin": "run", **dict(zip(CELL_KEYS[1:], key)), "mean": mean, "std": std, "n": n,
        "flagged": len(versions) > 1, "undefined": undefined, "versions": " ".join(versions), "source": "", "note": "",
    }  # fmt: skip


def mixed_version_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """Run cells (main metric only, one line per cell) that aggregate runs from several code versions."""
    if cells.empty:
        return cells
    sel = cells[(cells["origin"] == "run") & cells["flagged"] & (cells["metric"] == "main")]
    return sel.reset_index(drop=True)


def variant_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """Distinct row labels that exist only because one cell mixed several config hashes."""
    if cells.empty:
        return cells
    sel = cells[(cells["variant"] != "") & (cells["metric"] == "main")]
    return sel[["model", "method", "schedule", "teacher", "sparsity", "variant", "task"]].drop_duplicates()
