"""End to end: a tiny-bert run on every GLUE task, checking the files, the sparsity and the checkpoint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification

import sdp.config  # noqa: F401
from sdp.models.inspect import weights_digest
from sdp.pruning.masks import select_prunable
from sdp.recipe import run

CONF = str(Path(__file__).resolve().parents[1] / "conf")
SHARED_TASKS = {"cola": "CoLA", "sst2": "SST-2", "mrpc": "MRPC", "stsb": "STS-B", "rte": "RTE", "wnli": "WNLI"}


def compose_cfg(overrides: list[str]):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def _write_mnli(root: Path) -> None:
    header = ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
              "sentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label")
    labels = ["entailment", "neutral", "contradiction"]
    d = root / "glue" / "MNLI"
    d.mkdir(parents=True)
    for name, n in [("train.tsv", 40), ("dev_matched.tsv", 12), ("dev_mismatched.tsv", 9)]:
        rows = [header]
        for i in range(n):
            lab = labels[i % 3]
            rows.append(f"{i}\t{i}\t{i}e\tfiction\t( a )\t( b )\t(ROOT a)\t(ROOT b)\t"
                        f"The cat number {i} sat \"here\".\tA cat {lab} {i}.\t{lab}\t{lab}")
        (d / name).write_text("\n".join(rows) + "\n")


def _write_qqp(root: Path) -> None:
    d = root / "glue" / "QQP"
    d.mkdir(parents=True)
    for name, n in [("train.tsv", 40), ("dev.tsv", 10)]:
        rows = ["id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate"]
        rows += [f"{i}\t{2*i}\t{2*i+1}\tHow do I learn {i}?\tWhat is {i % 4}?\t{i % 2}" for i in range(n)]
        (d / name).write_text("\n".join(rows) + "\n")


def _qnli_with_train(root: Path, data_dir: Path) -> None:
    # The shared copy has no QNLI train split (too large): train on the first dev rows instead.
    d = root / "glue" / "QNLI"
    d.mkdir(parents=True)
    dev = (data_dir / "glue" / "QNLI" / "dev.tsv").read_text().splitlines()
    (d / "train.tsv").write_text("\n".join(dev[:65]) + "\n")
    shutil.copy(data_dir / "glue" / "QNLI" / "dev.tsv", d / "dev.tsv")


@pytest.fixture(scope="module")
def written_data(tmp_path_factory, data_dir) -> Path:
    root = tmp_path_factory.mktemp("glue_written")
    _write_mnli(root)
    _write_qqp(root)
    _qnli_with_train(root, data_dir)
    return root


def _check_run(run_dir: Path, metrics: dict, task: str, sparsity: float, scope: str = "global") -> None:
    on_disk = json.loads((run_dir / "metrics.json").read_text())
    assert on_disk == json.loads(json.dumps(metrics))
    for key in ("task", "model", "regularizer", "schedule", "seed", "target_sparsity", "achieved_sparsity",
                "nonzero_params", "dense", "final", "versions", "wall_seconds", "config_hash", "cell_hash"):
        assert key in on_disk, key
    assert on_disk["task"] == task
    assert set(on_disk["achieved_sparsity"]) == {"prunable", "encoder", "model"}
    assert on_disk["dense"]["main"] == on_disk["dense"]["main"]  # not NaN
    assert "main" in on_disk["final"]
    for key in ("torch", "transformers", "sdp"):
        assert on_disk["versions"][key]
    assert (run_dir / "run.log").read_text().strip()
    assert (run_dir / "trace.jsonl").read_text().strip()
    assert json.loads((run_dir / "run.json").read_text())["prune_passes"].startswith(("compiled C (", "numpy ("))

    # The checkpoint: plain safetensors, no mask buffers, zeros in place, reloadable.
    state = load_file(run_dir / "model" / "model.safetensors")
    assert not any(k.endswith(("_mask", "_orig")) for k in state)
    model = AutoModelForSequenceClassification.from_pretrained(run_dir / "model")
    prunable = select_prunable(model)
    zeros = sum(int((w == 0).sum()) for w in prunable.values())
    total = sum(w.numel() for w in prunable.values())
    if scope == "layerwise":
        for name, w in prunable.items():
            assert abs(int((w == 0).sum()) - round(sparsity * w.numel())) <= 1, name
    else:
        assert abs(zeros - round(sparsity * total)) <= 1
    assert on_disk["achieved_sparsity"]["prunable"] == pytest.approx(zeros / total)
    nonzero = sum(int((p != 0).sum()) for p in model.parameters())
    assert on_disk["nonzero_params"] == nonzero
    assert (run_dir / "model" / "tokenizer_config.json").is_file()
    assert on_disk["model_sha256"] == weights_digest(run_dir / "model") and set(on_disk["model_sha256"]) == {
        "model.safetensors"}  # what model/ holds, by content: an edit after the run is told (sdp-eval, a relaunch)
    with torch.no_grad():
        model(input_ids=torch.tensor([[101, 2023, 102]]))


# A tiny random model may predict one class: CoLA's MCC is then undefined, reported as 0 with this warning.
@pytest.mark.filterwarnings("ignore::sdp.metrics.DegenerateMetricWarning")
@pytest.mark.parametrize("task", sorted(SHARED_TASKS))
def test_tiny_bert_run_on_shared_glue_task(task, data_dir, tmp_path):
    cfg = compose_cfg(["debug=smoke", f"task={task}", f"data_dir={data_dir}", f"cache_dir={tmp_path}/cache",
                       "sparsity=0.6"])
    metrics = run(cfg, run_dir=tmp_path / "run")
    _check_run(tmp_path / "run", metrics, task, 0.6)


@pytest.mark.parametrize("task", ["mnli", "qqp", "qnli"])
def test_tiny_bert_run_on_written_files(task, written_data, tmp_path):
    cfg = compose_cfg(["debug=smoke", f"task={task}", f"data_dir={written_data}", f"cache_dir={tmp_path}/cache",
                       "sparsity=0.7", "prune.scope=layerwise"])
    metrics = run(cfg, run_dir=tmp_path / "run")
    _check_run(tmp_path / "run", metrics, task, 0.7, "layerwise")
    if task == "mnli":
        assert set(metrics["final"]) == {"accuracy_m", "accuracy_mm", "main"}
