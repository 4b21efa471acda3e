"""Find, load and validate the runs under a results directory (one row per run in a DataFrame)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sdp.objectives.naming import method_name
from sdp.report.duplicates import Conflict, dedupe
from sdp.report.not_runs import EVAL_COLUMNS, MalformedEval, load_evaluation, not_a_run
from sdp.report.same_data import data_digest, split_by_data
from sdp.report.score_range import CORRELATION, UNIT, out_of_range
from sdp.report.setups import dense_setup_hash, pair_hash, row_setup_hash, setup_hash
from sdp.report.trace_read import load_trace, was_resumed  # noqa: F401  (re-exported: plots, gridrun, tests)
from sdp.report.undefined import undefined_scores
from sdp.report.unrecorded import unrecorded_runs
from sdp.report.walk import walk_metrics as _walk_metrics
from sdp.run.code import core_id
from sdp.run.rundir import is_moved_aside, read_run_record

# Folders under the results dir that hold reports or references, never runs.
# Top-level folders of a results tree that hold no runs of the headline tables: reports and references, and the
# side comparisons that have their own report (results/criteria/, results/structured/, results/timings/),
# tabled by their own commands so that a grid still running never changes the headline tables.
SKIP_DIRS = ("tables", "bench", "baselines", "criteria", "structured", "timings")

# Where each field sits in `.hydra/config.yaml` (conf/config.yaml's keys); metrics.json takes precedence.
_CONFIG_PATHS: dict[str, str] = {
    "task": "task.name",
    "model": "model.name",
    "regularizer": "regularizer.name",
    "weight_reg": "weight_reg.name",
    "schedule": "schedule.name",
    "teacher": "prune.teacher",
    "seed": "seed",
    "target_sparsity": "sparsity",
}


class MalformedRun(ValueError):
    """A metrics.json that cannot be used (bad JSON, wrong types, missing fields)."""


INTERRUPTED = "interrupted"  # a stop signal's record (sdp/training/checkpoint.py, signals.py): resumable


@dataclass
class Collection:
    """Everything the report needs to know about a results directory."""

    runs: pd.DataFrame  # completed runs, one per (config key, seed)
    failed: pd.DataFrame  # runs whose status is neither "completed" nor "interrupted"
    malformed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    conflicts: list[Conflict] = field(default_factory=list)
    n_found: int = 0
    n_identical_duplicates: int = 0
    n_tuning: int = 0  # runs scored on a split carved from train (task.validation_from_train): not dev scores
    n_dense_only: int = 0  # completed runs at sparsity 0 (dense models shared by a study): nothing pruned
    dense_only: pd.DataFrame = field(default_factory=pd.DataFrame)  # those runs (for their cost only)
    # sdp-eval's records ("kind": "eval"): a saved model scored without training, listed apart, never a run
    evaluations: pd.DataFrame = field(default_factory=pd.DataFrame)
    # Failed launches whose run never started (a config error: "before_run" in the record), not failed runs
    n_launch_errors: int = 0
    warnings: list[str] = field(default_factory=list)  # e.g. a run kept without its dense score
    skipped: list[str] = field(default_factory=list)  # metrics.json paths that are not regular files (a FIFO)
    # Runs stopped by a signal (status "interrupted": checkpointed, the same command resumes them), not failures
    interrupted: pd.DataFrame = field(default_factory=pd.DataFrame)
    unrecorded: list[tuple[str, str]] = field(default_factory=list)  # run.json, no metrics.json (sdp/report/unrecorded.py)


def find_metrics_files(results_dir: Path, warnings: list[str] | None = None) -> list[Path]:
    """Every metrics.json under results_dir (any depth, symlinked folders followed), skipping report/reference
    folders and the ``previous-<time>/`` folders a ``resume=false`` restart moves an old run into; sorted. A
    metrics.json that is not a regular file (a FIFO would block the reader forever) is left out, with a line in
    ``warnings``."""
    results_dir = Path(results_dir)
    found, aside = [], {}
    for path in _walk_metrics(results_dir):
        rel = path.relative_to(results_dir).parts
        if (rel and rel[0] in SKIP_DIRS) or is_moved_aside(path, results_dir):
            folder = rel[0] if rel[0] in SKIP_DIRS else "previous-<time>"
            aside[folder] = aside.get(folder, 0) + 1  # a run or evaluation there was left out unsaid (round 32, sk1)
            continue
        if not path.is_file():  # follows a symlink to a file; False for a FIFO, socket, device or folder
            if warnings is not None:
                warnings.append(f"`{path.relative_to(results_dir).as_posix()}` is not a regular file: skipped")
            continue
        found.append(path)
    if aside and warnings is not None:
        warnings.append("left out: " + ", ".join(f"{n} metrics.json under `{f}/`" for f, n in sorted(aside.items()))
                        + f" (sdp-tables sets aside a results folder's top-level {', '.join(SKIP_DIRS)} folders, its "
                        "reports and side comparisons, and the previous-<time>/ folders a resume=false restart fills); "
                        "move runs or evaluations to be tabled out of them")
    return sorted(found, key=lambda p: p.relative_to(results_dir).as_posix())


def _lookup(cfg: Any, dotted: str) -> Any:
    node = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    # A Hydra group that resolved to a dict is not a scalar value.
    return None if isinstance(node, (dict, list)) else node


def _load_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / ".hydra" / "config.yaml"
    if not path.is_file():
        return {}
    try:
        import yaml

        cfg = yaml.safe_load(path.read_text())
    except Exception:  # a broken config only loses the fallback, the metrics still count
        return {}
    return cfg if isinstance(cfg, dict) else {}


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(float(x))


def _score_dict(raw: Any, name: str, required: bool) -> dict[str, float] | None:
    if raw is None and not required:
        return None
    if not isinstance(raw, dict):
        raise MalformedRun(f"`{name}` is not an object")
    if not _is_number(raw.get("main")):
        raise MalformedRun(f"`{name}.main` is missing or not a finite number")
    if (problem := out_of_range(raw, name)) is not None:  # an accuracy of 1.5 was tabled (probe round 47, sc150)
        raise MalformedRun(problem)
    return {k: float(v) for k, v in raw.items() if _is_number(v)}


def _dense_scores(raw: Any) -> tuple[dict[str, float] | None, str]:
    """The dense scores, or None with the reason when ``dense.main`` is not a finite number (a dense model that
    diverged): the run's pruned score still counts; it only has no dense score to be compared with."""
    if isinstance(raw, dict) and "main" in raw and not _is_number(raw["main"]):
        return None, f"`dense.main` is {raw['main']!r}, not a finite number: no Dense score or delta for this run"
    return _score_dict(raw, "dense", required=False), ""


