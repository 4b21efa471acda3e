"""Zero-shot cross-lingual evaluation: language selection, per-language metrics, degradation under pruning.

A cross-lingual task (``TaskSpec.languages`` non-empty, see ``sdp.data.xglue``) is trained on English and
evaluated on one split per language. Its metrics (docs/metrics_schema.md), for base metric ``m``
(``accuracy``, or ``ndcg`` for WPR):

- ``m/<lang>``: on ``validation.<lang>``; ``m``: mean over the evaluated languages; ``m_non_en``: mean
  over the non-English ones (absent when only English is evaluated); ``main`` = ``m``;
- with ``task.eval_test=true``: ``test_m/<lang>`` on ``test.<lang>`` and their mean ``test_m`` (never part
  of ``main``).

:func:`run_fields` adds ``per_language: {lang: {dense, final, drop}}`` (drop = dense - final, so a positive
drop is a loss) and ``data.dropped_rows`` to metrics.json.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from sdp.data.custom import NAME as CUSTOM
from sdp.data.custom import custom_task
from sdp.data.tasks import DataError, TaskSpec, get_task, split_language

__all__ = [
    "is_crosslingual",
    "per_language",
    "resolve_task",
    "run_fields",
    "select_languages",
]


def is_crosslingual(task: TaskSpec) -> bool:
    return bool(task.languages)


def select_languages(
    task: TaskSpec, languages: Sequence[str] | None = None, eval_test: bool = False
) -> TaskSpec:
    """``task`` evaluated on ``languages`` (None: all of the task's), on ``validation.<lang>`` and, with
    ``eval_test``, on ``test.<lang>`` for the languages that have a labelled test split.

    Unknown languages are a DataError naming them and the allowed ones; so is ``eval_test`` with an
    explicitly requested language that has no labelled test split, or with none at all.
    """
    if not is_crosslingual(task):
        if languages:
            raise DataError(f"task {task.name!r} is not cross-lingual: task.languages={list(languages)} "
                            "applies only to cross-lingual tasks")
        if eval_test:
            raise DataError(f"task {task.name!r} is not cross-lingual: task.eval_test applies only to "
                            "cross-lingual tasks")
        return task
    from sdp.data.xglue import XTASKS

    explicit = languages is not None and len(languages) > 0
    if explicit:
        langs = [str(x).strip() for x in languages]
        unknown = [x for x in langs if x not in task.languages]
        if unknown:
            raise DataError(
                f"task {task.name!r}: unknown language{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(repr(x) for x in unknown)}; allowed: {', '.join(task.languages)}"
            )
        dupes = sorted({x for x in langs if langs.count(x) > 1})
        if dupes:
            raise DataError(f"task {task.name!r}: languages {dupes} requested more than once")
        langs = tuple(langs)
    else:
        langs = task.languages
    splits = [f"validation.{x}" for x in langs]
    if eval_test:
        tested = XTASKS[task.name].test_languages
        missing = [x for x in langs if x not in tested]
        if explicit and missing:
            raise DataError(
                f"task {task.name!r} has no labelled test split for language(s) {missing} "
                f"(task.eval_test=true); test splits exist for: {', '.join(tested) or 'none'}"
            )
        test_langs = [x for x in langs if x in tested]
        if not test_langs:
            raise DataError(f"task {task.name!r} has no labelled test split for any of {list(langs)} "
                            f"(task.eval_test=true); test splits exist for: {', '.join(tested) or 'none'}")
        splits += [f"test.{x}" for x in test_langs]
    return dataclasses.replace(task, eval_splits=tuple(splits))


def resolve_run_task(cfg: Any) -> TaskSpec:
    """resolve_task of a run's (or an evaluation's) config, its files checked among the rows it trains on and scores
    (rows_kept.trained_rows: its samples and carve): a custom training file's rows under two labels, and dev rows
    repeating training rows, were said of the whole files (probe round 37, ct1, cs2, fr1)."""
    from sdp.data.rows_kept import trained_rows

    with trained_rows(cfg):
        return resolve_task(cfg.task)


def resolve_task(task_cfg: Any) -> TaskSpec:
    """The TaskSpec a run uses for a ``task`` config node: the registered task (or the user's files),
    with ``languages`` / ``eval_test`` applied, and with ``validation_from_train`` the carved split as its
    only eval split (the dev split is then never read: sdp/data/loading.py)."""
    if task_cfg.name == CUSTOM:  # the user's own files (sdp/data/custom.py)
        task = custom_task(task_cfg)
    else:
        languages = task_cfg.get("languages") if hasattr(task_cfg, "get") else getattr(task_cfg, "languages", None)
        eval_test = (task_cfg.get("eval_test", False) if hasattr(task_cfg, "get")
                     else getattr(task_cfg, "eval_test", False))
        task = select_languages(get_task(task_cfg.name), list(languages) if languages else None, bool(eval_test))
    if getattr(task_cfg, "validation_from_train", None):
        from sdp.data.loading import VALIDATION_FROM_TRAIN

        task = dataclasses.replace(task, eval_splits=(VALIDATION_FROM_TRAIN,))
    return task


# ------------------------------------------------------------------------------------------ run record


def per_language(task: TaskSpec, dense: dict[str, float], final: dict[str, float]) -> dict[str, dict[str, float]]:
    """``{lang: {dense, final, drop}}`` of the base metric on each evaluated validation language."""
    base = task.metric_names[0]
    out = {}
    for split in task.eval_splits:
        kind, lang = split_language(split)
        key = f"{base}/{lang}"
        if kind != "validation" or key not in dense or key not in final:
            continue
        out[lang] = {"dense": dense[key], "final": final[key], "drop": dense[key] - final[key]}
    return out


def run_fields(task: TaskSpec, dense: dict[str, float], final: dict[str, float],
               dropped: dict[str, int]) -> dict[str, Any]:
    """Extra metrics.json fields of a cross-lingual run: ``per_language`` and ``data.dropped_rows`` (the
    rows the source dropped per split, as ``load_splits`` counted them)."""
    if not is_crosslingual(task):
        return {}
    fields: dict[str, Any] = {"per_language": per_language(task, dense, final)}
    if dropped:
        fields["data"] = {"dropped_rows": dropped}
    return fields
