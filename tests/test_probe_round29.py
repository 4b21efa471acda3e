"""What probe round 29 found (issue 26; docs/probe_round29.md): a test file holding the dev file's rows in another
order or format (or, in sdp-eval, the dev file itself) reported the dev score again as `test_accuracy` with no word;
a run given another run's dense_model/ was never paired with that run, so deltas.md and claims.md left the pair out
unsaid; a pruning stage that starts from a pruned model's zeros counted them as its own pruning, unsaid; KD's
temperature on a regression was recorded and never read; two processes with a tracker ended in a traceback, as did
a config group given null; pruning layers could remove every one. Each test fails on the commit the probe ran
(35face4) and passes after its fix. Hand-written files, records and tiny models, offline; nothing is trained."""

from __future__ import annotations

import csv
import json
import logging
import random
from pathlib import Path

from omegaconf import OmegaConf
from records import write_record


def _csv(path: Path, rows: list[tuple[str, str]]) -> str:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return str(path)


# --------------------------------------------------------------------------- td1, td2
def test_a_test_file_of_the_dev_rows_in_another_order_or_format_is_said(tmp_path, caplog):
    """td1/td2: `task.test_file=` the dev file shuffled (CSV) or written as JSON Lines: `test_accuracy=87.50`, the dev
    score again, reported as a second, independent one; the byte-equal copy alone was refused."""
    from sdp.data.custom import custom_task

    train = _csv(tmp_path / "tr.csv", [(f"train text {i}", "ab"[i % 2]) for i in range(20)])
    dev_rows = [(f"dev text {i}", "ab"[i % 2]) for i in range(10)]
    dev = _csv(tmp_path / "dv.csv", dev_rows)
    shuffled = dev_rows[:]
    random.Random(0).shuffle(shuffled)
    tests = {"shuf.csv": _csv(tmp_path / "shuf.csv", shuffled), "test.csv": _csv(tmp_path / "test.csv",
             [(f"test text {i}", "ab"[i % 2]) for i in range(10)])}  # fmt: skip
    (tmp_path / "dv.jsonl").write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in dev_rows))
    tests["dv.jsonl"] = str(tmp_path / "dv.jsonl")

    def task(test: str):
        return OmegaConf.create({"name": "custom", "train_file": train, "validation_file": dev, "test_file": test,
                                 "text_fields": ["text"], "label_column": "label", "metric": "accuracy"})

    from sdp.data.custom import SCORING_ONLY

    for name, scoring in (("shuf.csv", False), ("dv.jsonl", False), ("shuf.csv", True)):  # True: as sdp-eval reads
        caplog.clear()
        token = SCORING_ONLY.set(scoring)
        try:
            with caplog.at_level(logging.WARNING, logger="sdp"):
                custom_task(task(tests[name]))
        finally:
            SCORING_ONLY.reset(token)
        assert (f"{name}': 10 of 10 rows repeat a row of task.validation_file='{dev}'" in caplog.text
                and "their score is partly a dev score" in caplog.text), caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        custom_task(task(tests["test.csv"]))  # a test file of its own rows: no word
    assert not caplog.records


# --------------------------------------------------------------------------- dp1
def test_a_run_given_another_runs_dense_model_is_paired_with_that_run(tmp_path):
    """dp1: MP seeds 1-2 with their own dense stages; KD seed 1 given MP seed 1's dense_model/ (the same model by
    fingerprint), KD seed 2 with its own: deltas.md `KD vs MP +0.00 (n=1)`, where by hand both seeds pair: -0.83
    (n=2). A run given another dense model (another fingerprint) still pairs with none."""
    from sdp.report.collect import collect_runs
    from sdp.report.tables import delta_frame

    write_record(tmp_path, "mp1", "MP", 1, 0.8833, own="fp1")
    write_record(tmp_path, "mp2", "MP", 2, 0.55, own="fp2")
    write_record(tmp_path, "kd1", "KD", 1, 0.8667, given=(str(tmp_path / "mp1" / "dense_model"), "fp1"))
    write_record(tmp_path, "kd2", "KD", 2, 0.55, own="fp2")
    kd = delta_frame(collect_runs(tmp_path).runs).set_index("method").loc["KD"]
    assert (kd["n_mp"], round(kd["delta_mp"], 2)) == (2, -0.83)

    (tmp_path / "kd1" / "metrics.json").write_text(
        (tmp_path / "kd1" / "metrics.json").read_text().replace('"fp1"', '"fp-other"'))
    assert delta_frame(collect_runs(tmp_path).runs).set_index("method").loc["KD", "n_mp"] == 1


