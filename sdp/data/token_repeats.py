"""Eval rows that are training rows as the model reads them: rows of other texts that the tokenizer turns into the
same token ids. Texts cut to task.max_seq_length tokens are one input when they differ only past the cut: a test
file of training rows whose last words were replaced was scored as held-out, while the model read 60 of its 60 rows
as training rows (probe round 35, lt1; sdp-eval of the model alike, lt2), because every repeat check compares whole
texts (text_key, one reading for every tokenizer). What a tokenizer sets aside is alike: `good,film` and
`good , film`, or a zero-width joiner an uncased BERT drops.

Every row's token ids (with its token type ids) are hashed to 8 bytes by a seeded 64-bit mix, numpy over all rows at
once (a hash per row in Python cost 16 s for 400k rows of 128 tokens); the seed keeps them apart from the text
hashes they share a model's ROW_KEYS_FILE with (sdp/data/fingerprint.py)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from sdp.data.file_scan import row_keys, text_key
from sdp.data.fingerprint import row_digests
from sdp.data.loading import VALIDATION_FROM_TRAIN, in_file
from sdp.data.rows_kept import as_read, column
from sdp.data.token_cuts import CutRows, reach

log = logging.getLogger("sdp")

_SEED = np.uint64(0x5D9C_07C0_1D5E_ED01)  # the token hashes' own start: no text hash is made this way


def _table(ds: Any, columns: list[str]) -> Any:
    """``ds``'s ``columns`` (those it has) as one Arrow table, in its row order (a selected dataset's too, unlike
    ``ds.data``)."""
    return ds.select_columns([c for c in columns if c in ds.column_names]).with_format("arrow")[:]


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on every element (uint64 arithmetic wraps, as the hash wants)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def token_digests(ds: Any) -> np.ndarray:
    """The 8-byte hash of each row's token ids (with its token type ids, where a pair has them), in row order."""
    import pyarrow.compute as pc

    table = _table(ds, ["input_ids", "token_type_ids"])
    digest = np.full(len(table), _SEED, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for column in ("input_ids", "token_type_ids"):
            if column not in table.column_names or not len(table):
                continue
            ids = table.column(column).combine_chunks()
            values = pc.list_flatten(ids).to_numpy(zero_copy_only=False).astype(np.int64).view(np.uint64)
            lengths = pc.list_value_length(ids).to_numpy(zero_copy_only=False).astype(np.int64)
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])  # where each row's ids begin in ``values``
            for j in range(int(lengths.max(initial=0))):  # position by position, over the rows that long
                live = np.flatnonzero(lengths > j)
                digest[live] = _mix(digest[live] ^ (values[starts[live] + j] + np.uint64(j + 1)))
            digest = _mix(digest ^ lengths.astype(np.uint64))  # the length ends the row: [5] is not [5, 0]
    return digest.astype("<u8")


def warn_token_repeats(task: Any, raw: Any, tokenized: Any, max_seq_length: int, file_rows: dict | None = None,
                       text_checked: frozenset = frozenset(), labels_checked: frozenset = frozenset(),
                       tokenizer: Any = None) -> np.ndarray:
    """sdp-run: each eval split's rows whose tokens are a training row's. Those whose texts are a training row's too
    are said by the text checks where a split had them (``text_checked``: LoadedSplits.text_checked), and here
    where it had none (a Hub or plug-in source: review of 432f075); ``file_rows``: a sampled split's rows in its file.
    Returns the training rows' token hashes (unique), for the run's ROW_KEYS_FILE: hashed once. ``tokenizer``: the
    run's, to tell the rows cut at the length from those read whole (sdp/data/token_cuts.py)."""
    train = tokenized.get(task.train_split) if hasattr(tokenized, "get") else None
    if train is None:
        return np.zeros(0, dtype="<u8")
    digests = token_digests(train)
    fields = [f for f in task.text_fields if f in raw[task.train_split].column_names]
    cuts = CutRows(tokenizer, raw, tokenized, tuple(task.text_fields), max_seq_length)
    said: set | None = None  # every training row's text keys, made at the first twin (the text checks' rows)
    for split in task.eval_splits:
        if not fields or split not in tokenized or not len(tokenized[split]):
            continue
        hashed = token_digests(tokenized[split])
        twins = np.flatnonzero(np.isin(hashed, digests)).tolist()
        if twins and said is None:  # one set: a twin group's keys per row was quadratic on templated rows (review)
            said = row_keys(raw[task.train_split], fields)
        chosen = raw[split].select(twins)  # their texts at once (a row at a time was most of this check's time)
        same_text = [tuple(map(text_key, texts)) in said for texts in zip(*(chosen[f] for f in fields))]
        where = f"task {task.name}, split {split}"
        if token_only := [r + 1 for r, same in zip(twins, same_text) if not same]:
            wanted = hashed[np.asarray(token_only) - 1]
            cut_in_train = cuts.hashes_cut(task.train_split, digests, wanted)
            how = reach(cuts, split, token_only, None if cut_in_train is None else np.isin(wanted, cut_in_train))
            log.warning(_said(in_file(token_only, split, file_rows), tokenized[split], how, where, max_seq_length,
                              "a training row", of=_of(task, split, file_rows)))
        if split not in text_checked and (repeats := in_file([r + 1 for r, same in zip(twins, same_text) if same],
                                                              split, file_rows)):
            log.warning("%s: %d of %d rows repeat a row trained on (the same %s, up to letter case, spacing, accents, "
                        "invisible characters and Unicode form; rows %s%s, counted from 1): their score is partly a "
                        "training score; score rows the model never read", where, len(repeats),
                        len(tokenized[split]), ", ".join(fields), repeats[:5], _of(task, split, file_rows))
    warn_dev_twins(task, raw, tokenized, max_seq_length, file_rows, cuts)
    warn_label_twins(task, raw, tokenized, max_seq_length, file_rows, labels_checked, {task.train_split: digests}, cuts)
    return np.unique(digests)