def _per_language(raw: Any) -> dict[str, dict[str, float]] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise MalformedRun("`per_language` is not an object")
    out = {}
    for lang, rec in raw.items():
        if not isinstance(rec, dict):
            raise MalformedRun(f"`per_language.{lang}` is not an object")
        vals = {k: float(v) for k, v in rec.items() if _is_number(v)}
        # each language's accuracy, dense and pruned, and their difference (part B's noticed: unchecked)
        bounds = {"dense": UNIT, "final": UNIT, "drop": CORRELATION}  # a drop of accuracies: -1 to 1
        if bad := next((k for k, (lo, hi) in bounds.items() if k in vals and not lo <= vals[k] <= hi), None):
            raise MalformedRun(f"`per_language.{lang}.{bad}` is {vals[bad]!r}, outside its range "
                               f"[{bounds[bad][0]:g}, {bounds[bad][1]:g}] (accuracies are recorded as fractions)")
        if "drop" not in vals and "dense" in vals and "final" in vals:
            vals["drop"] = vals["dense"] - vals["final"]
        out[str(lang)] = vals
    return out


def load_run(path: Path, results_dir: Path) -> dict[str, Any]:
    """Parse and validate one metrics.json into a flat record; raises MalformedRun."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedRun(f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise MalformedRun("top level is not an object")
    run_dir = Path(path).parent
    cfg = _load_config(run_dir)

    def field_(name: str) -> Any:
        if data.get(name) is not None:
            return data[name]
        return _lookup(cfg, _CONFIG_PATHS[name]) if name in _CONFIG_PATHS else None

    status = data.get("status")
    if not isinstance(status, str):
        raise MalformedRun("`status` is missing")
    rec: dict[str, Any] = {
        "path": run_dir.relative_to(results_dir).as_posix(),
        "status": status,
    }
    for name in ("task", "model", "schedule", "teacher"):
        val = field_(name)
        rec[name] = "" if val is None else str(val)
    method = field_("method")
    if method is None and (field_("regularizer") is not None or field_("weight_reg") is not None):
        method = method_name(str(field_("regularizer") or "none"), str(field_("weight_reg") or "none"))
    rec["method"] = "" if method is None else str(method)
    # The reporting key: cell_hash leaves out per-seed inputs (each seed's own dense model), so the seeds of a
    # study cell pool; older records without it fall back to config_hash.
    rec["config_hash"] = str(data.get("cell_hash") or data.get("config_hash") or "")
    versions = data.get("versions") if isinstance(data.get("versions"), dict) else {}
    config = (read_run_record(run_dir) or {}).get("config")
    rec["setup"], rec["pair_setup"] = setup_hash(config) or "", pair_hash(config, results_dir) or ""
    rec["row_setup"], rec["data"] = row_setup_hash(config) or "", data_digest(data.get("data_fingerprint"))
    rec["dense_setup"] = dense_setup_hash(config) or ""
    world = (data.get("distributed") or {}).get("world_size") if isinstance(data.get("distributed"), dict) else None
    if isinstance(world, int) and world > 1:  # train.batch_size is per process: another global batch, another cell
        for key in ("config_hash", "setup", "pair_setup", "row_setup", "dense_setup"):
            rec[key] += f"/ws{world}"
    rec["finished_at"] = str(data.get("finished_at") or "")
    # The code identity where recorded, else the commit (one commit can hold other code: an edited plug-in, round 8)
    code = data.get("code") if isinstance(data.get("code"), dict) else {}
    rec["sdp_version"] = f"code:{str(code['id'])[:12]}" if code.get("id") else str(versions.get("sdp") or "")
    if code.get("id") and isinstance(code.get("before_resume"), list):  # a run two codes trained: both, marked † (r30)
        rec["sdp_version"] = " ".join(sorted({f"code:{str(c)[:12]}" for c in [*code["before_resume"], code["id"]]}))
    # sdp's own code less the plug-ins' (their components act in the pruning stage only): a dense stage's version
    rec["sdp_core"] = f"code:{core_id(code)[:12]}" if code.get("id") and " " not in rec["sdp_version"] else rec["sdp_version"]
    rec["sdp_dirty"] = bool(versions.get("sdp_dirty", False))
    rec["code_flag"] = code_flag(data.get("code_changed_since")) or (  # resumed under other code (round 30, rz1)
        f"resumed with reuse=any_code under other code: trained by code {', '.join(map(str, code['before_resume']))}, "
        f"then {code.get('id')}" if isinstance(code.get("before_resume"), list) and code["before_resume"] else "")
    rec["has_trace"] = (run_dir / "trace.jsonl").is_file()
    # The run's own process time (one launch: a resumed run's record holds only its last part).
    rec["wall_seconds"] = float(data["wall_seconds"]) if _is_number(data.get("wall_seconds")) else float("nan")
    # Whole: one launch from start to end, as far as the trace shows (no trace: not known, so not whole).
    rec["whole_launch"] = rec["has_trace"] and not was_resumed(run_dir / "trace.jsonl")
    # The run's train.num_threads where its config sets it: versions.num_threads of records from before versions()
    # took the setting holds torch's default read before setup applied it (2 where the run was set to, and ran at, 1)
    threads = _lookup(config or {}, "train.num_threads") or versions.get("num_threads")
    rec["threads"] = threads if isinstance(threads, int) and not isinstance(threads, bool) else None
    rec["device"] = versions["device"] if isinstance(versions.get("device"), str) else None  # older records: none
    given = _lookup(cfg, "dense.checkpoint") or _lookup(config or {}, "dense.checkpoint")
    rec["own_dense_stage"] = not given
    # Its dense model by content (a given one's path if not known): trained or given a copy, one unit (round 26 dk1)
    prints = data.get("data_fingerprint") if isinstance(data.get("data_fingerprint"), dict) else {}
    rec["dense_model"] = str((prints.get("model:dense.checkpoint") or given) if given
                             else data.get("dense_model_fingerprint") or "")
    rec["dense_by_content"] = bool(prints.get("model:dense.checkpoint") if given else data.get("dense_model_fingerprint"))
    # A run given dense.checkpoint pairs by that model's content: KD given MP seed 1's dense_model/ (or a copy) and MP
    # seed 1 itself were never paired (round 29's dp1; collect_runs maps it to the run whose own stage made it). Runs
    # with their own dense stages pair by config, as before: by fingerprint, a record from before it was kept, or a
    # run at another train.num_threads (its dense model other in the last bits), paired with none (round 30)
    if given and prints.get("model:dense.checkpoint"):
        rec["pair_setup"] = f"{rec['setup']}/dense:{rec['dense_model']}"
    seed, sparsity = field_("seed"), field_("target_sparsity")
    completed = status == "completed"
    if completed:
        for name in ("task", "model", "method"):
            if not rec[name]:
                raise MalformedRun(f"`{name}` is missing")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise MalformedRun("`seed` is missing or not an integer")
        if not _is_number(sparsity) or not 0.0 <= float(sparsity) <= 1.0:
            raise MalformedRun("`target_sparsity` is missing or not in [0, 1]")
    rec["seed"] = int(seed) if isinstance(seed, int) and not isinstance(seed, bool) else -1
    rec["target_sparsity"] = round(float(sparsity), 6) if _is_number(sparsity) else float("nan")
    rec["final"] = _score_dict(data.get("final"), "final", required=completed)
    # A dense model: stages=dense, or (before stages was recorded) the trick sparsity=0. A run that also went
    # through the pruning stage at sparsity 0 (distilled, trained on) has its own final score (probe round 19).
    rec["dense_only"] = rec["target_sparsity"] == 0 and data.get("stages") != "dense+prune"
    rec["dense"], rec["dense_problem"] = _dense_scores(data.get("dense"))
    rec["per_language"] = _per_language(data.get("per_language"))
    rec["final_main"] = rec["final"]["main"] if rec["final"] else float("nan")
    rec["undefined"] = undefined_scores(data)  # scores recorded as 0.0 for an undefined metric: marked, not measured
    sha = data.get("model_sha256")  # model/ by content: two configs, one model, is said (sdp/report/same_model.py)
    rec["model_sha"] = json.dumps(sha, sort_keys=True) if isinstance(sha, dict) and sha else ""
    said = data.get("warnings")  # what the run warned of (its run.log's warnings): listed in summary.md
    rec["run_warnings"] = [str(w) for w in said] if isinstance(said, list) else []
    rec["error"] = ""
    # the record's own words first: a failure led by another rank's cause (rank_notes.py), where an interruption
    # stopped (stage and step: it resumes there) or how a sweep's job died; error.txt (another launch's, or rank 0's
    # gloo traceback beside an interruption) named the wrong cause (review of round 42's fixes)
    if status in ("failed", INTERRUPTED, "killed") and isinstance(data.get("error"), str) and data["error"].strip():
        rec["error"] = " ".join(data["error"].split())[:200]
    elif not completed and (run_dir / "error.txt").is_file():
        lines = (run_dir / "error.txt").read_text(errors="replace").strip().splitlines()
        rec["error"] = lines[-1][:200] if lines else ""
    return rec


def code_flag(flag: Any) -> str:
    """A record a grid kept from older code (code_changed_since, sdp/run/code_policy.py), in words; "" if none."""
    if not isinstance(flag, dict):
        return ""
    training = flag.get("training_files_changed")
    count = flag.get("n_training_files_changed")
    count = count if isinstance(count, int) else len(training) if isinstance(training, list) else None
    what = ("training files changed: unknown" if not isinstance(training, list) or count is None else
            f"training files changed: {count}" + (f" ({', '.join(map(str, training[:3]))}"
                                                  f"{', ...' if count > 3 else ''})" if training else ""))
    unrecorded = ("; no code identity recorded (made before runs recorded it"
                  + (", from uncommitted changes)" if flag.get("uncommitted_changes") else ")")
                  if flag.get("code_identity") == "unrecorded" else "")
    return f"made at {str(flag.get('commit'))[:10]}, kept for code {flag.get('code')}; {what}{unrecorded}"


_COLUMNS = [
    "path", "status", "task", "model", "method", "schedule", "teacher", "seed",
    "target_sparsity", "config_hash", "setup", "pair_setup", "row_setup", "dense_setup", "data", "finished_at", "sdp_version", "sdp_core", "sdp_dirty", "code_flag", "has_trace", "final", "dense",
    "per_language", "final_main", "error", "wall_seconds", "whole_launch", "threads", "device", "own_dense_stage", "dense_problem",
    "dense_only", "undefined", "dense_model", "dense_by_content", "run_warnings", "model_sha",
]  # fmt: skip


def collect_runs(results_dir: Path | str) -> Collection:
    """Load every run under results_dir; malformed files are reported, never fatal."""
    results_dir = Path(results_dir)
    skipped: list[str] = []
    files = find_metrics_files(results_dir, skipped) if results_dir.is_dir() else []
    records, malformed, tuning, dense_only, evaluations, launch_errors = [], [], 0, [], [], 0
    for path in files:
        try:
            other = not_a_run(path)  # sdp-eval's records and launches that never started (sdp/report/not_runs.py)
            if other is not None:
                if other[0] == "eval":
                    evaluations.append(load_evaluation(other[1], path.parent, results_dir))
                else:
                    launch_errors += 1
                continue
            record = load_run(path, results_dir)
        except (MalformedRun, MalformedEval) as exc:
            malformed.append((path.relative_to(results_dir).as_posix(), str(exc)))
            continue
        if is_tuning_run(path):  # a hyperparameter search's held-out score must never sit beside dev scores
            tuning += 1
            continue
        if record["status"] == "completed" and record["dense_only"]:
            dense_only.append(record)  # e.g. a study's shared dense model: it prunes nothing (Dense rows have it)
            continue
        records.append(record)
    frame = _pair_given_with_own(pd.DataFrame(records, columns=_COLUMNS))
    done = frame[frame["status"] == "completed"].reset_index(drop=True)
    unfinished = frame[frame["status"] != "completed"].sort_values("path")
    stopped = unfinished["status"] == INTERRUPTED
    failed, interrupted = unfinished[~stopped].reset_index(drop=True), unfinished[stopped].reset_index(drop=True)
    done, data_warnings = split_by_data(done)  # one setup on other data: other experiments (sdp/report/same_data.py)
    runs, conflicts, identical = dedupe(done)
    dense_models = dedupe(pd.DataFrame(dense_only, columns=_COLUMNS))[0]
    # Only the runs the tables use (a superseded duplicate is not in them).
    warnings = [f"`{r.path}`: {r.dense_problem}" for kept in (runs, dense_models)
                for r in kept.itertuples(index=False) if r.dense_problem] + data_warnings
    if dense_only and runs["own_dense_stage"].all():  # no pruning run here starts from one (probe round 26, dn2)
        warnings.append(f"{len(dense_only)} dense-only run(s) (stages=dense) are in no table: a dense model's score "
                        "is shown through the pruning runs given it as dense.checkpoint, and none here is; its "
                        "dev score is in its own metrics.json")
    return Collection(
        runs=runs,
        failed=failed,
        malformed=malformed,
        conflicts=conflicts,
        n_found=len(files),
        n_identical_duplicates=identical,
        n_tuning=tuning,
        n_dense_only=len(dense_only),
        dense_only=dense_models,
        warnings=warnings,
        evaluations=pd.DataFrame(evaluations, columns=EVAL_COLUMNS).sort_values("path").reset_index(drop=True),
        n_launch_errors=launch_errors,
        skipped=skipped,
        interrupted=interrupted,
        unrecorded=unrecorded_runs(results_dir, SKIP_DIRS) if results_dir.is_dir() else [],
    )


def _pair_given_with_own(frame: pd.DataFrame) -> pd.DataFrame:
    """A run given dense.checkpoint takes the pairing key of a run of its setup and seed whose own dense stage made
    that model (by fingerprint): the two share their dense model, as runs of one config with their own stages do."""
    if frame.empty:
        return frame
    alias = {(r.setup, r.seed, r.dense_model): r.pair_setup for r in frame.itertuples(index=False)
             if r.own_dense_stage and r.dense_model}  # of the same seed: the seed's own dense model, not another's
    return frame.assign(pair_setup=[r.pair_setup if r.own_dense_stage else alias.get(
        (r.setup, r.seed, r.dense_model), r.pair_setup) for r in frame.itertuples(index=False)])


def is_tuning_run(path: Path) -> bool:
    """A run evaluated on ``validation_from_train`` (calibration), not on the task's dev split."""
    try:
        examples = json.loads(Path(path).read_text()).get("eval_examples") or {}
    except (OSError, ValueError):
        return False
    return isinstance(examples, dict) and "validation_from_train" in examples
