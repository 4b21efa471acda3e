"""The run directory: proving it writable, atomic folder writes, and a run's identity.

A run is identified by ``config_hash`` (config without seed/path/logging keys) plus its seed and the code
that made it (sdp/run/code.py); a completed ``metrics.json`` of the same config and code in the run
directory, or anywhere under ``output_root`` (sdp/sweep.py), means the run needs no recomputation."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from sdp.io import atomic_write, publish_tree, remove_dead_temporaries, write_json, writing
from sdp.models.inspect import changed_weights, safetensors_damage
from sdp.run import code
from sdp.run.env import config_hash
from sdp.run.launch import launcher_world_size
from sdp.run.nesting import is_run_folder, run_folder_above
from sdp.run.rank_notes import clear_rank_notes
from sdp.run.same_data import verify_completed_data


class RunDirError(OSError):
    """The run directory cannot be used (not writable, or it holds another config's run)."""


class ResumeRefusedError(RunDirError):
    """With resume=true, the run directory holds another config's run (unfinished or completed)."""


class RunHoldsDataError(RunDirError):
    """The run directory holds the data the run reads (sdp/sweep.py check_data_outside)."""


class RunInsideRunError(RunDirError):
    """The run directory is inside another run's folder (prepare_run_dir): refused, nothing recorded there."""


# ---------------------------------------------------------------------------------------- run dir
def prepare_run_dir(run_dir: str | Path) -> Path:
    """Create ``run_dir`` and prove it writable, before anything is loaded or trained. A folder inside another run's
    folder is refused: a resume=false there moved this run aside with that run's files, unnamed, and sdp-tables left
    it out (probe round 37, nr1; sdp-tables refuses an out_dir there, round 35)."""
    path = Path(run_dir)
    if (above := run_folder_above(path, itself=False)) is not None:
        raise RunInsideRunError(f"run directory {str(path)!r} is inside the run folder {str(above)!r} (its run.json): a "
                          "resume=false there would move this run aside with that run's files; nothing was run. Give "
                          "an output_dir outside it")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RunDirError(f"cannot create run directory {str(path)!r}: {err.strerror or err}; "
                          "set output_dir / output_root to a writable place") from err
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise RunDirError(f"run directory {str(path)!r} is not writable ({err.strerror or err}); nothing was run. "
                          "Set output_dir / output_root to a writable place") from err
    return path


def _fsync_tree(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling folder; when the block succeeds it replaces ``target`` by rename."""
    target = Path(target)
    with writing(target):  # a full disk (safetensors' own error too): one line naming the folder (sdp/io.py)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        try:
            yield tmp
            _fsync_tree(tmp)
            publish_tree(tmp)  # mkdtemp made it 0700: give it the modes the umask allows
            old = None
            if target.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
                os.replace(target, old / "x")
            os.replace(tmp, target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)  # its space back; the target's old version is untouched
            raise


# ------------------------------------------------------------------------------------ identity
def run_identity(cfg: Any) -> tuple[str, int]:
    """(config_hash, seed) exactly as metrics.json records them."""
    return config_hash(OmegaConf.to_container(cfg, resolve=True)), int(cfg.seed)


def resume_identity(cfg: Any) -> str:
    """The hash a checkpoint must match to be resumed: the config without path/logging keys (config_hash
    drops train keys that change how often things are written, so a resume may change them), with the seed."""
    container = OmegaConf.to_container(cfg, resolve=True)
    return config_hash({**container, "seed_": container.get("seed")})


def read_metrics(run_dir: str | Path) -> dict | None:
    path = Path(run_dir) / "metrics.json"
    try:  # a plain file only: a FIFO's read blocks for ever (issue 26)
        metrics = json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return None
    return metrics if isinstance(metrics, dict) else None  # a list: a traceback as run.json's (review of round 39)


def completed_metrics(run_dir: str | Path, cfg: Any) -> dict | None:
    """The metrics of a completed run of this config in ``run_dir``; None if there is none. A completed run of a
    *different* config there is an error (it would be mixed up or overwritten) unless ``resume=false``."""
    metrics = read_metrics(run_dir)
    if not metrics or metrics.get("status") != "completed" or not cfg.resume:
        return None
    if metrics.get("kind") == "eval":  # it said "a completed run of another config (config_hash None ...)" (round 27)
        raise ResumeRefusedError(f"run directory {str(run_dir)!r} holds an sdp-eval record (metrics.json \"kind\": "
                                 "\"eval\"), not a run: choose another output_dir")
    chash, seed = run_identity(cfg)
    if metrics.get("config_hash") == chash and missing_weights(run_dir) is not None:
        return None  # its weights are gone: not completed (set_aside_dead_run moved it aside before the run)
    if metrics.get("config_hash") != chash or metrics.get("seed") != seed:
        raise ResumeRefusedError(
            f"run directory {str(run_dir)!r} holds a completed run of another config (config_hash "
            f"{metrics.get('config_hash')}, seed {metrics.get('seed')}; this one is {chash}, seed {seed}). "
            f"{_differing_keys(run_dir, cfg)}Choose another output_dir, or resume=false to move the old run "
            "aside and start over"
        )
    if not same_world_size(metrics):
        raise ResumeRefusedError(
            f"run directory {str(run_dir)!r} holds a completed run of this config on "
            f"{recorded_world_size(metrics)} process(es); this launch has {launcher_world_size()}: the global batch "
            "(train.batch_size per process x processes) differs, and so would the result. Choose another "
            "output_dir, or resume=false to move the old run aside and start over"
        )
    if not code.same_code(metrics) and not _reuses_any_code(cfg):
        return None  # made by other code: not this command's result (set_aside_other_code moves it aside first)
    return metrics


# ------------------------------------------------------------------------- one run per folder
RUN_RECORD = "run.json"  # who this folder's run is: config, identity, data fingerprints
KEEP_ON_RESTART = (".sdp.lock",)  # the lock belongs to the run that is starting
PREVIOUS = "previous-"  # move_aside's folders: an older run of the folder, never a run of its own


def is_moved_aside(path: str | Path, root: str | Path) -> bool:
    """True when ``path`` (a file under ``root``) lies in a ``previous-<time>/`` folder: skip searches and
    reports leave such runs out."""
    return any(re.fullmatch(r"previous-\d{8}-\d{6}(-\d+)?", part)  # move_aside's; a user's previous-paper/ is runs
               for part in Path(path).relative_to(root).parts[:-1])



def move_aside(run_dir: str | Path) -> Path | None:
    """``resume=false``: move the previous run's files into ``previous-<time>/`` (never append to them)."""
    run_dir = Path(run_dir)
    old = [p for p in run_dir.iterdir() if p.name not in KEEP_ON_RESTART and not p.name.startswith(PREVIOUS)]
    if not old:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = run_dir / f"{PREVIOUS}{stamp}"
    n = 1
    while target.exists():
        target, n = run_dir / f"{PREVIOUS}{stamp}-{n}", n + 1
    target.mkdir()
    for p in old:
        os.replace(p, target / p.name)
    return target


# What a run writes as it trains: their presence says a run was here (run.json, .hydra and run.log alone do not).
RUN_OUTPUTS = ("trace.jsonl", "metrics.json", "model", "dense_model", "sparsity.json", "teacher_cache", "checkpoints")


def missing_weights(run_dir: str | Path) -> str | None:
    """What a completed record's ``model/`` lacks (config.json, a *.safetensors file whole as its header says, its
    tensors' bytes included, with the content the record's ``model_sha256`` names), or None when it is intact. A folder with no ``model/`` at all is a record kept without
    its weights (results/ trees keep only the records: .gitignore), and stands for its scores."""
    model = Path(run_dir) / "model"
    if not model.is_dir():
        return None
    if not (model / "config.json").is_file():
        return "model/config.json"
    weights = sorted(model.glob("*.safetensors"))
    if not weights:
        return "model/*.safetensors"
    for path in weights:
        if safetensors_damage(path) is not None:  # cut short (header or tensors), or not safetensors at all
            return f"model/{path.name}"
    # Whole, but not what the run wrote (replaced or edited after it): the record no longer vouches for model/.
    changed = changed_weights(model, (read_metrics(run_dir) or {}).get("model_sha256"))
    return f"model/{changed} (not the weights the run wrote: sha256 differs from metrics.json)" if changed else None


def run_started(run_dir: str | Path) -> bool:
    """Has a run started in this folder: its data and model loaded (run.json's ``precision``, recorded by the
    recipe's setup once the model is loaded), or any output written? A launch that failed before (a config
    error, data or a model that cannot be read) leaves only run.json, run.log and its failed metrics.json."""
    run_dir = Path(run_dir)
    return "precision" in (read_run_record(run_dir) or {}) or any(
        (run_dir / name).exists() for name in RUN_OUTPUTS if name != "metrics.json")


LAUNCH_ERROR_FILES = ("metrics.json", "error.txt", RUN_RECORD)  # what a launch that never started leaves


def clear_launch_error(run_dir: str | Path) -> bool:
    """Remove the record of a launch that stopped before its run started (failed: ``before_run``, sdp/sweep.py; or
    interrupted while loading), so the folder is reused as if fresh: no "dead run set aside", no previous-<time>/,
    and its run.json (maybe another config's, if output_dir was given) no longer refuses a resume. run.log stays
    (this launch appends to it). Called under the run's lock: what a killed launch left half-written goes too."""
    run_dir = Path(run_dir)
    clear_rank_notes(run_dir)  # an earlier launch's (sdp/run/rank_notes.py)
    remove_dead_temporaries(run_dir)  # and the half-written files of a launch killed as it wrote (sdp/io.py)
    metrics = read_metrics(run_dir) or {}
    if metrics.get("status") in ("interrupted", "killed"):  # stopped while loading: nothing trained, nothing to keep
        stopped_early = not any((run_dir / name).exists() for name in RUN_OUTPUTS if name != "metrics.json")
    else:
        stopped_early = metrics.get("status") == "failed" and metrics.get("before_run") is True and not run_started(
            run_dir)
    if not stopped_early:
        return False
    for name in LAUNCH_ERROR_FILES:
        with contextlib.suppress(FileNotFoundError):
            (run_dir / name).unlink()
    return True


def has_checkpoint(run_dir: Path) -> bool:
    return any((run_dir / "checkpoints").glob("*/state.json"))


def set_aside_dead_run(run_dir: str | Path, cfg: Any) -> Path | None:
    """A resume=true launch into a folder whose run left outputs but nothing to resume from (killed before its
    first checkpoint, failed, metrics.json deleted or cut short, a completed record whose model/ weights are gone):
    its files move to ``previous-<time>/`` as resume=false moves them, so nothing is appended to the old trace and
    model/ is not rewritten in place. Another config's run is left for the refusals (check_resumable)."""
    run_dir = Path(run_dir)
    record = read_run_record(run_dir)
    if record is not None and record.get("resume_identity") not in (None, resume_identity(cfg)):
        return None
    metrics = read_metrics(run_dir)
    if metrics and metrics.get("status") == "completed":
        if metrics.get("config_hash") != run_identity(cfg)[0] or missing_weights(run_dir) is None:
            return None  # another config's (refused later), or intact: completed_here returns it
    elif has_checkpoint(run_dir):
        return None  # the resume starts from it (and cuts the trace back to it)
    if not any((run_dir / name).exists() for name in RUN_OUTPUTS):
        return None
    return move_aside(run_dir)


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for k, v in node.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: node}


def config_differences(old: dict, new: dict, limit: int = 8) -> list[str]:
    """``key: old -> new`` for each result-relevant key that differs (paths and logging keys left out)."""
    from sdp.run.env import NON_IDENTITY_GROUP_KEYS, NON_IDENTITY_KEYS

    skip = {k for k in NON_IDENTITY_KEYS if k != "seed"} | {
        f"{group}.{k}" for group, keys in NON_IDENTITY_GROUP_KEYS.items() for k in keys}
    a, b = _flatten(old), _flatten(new)
    keys = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k) and k.split(".")[0] not in skip
                  and k not in skip and not k.startswith("hydra."))
    return [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in keys[:limit]] + (
        [f"... and {len(keys) - limit} more"] if len(keys) > limit else [])