def warn_tokens_among(task: Any, raw: Any, tokenized: Any, hashes: Any, max_seq_length: int,
                      file_rows: dict | None = None, labels_checked: frozenset = frozenset(),
                      tokenizer: Any = None, hashed_at: int | None = None) -> None:
    """sdp-eval: the rows of each scored split whose tokens are a training row's, by the hashes of the model's
    ROW_KEYS_FILE (None: none to read), and whose texts are not (those are said already: scored_rows.warn_rows_among);
    a test split's rows read as dev rows (warn_dev_twins), a split's read alike under two labels (warn_label_twins)."""
    cuts = CutRows(tokenizer, raw, tokenized, tuple(task.text_fields), max_seq_length)
    warn_dev_twins(task, raw, tokenized, max_seq_length, file_rows, cuts)
    warn_label_twins(task, raw, tokenized, max_seq_length, file_rows, labels_checked, cuts=cuts)
    for split, ds in tokenized.items() if hashes is not None else ():
        if not len(ds):
            continue
        hit = np.flatnonzero(np.isin(token_digests(ds), hashes))
        fields = [f for f in task.text_fields if f in raw[split].column_names]
        if len(hit) and fields:
            hit = hit[~np.isin(row_digests(raw[split].select(hit.tolist()), fields), hashes)]
        if len(hit):
            positions = [int(r) + 1 for r in hit]
            at = None if hashed_at in (None, max_seq_length) else hashed_at  # its hashes' length, where another
            how = reach(cuts, split, positions, hashed_at=at)  # the rows trained on: by hash only
            log.warning("sdp-eval: " + _said(in_file(positions, split, file_rows), ds, how, f"split {split}",
                                             max_seq_length, "rows model_dir was trained on (its sdp_training_rows.u64)",
                                             of=_of(task, split, file_rows), edge_at=at))


def warn_dev_twins(task: Any, raw: Any, tokenized: Any, max_seq_length: int, file_rows: dict | None = None,
                   cuts: CutRows | None = None) -> None:
    """A test split's rows whose token ids are a dev row's, their texts not (the text checks say those): a test file of
    the dev rows differing only past task.max_seq_length was reported as a second, independent score, 98 of its 120
    rows the dev rows again as the model read them (probe round 37, tc1; sdp-eval, tc2)."""
    test, dev = (tokenized.get(s) if hasattr(tokenized, "get") else None for s in ("test", "validation"))
    if test is None or dev is None or not len(test) or not len(dev):
        return
    dev_hashed, test_hashed = token_digests(dev), token_digests(test)
    twins = np.flatnonzero(np.isin(test_hashed, dev_hashed))
    fields = [f for f in task.text_fields if f in raw["test"].column_names and f in raw["validation"].column_names]
    if len(twins) and fields:
        twins = twins[~np.isin(row_digests(raw["test"].select(twins.tolist()), fields),
                               row_digests(raw["validation"], fields))]
    if len(twins):
        positions = [int(r) + 1 for r in twins]
        wanted = test_hashed[twins]
        cuts = cuts or CutRows(None, raw, tokenized, tuple(task.text_fields), max_seq_length)
        cut_in_dev = cuts.hashes_cut("validation", dev_hashed, wanted)
        how = reach(cuts, "test", positions, None if cut_in_dev is None else np.isin(wanted, cut_in_dev))
        log.warning(_said(in_file(positions, "test", file_rows), test, how, f"task {task.name}, split test",
                          max_seq_length, "rows of split validation", "their score is partly a dev score: the test "
                          "score reports dev rows again; give test rows that are no dev rows",
                          _of(task, "test", file_rows)))


