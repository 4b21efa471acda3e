"""The rows the model a run starts from was fine-tuned on, against the rows the run scores: a dev file of rows a
dense.checkpoint or model.pretrained had trained on was scored as held-out, unsaid, while sdp-eval of the run's model
on the same file said them (probe round 36, dv1, dv2); a tuning run from a model fine-tuned on every row scored its
held-out rows as held-out (mpc1). Read from the start folder's ROW_KEYS_FILE (texts, and token ids)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from sdp.data.fingerprint import (
    ROW_KEYS_FILE,
    TRAINED_ROWS_KEY,
    recorded_training_rows,
    row_digests,
    row_hashes_read,
)
from sdp.data.loading import VALIDATION_FROM_TRAIN, in_file
from sdp.data.rows_kept import as_read
from sdp.data.token_repeats import token_digests
from sdp.errors import ConfigError

log = logging.getLogger("sdp")

# The model folders whose weights a run starts from: the rows they were fine-tuned on are in the model it makes too
# (a prune-only run of a dense.checkpoint recorded its own rows only, and sdp-eval of the checkpoint's training rows
# said nothing: review). A teacher's are not: the student learns from its outputs on this run's rows.
STARTS_FROM = (("dense", "checkpoint"), ("model", "pretrained"))


def start_folders(cfg: Any) -> list[tuple[str, Path]]:
    """(config key, folder) of each STARTS_FROM folder ``cfg`` gives."""
    found = []
    for group, key in STARTS_FROM:
        node = cfg.get(group) if hasattr(cfg, "get") else None
        value = node.get(key) if node is not None and hasattr(node, "get") else None
        if value:
            found.append((f"{group}.{key}", Path(str(value)).expanduser()))
    return found


def warn_rows_started_from(cfg: Any, raw: Any, fields: Any, tokenized: Any = None, token_ids: Any = (),
                           file_rows: Any = None) -> None:
    """Say the eval rows each start folder was fine-tuned on (the same text up to text_key, or the same token ids where
    ``tokenized`` is given), less this run's own training rows (said by the data checks; ``token_ids``: theirs);
    refuse a tuning run's held-out rows its model.pretrained trained on, as a dense.checkpoint of another carve is.
    Rows are named as rows of their file (``file_rows``: LoadedSplits.file_rows, where a split is sampled or carved)."""
    train = raw.get("train")
    fields = [f for f in fields if train is not None and f in train.column_names]
    tuning = cfg.task.get("validation_from_train") if hasattr(cfg, "task") else None
    own: Any = None  # this run's training rows' text hashes, made at the first hit (seconds on 400k rows)
    digests: dict[str, tuple[Any, Any]] = {}  # split -> (text, token) hashes: made once for every start folder
    for key, folder in start_folders(cfg) if fields else ():
        hashes, why_not = row_hashes_read(folder)
        if hashes is None:
            if tuning and key == "model.pretrained":
                _check_unhashed(cfg, folder, raw, why_not, fields)
            continue
        for split, rows in raw.items():
            if split == "train" or not len(rows) or not all(f in rows.column_names for f in fields):
                continue
            if split not in digests:
                tokens = tokenized[split] if tokenized is not None and split in tokenized else None
                digests[split] = (row_digests(rows, fields),  # with token ids: read alike, cut alike or set aside
                                  token_digests(tokens) if tokens is not None and len(tokens) == len(rows) else None)
            texts, tokens = digests[split]
            hit = np.isin(texts, hashes) | (np.isin(tokens, hashes) if tokens is not None else False)
            if hit.any():  # this run's own rows, by text and by token ids, are said by its data checks (review)
                own = row_digests(train, fields) if own is None else own
                hit &= ~np.isin(texts, own)
                if tokens is not None:
                    hit &= ~np.isin(tokens, np.asarray(token_ids, dtype="<u8"))
            if not (found := int(hit.sum())):
                continue
            # by row, as the data checks name theirs: counted, the rows could not be found (probe round 36, Left); a
            # sample's or carve's by their file rows, in file order, and the examples are the first rows named
            hits = np.flatnonzero(hit)
            if split in (file_rows or {}):
                hits = hits[np.argsort(np.asarray(file_rows[split])[hits], kind="stable")]
            where = as_read(split, file_rows, split == VALIDATION_FROM_TRAIN) or f" of split {split} as read"
            named = f"rows {in_file([int(i) + 1 for i in hits], split, file_rows)[:5]}{where}, counted from 1"
            shown = "; ".join(" | ".join(_cut(rows[int(i)][f]) for f in fields) for i in hits[:3])
            if split == VALIDATION_FROM_TRAIN and key == "model.pretrained":
                raise ConfigError(f"model.pretrained {str(folder)!r} was fine-tuned on {found} of the {len(rows)} "
                                  f"held-out rows this tuning run scores (by its {ROW_KEYS_FILE}; {named}; e.g. "
                                  f"{shown}): its held-out score would be partly a training score; drop those rows "
                                  "from the training data, or start from a model that never read them")
            log.warning("%s=%r was fine-tuned on %d of the %d rows of split %s (its %s; the same %s, up to letter "
                        "case, spacing, accents, invisible characters and Unicode form, or the same token ids; %s; "
                        "e.g. %s): their score is partly a training score of the model this run starts from; score "
                        "rows it never read", key, str(folder), found, len(rows), split, ROW_KEYS_FILE,
                        ", ".join(fields), named, shown)


def _cut(text: Any, width: int = 40) -> str:
    """A row's text for a message: its repr, cut to ``width`` characters with an ellipsis where longer."""
    text = str(text)
    return repr(text if len(text) <= width else text[:width] + "…")


