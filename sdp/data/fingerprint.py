"""Data fingerprints: which data a run saw, per split, so that a resume or a skip on other data is refused.

A split's fingerprint hashes the rows the run trains or evaluates on (after ``max_*_samples``), so
the same files give the same fingerprint wherever they lie, and a flipped label changes it. Hub data
is hashed the same way, after download, so a new Hub revision with other rows is caught too. Whether a completed
run's metrics match this run's data (which needs the run's task resolved) is sdp/run/same_data.py's.
"""

from __future__ import annotations

from typing import Any


class DataChangedError(ValueError):
    """The data differs from what a run being resumed or skipped was computed on."""


def split_fingerprints(raw: Any) -> dict[str, str]:
    """{split: 16 hex digits} of a DatasetDict of raw (untokenised) rows."""
    from sdp.data.tokenize import dataset_content_hash

    return {split: dataset_content_hash(ds)[:16] for split, ds in sorted(raw.items())}


# Keys of a model folder's content beside the splits' (sdp/run/same_data.py: dense.checkpoint, a teacher, a local
# model.pretrained or model.tokenizer); a record from before they were kept has none, and is not compared on them.
INPUT_PREFIX = "model:"


REFERENCE_MASK_KEY = "prune.reference_mask"
GONE_ALLOWED = f"{INPUT_PREFIX}{REFERENCE_MASK_KEY}"  # the reference mask's fingerprint: not compared once gone


def changed_splits(old: dict[str, str] | None, new: dict[str, str]) -> list[str]:
    """Splits (and model inputs) whose fingerprint differs (a split only one side has counts as changed)."""
    if not old:
        return []  # a record from before fingerprints existed: nothing to compare
    keys = old.keys() | {k for k in new if not k.startswith(INPUT_PREFIX)}
    # a reference mask gone since is no other mask: a run may start without one (its overlap then unrecorded), and a
    # completed run whose partner's folder was cleaned up was refused "another mask" (review of round 55's fixes)
    keys -= {GONE_ALLOWED} - new.keys()
    return sorted(s for s in keys if old.get(s) != new.get(s))


def check_same_data(old: dict[str, str] | None, new: dict[str, str], what: str,
                    folders: tuple[dict[str, str] | None, dict[str, str]] | None = None) -> None:
    """``folders``: the model folders the run read then (run.json ``model_folders``, None in a record from before
    it) and reads now, by key: a `~/dm` read under another home was said to be "the same path" (review of session
    24's fixes)."""
    changed = changed_splits(old, new)
    inputs = [s.removeprefix(INPUT_PREFIX) for s in changed if s.startswith(INPUT_PREFIX)]
    if inputs:
        detail = ", ".join(f"{k} ({(old or {}).get(INPUT_PREFIX + k)} -> {new.get(INPUT_PREFIX + k)})" for k in inputs)
        then, now = folders or (None, {})
        # a model folder's tokenizer ("<group>.<key>.tokenizer", and its other files ".tokenizer_extra": probe round
        # 55, pm_stm) is said under its folder's key; model.tokenizer (one dot: a key of its own) is not cut to
        # "model" (probe round 54, tk_changed)
        keys = sorted({k.removesuffix(".tokenizer_extra").removesuffix(".tokenizer") if k.count(".") > 1 else k
                       for k in inputs})
        moved = {k for k in keys if (then or {}).get(k) and now.get(k) and then[k] != now[k]}
        # prune.reference_mask is a mask file, not a model's weights (probe round 55, rm_skipfile)
        how = [f"{k} read from {then[k]!r} then, from {now[k]!r} now" if k in moved else f"{k + ': ' if moved else ''}"
               f"the same path, {'another mask' if k == 'prune.reference_mask' else 'other weights, config or tokenizer'}"
               for k in keys]
        raise DataChangedError(
            f"{what} was computed from another model folder: the content of {detail} changed since ("
            f"{'; '.join(dict.fromkeys(how))}); resume=false to run again from it, or point the key at the folder the "
            "run used"
        )
    if changed:
        detail = ", ".join(f"{s} ({(old or {}).get(s)} -> {new.get(s)})" for s in changed)
        raise DataChangedError(
            f"{what} was computed on other data: split {detail} changed; "
            "check data_dir / SDP_DATA_DIR, or resume=false to run again on this data"
        )


