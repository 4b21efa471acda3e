"""What a run records of its data once it is read: the splits' fingerprints (and the model folders it reads) in
run.json, checked against an unfinished run's on resume, and its training rows row by row (ROW_KEYS_FILE), which
model/ and dense_model/ take a copy of (sdp/run_summary.py save_model_dir) for sdp-eval."""

from __future__ import annotations

import logging
from typing import Any

from sdp.data.fingerprint import (
    ROW_KEYS_FILE,
    ROWS_KEY,
    TRAINED_ROWS_KEY,
    check_same_data,
    recorded_training_rows,
    row_hashes_read,
    run_data_keys,
    split_fingerprints,
    write_row_hashes,
)
from sdp.run.rundir import read_run_record, write_run_record
from sdp.run.same_data import input_fingerprints, model_folders
from sdp.run.start_rows import start_folders, warn_rows_started_from

log = logging.getLogger("sdp")



def record_data(run_dir: Any, cfg: Any, raw: Any, main_process: bool, fields: Any = (), token_ids: Any = (),
                tokenized: Any = None, file_rows: Any = None) -> dict[str, str]:
    """Fingerprint the loaded splits (and the model folders it reads); refuse a resume on other data or another
    model folder's content; record them in the run record, and the training rows' texts (``fields``) by row, with the
    hashes of their token ids (``token_ids``: sdp/data/token_repeats.py; ``tokenized``: the splits they were made
    from, to compare with a start folder's; ``file_rows``: LoadedSplits.file_rows, to name their rows)."""
    fingerprints = {**split_fingerprints(raw), **input_fingerprints(cfg)}
    extra = run_data_keys(cfg, raw)  # the training rows in any order, a custom task's files by content
    from sdp.training_rows import check_checkpoint_rows  # a carve's refused, other rows said (round 31, dc2)

    check_checkpoint_rows(cfg, fingerprints.get("train"), extra.get(ROWS_KEY))
    warn_rows_started_from(cfg, raw, fields, tokenized, token_ids, file_rows)  # every process: it may refuse (mpc1)
    record = read_run_record(run_dir) or {}
    if cfg.resume:
        check_same_data(record.get("data_fingerprint"), fingerprints, f"the unfinished run in {str(run_dir)!r}",
                        (record.get("model_folders"), model_folders(cfg)))
    if main_process:
        # made again only for other data: hashing 400k rows costs seconds at each launch of a resumed run
        same = record.get("data_fingerprint") == fingerprints and row_hashes_read(run_dir)[0] is not None
        write_run_record(run_dir, cfg, data=fingerprints, model_folders=model_folders(cfg), **extra)
        if not same:
            tokens = [token_ids] if len(token_ids) else []  # the rows as the model reads them (round 35, lt1)
            write_row_hashes(run_dir, raw.get("train"), fields, [*_started_from(cfg), *tokens])
    return fingerprints


def _started_from(cfg: Any) -> list[Any]:
    """The row hashes of the model folders (STARTS_FROM) this run's weights start from, where they hold them."""
    found = []
    for key, folder in start_folders(cfg):
        hashes, why_not = row_hashes_read(folder)
        if why_not is None and hashes is None and (recorded_training_rows(folder) or {}).get(TRAINED_ROWS_KEY):
            # an sdp model of recorded rows without the file (saved before it, or copied without it): it was silent,
            # and sdp-eval of this run's model said nothing of the rows it was fine-tuned on (probe round 36, dk2)
            why_not = (f"{folder / ROW_KEYS_FILE} is not there (its config.json records the rows it was fine-tuned "
                       "on: a folder saved before sdp wrote the file, or copied without it)")
        if why_not:  # the rows it was fine-tuned on are not named with this run's (review of round 34); nor are this
            # run's eval rows compared with them (round 38, noticed), but where a tuning run's model.pretrained of this
            # task is rebuilt from its record (start_rows._check_unhashed, which says where it cannot be)
            rebuilt = key == "model.pretrained" and cfg.task.get("validation_from_train") and \
                (recorded_training_rows(folder) or {}).get("task.name") == cfg.task.get("name")
            log.warning("%s: %s, not read: %sthe rows it was fine-tuned on are not in this run's %s, so sdp-eval of "
                        "this run's model will not name them", key, why_not, "" if rebuilt else
                        "this run's eval rows are not compared with the rows it was fine-tuned on, and ", ROW_KEYS_FILE)
        if hashes is not None:
            found.append(hashes)
    return found
