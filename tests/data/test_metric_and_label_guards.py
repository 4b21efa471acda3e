"""Probe round 4 (issue 26, docs/probe_round4.md): data that made a score or a class set silently wrong.

* An eval split of one class scored MCC 0.0 (CoLA with max_eval_samples=2), and one without a positive row scored
  binary F1 0.0 (MRPC): undefined, or the same whatever the model predicts, yet reported as measured.
* A custom label written with a stray space in some rows ('pos' and 'pos ') was a class of its own.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from sdp.crosslingual import resolve_task
from sdp.data.loading import load_splits
from sdp.data.tasks import DataError, get_task


def _glue(root: Path, data_dir: Path, folder: str, dev_lines: list[str], header: bool) -> Path:
    d = root / "glue" / folder
    d.mkdir(parents=True)
    train = (data_dir / "glue" / folder / "train.tsv").read_text(encoding="utf-8").split("\n")
    (d / "train.tsv").write_text("\n".join(train[:41]) + "\n", encoding="utf-8")
    head = train[:1] if header else []
    (d / "dev.tsv").write_text("\n".join(head + dev_lines) + "\n", encoding="utf-8")
    return root


def test_an_eval_split_on_which_mcc_or_f1_is_undefined_is_refused(tmp_path, data_dir):
    cola_dev = (data_dir / "glue" / "CoLA" / "dev.tsv").read_text(encoding="utf-8").split("\n")
    acceptable = [line for line in cola_dev if line.split("\t")[1:2] == ["1"]][:6]
    root = _glue(tmp_path / "cola", data_dir, "CoLA", acceptable, header=False)
    with pytest.raises(DataError, match=r"task 'cola': eval split 'validation' holds one class \('acceptable'\) in "
                                        r"all 6 rows: mcc is undefined on it"):
        load_splits(get_task("cola"), root)

    mrpc_dev = (data_dir / "glue" / "MRPC" / "dev.tsv").read_text(encoding="utf-8-sig").split("\n")
    negatives = [line for line in mrpc_dev[1:] if line.startswith("0\t")][:5]
    root = _glue(tmp_path / "mrpc", data_dir, "MRPC", negatives, header=True)
    with pytest.raises(DataError, match=r"eval split 'validation' has no row of the positive class \('equivalent'\) "
                                        r"in its 5 rows: f1 is undefined on it"):
        load_splits(get_task("mrpc"), root)

    both = [*negatives, next(line for line in mrpc_dev[1:] if line.startswith("1\t"))]
    root = _glue(tmp_path / "mrpc_ok", data_dir, "MRPC", both, header=True)
    assert len(load_splits(get_task("mrpc"), root).datasets["validation"]) == 6  # one positive row is enough


def test_custom_labels_that_differ_only_in_spaces_are_refused(tmp_path):
    rows = ["text\tlabel"] + [f"review number {i}\t{['pos', 'neg', 'pos '][i % 3]}" for i in range(12)]
    (tmp_path / "train.tsv").write_text("\n".join(rows) + "\n")
    (tmp_path / "dev.tsv").write_text("\n".join(rows[:7]) + "\n")
    task_cfg = OmegaConf.create({"name": "custom", "train_file": str(tmp_path / "train.tsv"),
                                 "validation_file": str(tmp_path / "dev.tsv"), "text_fields": ["text"],
                                 "label_column": "label", "label_names": None, "metric": "accuracy",
                                 "target_range": None, "validation_from_train": None})
    with pytest.raises(DataError, match=r"task.label_column='label' holds labels that differ only in spaces, "
                                        r"\['pos', 'pos '\]"):
        resolve_task(task_cfg)
