"""sdp-eval's task=custom, filled from the model's config.json: the file it scores stands for the training file, and
the classes, text columns and metric are the model's own where not given; errors name the file the user gave."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any

from sdp.data.locations import local_config
from sdp.data.tasks import DataError
from sdp.errors import ConfigError
from sdp.models.inspect import label_names, num_labels
from sdp.saved_model import ModelLoadError

log = logging.getLogger("sdp")


def fill_custom_task(cfg: Any, config: dict[str, Any]) -> bool:
    """task=custom needs only the file it scores: its train_file defaults to the validation file, and its class
    names (in id order) to the model's, so the labels are read as the model was trained on them, and its text columns
    to those the model's run read (config.json sdp_text_fields)."""
    task = cfg.task
    if task.name != "custom":
        return False
    local_config(task, "task.")  # file:// as the path it is: it was read stale, unscanned (probe round 47, fu2, q2)
    if not task.get("validation_file") and not task.get("validation_from_train"):  # it said train_file was required
        raise DataError("task=custom: sdp-eval scores task.validation_file=<file> (and a task.test_file= beside it), "
                        "and reads no training file; give task.validation_file")
    if not task.get("text_fields") and (own := [str(f) for f in config.get("sdp_text_fields") or []]):
        task.text_fields = own  # the columns its run read (config.json), as sdp-predict takes them (it asked for them)
        print(f"sdp-eval: task.text_fields=[{','.join(own)}] (the model's own)", file=sys.stderr)
    if config.get("problem_type") == "regression" and task.get("label_names"):  # the data's error advised choosing a
        # classification metric, which a regression model's own overrides (probe round 38, noticed)
        raise ConfigError(f"task.label_names={[str(n) for n in task.label_names]} names classes, and model_dir is a "
                          "regression (config.json problem_type: one score per row, no classes): drop task.label_names")
    if config.get("problem_type") == "regression" and task.get("metric") != "pearson_spearman":
        # one output, no classes: its scores were refused as float labels needing this metric (round 35, noticed)
        task.metric = "pearson_spearman"
        print("sdp-eval: task.metric=pearson_spearman (the model's own: a regression, config.json problem_type)",
              file=sys.stderr)
    elif task.get("metric") == "pearson_spearman" and num_labels(config) > 1:  # before the file's labels are read as
        # scores: "target 'neg' is not a finite number" spoke of the data, not of the metric (probe round 37, noticed)
        names = label_names(config) or "(unnamed)"
        raise ModelLoadError(f"task.metric=pearson_spearman scores a regression, and model_dir is a classifier of "
                             f"{num_labels(config)} classes {names} (config.json): leave task.metric out (its run's "
                             "metric), or give a classification metric (accuracy, f1, mcc)")
    # Not with a carve: it is cut from the run's training file, and the dev file carved in its place was scored as
    # "validation_from_train" (5 of its 20 rows) past the carve check (probe round 22, m10)
    filled = not task.get("train_file") and not task.get("validation_from_train")
    if filled:
        task.train_file = task.validation_file
    id2label = config.get("id2label") or {}
    names = [str(id2label[k]) for k in sorted(id2label, key=int)]
    n = len(names) or int(config.get("num_labels") or 2)  # transformers 5 saves no id2label of its default names
    if config.get("sdp_tokenizer_digest") and n > 1:  # sdp-run's: LABEL_i are its data's labels (round 33, lb1)
        names = names or [f"LABEL_{i}" for i in range(n)]
    unnamed = n > 1 and names in ([], [f"LABEL_{i}" for i in range(n)]) and not config.get("sdp_tokenizer_digest")
    if unnamed and task.get("metric") != "pearson_spearman":  # they were the allowed labels, or read in order unsaid
        said = f"config.json id2label LABEL_0 ... LABEL_{n - 1}" if names else "config.json has no id2label"
        if not task.get("label_names"):
            raise ConfigError(f"model_dir names no classes ({said}): give the file's labels in the order of its "
                              "outputs as task.label_names=[...]")
        log.warning("sdp-eval: model_dir names no classes (%s): its outputs are read as task.label_names %s in that "
                    "order, unchecked", said, list(task.label_names))
    elif not task.get("label_names") and task.get("metric") != "pearson_spearman" and len(names) > 1:
        task.label_names = names
        if task.get("metric") == "f1" and names != ["0", "1"]:  # as sdp-run says it (round 11's m08; round 33, ef1)
            # a saved model's class order is fixed: "list them as task.label_names=..." was refused here (round 42)
            log.warning("sdp-eval: task.metric=f1 is the F1 of class %r, model_dir's second class (config.json "
                        "id2label %s); the other class's F1 needs a model trained with it second (sdp-run "
                        "task.label_names=[<negative>,<positive>])", names[1], names)
    return filled


@contextlib.contextmanager
def named_as_given(filled: bool) -> Iterator[None]:
    """sdp-eval reads the scored file as task.train_file too (fill_custom_task): its errors named a train_file the user
    never gave (probe round 32, ek1); they name task.validation_file."""
    try:
        yield
    except DataError as err:
        if not filled or "task.train_file=" not in str(err):
            raise
        raise type(err)(str(err).replace("task.train_file=", "task.validation_file=")) from None
