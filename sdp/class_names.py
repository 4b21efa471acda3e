"""The class names a model's config.json gives its outputs (id2label), checked where they are printed or scored:
sdp-eval and sdp-predict (sdp/saved_model.py), sdp-export (cli/export.py), a dense.checkpoint and a
prune.teacher_checkpoint (sdp/validate.py). The ids alone are sdp/models/inspect.py's check (a model.pretrained
folder's too); the names are read here by the data's own rules for labels (sdp/data/file_scan.py), which sdp/models,
a leaf, may not import."""

from __future__ import annotations

import math
from typing import Any

from sdp.data.printed_names import printed_names_problem, shows_nothing
from sdp.models.inspect import ModelLoadError, check_id2label


def check_class_names(config: dict[str, Any] | None, where: str) -> None:
    """id2label as sdp names the model's outputs by it: one id per output, 0 to N-1 (output i is named by the i-th id:
    `{-1: neg, 0: pos}` named output 0 `neg`, which the folder calls `pos`; probe round 41, id1-id3), each class a name
    that prints as one (not null, blank, invisible, NaN, a list; no line break: sdp-predict writes one label a line),
    and no two names that print alike (LABEL_i too; `NEG` and `neg` print apart: task.label_names may list them). Else
    a ModelLoadError naming ``where``."""
    check_id2label(config, where)
    id2label = (config or {}).get("id2label") or {}
    ids = sorted(int(k) for k in id2label)
    if ids != list(range(len(ids))):
        raise ModelLoadError(f"{where}: config.json id2label has the ids {ids[:8]}, not one per output from 0 to "
                             f"{len(ids) - 1}: output i is named by id i; give each output's id, 0 to {len(ids) - 1}")
    # JSON null, "", a list, NaN, a zero-width space: printed as the class `None`, ``, `['neg']`, `nan`, an invisible
    # one (probe rounds 42-44, id_null, g1, g2, gnan, gzw)
    if unnamed := [int(k) for k in id2label if not _printed_name(id2label[k])]:
        raise ModelLoadError(f"{where}: config.json id2label names no class for the id(s) {sorted(unnamed)[:8]} (a null, "
                             "an empty, an invisible or a non-text name, or a number that is not finite); give each "
                             "output's class its name")
    named = [str(id2label[k]) for k in sorted(id2label, key=int)]
    if twice := sorted({n for n in named if named.count(n) > 1}):  # sdp-predict labelled with it, unchecked; sdp-eval
        # blamed a task.label_names the user never gave (probe round 40, dup1, dup2)
        raise ModelLoadError(f"{where}: config.json id2label names {', '.join(map(repr, twice))} more than once "
                             f"({named}): two outputs of one name cannot be told apart; give each class its own name "
                             "there")
    if why := printed_names_problem(named):  # 'neg\nmore', 'café' NFC and NFD (probe round 44, gnl, gnfd, gcyr)
        raise ModelLoadError(f"{where}: config.json id2label names {why}; give each class a name of its own there")


def _printed_name(name: Any) -> bool:
    """A class name as id2label may give it: text that shows (not blank, not invisible characters only), or a finite
    number (`0`, `1` name the classes of some tasks)."""
    if isinstance(name, str):
        return not shows_nothing(name)
    return isinstance(name, (int, float)) and not isinstance(name, bool) and math.isfinite(name)