# config.json ``sdp_training_rows`` (sdp/training_rows.py) of a tuning run's model also holds the fingerprint of the
# rows its carve left for training: the carve's keys alone let sdp-eval and a tuning run's dense.checkpoint take a
# training file with the same rows in another order, whose "held-out" rows were 10 of 16 trained on (probe round 22).
TRAINED_ROWS_KEY = "train_fingerprint"


# ... and of the same rows in any order (``train_rows``, also in run.json): a file of the same rows shuffled was "other
# rows" by the ordered fingerprint, and a dense.checkpoint fine-tuned on it warned of as a model of other data.
ROWS_KEY = "train_rows"


def rows_fingerprint(ds: Any) -> str:
    """16 hex digits of a split's rows whatever their order (its columns by name and features, less ``idx``, each
    row's position)."""
    import hashlib
    import json

    import numpy as np
    import pandas as pd

    df = ds.to_pandas().drop(columns=["idx"], errors="ignore")
    df = df[sorted(df.columns)]
    features = {k: v for k, v in ds.features.to_dict().items() if k != "idx"}  # class names and types, as ordered
    h = hashlib.sha256(json.dumps(features, sort_keys=True).encode())
    if len(df):
        h.update(np.sort(pd.util.hash_pandas_object(df, index=False).to_numpy()).tobytes())
    return h.hexdigest()[:16]


FILES_KEY = "data_files"  # run.json: a custom task's files by content (custom.file_digests)


def run_data_keys(cfg: Any, raw: Any) -> dict[str, Any]:
    """run.json's keys beside the splits' fingerprints: the training rows in any order (ROWS_KEY) and, for task=custom,
    its local files by content (FILES_KEY): claims.md named a dataset by its files' names, so two files of one name
    in two folders were one dataset (probe round 33, Left)."""
    out: dict[str, Any] = {ROWS_KEY: rows_fingerprint(raw["train"])} if "train" in raw else {}
    if cfg.task.get("name") == "custom":
        from sdp.data.custom import file_digests

        out[FILES_KEY] = file_digests(cfg.task)
    return out


def same_rows(recorded: dict[str, Any] | None, fingerprint: str | None, rows: str | None) -> bool:
    """The training rows of a record (config.json sdp_training_rows, or run.json's keys) are these: the same rows in
    the same order (``fingerprint``) or in another (``rows``: rows_fingerprint), where it holds the second."""
    recorded = recorded if isinstance(recorded, dict) else {}
    return recorded.get(TRAINED_ROWS_KEY) == fingerprint or bool(rows and recorded.get(ROWS_KEY) == rows)


def trained_rows_error(config: dict[str, Any] | None, fingerprint: str | None, rows: str | None = None) -> str | None:
    """Why a model (its config.json ``config``) was not trained on the training rows this carve leaves (their
    ``fingerprint``, and ``rows`` in any order), or None (the same rows, or nothing recorded: a model saved before
    the key, or from elsewhere)."""
    kept = (config or {}).get("sdp_training_rows")
    recorded = kept.get(TRAINED_ROWS_KEY) if isinstance(kept, dict) else None
    if not recorded or not fingerprint or same_rows(kept, fingerprint, rows):
        return None
    # (a carve of the same rows shuffled keeps other rows for training: the file's rows may be the same ones)
    return (f"its run trained on other rows than the ones this carve leaves for training (fingerprint {recorded} "
            f"there, {fingerprint} here: the training file holds other rows, or the same in another order, which "
            "the carve splits otherwise), so the "
            "rows held out here are not its run's and may include rows it trained on; give its run's training file "
            "(or data_dir)")


