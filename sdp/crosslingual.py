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

import numpy as np
from sklearn.metrics import accuracy_score, ndcg_score

from sdp.data.custom import NAME as CUSTOM
from sdp.data.custom import custom_task
from sdp.data.tasks import DataError, TaskSpec, get_task

__all__ = [
    "crosslingual_metrics",
    "eval_groups",
    "expected_grade",
    "is_crosslingual",
    "ndcg_by_query",
    "per_language",
    "resolve_task",
    "run_fields",
    "select_languages",
]


def is_crosslingual(task: TaskSpec) -> bool:
    return bool(task.languages)


def _split_language(split: str) -> tuple[str, str]:
    kind, _, lang = split.partition(".")
    return kind, lang


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


def resolve_task(task_cfg: Any) -> TaskSpec:
    """The TaskSpec of a ``task`` config node (``name``, optional ``languages`` and ``eval_test``)."""
    if task_cfg.name == CUSTOM:  # the user's own files (sdp/data/custom.py)
        return custom_task(task_cfg)
    task = get_task(task_cfg.name)
    languages = task_cfg.get("languages") if hasattr(task_cfg, "get") else getattr(task_cfg, "languages", None)
    eval_test = task_cfg.get("eval_test", False) if hasattr(task_cfg, "get") else getattr(task_cfg, "eval_test", False)
    return select_languages(task, list(languages) if languages else None, bool(eval_test))


# ------------------------------------------------------------------------------------------------ metrics


def expected_grade(logits: np.ndarray) -> np.ndarray:
    """Ranking score of graded-relevance logits (N, C): the expected grade sum_k k * softmax_k."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim == 1:
        return logits
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    return p @ np.arange(logits.shape[1], dtype=np.float64)


def ndcg_by_query(scores: np.ndarray, grades: np.ndarray, groups: np.ndarray, k: int | None = None) -> float:
    """Mean over queries of ``sklearn.metrics.ndcg_score`` of the rows of each query (``groups`` = query
    ids). Queries with a single row carry no ranking and are skipped; an all-Bad query scores 0."""
    scores, grades, groups = np.asarray(scores, float), np.asarray(grades, float), np.asarray(groups)
    if not (len(scores) == len(grades) == len(groups)):
        raise ValueError(f"ndcg: {len(scores)} scores, {len(grades)} grades, {len(groups)} query ids")
    values = []
    for g in np.unique(groups):
        sel = groups == g
        if sel.sum() < 2:
            continue
        values.append(ndcg_score(grades[sel][None, :], scores[sel][None, :], k=k))
    if not values:
        raise ValueError("ndcg: no query has two or more rows")
    return float(np.mean(values))


def _score(task: TaskSpec, base: str, split: str, preds: np.ndarray, refs: np.ndarray, groups) -> float:
    from sdp.metrics import _predictions

    refs = np.asarray(refs).reshape(-1).astype(np.int64)
    if len(preds) != len(refs):
        raise ValueError(f"{task.name}/{split}: {len(preds)} predictions but {len(refs)} references")
    if len(refs) == 0:
        raise ValueError(f"{task.name}/{split}: no examples")
    if base == "accuracy":
        return float(accuracy_score(refs, _predictions(task, preds, split)))
    if base == "ndcg":
        if groups is None or split not in groups:
            raise ValueError(f"{task.name}/{split}: nDCG needs the query id of every row (groups)")
        return ndcg_by_query(expected_grade(preds), refs, groups[split])
    raise ValueError(f"task {task.name!r}: unsupported cross-lingual metric {base!r}")


def crosslingual_metrics(
    task: TaskSpec,
    split_outputs: dict[str, tuple[np.ndarray, np.ndarray]],
    groups: dict[str, np.ndarray] | None = None,
) -> dict[str, float]:
    """Per-language metrics of a cross-lingual task over its ``eval_splits`` (keys: module docstring)."""
    base = task.metric_names[0]
    result: dict[str, float] = {}
    val, test = {}, {}
    for split in task.eval_splits:
        if split not in split_outputs:
            raise ValueError(f"task {task.name!r}: needs split {split!r}; got splits {sorted(split_outputs)}")
        kind, lang = _split_language(split)
        value = _score(task, base, split, *split_outputs[split], groups)
        if kind == "validation":
            val[lang] = value
        elif kind == "test":
            test[lang] = value
        else:
            raise ValueError(f"task {task.name!r}: eval split {split!r} is not validation.<lang> or test.<lang>")
    if not val:
        raise ValueError(f"task {task.name!r}: no validation.<lang> split among {task.eval_splits}")
    result[base] = float(np.mean(list(val.values())))
    non_en = [v for lang, v in val.items() if lang != "en"]
    if non_en:
        result[f"{base}_non_en"] = float(np.mean(non_en))
    for lang, v in val.items():
        result[f"{base}/{lang}"] = v
    if test:
        result[f"test_{base}"] = float(np.mean(list(test.values())))
        for lang, v in test.items():
            result[f"test_{base}/{lang}"] = v
    result["main"] = result[base]
    return result


def eval_groups(task: TaskSpec, raw) -> dict[str, np.ndarray]:
    """Query ids of every eval split of a ranking task (WPR: rows with the same query text), else {}."""
    if task.metric_names[0] != "ndcg":
        return {}
    out = {}
    for split in task.eval_splits:
        queries = raw[split]["query"]
        _, ids = np.unique(np.asarray(queries, dtype=object).astype(str), return_inverse=True)
        out[split] = ids
    return out


# ------------------------------------------------------------------------------------------ run record


def per_language(task: TaskSpec, dense: dict[str, float], final: dict[str, float]) -> dict[str, dict[str, float]]:
    """``{lang: {dense, final, drop}}`` of the base metric on each evaluated validation language."""
    base = task.metric_names[0]
    out = {}
    for split in task.eval_splits:
        kind, lang = _split_language(split)
        key = f"{base}/{lang}"
        if kind != "validation" or key not in dense or key not in final:
            continue
        out[lang] = {"dense": dense[key], "final": final[key], "drop": dense[key] - final[key]}
    return out


def run_fields(task: TaskSpec, dense: dict[str, float], final: dict[str, float]) -> dict[str, Any]:
    """Extra metrics.json fields of a cross-lingual run: ``per_language`` and ``data.dropped_rows``."""
    if not is_crosslingual(task):
        return {}
    from sdp.data.xglue import dropped_rows

    fields: dict[str, Any] = {"per_language": per_language(task, dense, final)}
    dropped = dropped_rows(task)
    if dropped:
        fields["data"] = {"dropped_rows": dropped}
    return fields
