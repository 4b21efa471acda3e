"""What claims.md may take from a pair of runs, and why a folder has no claims.md (sdp/report/claims.py).

- A run's overlap with "MP's mask" (analysis.mask_overlap.reference) is its MP partner's only if the run's
  prune.reference_mask named that partner: one reference path swept over seeds compared seed 2 with seed 1's MP, another
  dense model, and claims.md averaged 0.068 and 0.061 with the partner's 0.319 as "of MP" (probe round 28, rf2).
- Pairing keys with none of the judged methods (MP (movement) beside MP) are left out, and said: their setup showed a
  frontier row of dashes, dense score included, beside six runs (probe round 28, cl1).
- No claims.md: why, where the SDP-CC and MP runs differ in a pairing key (a teacher, a schedule) or SDP-CC ran with a
  weight term: "no SDP-CC run has an MP partner" said nothing of why (probe round 28, tr1).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from sdp.data.fingerprint import FILES_KEY
from sdp.io import MASK_FILE
from sdp.run.rundir import read_metrics, read_run_record


def get(*keys: str) -> Callable[[dict], float | None]:
    """The number at ``analysis.<keys>`` of a pair's record, or None (a NaN too: claims.md printed `SDP-CC(mean) nan`,
    probe round 45, tc1)."""
    def read(rec: dict) -> float | None:
        node: Any = rec["analysis"]
        for k in keys:
            node = node.get(k) if isinstance(node, dict) else None
        ok = isinstance(node, (int, float)) and not isinstance(node, bool) and math.isfinite(node)
        return float(node) if ok else None
    return read


PARTNER_MASK = MASK_FILE  # a run's final mask in its folder


def refers_to_partner(rec: dict, mp: dict | None) -> bool:
    """Whether ``rec``'s recorded reference overlap was taken with ``mp``'s mask: by the digests both runs recorded
    (the mask read, the mask saved); in records from before them, the reference path ends with the
    partner's path in the results folder (a link followed; a checkout elsewhere keeps the tail), and a reference
    inside the folder is the partner's record (its model_sha256). A record without the path cannot say: taken."""
    ref = (rec["analysis"].get("mask_overlap") or {}).get("reference_path")
    if not ref or mp is None:
        return mp is not None
    read = (rec["analysis"].get("mask_overlap") or {}).get("reference_sha256")
    partners = ((mp.get("analysis") or {}).get("mask_overlap") or {}).get("mask_sha256")
    if read and partners:  # the mask as the run read it, against the partner's as it saved it (probe round 55,
        return read == partners  # rm_after, rm_before, rm_relink: a file or link changed since is no evidence)
    given = Path(ref)
    real = Path(os.path.realpath(given)) if os.path.exists(given) else given
    own = Path(mp["run_dir"]) / PARTNER_MASK
    if real.is_file() and own.is_file():  # a mask file: the partner's by content, a link or a copy of it too (probe
        return _same_bytes(real, own)  # round 54, rm_link, rm_copy); its dense_mask.safetensors is no MP mask
    # else by path: the partner's final mask, named as a file, is its folder's own (probe round 53, rm_file_partner)
    given, real = (path.parent if path.name == PARTNER_MASK else path for path in (given, real))
    tail = Path(mp["rel"]).parts
    if not tail or (real.parts[-len(tail):] != tail and given.parts[-len(tail):] != tail):
        return real == Path(mp["run_dir"]).resolve()
    if real == Path(mp["run_dir"]).resolve() or not real.is_dir():
        return True
    other = read_metrics(real) or {}
    return not other.get("model_sha256") or other.get("model_sha256") == mp.get("model_sha256")


def _same_bytes(a: Path, b: Path) -> bool:
    import filecmp

    try:
        return filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def partner_overlaps(pairs: list[tuple[tuple, dict]], cc: str, high: float) -> tuple[list[float], int]:
    """The reference overlaps of ``cc``'s runs at sparsity >= ``high`` taken with their MP partner's mask, and how
    many recorded one with another run's."""
    kept, other = [], 0
    for key, recs in pairs:
        if key[4] >= high and cc in recs and (v := get("mask_overlap", "reference")(recs[cc])) is not None:
            if refers_to_partner(recs[cc], recs.get("MP")):
                kept.append(v)
            else:
                other += 1
    return kept, other