def warn_label_twins(task: Any, raw: Any, tokenized: Any, max_seq_length: int, file_rows: dict | None,
                     labels_checked: frozenset, digests: dict | None = None, cuts: CutRows | None = None) -> None:
    """Rows of one split that the model reads as one input (the same token ids) under two labels, their texts not
    alike: a training file's rows differing only past task.max_seq_length were trained under both labels, a dev or test
    file's scored as if a prediction could score both, with no word, while the same rows written alike are said by
    the text checks (probe round 38, tt, tt2, td, td2, tte: those compare text keys only). Rows written alike are
    said here where no text check read their split (``labels_checked``: LoadedSplits.labels_checked; a Hub split, a
    carve's held-out rows), among the rows read alike (a cased tokenizer reads `Good` and `good` apart: the text
    checks say those). A split is the rows a run trains on or scores (its sample and carve), named by their file rows
    (``file_rows``; a carve's by the training file's). ``digests``: a split's token hashes, where made already."""
    if task.is_regression:
        return
    for split, ds in tokenized.items():
        if not len(ds) or "labels" not in ds.column_names or split not in raw:
            continue
        tokens = (digests or {}).get(split)
        _, group, size = np.unique(token_digests(ds) if tokens is None else tokens, return_inverse=True,
                                   return_counts=True)
        labels = column(ds, "labels").astype(np.int64)
        shared = np.flatnonzero(size[group] > 1)  # rows whose input is another row's
        kinds = np.unique(np.stack([group[shared], labels[shared]]), axis=1)[0]  # each (input, label) once
        twins = shared[np.bincount(kinds, minlength=len(size))[group[shared]] > 1].tolist()
        fields = [f for f in task.text_fields if f in raw[split].column_names]
        if twins and fields:  # a row whose text is another's of its input under another label: the text checks'
            rows = raw[split].select(twins)  # their keys only (a whole split's took seconds)
            keys = dict(zip(twins, (tuple(map(text_key, texts)) for texts in zip(*(rows[f] for f in fields)))))
            by_text: dict[tuple, set] = {}
            for i in twins:
                by_text.setdefault(keys[i], set()).add(int(labels[i]))
            alike = [i for i in twins if len(by_text[keys[i]]) > 1]
            twins = [i for i in twins if len(by_text[keys[i]]) == 1]
            if alike and split not in labels_checked:  # a Hub split's or a carve's: no text check read it
                log.warning("task %s, split %s: %d of %d rows repeat another row of the split under another label (the "
                            "same %s, up to letter case, spacing, accents, invisible characters and Unicode form; rows "
                            "%s%s, counted from 1): %s; check their labels", task.name, split, len(alike), len(ds),
                            ", ".join(fields), in_file([i + 1 for i in alike], split, file_rows)[:5],
                            _of(task, split, file_rows), _both(task, split))
        if twins:
            positions = [i + 1 for i in twins]
            cuts = cuts or CutRows(None, raw, tokenized, tuple(task.text_fields), max_seq_length)
            how = reach(cuts, split, positions, cuts.other_label_cut(split, group, labels, twins))
            log.warning(_said(in_file(positions, split, file_rows), ds, how, f"task {task.name}, split {split}",
                              max_seq_length, "another row of the split under another label",
                              f"{_both(task, split)}; check their labels", _of(task, split, file_rows)))


def _of(task: Any, split: str, file_rows: dict | None) -> str:
    """rows_kept.as_read of ``split`` (a training sample and a carve's held-out rows: the training split's)."""
    return as_read(split, file_rows, split in (task.train_split, VALIDATION_FROM_TRAIN))


def _both(task: Any, split: str) -> str:
    """What rows of one split under two labels do: a training split's are trained on both, an eval split's not scored."""
    return "the model is trained on both labels" if split == task.train_split else "no prediction scores both"


def _said(rows: list[int], ds: Any, how: list[str], where: str, length: int, whose: str,
          then: str = "their score is partly a training score; score rows the model never read", of: str = "",
          edge_at: int | None = None) -> str:
    """The warning for token twins ``rows`` (as named: file rows) of tokenised ``ds``, each cut at the length, read
    whole or at its edge (``how``: sdp/data/token_cuts.py reach): 'great 😀' and 'great 😡' are one input to MiniLM."""
    count = {kind: how.count(kind) for kind in ("cut", "edge", "whole")}
    why = {"cut": f"{count['cut']} differing past task.max_seq_length={length} tokens, where they or their twins were "
                  "cut",
           "edge": (f"{count['edge']} exactly task.max_seq_length={length} tokens long" if edge_at is None else
                    f"{count['edge']} exactly {edge_at} tokens long, the length model_dir was trained at") +
                   ", differing past it from a longer twin or in what the tokenizer sets aside",
           "whole": f"{count['whole']} read whole, differing in what the tokenizer sets aside or reads as an unknown "
                    "token"}
    said = [why[kind] for kind in why if count[kind]]
    return (f"{where}: {len(rows)} of {len(ds)} rows are {whose} as the model reads them: the same token ids, their "
            f"texts differing only where the model does not read them ({'; '.join(said)}; rows {rows[:5]}{of}, counted "
            f"from 1): {then}"
            + (" (or raise task.max_seq_length)" if count["cut"] or (count["edge"] and edge_at is None) else ""))