def _check_unhashed(cfg: Any, folder: Path, raw: Any, why_not: str | None, fields: list[str]) -> None:
    """A tuning run's model.pretrained without a readable ROW_KEYS_FILE: a copy of a model fine-tuned on every row ran
    unchecked, 68.00 on 50 held-out rows it had trained on (review of round 36). Its training rows are rebuilt from
    this run's training file by its config.json's record (sample and carve), where their fingerprint says they are
    that file's (in the model's own class order too), and held-out rows among them are refused; a model of another task,
    or of no record (a Hub model), is taken as given: nothing says it read these rows. One of this task whose rows
    cannot be rebuilt (Hub data; another file: a transfer; this one edited since) runs, said to be unchecked."""
    from sdp.crosslingual import resolve_run_task
    from sdp.data.custom import repeated_rows
    from sdp.data.loading import resolve_data_dir
    from sdp.data.scored_rows import rebuilt_training_rows
    from sdp.data.sources import FILE_SOURCES
    from sdp.data.tasks import DataError
    from sdp.errors import warnings_held_back
    from sdp.models.inspect import label_names, read_config

    recorded = recorded_training_rows(folder)
    held = raw.get(VALIDATION_FROM_TRAIN)
    if not isinstance(recorded, dict) or recorded.get("task.name") != cfg.task.get("name") or held is None:
        return
    with warnings_held_back():  # a custom task's files are read again: their warnings are said already (review)
        task, root = resolve_run_task(cfg), resolve_data_dir(cfg.get("data_dir"))
    def unchecked(why: str) -> None:  # said, as nothing else checks it (session 18, Left; review of round 38's fixes)
        log.warning("model.pretrained %r: %s, and its training rows could not be rebuilt from this run's training "
                    "file (%s), so whether it was fine-tuned on rows this tuning run holds out is not checked",
                    str(folder), why_not or f"{folder / ROW_KEYS_FILE} is not there", why)

    if root is None and task.source not in FILE_SOURCES:  # Hub data: no local file to rebuild its rows from (review)
        return unchecked("Hub data: no local training file")
    try:
        train = rebuilt_training_rows(task, root, recorded, label_names(read_config(folder) or {}))
    except (DataError, KeyError, TypeError, ValueError) as err:  # a source or record it cannot rebuild from
        return unchecked(str(err) if isinstance(err, DataError) else f"its record does not rebuild: {err!r}")
    if train is None:  # another file, or this one edited since
        return unchecked((f"its config.json records rows of fingerprint {recorded[TRAINED_ROWS_KEY]}: another file of "
                          "the task, a transfer, or this one edited since") if recorded.get(TRAINED_ROWS_KEY) else
                         "its config.json records no fingerprint of its training rows (an older sdp's folder)")
    if rows := repeated_rows(train, held, fields):
        raise ConfigError(f"model.pretrained {str(folder)!r} was fine-tuned on {len(rows)} of the {len(held)} held-out "
                          "rows this tuning run scores (its training rows, rebuilt from this run's training file by "
                          f"its config.json's record; {why_not or f'{folder / ROW_KEYS_FILE} is not there'}): its "
                          "held-out score would be partly a training score; start from a model that never read them")