# --------------------------------------------------------------------------- sw3
def test_a_pruning_stage_that_starts_from_zeros_says_so(tmp_path, caplog):
    """sw3: `model=hf model.pretrained=<a structured run>/model method=mp sparsity=0.5`: `at 50.00% prunable
    sparsity`, 4096 of the 10624 weights (38.55%: the removed heads, kept as zeros) zero before the run began."""
    import torch

    from sdp.pruning.overlap import save_dense_mask

    dead = torch.randn(10, 10)
    dead[:4] = 0.0  # 40 of 100 zero, as a removed head's rows
    with caplog.at_level(logging.WARNING, logger="sdp"):
        save_dense_mask(tmp_path / "a", {"w": dead}, 0.5, "global")
    assert ("starts from 40 exact zeros among the 100 prunable weights (40.00%" in caplog.text
            and "so this run prunes 10.00% of the weights itself" in caplog.text), caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        save_dense_mask(tmp_path / "b", {"w": torch.randn(10, 10)}, 0.5, "global")  # a dense model: no word
    assert not caplog.records


# --------------------------------------------------------------------------- kt2
def test_kd_on_a_regression_says_the_temperature_is_not_used(caplog):
    """kt2: `task=stsb method=kd regularizer.temperature=4` and `=1`: one model_sha256, the card saying
    `temperature 4.0`: a one-output model's KD is the MSE of the scores."""
    import torch

    from sdp.objectives.registry import DISTILL_TERMS

    term = DISTILL_TERMS.build("kd", temperature=4.0)
    with caplog.at_level(logging.WARNING, logger="sdp"):
        for _ in range(3):
            term({"logits": torch.randn(4, 1)}, {"logits": torch.randn(4, 1)})
        term_cls = DISTILL_TERMS.build("kd", temperature=4.0)
        term_cls({"logits": torch.randn(4, 3)}, {"logits": torch.randn(4, 3)})  # classes: the temperature is read
    assert [r.getMessage() for r in caplog.records] == [
        "regularizer=kd on a regression (one output): the term is the MSE of the student's and the teacher's scores, "
        "and regularizer.temperature=4 is not used (runs differing only in it are alike)"]


# --------------------------------------------------------------------------- tr1
def test_the_tracker_finishes_without_ending_the_process_group():
    """tr1: `accelerate launch --multi_gpu --num_processes 2 ... tracker=tensorboard`: both ranks `ValueError: Default
    process group has not been initialized` at the barrier after the final metrics (end_training() destroyed it)."""
    from sdp.run.tracking import Tracker

    calls: list[str] = []

    class Board:
        def finish(self):
            calls.append("finish")

    class Accelerator:
        trackers = [Board()]

        def init_trackers(self, *args, **kwargs):
            calls.append("init")

        def log(self, values, step=None):
            calls.append("log")

        def end_training(self):  # accelerate's: the trackers' finish, then destroy_process_group()
            calls.append("end_training")

    tracker = Tracker(Accelerator(), OmegaConf.create({"tracker": "tensorboard"}))
    tracker.log_final({"main": 0.5}, {"main": 0.6}, 0.9)
    assert calls == ["init", "log", "finish"]


# --------------------------------------------------------------------------- tr2
def test_a_group_given_null_is_one_line():
    """tr2: `sdp-run regularizer=null` (or method=, task=, model=null; sdp-eval alike): Hydra's `ValueError: Config
    group override must be a string or a list. Got NoneType` with a 30-line traceback."""
    from sdp.command_line import conf_groups, misspelt_key_errors

    errors = misspelt_key_errors(["debug=smoke", "regularizer=null", "task=null"], conf_groups())
    assert errors == [f"{g}=null: {g} is a config group: name one of its options (sdp-run --help lists them; no "
                      "distillation or weight term: regularizer=none, weight_reg=none)" for g in ("regularizer", "task")]
    assert misspelt_key_errors(["regularizer=none", "prune.reference_mask=null"], conf_groups()) == []


# --------------------------------------------------------------------------- ul1
def test_layers_pruning_keeps_a_layer_and_says_so_at_start():
    """ul1: `'prune.structures=[layers]' sparsity=0.9` on 2 layers removed both (`achieved 1.0000`), scored the
    layerless model, then failed saving it: `... needs a BERT-like encoder ...; this model has none`."""
    import pytest
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from sdp.objectives.registry import CRITERIA
    from sdp.pruning.build import mask_state
    from sdp.pruning.masks import select_prunable
    from sdp.pruning.structures import SparsityOutOfReachError

    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                                                     num_attention_heads=2, intermediate_size=64, num_labels=2))

    def state(kinds, target):
        return mask_state(model, select_prunable(model), CRITERIA.build("l2"), "structured", structures=kinds,
                          target=target)

    with pytest.raises(SparsityOutOfReachError, match=r"\['layers'\]: at most 0.5 of the prunable weights can go "
                                                      r"while one layer at least is kept"):
        state(["layers"], 0.9)
    most = state(["heads", "ffn", "layers"], 0.5).max_sparsity()
    assert most == 1 - (16 * 32 * 4 + 2 * 32) / (2 * (4 * 32 * 32 + 2 * 32 * 64)) == 0.87109375  # a head, a neuron
    with pytest.raises(SparsityOutOfReachError):
        state(["heads", "ffn", "layers"], 0.99)
    kept = state(["layers"], 0.5)
    kept.update(0.5)
    assert sum(bool(k) for k in kept.layer_kept) == 1
