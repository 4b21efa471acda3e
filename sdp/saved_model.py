"""A saved ``model/`` folder (what a run writes: safetensors, config.json, tokenizer) loaded for inference, with
the checks sdp-eval and sdp-predict share: a folder that is not a model, and a task whose labels are not the
model's (config.json ``id2label``), are one-line errors before any weight loads."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdp.class_names import check_class_names
from sdp.errors import ConfigError
from sdp.io import hydra_quoted
from sdp.models.inspect import (
    VOCAB_FILES,
    ModelLoadError,
    check_finite,
    check_loaded_whole,
    check_model_dir,
    label_names,
    mismatch_error,
    num_labels,
    read_config,
    same_labels,
)
from sdp.run.nesting import is_sdp_metrics


@dataclass
class SavedModel:
    path: Path
    config: dict[str, Any]  # its config.json
    model: Any  # AutoModelForSequenceClassification, in eval mode, on ``device``
    tokenizer: Any
    device: Any

    @property
    def is_regression(self) -> bool:
        return self.config.get("problem_type") == "regression" or num_labels(self.config) == 1

    @property
    def label_names(self) -> list[str]:
        """Class names in id order (transformers' LABEL_i where the folder has none)."""
        id2label = self.config.get("id2label") or {}
        return [str(id2label[k]) for k in sorted(id2label, key=int)] or [f"LABEL_{i}" for i in
                                                                          range(num_labels(self.config))]


def check_saved_model(model_dir: str | Path) -> tuple[Path, dict[str, Any]]:
    """The folder and its config.json, or a ModelLoadError naming ``model_dir`` and what is missing."""
    path = check_model_dir(Path(str(model_dir)).expanduser(), "model_dir")
    if not any((path / f).is_file() for f in VOCAB_FILES):
        raise ModelLoadError(f"model_dir {str(model_dir)!r} has no tokenizer files (none of {list(VOCAB_FILES)}; "
                             "tokenizer_config.json alone holds no vocabulary): a tokenizer made without them reads "
                             "every word as [UNK]; a run's model/ folder holds them")
    config = read_config(path)
    if config is None:
        raise ModelLoadError(f"model_dir {str(model_dir)!r}: config.json is not valid JSON")
    # A regression model has one output. problem_type "regression" on a 2-label classifier made sdp-predict print
    # its first logit as a score for every row, exit 0 (probe round 15, a01); the reverse read one output as a class.
    problem, n = config.get("problem_type"), num_labels(config)
    if (problem == "regression" and n != 1) or (problem in ("single_label_classification",
                                                            "multi_label_classification") and n == 1):
        raise ModelLoadError(f"model_dir {str(model_dir)!r}: config.json says problem_type {problem!r} but has {n} "
                             "label(s) (id2label): a regression model has 1 output, a classifier 2 or more; give "
                             "the problem_type its run saved")
    check_class_names(config, f"model_dir {str(model_dir)!r}")
    return path, config


def check_task_labels(model_dir: str | Path, config: dict[str, Any], task: Any) -> None:
    """The task's labels are the model's: same count, and the same names where config.json names them."""
    where = f"model_dir {str(model_dir)!r}"
    if task.is_regression:
        if num_labels(config) != 1:
            raise ModelLoadError(f"{where} is a classifier with labels {label_names(config) or num_labels(config)} "
                                 f"(config.json id2label); task {task.name!r} is a regression")
        return
    expected = list(task.label_names)
    names = label_names(config)
    # letter case aside, but exactly where case tells two classes apart ([NEG, neg] scored as [neg, NEG]: review)
    if num_labels(config) != len(expected) or (names is not None and not same_labels(names, expected)):
        if num_labels(config) == 1:  # was "trained for labels 1 unnamed labels" (probe round 24, e02)
            raise ModelLoadError(f"{where} is a regression model (one score per row: config.json num_labels 1); task "
                                 f"{task.name!r} is a classification with the labels {expected}: evaluate it on the "
                                 "task it was trained for")
        if names is not None and same_labels(names, expected, ordered=False):
            # the same classes in another order: the order the model reads them in is said, not "the task it was trained for"
            raise ModelLoadError(f"{where} was trained for the labels {names} in that order (config.json id2label); "
                                 f"task {task.name!r} lists them as {expected}: each position is one output of the "
                                 "model; " + ("give " if task.name == "custom" else
                                              "score it with task=custom task.validation_file=<file> ")
                                 + f"task.label_names=[{','.join(map(hydra_quoted, names))}] (the model's order)")
        have = names if names is not None else f"{num_labels(config)} unnamed labels"
        from sdp.data.file_scan import look_alikes

        # ['neg', 'pоs'] against ['neg', 'pos'] printed alike, unhinted (probe round 36, lm1)
        hint = look_alikes([n for n in expected if n not in (names or [])], list(names or []))
        raise ModelLoadError(f"{where} was trained for labels {have} (config.json id2label); task {task.name!r} "
                             f"has {expected}: evaluate it on the task it was trained for{hint}")


def text_order_error(model_dir: str | Path, config: dict[str, Any], fields: Any, key: str,
                     model_key: str = "model_dir", count: bool = True) -> str | None:
    """Why the text columns ``fields`` (named by ``key``) are not the model's pair in its order, or None. sdp-run
    records the columns a model was trained on (config.json ``sdp_text_fields``); the same two names in the other
    order fed every pair reversed: an RTE model trained on (sentence2, sentence1) scored 51.62 on task=rte where
    its own order gives 53.07, and sdp-predict labelled the reversed pairs, without a word (probe round 15, e01).
    A run's dense.checkpoint or teacher (``model_key``) is read in the run's order too (probe round 18, t12, t13).
    ``count``: one text given for a pair model, or back, is an error too (round 32); sdp-predict checks the count on
    the rows it reads instead (prediction.check_arity: a text_fields given or not, or stdin's tab-separated pairs)."""
    trained, given = list(config.get("sdp_text_fields") or []), [str(f) for f in fields or []]
    if count and trained and given and len(trained) != len(given):
        kind = ["one text" if len(f) == 1 else "a pair" for f in (trained, given)]
        return (f"{model_key} {str(model_dir)!r} was trained on {kind[0]} ({', '.join(trained)}) per row (config.json "
                f"sdp_text_fields), and {key} gives {kind[1]} ({', '.join(given)}): a model reads only the input it was "
                f"trained on; give a {model_key} trained on {kind[1]} per row, or data of {kind[0]} per row")
    if len(trained) != 2 or given != trained[::-1] or given == trained:
        return None
    if model_key != "model_dir":
        advice = (f"give a {model_key} trained on ({given[0]}, {given[1]}), or train on its order "
                  f"(task=custom task.text_fields=[{trained[0]},{trained[1]}])")
    elif key == "text_fields":  # sdp-predict's
        advice = f"give text_fields={trained[0]},{trained[1]}"
    elif key == "task.text_fields":
        advice = f"give task.text_fields=[{trained[0]},{trained[1]}]"
    else:  # task=<a GLUE task>
        advice = (f"score it with task=custom task.text_fields=[{trained[0]},{trained[1]}] and task.validation_file= "
                  "(a GLUE task reads its columns in its own order)")
    return (f"{model_key} {str(model_dir)!r} was trained on pairs ({trained[0]}, {trained[1]}) (config.json "
            f"sdp_text_fields), and {key} gives the same columns in the other order ({given[0]}, {given[1]}): a pair "
            f"model reads its first and second text differently; {advice}")


def check_text_order(model_key: str, path: str | Path, config: dict[str, Any], task_cfg: Any, task: Any) -> None:
    """A run's ``model_key`` (dense.checkpoint, prune.teacher_checkpoint) trained on the run's pair reversed: a
    ConfigError (it was taken, and its dense score, or the teacher's target, read every pair the other way).
    ``task``: the GLUE task's spec (its own columns), None for task=custom (``task_cfg.text_fields``)."""
    given = task_cfg.get("text_fields")
    fields, key = ((given, "task.text_fields") if given
                   else (getattr(task, "text_fields", None), f"task={task_cfg.name}"))
    if (error := text_order_error(path, config, fields, key, model_key=model_key)) is not None:
        raise ConfigError(error)


def source_run(model_dir: Path) -> dict[str, Any]:
    """The completed run's metrics.json beside ``model_dir`` (a run's ``<run dir>/model``), or {}. Not for another
    folder of the run (its dense_model/): the record describes model/, and a dense model was called "edited or
    replaced after the run" (probe round 26, ev3). A link or ``.`` is followed to the folder it names: through a
    link named otherwise, or as ``.``, the record lost the run's method, seed and model name (probe round 27, sl1)."""
    model_dir = Path(model_dir).resolve()
    if model_dir.name != "model":
        return {}
    try:
        record = json.loads((model_dir.parent / "metrics.json").read_text())
    except (OSError, ValueError):
        return {}
    # sdp's: another tool's completed record beside model/ was read as its run (review of round 43's fixes)
    ok = is_sdp_metrics(record, model_dir.parent) and record["status"] == "completed" and record.get("kind", "run") == "run"
    return record if ok else {}


def load_saved_model(model_dir: str | Path, cpu: bool = False) -> SavedModel:
    """Weights (safetensors only, no remote code) and tokenizer of a checked folder, ready for inference."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    path, config = check_saved_model(model_dir)
    # A finished model loads whole: transformers' load report, tensor-parallel notes and progress bars would only
    # bury the one line or the labels these tools print.
    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        try:
            model, info = AutoModelForSequenceClassification.from_pretrained(
                str(path), use_safetensors=True, trust_remote_code=False, output_loading_info=True)
        except RuntimeError as err:
            raise mismatch_error("model_dir", model_dir, err) or err from None
        check_loaded_whole("model_dir", model_dir, info)
        check_finite("model_dir", model_dir, model)
        tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)
        from sdp.models.presets import check_vocab

        check_vocab(model, tokenizer, f"model_dir {str(model_dir)!r}", saved=True)
    finally:
        hf_logging.set_verbosity(level)
    device = torch.device("cuda" if torch.cuda.is_available() and not cpu else "cpu")
    return SavedModel(path, config, model.to(device).eval(), tokenizer, device)


def trained_length(path: Path, config: dict[str, Any]) -> int | None:
    """The max_seq_length ``path`` was trained and scored at: config.json's ``sdp_max_seq_length`` (sdp-run writes
    it), else, for a run's model/ saved before that, the run's own .hydra/config.yaml; None if neither says."""
    if isinstance(config.get("sdp_max_seq_length"), int):
        return config["sdp_max_seq_length"]
    try:
        from omegaconf import OmegaConf

        value = OmegaConf.load(path.parent / ".hydra" / "config.yaml").task.max_seq_length
    except Exception:  # noqa: BLE001 - not a run's model/, or a config without the key: nothing known
        return None
    return value if isinstance(value, int) else None
