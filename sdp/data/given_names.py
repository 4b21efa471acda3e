"""task.label_names as given (sdp-run's command line, a config): the checks made before any data file is read, moved
out of sdp/data/custom.py (which is at its 420 lines)."""

from __future__ import annotations

from typing import Any

from sdp.data.printed_names import printed_names_problem
from sdp.data.tasks import DataError


def given_label_names(task_cfg: Any, metric: object) -> list[str]:
    """task.label_names as text (empty if not given), or a DataError: a name given twice, names that print alike or
    cannot name a model's outputs, class names for a regression."""
    given_names = [str(n) for n in task_cfg.get("label_names") or []]
    twice = sorted({n for n in given_names if given_names.count(n) > 1})
    if twice:  # refused before any file is read; datasets' ClassLabel would fail later with a traceback
        numbers = any(not isinstance(n, str) for n in task_cfg.get("label_names"))  # `[2_1,21]`: 21 twice (round 48)
        # sdp-run's schema (label_names: list[str]) has made Hydra's 21 the text '21' before this reads it: a name
        # twice that Hydra writes for a number it read says so too (probe round 50, lab_und2_cli)
        numbers = numbers or any(_hydra_number(n) for n in twice)
        raise DataError(f"task.label_names={given_names} names {', '.join(map(repr, twice))} more than once; "
                        "each class is named once" + (" (Hydra reads an unquoted 2_1, 1e3 or 01 as a number: quote "
                                                      "each name, as task.label_names=['2_1','21'])" if numbers else ""))
    if why := printed_names_problem(given_names):  # its model's outputs so named were refused (review of round 44)
        raise DataError(f"task.label_names={given_names} names {why}; give each class a name of its own")
    if given_names and metric == "pearson_spearman":  # ignored, unsaid, with the names kept in run.json (round 24, rg2)
        raise DataError(f"task.label_names={given_names} names classes, but task.metric=pearson_spearman makes this "
                        "task a regression (one score per row, no classes); drop task.label_names, or choose a "
                        "classification metric (accuracy, f1, mcc)")
    return given_names


def _hydra_number(name: str) -> bool:
    """Whether ``name`` is how an int or float Hydra read from the command line is written as text (`2_1` -> '21',
    `1e3` -> '1000.0', `01` -> '1')."""
    try:
        return str(int(name)) == name or repr(float(name)) == name
    except ValueError:
        return False
