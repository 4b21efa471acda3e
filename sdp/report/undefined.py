"""Scores a record holds as 0.0 because their metric was undefined (sdp/metrics.py: a correlation over constant
predictions or references), which the tables mark instead of showing as measured.

A one-class CoLA model's ``mcc`` is recorded as 0.0 with a ``metric_warnings`` line; the tables read the 0.0 alone
and showed ``0.00 ± 0.00`` and a delta of ``+0.00`` as measured (probe round 25, tw1).
"""

from __future__ import annotations

from typing import Any

UNDEFINED = "§"  # the mark of a cell or delta built on such a score
UNDEFINED_NOTE = (f"{UNDEFINED} = the score of some of the cell's runs is undefined (a correlation over constant "
                  "predictions or references) and recorded as 0.0: no measurement (summary.md lists the runs).")


def _warned(record: dict[str, Any], stage: str) -> set[str]:
    """The metrics ``metric_warnings`` calls undefined in the evaluation of ``stage``: a note names its evaluation
    ("dense: mcc is undefined ...", "final: ...", "prune update 40: ..." for an evaluation point, which is no
    recorded score); one without a name (older records, sdp-eval's) is taken for either stage."""
    names = {stage, "dense"} if stage == "final" and record.get("stages") == "dense" else {stage}  # final = dense
    out = set()
    for note in record.get("metric_warnings") or []:
        if not isinstance(note, str) or " is undefined" not in note:
            continue
        label, sep, message = note.partition(": ")
        if not sep or " is undefined" in label:  # no evaluation named
            label, message = stage, note
        if label in names:
            out.add(message.split(" ", 1)[0])
    return out


def undefined_scores(record: dict[str, Any]) -> frozenset[tuple[str, str]]:
    """The (stage, metric key) pairs of ``record`` (a metrics.json) whose value is a reported-as-0.0 undefined
    metric: the metric is named in that stage's ``metric_warnings`` and the value is 0.0. ``main`` is one where any
    dev metric it averages is (the ``test_`` keys never enter it)."""
    out: set[tuple[str, str]] = set()
    for stage in ("dense", "final"):
        scores, warned = record.get(stage), _warned(record, stage)
        if not warned or not isinstance(scores, dict):
            continue
        for key, value in scores.items():
            base = key.removeprefix("test_").split("/")[0]
            base = base if base in warned else base.rsplit("_", 1)[0]  # a split suffix: mnli's accuracy_m
            if key != "main" and base in warned and value == 0.0:
                out.add((stage, key))
        if any(s == stage and not k.startswith("test_") for s, k in out) and "main" in scores:
            out.add((stage, "main"))
    return frozenset(out)


def describe(undefined: frozenset[tuple[str, str]]) -> str:
    """'dense mcc, dense main, final mcc, final main' for summary.md."""
    return ", ".join(f"{stage} {key}" for stage, key in sorted(undefined))