# Each training row's texts by their text_key (sdp/data/file_scan.py), hashed to 8 bytes, sorted: written beside a
# run's record and into its model/, so sdp-eval can say which scored rows a model trained on wherever the folder
# goes, without the training file (it read and compared the whole file, 21.6 s for 400k rows, and only while the
# model sat in its run folder: round 33, Left). Raw little-endian uint64, read with numpy (nothing unpickled), after an
# 8-byte header: ROW_KEYS_MAGIC and the text key's version (file_scan.TEXT_KEY_VERSION), as keys of another are not
# these rows' keys.
ROW_KEYS_FILE = "sdp_training_rows.u64"
ROW_KEYS_MAGIC = b"sdpk"


def row_digests(ds: Any, fields: Any) -> Any:
    """The 8-byte hash of each row's texts (``fields``, as text_key reads them), in row order."""
    import hashlib

    import numpy as np

    from sdp.data.file_scan import text_key

    keys = ("\x1f".join(map(text_key, texts)) for texts in zip(*(ds[f] for f in fields)))  # \x1f: text_key drops it
    return np.frombuffer(b"".join(hashlib.blake2b(k.encode(), digest_size=8).digest() for k in keys), dtype="<u8")


def write_row_hashes(folder: Any, ds: Any, fields: Any, more: Any = ()) -> None:
    """ROW_KEYS_FILE of ``ds``'s rows (their sorted unique hashes, with the hashes ``more``: the rows of the model a
    run starts from) in ``folder``; where no text field is in ``ds``, none (an older one there is removed)."""
    from pathlib import Path

    import numpy as np

    from sdp.io import atomic_write

    fields = [f for f in fields if f in ds.column_names] if ds is not None else []
    if not fields:
        (Path(folder) / ROW_KEYS_FILE).unlink(missing_ok=True)
        return
    from sdp.data.file_scan import TEXT_KEY_VERSION

    data = ROW_KEYS_MAGIC + TEXT_KEY_VERSION.to_bytes(4, "little")
    data += np.unique(np.concatenate([row_digests(ds, fields), *more])).astype("<u8").tobytes()
    atomic_write(Path(folder) / ROW_KEYS_FILE, lambda tmp: tmp.write_bytes(data))


# The chance that a whole file of uniform hashes is taken for a cut one (row_hashes_read): its largest below the bound.
# Only from 64 hashes (a bound of 72%): a copy interrupted at a 4 KiB block keeps 511, and a few hashes tell nothing.
_WHOLE_TOP = 1e-9


def row_hashes_read(folder: Any) -> tuple[Any, str | None]:
    """(the hashes in ``folder``'s ROW_KEYS_FILE, None) where this sdp reads them; (None, why not) where the file is
    there but of another text key version, or without one, damaged, not the count config.json records, or, where it
    records none, looking cut short (only its smallest hashes); (None, None) where there is none."""
    from pathlib import Path

    import numpy as np

    from sdp.data.file_scan import TEXT_KEY_VERSION

    path = Path(folder) / ROW_KEYS_FILE
    try:
        if not path.is_file():
            return None, None
        data = path.read_bytes()
    except OSError as err:
        return None, f"{path} could not be read ({err.strerror or err})"
    if len(data) <= 8:  # emptied, or its header only: read as no file, or as a model of no rows (round 36, hc2, hc3)
        return None, f"{path} is damaged ({len(data)} bytes: {'no header' if not data else 'no row'})"
    if data[:4] != ROW_KEYS_MAGIC:
        return None, f"{path} was written without a text key version (an older sdp's file, or not one)"
    if len(data) % 8:  # its header is whole: cut short or damaged, not an older file (round 35, hs1)
        return None, f"{path} is damaged ({len(data)} bytes, not a whole number of 8-byte hashes)"
    if (version := int.from_bytes(data[4:8], "little")) != TEXT_KEY_VERSION:
        return None, f"{path} holds rows keyed by text key version {version} (this sdp keys by {TEXT_KEY_VERSION})"
    # cut at a whole hash (an interrupted copy at 4 KiB) it read as fewer rows: 32 of 40 said (round 36, hc1, hc4)
    if (recorded := _recorded_hashes(Path(folder))) and recorded != (found := row_hashes_record(Path(folder)) or {}):
        count = len(data) // 8 - 1  # of the same count, another model's file: "(1200 hashes; ... records 1200)" (round 37, hr1)
        why = (f"{count} hashes; its config.json records {recorded.get('count')}" if count != recorded.get("count")
               else f"{count} hashes, as its config.json records, but not the ones it records: blake2b "
                    f"{str(found.get('blake2b'))[:12]} here, {str(recorded.get('blake2b'))[:12]} recorded: another "
                    "folder's file?")
        return None, f"{path} is damaged or replaced ({why}; copy the model folder's own {ROW_KEYS_FILE} back)"
    hashes = np.frombuffer(data, dtype="<u8", offset=8)
    if not recorded and len(hashes) >= 64 and (top := float(hashes.max()) / 2.0**64) < (
            bound := _WHOLE_TOP ** (1 / len(hashes))):
        # a folder recording no count (saved before it): a copy cut at a whole hash holds only the smallest hashes
        # of a sorted file (session 18, Left); n uniform hashes all fall below ``bound`` but once in 10^9
        return None, (f"{path} looks cut short ({len(hashes)} hashes, all in the lowest {top:.1%} of the hash range, "
                      f"where a whole file's largest is above {bound:.1%} but once in 10^9)")
    return hashes, None