def read_run_record(run_dir: str | Path) -> dict | None:
    try:
        record = json.loads((Path(run_dir) / RUN_RECORD).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None  # a list was an AttributeError traceback (round 39, ot1)


def recorded_world_size(metrics: dict) -> int:
    """How many processes a completed run trained on (1 for a record from before it was written)."""
    return int((metrics.get("distributed") or {}).get("world_size") or 1)


def same_world_size(metrics: dict) -> bool:
    """A completed run stands for this launch only on as many processes: the config's batch size is per
    process, so the global batch (and the result) changes with their number, which config_hash does not see."""
    return recorded_world_size(metrics) == launcher_world_size()


def completed_here(run_dir: str | Path, cfg: Any) -> dict | None:
    """This config's completed run in ``run_dir`` (its metrics) if computed on this run's data, else None; read only."""
    done = completed_metrics(run_dir, cfg)
    if done is not None:
        verify_completed_data(done, cfg, f"the completed run in {str(run_dir)!r}",
                              (read_run_record(run_dir) or {}).get("model_folders"))
    return done


def _differing_keys(run_dir: str | Path, cfg: Any) -> str:
    """'Differing keys: ...' from the folder's run.json (a record written before run.json existed has none to
    compare): a path key, such as a dense.checkpoint under another checkout, is told apart from a changed setting."""
    record = read_run_record(run_dir)
    if record is None or "config" not in record:
        return ""
    diff = config_differences(record["config"], OmegaConf.to_container(cfg, resolve=True))
    return f"Differing keys: {'; '.join(diff) or 'none outside the identity'}. "


def check_resumable(run_dir: str | Path, cfg: Any) -> None:
    """Refuse (touching nothing, run.json included) to continue another config's unfinished run, naming the keys
    that differ; a completed run is completed_here's (it returns this config's and refuses another's)."""
    record = read_run_record(run_dir)
    metrics = read_metrics(run_dir) or {}
    if metrics.get("status") == "completed":
        return  # completed_here decides, next: another config's completed run is refused there
    # Another tool's run.json (no config) was "an unfinished run of another config" (probe round 39, ot1).
    if (Path(run_dir) / RUN_RECORD).is_file() and not is_run_folder(run_dir):
        raise ResumeRefusedError(f"run directory {str(run_dir)!r} holds a run.json that is not sdp's (no config with "
                                 "its config_hash: another tool's record?); this run's would replace it: choose another "
                                 "output_dir")
    if record is not None and record.get("resume_identity") != resume_identity(cfg):
        failed = metrics.get("status") == "failed"  # not "unfinished ... would mix two runs" (probe round 23, c07b)
        raise ResumeRefusedError(
            f"run directory {str(run_dir)!r} holds " + (f"a failed run of another config ({metrics.get('error_type') or 'an error'}"
            "). " if failed else "an unfinished run of another config; resuming it would mix "
            "two runs. ") + f"{_differing_keys(run_dir, cfg)}Choose another output_dir, or resume=false to move the "
            "old run aside and start over")


def write_run_record(run_dir: str | Path, cfg: Any, data: dict[str, str] | None = None, **fields: Any) -> None:
    """The run's identity, written once the folder is known to be this run's (after the lock and checks); ``data``
    its splits' fingerprints, ``fields`` more keys (fingerprint.run_data_keys)."""
    record = read_run_record(run_dir) or {}
    chash, seed = run_identity(cfg)
    if code.recorded_code(record) and not code.same_code(record):  # resumed with reuse=any_code: keep the trail
        record["earlier_code"] = [*record.get("earlier_code", []), record["code"]]
    record.update({"config_hash": chash, "seed": seed, "resume_identity": resume_identity(cfg),
                   "code": code.code_identity(), "config": OmegaConf.to_container(cfg, resolve=True)})
    if data is not None:
        record["data_fingerprint"] = data
    record.update(fields)
    write_json(Path(run_dir) / RUN_RECORD, record)
    hydra_dir = Path(run_dir) / ".hydra"  # our own copy: Hydra's is switched off (hydra.output_subdir: null)
    text = OmegaConf.to_yaml(cfg)
    hydra_dir.mkdir(exist_ok=True)
    atomic_write(hydra_dir / "config.yaml", lambda p: p.write_text(text))


def record_fields(run_dir: str | Path, **fields: Any) -> None:
    """Add ``fields`` to the folder's run.json (main process only), keeping what it holds."""
    record = read_run_record(run_dir) or {}
    record.update(fields)
    write_json(Path(run_dir) / RUN_RECORD, record)


# ------------------------------------------------------------------------------ code identity
# A run's identity is its config and the code that made it (sdp/run/code.py). These checks run after the
# config checks above; reuse=any_code (a top-level key) accepts a run made by other code.
def _reuses_any_code(cfg: Any) -> bool:
    return cfg.get("reuse", "same_code") == "any_code"


def other_code_reason(run_dir: str | Path, cfg: Any) -> str | None:
    """Why this config's completed run in ``run_dir`` is not this command's result: it was made by other code
    (None when it was made by this code, when reuse=any_code, or when the folder holds no completed run of
    this config: another config's is completed_metrics' refusal)."""
    metrics = read_metrics(run_dir)
    if not metrics or metrics.get("status") != "completed" or not cfg.resume or _reuses_any_code(cfg):
        return None
    chash, seed = run_identity(cfg)
    if metrics.get("config_hash") != chash or metrics.get("seed") != seed or not same_world_size(metrics):
        return None
    if code.same_code(metrics):
        return None
    return (f"re-running {str(run_dir)!r}: its completed run of this config was made by {code.describe(metrics)}, "
            f"this is {code.describe({'code': code.code_identity()})}; its files move to {PREVIOUS}<time>/ "
            "(reuse=any_code returns the old result instead)")


def set_aside_other_code(run_dir: str | Path, cfg: Any) -> str | None:
    """Move aside (as resume=false does) this config's completed run made by other code; the line saying so."""
    reason = other_code_reason(run_dir, cfg)
    if reason is None:
        return None
    moved = move_aside(run_dir)
    return f"{reason}: moved to {moved}"


def check_same_code(run_dir: str | Path, cfg: Any) -> None:
    """Refuse to resume an unfinished run started by other code: the result would mix two versions of the code.
    (Restarting silently would throw the old run's training away; one override says which is meant.)"""
    record = read_run_record(run_dir)
    metrics = read_metrics(run_dir) or {}
    if record is None or metrics.get("status") == "completed" or _reuses_any_code(cfg) or code.same_code(record):
        return
    raise ResumeRefusedError(
        f"run directory {str(run_dir)!r} holds an unfinished run started by {code.describe(record)}; this is "
        f"{code.describe({'code': code.code_identity()})}: resuming it would mix code. reuse=any_code resumes it "
        "anyway, resume=false starts it over (the old files move to previous-<time>/)"
    )
