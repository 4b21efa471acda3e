"""Whether rows read alike (the same token ids: sdp/data/token_repeats.py) differ past task.max_seq_length, where the
cut hides what tells them apart, or in what the tokenizer sets aside or reads as one unknown token: two rows exactly
that long differing in an [UNK] were said to differ past the cut, and told to raise the length (probe round 41,
tw1-tw7). Only a row that reached the length can have been cut, and only those rows are tokenised again, whole (the
run's own call without truncation), once each: the checks ask about overlapping rows of a split, and each asking anew
cost 20 s more on a split of 100k rows (review)."""

from __future__ import annotations

from typing import Any

import numpy as np


class CutRows:
    """Per split of ``raw`` (tokenised as ``tokenized`` at ``length`` by ``tokenizer``): its rows' token counts as
    tokenised, and whether a row was cut, each row tokenised whole at most once. Without a tokenizer nothing is
    known of a row that reached the length (:meth:`of` returns None)."""

    def __init__(self, tokenizer: Any, raw: Any, tokenized: Any, fields: tuple[str, ...], length: int) -> None:
        self.tokenizer, self.raw, self.tokenized, self.fields, self.length = tokenizer, raw, tokenized, fields, length
        self._lengths: dict[str, np.ndarray] = {}
        self._cut: dict[str, dict[int, bool]] = {}

    def lengths(self, split: str) -> np.ndarray:
        """Each row's token count as tokenised (cut at the length)."""
        if split not in self._lengths:
            import pyarrow.compute as pc

            ids = self.tokenized[split].select_columns(["input_ids"]).with_format("arrow")[:].column("input_ids")
            self._lengths[split] = pc.list_value_length(ids).to_numpy(zero_copy_only=False)
        return self._lengths[split]

    def of(self, split: str, rows: Any) -> np.ndarray | None:
        """Whether each of ``split``'s ``rows`` (from 0) was cut; None without a tokenizer or text fields."""
        fields = [f for f in self.fields if f in self.raw[split].column_names]
        if self.tokenizer is None or not fields:
            return None
        rows = np.asarray(rows, dtype=np.int64)
        reached = rows[self.lengths(split)[rows] >= self.length]
        known = self._cut.setdefault(split, {})
        if todo := sorted(set(reached.tolist()) - known.keys()):
            chosen = self.raw[split].select(todo)
            ids = self.tokenizer(*[list(chosen[f]) for f in fields], truncation=False, verbose=False)["input_ids"]
            known.update(zip(todo, (len(row) > self.length for row in ids)))
        return np.array([known.get(r, False) for r in rows.tolist()], dtype=bool)

    def hashes_cut(self, split: str, hashes: np.ndarray, wanted: np.ndarray) -> np.ndarray | None:
        """The ``wanted`` token hashes of which a row of ``split`` (its rows' hashes: ``hashes``) was cut."""
        rows = np.flatnonzero(np.isin(hashes, wanted))
        cut = self.of(split, rows)
        return None if cut is None else np.unique(hashes[rows[cut]])

    def other_label_cut(self, split: str, group: np.ndarray, labels: np.ndarray, twins: Any) -> np.ndarray | None:
        """For each of ``twins`` (rows from 0 of ``split``, one input per ``group``): whether a row of its input under
        another label was cut (a twin of its own label parts it from no one: review)."""
        twins = np.asarray(twins, dtype=np.int64)
        members = np.flatnonzero(np.isin(group, group[twins]))
        cut = self.of(split, members)
        if cut is None:
            return None
        low, span = int(labels.min()), int(labels.max() - labels.min()) + 1  # one key per (input, label)
        cut_keys = np.unique(group[members[cut]].astype(np.int64) * span + labels[members[cut]] - low)
        labels_cut = np.bincount(cut_keys // span, minlength=int(group.max()) + 1)  # labels with a cut row, per input
        own = np.isin(group[twins].astype(np.int64) * span + labels[twins] - low, cut_keys)
        return labels_cut[group[twins]] - own > 0


def reach(cuts: CutRows, split: str, positions: list[int], twin_cut: np.ndarray | None = None,
          hashed_at: int | None = None) -> list[str]:
    """For each twin at ``positions`` (from 1) of ``split``: "cut" where it, or a twin it is read alike with
    (``twin_cut``: one per position; None where its twins are known by hash only), was cut: they differ past the cut;
    "whole" where neither was: they differ in what the tokenizer sets aside or reads as one unknown token; "edge"
    where it is exactly as long as its twin was cut at, and whether its twin went on is not known (every row that
    reached the length, without a tokenizer). ``hashed_at``: the length a model's row hashes were made at (its
    training rows cut there), where not the length scored at: a dev row of 13 tokens, read whole at 32, is a
    training row cut at 13 as the model read it (probe round 42, rh1)."""
    rows = np.asarray(positions, dtype=np.int64) - 1
    lengths = cuts.lengths(split)[rows]
    at = lengths >= cuts.length if hashed_at is None else lengths == hashed_at
    own = cuts.of(split, rows)
    if own is None:
        return ["edge" if a else "whole" for a in at]
    if twin_cut is None:
        return ["cut" if c else "edge" if a else "whole" for c, a in zip(own, at)]
    return ["cut" if c or t else "whole" for c, t in zip(own, twin_cut)]
