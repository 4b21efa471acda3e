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
    run's, to tell the rows cut at the length from those read whole (:func:`_reach`)."""
    train = tokenized.get(task.train_split) if hasattr(tokenized, "get") else None
    if train is None:
        return np.zeros(0, dtype="<u8")
    digests = token_digests(train)
    fields = [f for f in task.text_fields if f in raw[task.train_split].column_names]
    said: set | None = None  # every training row's text keys, made at the first twin (the text checks' rows)
    for split in task.eval_splits:
        if not fields or split not in tokenized or not len(tokenized[split]):
            continue
        hashed = token_digests(tokenized[split])
        twins = np.flatnonzero(np.isin(hashed, digests)).tolist()
        if twins and said is None:  # one set: a twin group's keys per row was quadratic on templated rows (review)
            said = row_keys(raw[task.train_split], fields)
        same_text = [tuple(text_key(raw[split][r][f]) for f in fields) in said for r in twins]
        where = f"task {task.name}, split {split}"
        if token_only := [r + 1 for r, same in zip(twins, same_text) if not same]:
            wanted = hashed[np.asarray(token_only) - 1]
            cut_in_train = _cut_hashes(tokenizer, raw[task.train_split], fields, train, digests, wanted, max_seq_length)
            reach = _reach(tokenizer, raw[split], fields, tokenized[split], token_only, max_seq_length,
                           None if cut_in_train is None else np.isin(wanted, cut_in_train))
            log.warning(_said(in_file(token_only, split, file_rows), tokenized[split], reach, where, max_seq_length,
                              "a training row", of=_of(task, split, file_rows)))
        if split not in text_checked and (repeats := in_file([r + 1 for r, same in zip(twins, same_text) if same],
                                                              split, file_rows)):
            log.warning("%s: %d of %d rows repeat a row trained on (the same %s, up to letter case, spacing, accents, "
                        "invisible characters and Unicode form; rows %s%s, counted from 1): their score is partly a "
                        "training score; score rows the model never read", where, len(repeats),
                        len(tokenized[split]), ", ".join(fields), repeats[:5], _of(task, split, file_rows))
    warn_dev_twins(task, raw, tokenized, max_seq_length, file_rows, tokenizer)
    warn_label_twins(task, raw, tokenized, max_seq_length, file_rows, labels_checked, {task.train_split: digests},
                     tokenizer)
    return np.unique(digests)


def warn_tokens_among(task: Any, raw: Any, tokenized: Any, hashes: Any, max_seq_length: int,
                      file_rows: dict | None = None, labels_checked: frozenset = frozenset(),
                      tokenizer: Any = None) -> None:
    """sdp-eval: the rows of each scored split whose tokens are a training row's, by the hashes of the model's
    ROW_KEYS_FILE (None: none to read), and whose texts are not (those are said already: scored_rows.warn_rows_among);
    a test split's rows read as dev rows (warn_dev_twins), a split's read alike under two labels (warn_label_twins)."""
    warn_dev_twins(task, raw, tokenized, max_seq_length, file_rows, tokenizer)
    warn_label_twins(task, raw, tokenized, max_seq_length, file_rows, labels_checked, tokenizer=tokenizer)
    for split, ds in tokenized.items() if hashes is not None else ():
        if not len(ds):
            continue
        hit = np.flatnonzero(np.isin(token_digests(ds), hashes))
        fields = [f for f in task.text_fields if f in raw[split].column_names]
        if len(hit) and fields:
            hit = hit[~np.isin(row_digests(raw[split].select(hit.tolist()), fields), hashes)]
        if len(hit):
            positions = [int(r) + 1 for r in hit]
            reach = _reach(tokenizer, raw[split], fields, ds, positions, max_seq_length)  # the trained rows: hashes
            log.warning("sdp-eval: " + _said(in_file(positions, split, file_rows), ds, reach, f"split {split}",
                                             max_seq_length, "rows model_dir was trained on (its sdp_training_rows.u64)",
                                             of=_of(task, split, file_rows)))


def warn_dev_twins(task: Any, raw: Any, tokenized: Any, max_seq_length: int, file_rows: dict | None = None,
                   tokenizer: Any = None) -> None:
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
        cut_in_dev = _cut_hashes(tokenizer, raw["validation"], fields, dev, dev_hashed, wanted, max_seq_length)
        reach = _reach(tokenizer, raw["test"], fields, test, positions, max_seq_length,
                       None if cut_in_dev is None else np.isin(wanted, cut_in_dev))
        log.warning(_said(in_file(positions, "test", file_rows), test, reach, f"task {task.name}, split test",
                          max_seq_length, "rows of split validation", "their score is partly a dev score: the test "
                          "score reports dev rows again; give test rows that are no dev rows",
                          _of(task, "test", file_rows)))


def warn_label_twins(task: Any, raw: Any, tokenized: Any, max_seq_length: int, file_rows: dict | None,
                     labels_checked: frozenset, digests: dict | None = None, tokenizer: Any = None) -> None:
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
            reach = _reach(tokenizer, raw[split], fields, ds, positions, max_seq_length,
                           _other_label_cut(tokenizer, raw[split], fields, ds, group, labels, twins, max_seq_length))
            log.warning(_said(in_file(positions, split, file_rows), ds, reach, f"task {task.name}, split {split}",
                              max_seq_length, "another row of the split under another label",
                              f"{_both(task, split)}; check their labels", _of(task, split, file_rows)))


def _of(task: Any, split: str, file_rows: dict | None) -> str:
    """rows_kept.as_read of ``split`` (a training sample and a carve's held-out rows: the training split's)."""
    return as_read(split, file_rows, split in (task.train_split, VALIDATION_FROM_TRAIN))


