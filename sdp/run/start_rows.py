"""The rows the model a run starts from was fine-tuned on, against the rows the run scores: a dev file of rows a
dense.checkpoint or model.pretrained had trained on was scored as held-out, unsaid, while sdp-eval of the run's model
on the same file said them (probe round 36, dv1, dv2); a tuning run from a model fine-tuned on every row scored its
held-out rows as held-out (mpc1). Read from the start folder's ROW_KEYS_FILE (texts, and token ids)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from sdp.data.fingerprint import ROW_KEYS_FILE, row_digests, row_hashes_read
from sdp.data.loading import VALIDATION_FROM_TRAIN
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


def warn_rows_started_from(cfg: Any, raw: Any, fields: Any, tokenized: Any = None, token_ids: Any = ()) -> None:
    """Say the eval rows each start folder was fine-tuned on (the same text up to text_key, or the same token ids where
    ``tokenized`` is given), less this run's own training rows (said by the data checks; ``token_ids``: theirs);
    refuse a tuning run's held-out rows its model.pretrained trained on, as a dense.checkpoint of another carve is."""
    train = raw.get("train")
    fields = [f for f in fields if train is not None and f in train.column_names]
    tuning = cfg.task.get("validation_from_train") if hasattr(cfg, "task") else None
    own: Any = None  # this run's training rows' text hashes, made at the first hit (seconds on 400k rows)
    for key, folder in start_folders(cfg) if fields else ():
        hashes, why_not = row_hashes_read(folder)
        if hashes is None:
            if tuning and key == "model.pretrained":
                _check_unhashed(cfg, folder, raw, why_not)
            continue
        for split, rows in raw.items():
            if split == "train" or not len(rows) or not all(f in rows.column_names for f in fields):
                continue
            texts = row_digests(rows, fields)
            hit = np.isin(texts, hashes)
            tokens = tokenized[split] if tokenized is not None and split in tokenized else None
            if tokens is not None and len(tokens) == len(rows):
                tokens = token_digests(tokens)  # read alike: cut alike, or what the tokenizer sets aside
                hit |= np.isin(tokens, hashes)
            else:
                tokens = None
            if hit.any():  # this run's own rows, by text and by token ids, are said by its data checks (review)
                own = row_digests(train, fields) if own is None else own
                hit &= ~np.isin(texts, own)
                if tokens is not None:
                    hit &= ~np.isin(tokens, np.asarray(token_ids, dtype="<u8"))
            if not (found := int(hit.sum())):
                continue
            shown = "; ".join(" | ".join(_cut(rows[int(i)][f]) for f in fields) for i in np.flatnonzero(hit)[:3])
            if split == VALIDATION_FROM_TRAIN and key == "model.pretrained":
                raise ConfigError(f"model.pretrained {str(folder)!r} was fine-tuned on {found} of the {len(rows)} "
                                  f"held-out rows this tuning run scores (by its {ROW_KEYS_FILE}; e.g. {shown}): its "
                                  "held-out score would be partly a training score; drop those rows from the training "
                                  "data, or start from a model that never read them")
            log.warning("%s=%r was fine-tuned on %d of the %d rows of split %s (its %s; the same %s, up to letter "
                        "case, spacing, accents, invisible characters and Unicode form, or the same token ids; e.g. "
                        "%s): their score is partly a training score of the model this run starts from; score rows it "
                        "never read", key, str(folder), found, len(rows), split, ROW_KEYS_FILE, ", ".join(fields),
                        shown)


def _cut(text: Any, width: int = 40) -> str:
    """A row's text for a message: its repr, cut to ``width`` characters with an ellipsis where longer."""
    text = str(text)
    return repr(text if len(text) <= width else text[:width] + "…")


def _check_unhashed(cfg: Any, folder: Path, raw: Any, why_not: str | None) -> None:
    """A tuning run's model.pretrained without a readable ROW_KEYS_FILE: its held-out rows cannot be checked by row
    (a copy of a model fine-tuned on every row ran unchecked, 68.00 on 50 held-out rows it had trained on: review of
    round 36). Refused where its config.json records training rows that are exactly this task's rows before the carve
    (held-out rows included); said where it records this task's other rows (a sample may hold them); a model of
    another task or file, or of no record (a Hub model), is taken as given."""
    import datasets

    from sdp.data.fingerprint import ROWS_KEY, rows_fingerprint
    from sdp.models.inspect import read_config

    recorded = (read_config(folder) or {}).get("sdp_training_rows")
    if not isinstance(recorded, dict) or recorded.get("task.name") != cfg.task.get("name"):
        return
    missing = why_not or f"{folder / ROW_KEYS_FILE} is not there"
    parts = [raw[s] for s in ("train", VALIDATION_FROM_TRAIN) if s in raw]
    whole = rows_fingerprint(datasets.concatenate_datasets(parts)) if len(parts) == 2 else None
    if whole is not None and recorded.get(ROWS_KEY) == whole:
        raise ConfigError(f"model.pretrained {str(folder)!r} was fine-tuned on every row of this tuning run's "
                          f"training file, its held-out rows too (its config.json's rows fingerprint {whole}), and "
                          f"{missing}: its held-out score would be a training score; start from a model that never "
                          "read them")
    log.warning("model.pretrained %r was fine-tuned on other rows of task %s (its config.json), and %s: this tuning "
                "run's held-out rows cannot be checked against them (a sample of this file may hold them); copy its "
                "run's %s beside it to check", str(folder), cfg.task.get("name"), missing, ROW_KEYS_FILE)
