"""Task registry: every task's spec (what its data looks like, where it lives, how it is scored) by name.

The registry lists the built-in tasks itself -- the GLUE tasks below and the cross-lingual ones declared in
``sdp.data.xglue_tasks`` -- so :data:`TASKS` is the same whatever was imported before it. A user's task joins
with :func:`register_task`. ``source`` selects the local-file reader (see ``sdp.data.sources``).
"""

from __future__ import annotations

from sdp.data.spec import (  # noqa: F401  (re-exported: the spec and its errors are imported from here)
    DataError,
    DataFileNotFoundError,
    TaskSpec,
    check_target,
    grouping_hint,
    read_utf8,
    split_language,
)
from sdp.data.xglue_tasks import XGLUE_SPECS

_MNLI_FILES = (
    ("train", "train.tsv"),
    ("validation_matched", "dev_matched.tsv"),
    ("validation_mismatched", "dev_mismatched.tsv"),
)

# The GLUE tasks in the benchmark's order: the tables' column order too.
GLUE_SPECS: tuple[TaskSpec, ...] = (
    TaskSpec(
        name="cola",
        text_fields=("sentence",),
        label_names=("unacceptable", "acceptable"),
        metric_names=("mcc",),
        hub_name="cola",
        local_subdir="CoLA",
        local_header=False,
        local_text_columns=(3,),
        local_label_column=1,
        local_label_format="index",
        local_num_columns=4,
    ),
    TaskSpec(
        name="sst2",
        text_fields=("sentence",),
        label_names=("negative", "positive"),
        metric_names=("accuracy",),
        hub_name="sst2",
        local_subdir="SST-2",
        local_label_format="index",
    ),
    TaskSpec(
        name="mrpc",
        text_fields=("sentence1", "sentence2"),
        label_names=("not_equivalent", "equivalent"),
        metric_names=("f1", "accuracy"),
        hub_name="mrpc",
        local_subdir="MRPC",
        local_text_columns=("#1 String", "#2 String"),
        local_label_column="Quality",
        local_label_format="index",
    ),
    TaskSpec(
        name="stsb",
        text_fields=("sentence1", "sentence2"),
        label_names=None,
        metric_names=("pearson", "spearman"),
        hub_name="stsb",
        local_subdir="STS-B",
        local_label_column="score",
        local_label_format="float",
        target_range=(0.0, 5.0),  # similarity scores from 0 (unrelated) to 5 (equivalent)
    ),
    TaskSpec(
        name="qqp",
        text_fields=("question1", "question2"),
        label_names=("not_duplicate", "duplicate"),
        metric_names=("f1", "accuracy"),
        hub_name="qqp",
        local_subdir="QQP",
        local_label_column="is_duplicate",
        local_label_format="index",
    ),
    TaskSpec(
        name="mnli",
        text_fields=("premise", "hypothesis"),
        label_names=("entailment", "neutral", "contradiction"),
        metric_names=("accuracy_m", "accuracy_mm"),
        eval_splits=("validation_matched", "validation_mismatched"),
        hub_name="mnli",
        local_subdir="MNLI",
        local_text_columns=("sentence1", "sentence2"),
        local_label_column="gold_label",
        local_split_files=_MNLI_FILES,
    ),
    TaskSpec(
        name="qnli",
        text_fields=("question", "sentence"),
        label_names=("entailment", "not_entailment"),
        metric_names=("accuracy",),
        hub_name="qnli",
        local_subdir="QNLI",
    ),
    TaskSpec(
        name="rte",
        text_fields=("sentence1", "sentence2"),
        label_names=("entailment", "not_entailment"),
        metric_names=("accuracy",),
        hub_name="rte",
        local_subdir="RTE",
    ),
    TaskSpec(
        name="wnli",
        text_fields=("sentence1", "sentence2"),
        label_names=("not_entailment", "entailment"),
        metric_names=("accuracy",),
        hub_name="wnli",
        local_subdir="WNLI",
        local_label_format="index",
    ),
)
GLUE_TASKS: tuple[str, ...] = tuple(spec.name for spec in GLUE_SPECS)

TASKS: dict[str, TaskSpec] = {}


def register_task(spec: TaskSpec, *, overwrite: bool = False) -> None:
    """Add ``spec`` to :data:`TASKS`. Re-registering an identical spec is a no-op; a different one with
    the same name needs ``overwrite=True``."""
    old = TASKS.get(spec.name)
    if old is not None and old != spec and not overwrite:
        raise DataError(f"task {spec.name!r} is already registered with a different spec")
    TASKS[spec.name] = spec


def get_task(name: str) -> TaskSpec:
    """The registered task called ``name`` (case-insensitive)."""
    key = str(name).strip().lower()
    if key not in TASKS:
        raise DataError(f"unknown task {name!r}; allowed: {', '.join(sorted(TASKS))}")
    return TASKS[key]


for _spec in (*GLUE_SPECS, *XGLUE_SPECS):
    register_task(_spec)
