"""Task metrics, with the keys of docs/metrics_schema.md.

``compute_metrics(task, {split: (predictions, references)})`` returns ``{key: float, ..., "main": float}``.
Predictions are logits (N x C, argmax is taken) or class ids (N,) for classification, and scores (N,) or
(N, 1) for regression.

Degenerate inputs: a correlation (pearson, spearman, mcc) that is undefined because the predictions or the
references are constant (or hold a value that is not finite) is reported as 0.0 (no linear/rank association) with
a ``DegenerateMetricWarning``,
never as NaN; a run records each such warning in metrics.json (``metric_warnings``), and refuses a regression
eval split whose targets make the correlation undefined for any model (sdp/data/loading.py).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, ndcg_score

from sdp.data.ranking import rankable_queries
from sdp.data.tasks import TaskSpec, split_language
from sdp.errors import NonFiniteOutputError

__all__ = ["DegenerateMetricWarning", "REPORTED_SPLITS", "SPLIT_SUFFIXES", "compute_metrics", "glue_score", "metric_split"]

# Suffix of a metric key computed on one of several eval splits, e.g. mnli "accuracy_m".
SPLIT_SUFFIXES: dict[str, str] = {"validation_matched": "m", "validation_mismatched": "mm"}
# Eval splits that are scored and reported but never choose anything: each of the task's metrics again, under
# this key prefix, and never part of ``main`` (task=custom's task.test_file; cross-lingual test_ keys alike).
REPORTED_SPLITS: dict[str, str] = {"test": "test_"}


class DegenerateMetricWarning(UserWarning):
    """A metric was undefined (constant inputs, or a value that is not finite) and reported as 0.0."""


def check_outputs_finite(outputs: Any, who: str, where: str) -> None:
    """``outputs`` (rows x outputs) all finite, else a NonFiniteOutputError naming ``who`` and the rows' ``where``."""
    rows = np.asarray(outputs, dtype=np.float64)
    rows = rows.reshape(len(rows), -1) if rows.size else rows.reshape(len(rows), 0)  # no rows: nothing to check
    bad = int((~np.isfinite(rows).all(axis=1)).sum())
    if bad:
        raise NonFiniteOutputError(f"{who} gives outputs that are not finite (NaN or inf) for {bad} of {len(rows)} "
                                   f"rows of {where}: float32 arithmetic overflows in it (a damaged or diverged model, "
                                   "its weights finite or not); a score of those rows would mean nothing (argmax "
                                   "reads a NaN as the first class)")


def _finite_or_zero(name: str, value: float) -> float:
    value = float(value)
    if not np.isfinite(value):
        warnings.warn(
            f"{name} is undefined (constant predictions or references, or a value that is not finite); reporting 0.0",
            DegenerateMetricWarning,
            stacklevel=3,
        )
        return 0.0
    return value


def _correlation(name: str, fn, preds: np.ndarray, refs: np.ndarray) -> float:
    if len(preds) < 2 or np.ptp(preds) == 0 or np.ptp(refs) == 0:
        return _finite_or_zero(name, float("nan"))
    with warnings.catch_warnings():  # scipy's own warnings; the undefined value is said below (round 40, bg1: a
        warnings.simplefilter("ignore")  # target past float32's range, or a NaN prediction, scored 0.00 unsaid)
        value = fn(preds, refs)[0]
    return _finite_or_zero(name, value)


def _mcc(preds: np.ndarray, refs: np.ndarray) -> float:
    if len(np.unique(preds)) < 2 or len(np.unique(refs)) < 2:
        return _finite_or_zero("mcc", float("nan"))
    return _finite_or_zero("mcc", matthews_corrcoef(refs, preds))


_BASE_METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": lambda p, r: float(accuracy_score(r, p)),
    "f1": lambda p, r: float(f1_score(r, p, average="binary", pos_label=1, zero_division=0.0)),
    "mcc": _mcc,
    "pearson": lambda p, r: _correlation("pearson", pearsonr, p, r),
    "spearman": lambda p, r: _correlation("spearman", spearmanr, p, r),
}


def metric_split(task: TaskSpec, key: str) -> tuple[str, str]:
    """(base metric, eval split) for a metric key of ``task``: ``"f1"`` -> ("f1", the only eval split);
    ``"accuracy_m"`` -> ("accuracy", "validation_matched")."""
    if key in _BASE_METRICS:
        scored = [s for s in task.eval_splits if s not in REPORTED_SPLITS]
        if len(scored) != 1:
            raise ValueError(f"task {task.name!r}: metric {key!r} is ambiguous over splits {task.eval_splits}")
        return key, scored[0]
    base, _, suffix = key.rpartition("_")
    for split in task.eval_splits:
        if SPLIT_SUFFIXES.get(split) == suffix and base in _BASE_METRICS:
            return base, split
    raise ValueError(f"task {task.name!r}: cannot resolve metric {key!r} to a base metric and eval split")