def _both(task: Any, split: str) -> str:
    """What rows of one split under two labels do: a training split's are trained on both, an eval split's not scored."""
    return "the model is trained on both labels" if split == task.train_split else "no prediction scores both"


def _reach(tokenizer: Any, split_rows: Any, fields: list[str], ds: Any, positions: list[int], length: int,
           twin_cut: np.ndarray | None = None) -> list[str]:
    """For each twin at ``positions`` (from 1) of tokenised ``ds``: "cut" where it, or a twin it is read alike with
    (``twin_cut``: one per position; None where its twins are known by hash only), went on past ``length`` tokens:
    they differ past the cut; "whole" where neither did: they differ in what the tokenizer sets aside or reads as one
    unknown token; "edge" where it is exactly ``length`` tokens and whether its twin went on is not known. Two rows
    exactly ``length`` long differing in an unknown token were said to differ past the cut (probe round 41, tw1-tw7).
    Without a tokenizer every row that reached ``length`` is an "edge"."""
    rows = np.asarray(positions, dtype=np.int64) - 1
    at = _lengths(ds)[rows]
    own = _cut_rows(tokenizer, split_rows, fields, ds, rows, length)
    if own is None:
        return ["edge" if n >= length else "whole" for n in at]
    if twin_cut is None:
        return ["cut" if c else "edge" if n >= length else "whole" for c, n in zip(own, at)]
    return ["cut" if c or t else "whole" for c, t in zip(own, twin_cut)]


def _lengths(ds: Any) -> np.ndarray:
    """Each row's token count as tokenised (cut at the length)."""
    import pyarrow.compute as pc

    return pc.list_value_length(_table(ds, ["input_ids"]).column("input_ids")).to_numpy(zero_copy_only=False)


def _cut_rows(tokenizer: Any, split_rows: Any, fields: list[str], ds: Any, rows: np.ndarray, length: int,
              at: np.ndarray | None = None) -> np.ndarray | None:
    """Whether each of ``ds``'s ``rows`` (from 0) was cut at ``length``: only a row that reached it can have been, and
    only those are tokenised again, whole, by the run's own call without truncation (a split of 400k rows tokenised
    twice cost seconds on every run); None without a tokenizer."""
    if tokenizer is None or not fields:
        return None
    rows = np.asarray(rows, dtype=np.int64)
    reached = np.flatnonzero((_lengths(ds) if at is None else at)[rows] >= length)
    cut = np.zeros(len(rows), dtype=bool)
    if len(reached):
        chosen = split_rows.select(rows[reached].tolist())
        ids = tokenizer(*[list(chosen[f]) for f in fields], truncation=False, verbose=False)["input_ids"]
        cut[reached] = np.array([len(row) for row in ids]) > length
    return cut


def _cut_hashes(tokenizer: Any, split_rows: Any, fields: list[str], ds: Any, hashes: np.ndarray, wanted: np.ndarray,
                length: int) -> np.ndarray | None:
    """The ``wanted`` token hashes of which a row of ``ds`` (its hashes: ``hashes``) was cut at ``length``, every such
    row looked at (None without a tokenizer)."""
    rows = np.flatnonzero(np.isin(hashes, wanted))
    cut = _cut_rows(tokenizer, split_rows, fields, ds, rows, length)
    return None if cut is None else np.unique(hashes[rows[cut]])


def _other_label_cut(tokenizer: Any, split_rows: Any, fields: list[str], ds: Any, group: np.ndarray,
                     labels: np.ndarray, twins: list[int], length: int) -> np.ndarray | None:
    """For each of ``twins`` (rows from 0 of one split, one input per ``group``): whether a row of its input under
    another label was cut at ``length`` (a twin of its own label does not part it from the others: review)."""
    members = np.flatnonzero(np.isin(group, group[twins]))
    cut = _cut_rows(tokenizer, split_rows, fields, ds, members, length)
    if cut is None:
        return None
    cut_rows = members[cut]
    per_input = np.bincount(group[cut_rows], minlength=int(group.max()) + 1)  # cut rows per input
    keys = group[cut_rows].astype(np.int64) * (int(labels.max()) + 1) + labels[cut_rows]
    per_label = dict(zip(*np.unique(keys, return_counts=True)))  # cut rows per (input, label)
    twins = np.asarray(twins, dtype=np.int64)
    own = np.array([per_label.get(int(g) * (int(labels.max()) + 1) + int(lab), 0)
                    for g, lab in zip(group[twins], labels[twins])], dtype=np.int64)
    return per_input[group[twins]] - own > 0


def _said(rows: list[int], ds: Any, reach: list[str], where: str, length: int, whose: str,
          then: str = "their score is partly a training score; score rows the model never read", of: str = "") -> str:
    """The warning for token twins ``rows`` (as named: file rows) of tokenised ``ds``, each cut at the length, read
    whole or at its edge (:func:`_reach`): 'great 😀' and 'great 😡' are one input to MiniLM."""
    count = {kind: reach.count(kind) for kind in ("cut", "edge", "whole")}
    why = {"cut": f"{count['cut']} differing past task.max_seq_length={length} tokens, where they or their twins were "
                  "cut",
           "edge": f"{count['edge']} exactly task.max_seq_length={length} tokens long, differing past it from a longer "
                   "twin or in what the tokenizer sets aside",
           "whole": f"{count['whole']} read whole, differing in what the tokenizer sets aside or reads as an unknown "
                    "token"}
    said = [why[kind] for kind in why if count[kind]]
    return (f"{where}: {len(rows)} of {len(ds)} rows are {whose} as the model reads them: the same token ids, their "
            f"texts differing only where the model does not read them ({'; '.join(said)}; rows {rows[:5]}{of}, counted "
            f"from 1): {then}"
            + (" (or raise task.max_seq_length)" if count["cut"] or count["edge"] else ""))