def judged(pairs: dict, methods: list[str]) -> tuple[dict, list[str]]:
    """The pairing keys holding a judged method, and the methods of those left out."""
    keep = {k: r for k, r in pairs.items() if any(m in r for m in methods)}
    return keep, sorted({m for k, r in pairs.items() if k not in keep for m in r})


def dense_of(rec: dict, methods: list[str]) -> dict:
    """The record a pairing key's dense score is read from: MP's, else the first judged method's (one dense model)."""
    return next(rec[m] for m in methods if m in rec)


def unpaired_reason(runs: pd.DataFrame) -> str | None:
    """Why no SDP-CC run has an MP partner, where the SDP-CC and MP runs are both here; None otherwise."""
    if runs.empty:
        return None
    cc = runs[runs["method"].str.startswith("SDP-CC")]
    mp = runs[runs["method"] == "MP"]
    if cc.empty or mp.empty:
        return None
    alone = cc[~cc["method"].str.contains("+", regex=False)]
    if alone.empty:
        return ("it judges SDP-CC alone against MP and KD, and the SDP-CC runs here add a weight term "
                f"({', '.join(sorted(set(cc['method'])))}; their pairs with MP are in deltas.md)")
    differ = [f"{key} {sorted(set(alone[key]))} (MP: {sorted(set(mp[key]))})" for key in ("schedule", "teacher")
              if not set(alone[key]) & set(mp[key])]
    if not differ:
        return None
    return ("it pairs SDP-CC with MP runs of the same schedule and teacher (prune.teacher), and the SDP-CC runs here "
            f"differ in {'; '.join(differ)}: run MP with the same settings to pair them")


def unit_fields(pairs: dict) -> list[str]:
    """What one verdict unit is, in words: (task, seed), with the model, schedule and teacher where the pairs hold
    several (a unit is one of each: claims.py ``_unit``). Two models' runs of three seeds are six units, which the
    legend called "task x seed" (n=6 for 3 seeds: probe round 28, mm2)."""
    varied = [name for i, name in ((1, "model"), (2, "schedule"), (3, "teacher")) if len({k[i] for k in pairs}) > 1]
    return ["task", *varied, "seed"]


def data_of(task: str, rec: dict) -> tuple:
    """A custom task's data, as part of a claims unit: its files (the run's run.json task.train_file, validation_file,
    test_file) by name, and its recorded validation and test rows: two datasets are both `custom`, and a seed's pairs
    on both were averaged into one (task, seed) unit, n=3 where the by-task rows held 6 (probe round 32, cm1). One
    data's setups (another max_train_samples or carve of the same files) stay one unit (round 23, r11), and so does one
    file named two ways (`L_tr.csv` from its folder, `/data/L_tr.csv`): a unit each counted one model twice, n=6 for
    three seeds (round 33, cu1). The files are told by content where run.json records it (FILES_KEY): by name, two
    training files of one name in two folders beside one dev file were one dataset (round 33, Left). Other tasks,
    and runs without a run.json: ()."""
    record = (read_run_record(rec["run_dir"]) or {}) if task == "custom" else {}
    config = record.get("config")
    node = config.get("task") if isinstance(config, dict) else None
    if not isinstance(node, dict):
        return ()
    prints = rec.get("data_fingerprint") if isinstance(rec.get("data_fingerprint"), dict) else {}
    keys = ("train_file", "validation_file", "test_file")
    files = record.get(FILES_KEY) if isinstance(record.get(FILES_KEY), dict) else {}
    return (tuple(str(files.get(key) or Path(str(node.get(key) or "")).name) for key in keys),
            tuple(str(prints.get(split) or "") for split in ("validation", "test")))