def _predictions(task: TaskSpec, preds: np.ndarray, split: str) -> np.ndarray:
    preds = np.asarray(preds)
    if task.is_regression:
        if preds.ndim == 2 and preds.shape[1] == 1:
            preds = preds[:, 0]
        if preds.ndim != 1:
            raise ValueError(
                f"{task.name}/{split}: regression predictions must be (N,) or (N, 1), got {preds.shape}"
            )
        return preds.astype(np.float64)
    if preds.ndim == 2:
        if preds.shape[1] != task.num_labels:
            raise ValueError(
                f"{task.name}/{split}: logits have {preds.shape[1]} columns, task has {task.num_labels} labels"
            )
        return preds.argmax(axis=1)
    if preds.ndim == 1:
        return preds.astype(np.int64)
    raise ValueError(f"{task.name}/{split}: predictions must be (N, C) logits or (N,) ids, got {preds.shape}")


def compute_metrics(
    task: TaskSpec,
    split_outputs: dict[str, tuple[np.ndarray, np.ndarray]],
    groups: dict[str, np.ndarray] | None = None,
) -> dict[str, float]:
    """Metrics of ``task`` (keys ``task.metric_names`` plus ``main`` = their mean) as plain floats.

    Cross-lingual tasks (``task.languages``) get per-language keys instead (``sdp.crosslingual``);
    ``groups`` holds the query id of each row per split, for ranking metrics (WPR nDCG)."""
    if task.languages:
        return crosslingual_metrics(task, split_outputs, groups)
    prepared: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def score(base: str, split: str) -> float:
        if split not in prepared:
            prepared[split] = _prepared(task, split, split_outputs)
        return float(_BASE_METRICS[base](*prepared[split]))

    result: dict[str, float] = {}
    for key in task.metric_names:
        result[key] = score(*metric_split(task, key))
    result["main"] = float(np.mean([result[k] for k in task.metric_names]))
    for split, prefix in REPORTED_SPLITS.items():  # after main: these keys never enter it
        if split in task.eval_splits:
            for key in task.metric_names:
                result[prefix + key] = score(metric_split(task, key)[0], split)
    return result


def _prepared(task: TaskSpec, split: str, split_outputs: dict[str, tuple[np.ndarray, np.ndarray]]):
    """(predictions, references) of ``split`` as metric inputs, checked for shape and emptiness."""
    if split not in split_outputs:
        raise ValueError(f"task {task.name!r}: the metrics need split {split!r}; got splits {sorted(split_outputs)}")
    preds, refs = split_outputs[split]
    preds = _predictions(task, preds, split)
    refs = np.asarray(refs).reshape(-1).astype(np.float64 if task.is_regression else np.int64)
    if len(preds) != len(refs):
        raise ValueError(f"{task.name}/{split}: {len(preds)} predictions but {len(refs)} references")
    if len(refs) == 0:
        raise ValueError(f"{task.name}/{split}: no examples")
    return preds, refs


def glue_score(mains: dict[str, float]) -> float:
    """Mean of the tasks' ``main`` values."""
    if not mains:
        raise ValueError("glue_score needs at least one task")
    return float(np.mean([float(v) for v in mains.values()]))


# ------------------------------------------------------------------------------------ cross-lingual
# Per-language scores of a cross-lingual task (keys: sdp/crosslingual.py's docstring).


def expected_grade(logits: np.ndarray) -> np.ndarray:
    """Ranking score of graded-relevance logits (N, C): the expected grade sum_k k * softmax_k."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim == 1:
        return logits
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    return p @ np.arange(logits.shape[1], dtype=np.float64)


def query_counts(grades: np.ndarray, groups: np.ndarray) -> dict[str, int]:
    """How many queries the nDCG of one split scores and leaves out (:func:`rankable_queries`)."""
    total, scored = len(np.unique(groups)), len(rankable_queries(grades, groups))
    return {"scored": scored, "left_out": total - scored}


def eval_queries(groups: dict[str, np.ndarray] | None, datasets: Any) -> dict[str, Any]:
    """``{"eval_queries": {split: query_counts}}`` for metrics.json when the task ranks (``groups``), else {}:
    ``eval_examples`` counts rows, and a ranking's score is a mean over the queries this counts."""
    if not groups:
        return {}
    return {"eval_queries": {split: query_counts(datasets[split]["labels"], ids) for split, ids in groups.items()}}