ROW_HASHES_KEY = "row_hashes"  # config.json sdp_training_rows: the count and digest of the folder's ROW_KEYS_FILE


def row_hashes_record(folder: Any) -> dict[str, Any] | None:
    """{"count", "blake2b"} of ``folder``'s ROW_KEYS_FILE (its hashes, after the header), or None where it has none:
    recorded in the config.json of the model folders a run saves, so a copy cut short is known (round 36, hc1)."""
    import hashlib
    from pathlib import Path

    try:
        data = (Path(folder) / ROW_KEYS_FILE).read_bytes()
    except OSError:
        return None
    return {"count": max(len(data) - 8, 0) // 8, "blake2b": hashlib.blake2b(data[8:], digest_size=8).hexdigest()}


def recorded_training_rows(folder: Any) -> dict[str, Any] | None:
    """The ``sdp_training_rows`` record a model folder's config.json holds (its sample, carve and fingerprints), or
    None where it holds none (not an sdp model, or no config.json)."""
    import json
    from pathlib import Path

    try:
        rows = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8")).get("sdp_training_rows")
    except (OSError, ValueError, AttributeError):
        return None
    return rows if isinstance(rows, dict) else None


def _recorded_hashes(folder: Any) -> dict[str, Any] | None:
    """The ROW_HASHES_KEY a model folder's config.json records, or None."""
    recorded = (recorded_training_rows(folder) or {}).get(ROW_HASHES_KEY)
    return recorded if isinstance(recorded, dict) else None


def read_row_hashes(folder: Any) -> Any:
    """The hashes in ``folder``'s ROW_KEYS_FILE (a model's, for sdp-eval), or None: none, or none this sdp reads
    (said: the scored rows are then compared by the older checks)."""
    import logging

    hashes, why_not = row_hashes_read(folder)
    if why_not:
        logging.getLogger("sdp").warning("sdp-eval: %s, not read: the scored rows are compared with the model's "
                                         "training rows by the older checks, where a training file is at hand", why_not)
    return hashes


def rows_among(ds: Any, fields: Any, hashes: Any, but: Any = None) -> list[int]:
    """The rows of ``ds`` (counted from 1) whose texts hash to one of ``hashes`` (a ROW_KEYS_FILE's), less those that
    are rows of ``but`` (a split with the same fields, whose rows are said otherwise), where given."""
    import numpy as np

    fields = [f for f in fields if f in ds.column_names]
    if not fields or not len(ds):
        return []
    digests = row_digests(ds, fields)
    hit = np.isin(digests, hashes, assume_unique=False)
    if hit.any() and but is not None and len(but) and all(f in but.column_names for f in fields):  # only to drop
        hit &= ~np.isin(digests, row_digests(but, fields))
    return [int(i) + 1 for i in np.flatnonzero(hit)]