def ndcg_by_query(scores: np.ndarray, grades: np.ndarray, groups: np.ndarray, k: int | None = None) -> float:
    """Mean over the :func:`rankable_queries` of ``sklearn.metrics.ndcg_score`` of the rows of each query
    (``groups`` = query ids); the others are left out (a run records the counts: ``eval_queries``)."""
    scores, grades, groups = np.asarray(scores, float), np.asarray(grades, float), np.asarray(groups)
    if not (len(scores) == len(grades) == len(groups)):
        raise ValueError(f"ndcg: {len(scores)} scores, {len(grades)} grades, {len(groups)} query ids")
    values = [ndcg_score(grades[groups == g][None, :], scores[groups == g][None, :], k=k)
              for g in rankable_queries(grades, groups)]
    if not values:
        raise ValueError("ndcg: no query has two or more rows with different grades (nothing to rank)")
    return float(np.mean(values))


def _score(task: TaskSpec, base: str, split: str, preds: np.ndarray, refs: np.ndarray, groups) -> float:
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
        kind, lang = split_language(split)
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


def tie_repeated_inputs(split_outputs: dict[str, tuple[np.ndarray, np.ndarray]], inputs: Any) -> dict[str, Any]:
    """``split_outputs`` with each row's predictions those of the first row of its split that has the same model
    input (``inputs[split]``'s ``input_ids`` and ``token_type_ids``, a tokenised split in the outputs' order).

    The same text scored in another batch (another padding: a run's eval, sdp-eval of its saved model, another
    eval_batch_size) moves by float noise (~1e-7), and a regression's Spearman ranked texts that tie by that noise:
    a run recorded 98.53 and sdp-eval of its own model 98.64 on a dev file with repeated texts (probe round 25, sr1).
    """
    out = {}
    for split, (preds, refs) in split_outputs.items():
        ds = inputs[split] if inputs is not None and split in inputs else None
        index = _first_of_each_input(ds) if ds is not None and len(ds) == len(preds) else None
        out[split] = (preds, refs) if index is None else (np.asarray(preds)[index], refs)
    return out


_TIE_INDEX: dict[int, tuple[Any, np.ndarray | None]] = {}  # id(split) -> (the split, its index): built once per split


def _first_of_each_input(ds: Any) -> np.ndarray | None:
    """For each row of a tokenised split, the first row with the same model input (~0.3 s per 10k rows: built once
    per split object, which a run keeps for all its evaluations; the object itself is the key, not its fingerprint,
    which two versions of one file can share)."""
    cached = _TIE_INDEX.get(id(ds))
    if cached is not None and cached[0] is ds:
        return cached[1]
    columns = [ds[c] for c in ("input_ids", "token_type_ids") if c in ds.column_names]
    first: dict[tuple, int] = {}
    index = (np.asarray([first.setdefault(tuple(tuple(col) for col in row), i) for i, row in enumerate(zip(*columns))],
                        dtype=np.int64)
             if columns else None)
    if len(_TIE_INDEX) > 16:  # a long-lived process (tests, a sweep in one process): keep it bounded
        _TIE_INDEX.clear()
    _TIE_INDEX[id(ds)] = (ds, index)
    return index


def compute_metrics_noting(task: TaskSpec, split_outputs: dict[str, tuple[np.ndarray, np.ndarray]],
                           groups: dict[str, np.ndarray] | None, notes: list[str], inputs: Any = None,
                           label: str | None = None, loaded: str | None = None) -> dict[str, float]:
    """:func:`compute_metrics` of the outputs with repeated inputs tied (:func:`tie_repeated_inputs`, where the
    tokenised ``inputs`` are given), each DegenerateMetricWarning (a metric undefined on constant predictions,
    reported as 0.0) also appended to ``notes`` (a run's metrics.json ``metric_warnings``), not only on stderr;
    ``label`` names the evaluation in the note ("dense: mcc is undefined ...": the tables mark that stage's score);
    ``loaded``: the checkpoint the model was loaded from (dense.checkpoint), named where its outputs are not finite."""
    who = f"the model{f' ({loaded})' if loaded else ''} ({label} evaluation)" if label else "model_dir"
    for split, (preds, _) in split_outputs.items():
        check_outputs_finite(preds, who, f"split {split}")
    split_outputs = tie_repeated_inputs(split_outputs, inputs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DegenerateMetricWarning)
        result = compute_metrics(task, split_outputs, groups)
    for w in caught:
        if issubclass(w.category, DegenerateMetricWarning):
            notes.append(f"{label}: {w.message}" if label else str(w.message))
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)  # printed as before
    return result
