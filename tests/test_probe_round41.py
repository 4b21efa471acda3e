"""Probe round 41 (docs/probe_round41.md, a deciding round; probe only): its findings, fixed by the lead. Each test
fails on 5374998 (the round's BASE) and passes after its fix. Hand-written files and tiny models, offline."""

from __future__ import annotations

import json

import numpy as np
import pytest
from records import write_csv
from test_probe_round32 import _classifier
from test_probe_round33 import _eval
from test_probe_round37 import _custom, _said
from test_round38_found import _run_data


def test_rows_exactly_at_the_length_differing_in_an_unknown_token_are_read_whole(tmp_path, caplog, tokenizer):
    """tw1-tw7: rows of one input under two labels (or a dev row of a training row's input, a test row of a dev row's),
    each exactly task.max_seq_length tokens and differing at an [UNK] (an emoji), were said to be "at
    task.max_seq_length ... differing past it ... (or raise task.max_seq_length)": the count was by the cut ids'
    length alone. Each row's length uncut (and its twins') decides now."""
    text = "film one was good"
    assert len(tokenizer(text + " 😀")["input_ids"]) == 7  # [CLS] film one was good [UNK] [SEP]: read whole at 7
    filler = [(f"film number {i} here", ("pos", "neg")[i % 2]) for i in range(10)]
    train = [*filler, (text + " 😀", "pos"), (text + " 😡", "neg")]
    test = write_csv(tmp_path / "te.csv", [("another film", "pos"), (text + " 🙄", "neg")])
    cfg = _custom(tmp_path, train, [(text + " 🙂", "pos"), ("a dev row", "neg"), ("a dev row 😀", "pos")],
                  "task.max_seq_length=7", f"task.test_file={test}")
    said = _said(caplog, lambda: _run_data(cfg, tokenizer, tmp_path / "c"), "as the model reads them")
    lines = said.splitlines()
    assert len(lines) == 4, said  # training rows under two labels; a dev and a test row of their input; test of dev
    assert all("read whole, differing in what the tokenizer sets aside or reads as an unknown token" in line
               and "differing past" not in line and "raise task.max_seq_length" not in line for line in lines), said

    # the same rows where one goes on past the cut: that pair differs past it, said with the advice
    train = [*filler, (text + " 😀", "pos"), (text + " 😀 and a long tail", "neg")]
    cfg = _custom(tmp_path, train, [("a dev row", "neg"), ("another", "pos")], "task.max_seq_length=7")
    said = _said(caplog, lambda: _run_data(cfg, tokenizer, tmp_path / "c2"), "under another label")
    assert "2 differing past task.max_seq_length=7 tokens, where they or their twins were cut" in said, said
    assert "(or raise task.max_seq_length)" in said, said


def test_a_row_exactly_at_the_length_whose_twin_is_known_by_hash_only_is_said_to_be_either(tmp_path, tokenizer):
    """tw5: against a model's row hashes (sdp-eval away from the run) a twin's length is not known: a row exactly
    task.max_seq_length long differs past the cut from a longer training row, or in what the tokenizer sets aside."""
    import datasets

    from sdp.data.token_cuts import CutRows, reach
    from sdp.data.token_repeats import _said

    rows = datasets.Dataset.from_dict({"text": ["film one was good 😀", "film one", "film one was good and more"]})
    ds = datasets.Dataset.from_dict({"input_ids": [tokenizer(t, truncation=True, max_length=7)["input_ids"]
                                                   for t in rows["text"]]})
    cuts = CutRows(tokenizer, {"validation": rows}, {"validation": ds}, ("text",), 7)
    how = reach(cuts, "validation", [1, 2, 3])
    assert how == ["edge", "whole", "cut"], how
    assert reach(CutRows(None, {"validation": rows}, {"validation": ds}, ("text",), 7), "validation", [1, 2, 3]) == [
        "edge", "whole", "edge"]  # no tokenizer: nothing known of a row that reached the length
    text = _said([1, 2, 3], ds, how, "split validation", 7, "rows model_dir was trained on")
    assert "1 exactly task.max_seq_length=7 tokens long, differing past it from a longer twin or in what the " \
           "tokenizer sets aside" in text and "(or raise task.max_seq_length)" in text, text


def _overflowing(tokenizer, path):
    """A classifier whose weights are finite and whose outputs are NaN for every input (nf1, nf2): word embeddings of
    3e38, whose LayerNorm overflows (their mean is inf)."""
    from safetensors.torch import load_file, save_file

    model = _classifier(tokenizer, path)
    weights = load_file(str(model / "model.safetensors"))
    name = next(n for n in weights if n.endswith("word_embeddings.weight"))
    weights[name][:] = 3e38
    assert all(bool(w.isfinite().all()) for w in weights.values())
    save_file(weights, str(model / "model.safetensors"), metadata={"format": "pt"})
    return model


def test_a_model_whose_outputs_are_not_finite_is_not_scored_or_used_to_label(tmp_path, tokenizer):
    """nf1-nf5: finite weights, NaN outputs: sdp-eval scored the argmax of NaN (the first class: 52.50, the `neg`
    share), sdp-predict printed `neg` for every row, and a dense.checkpoint so made was scored 0.53125 before its
    pruning stage failed at step 0."""
    from sdp.metrics import NonFiniteOutputError
    from sdp.prediction import predict_labels
    from sdp.saved_model import load_saved_model

    model = _overflowing(tokenizer, tmp_path / "m")
    dev = write_csv(tmp_path / "dv.csv", [(f"a dev text {i}", ("neg", "pos")[i % 2]) for i in range(8)])
    with pytest.raises(NonFiniteOutputError, match=r"model_dir gives outputs that are not finite \(NaN or inf\) for 8 "
                                                   r"of 8 rows of split validation"):
        _eval(tmp_path, model, "nf1", dev)
    saved = load_saved_model(model, cpu=True)
    with pytest.raises(NonFiniteOutputError, match=r"for 2 of 2 rows of the batch of the input's rows 1-2"):
        list(predict_labels(saved, [("a great film",), ("awful",)], 64, 32))


def test_a_runs_evaluation_of_outputs_that_are_not_finite_names_it():
    """nf5: in a run, the evaluation that meets them says which (the dense one), not a later non-finite loss."""
    from sdp.metrics import NonFiniteOutputError, compute_metrics_noting

    outputs = {"validation": (np.array([[np.nan, 1.0], [0.5, 0.2]]), np.array([0, 1]))}
    with pytest.raises(NonFiniteOutputError, match=r"the model \(dense evaluation\) gives outputs that are not finite "
                                                   r"\(NaN or inf\) for 1 of 2 rows of split validation"):
        compute_metrics_noting(None, outputs, None, [], label="dense")


@pytest.mark.parametrize("id2label", [{"-1": "neg", "0": "pos"}, {"1": "neg", "2": "pos"}, {"0": "neg", "2": "pos"}])
def test_a_model_whose_ids_are_not_its_outputs_is_refused(tmp_path, tokenizer, id2label):
    """id1-id3: ids -1/0, 1/2 or 0/2: sdp named output i by the i-th id in sorted order (`{-1: neg, 0: pos}` called
    output 0 `neg`, which the folder calls `pos`), or named an output the folder names nowhere."""
    from sdp.models.inspect import ModelLoadError
    from sdp.saved_model import check_saved_model

    model = _classifier(tokenizer, tmp_path / "m")
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "id2label": id2label,
                                                   "label2id": {v: int(k) for k, v in id2label.items()}}))
    with pytest.raises(ModelLoadError, match=r"config.json id2label has the ids \[.*\], not one per output from 0 to 1"):
        check_saved_model(model)


def test_targets_at_float32s_edge_and_just_past_a_range_are_said_as_written(tmp_path):
    """tg1: 3.40282356e38 (float32 reads it as its largest value) was refused as "would be read as inf"; tg2:
    `5.0000001` was "target 5 is outside ... [0, 5]"; tg3: a JSON integer past float64 was "target inf", unexplained."""
    from omegaconf import OmegaConf

    from sdp.data.custom import custom_task
    from sdp.data.tasks import DataError

    rows = [(f"text {i}", str(i % 5)) for i in range(8)]
    train = write_csv(tmp_path / "tr.csv", rows, header=("text", "score"))

    def task(dev, **extra):
        return OmegaConf.create({"name": "custom", "train_file": train, "validation_file": dev, "text_fields": ["text"],
                                 "label_column": "score", "metric": "pearson_spearman", **extra})

    edge = write_csv(tmp_path / "edge.csv", rows[:4] + [("big", "3.40282356e38")], header=("text", "score"))
    assert custom_task(task(edge)).is_regression
    past = write_csv(tmp_path / "past.csv", rows[:4] + [("big", "3.4028236e38")], header=("text", "score"))
    with pytest.raises(DataError, match=r"target 3.4028236e\+38 is past the float32 range"):
        custom_task(task(past))
    just = write_csv(tmp_path / "just.csv", rows[:4] + [("top", "5.0000001")], header=("text", "score"))
    with pytest.raises(DataError, match=r"target 5.0000001 is outside task 'custom''s range \[0, 5\]"):
        custom_task(task(just, target_range=[0, 5]))
    huge = tmp_path / "huge.jsonl"
    huge.write_text("".join(json.dumps({"text": t, "score": float(s)}) + "\n" for t, s in rows[:4])
                    + '{"text": "big", "score": 1' + "0" * 400 + "}\n")
    with pytest.raises(DataError, match=r"target inf is not a finite number.*past float64's range"):
        custom_task(task(str(huge)))


def test_sdp_eval_says_why_an_override_of_another_type_is_refused():
    """ov1: `sdp-eval ... max_eval_samples=true` said only "Error merging override max_eval_samples=true"."""
    from sdp.cli.eval import compose_config

    from sdp.errors import ConfigError

    with pytest.raises(ConfigError, match=r"Error merging override max_eval_samples=true: Value 'True' of type 'bool' "
                                          r"could not be converted to Integer"):
        compose_config(["max_eval_samples=true"])


def test_a_failed_run_resumed_to_its_end_keeps_no_traceback_of_the_failure(tmp_path, data_dir, monkeypatch):
    """er1: a run that failed in its pruning stage, launched again, resumed and completed; error.txt stayed beside the
    completed record, holding the first launch's traceback."""
    from test_probe_round39 import _run_config

    from sdp.recipe import PruneRecipe
    from sdp.sweep import run_job

    cfg = _run_config("task=rte", f"data_dir={data_dir}", f"output_dir={tmp_path / 'run'}",
                      f"cache_dir={tmp_path / 'c'}", "model=tiny-bert", "max_train_samples=16", "max_eval_samples=16",
                      "task.max_seq_length=16", "dense.max_steps=2", "prune.max_steps=2", "train.batch_size=8")
    real = PruneRecipe.prune_event

    def fail(self, stage):
        raise RuntimeError("a failure in the pruning stage")

    monkeypatch.setattr(PruneRecipe, "prune_event", fail)
    with pytest.raises(RuntimeError, match="a failure in the pruning stage"):
        run_job(cfg)
    assert (tmp_path / "run" / "error.txt").is_file()
    monkeypatch.setattr(PruneRecipe, "prune_event", real)
    assert run_job(cfg)["status"] == "completed"
    assert not (tmp_path / "run" / "error.txt").exists()


def test_review_a_twin_of_the_same_label_parts_no_one_and_every_twin_is_looked_at(tmp_path, caplog, tokenizer):
    """Review of the tw fix: a row's twins of its own label decided whether it "differs past the cut" (rows 11 and 12,
    read whole, were said so beside row 13, cut, of row 11's label), and only 8 twins of a row were looked at (9 rows
    read whole beside a 10th, cut, of the other label were said to be read whole)."""
    text = "film one was good"
    filler = [(f"film number {i} here", ("pos", "neg")[i % 2]) for i in range(10)]
    train = [*filler, (text + " 😀", "pos"), (text + " 😡", "neg"), (text + " 😀 and a long tail", "pos")]
    cfg = _custom(tmp_path, train, [("a dev row", "neg"), ("another", "pos")], "task.max_seq_length=7")
    said = _said(caplog, lambda: _run_data(cfg, tokenizer, tmp_path / "c"), "under another label")
    # 11 (pos) and 12 (neg) are one input read whole; 12 and 13 (pos, cut) differ past the cut
    assert "2 differing past task.max_seq_length=7 tokens, where they or their twins were cut; 1 read whole" in said
    emoji = ["😀", "😡", "🙂", "🙄", "😂", "😍", "😎", "😭", "😱"]
    train = [*filler, *((f"{text} {e}", "pos") for e in emoji), (text + " 😀 and a long tail", "neg")]
    cfg = _custom(tmp_path, train, [("a dev row", "neg"), ("another", "pos")], "task.max_seq_length=7")
    said = _said(caplog, lambda: _run_data(cfg, tokenizer, tmp_path / "c2"), "under another label")
    assert "(10 differing past task.max_seq_length=7 tokens, where they or their twins were cut;" in said, said


def test_review_a_teacher_whose_outputs_are_not_finite_is_named(tmp_path, tokenizer):
    """Review of the nf fix: a prune.teacher_checkpoint whose weights are finite and whose outputs are not made KD's loss
    NaN ("non-finite loss nan at optimizer step 0", naming no model), and with method=mp the held-out CC was NaN in
    metrics.json. The update's parts say whether the teacher's outputs were finite (read with them: no sync)."""
    import contextlib
    from types import SimpleNamespace

    import torch
    from omegaconf import OmegaConf
    from transformers import AutoModelForSequenceClassification

    from sdp.errors import NonFiniteOutputError
    from sdp.objectives.monitor import dev_cross_correlation
    from sdp.objectives.objective import TEACHER_FINITE, Objective
    from sdp.objectives.registry import DISTILL_TERMS, WEIGHT_TERMS
    from sdp.objectives.teacher import build_teacher
    from sdp.training.loop import UpdateLog

    bad = AutoModelForSequenceClassification.from_pretrained(str(_overflowing(tokenizer, tmp_path / "t")))
    good = AutoModelForSequenceClassification.from_pretrained(str(_classifier(tokenizer, tmp_path / "s")))
    enc = tokenizer(["a great film", "awful"], padding=True, return_tensors="pt")
    batch = {**enc, "labels": torch.tensor([1, 0]), "idx": torch.tensor([0, 1])}
    cfg = OmegaConf.create({"teacher": "checkpoint", "teacher_checkpoint": str(tmp_path / "t"), "teacher_cache": "off"})
    objective = Objective(lambda logits, labels: logits.sum() * 0, DISTILL_TERMS.build("none"), 0.0,
                          WEIGHT_TERMS.build("none"), 0.0, ("cls",), False, {}, None, contextlib.nullcontext)
    for teacher_model, finite in ((good, 1.0), (bad, 0.0)):
        teacher = build_teacher(good, cfg, ("cls",), False, 2, tmp_path / "cache", 0, lambda m=teacher_model: m)
        _, parts = objective(good, batch, teacher)
        assert float(parts[TEACHER_FINITE]) == finite
    _, healthy = objective(good, batch, build_teacher(good, cfg, ("cls",), False, 2, tmp_path / "c", 0, lambda: good))
    traced: list = []
    for precision, words in (("no", "overflows in float32 on that batch"), ("fp16", "overflows in fp16 on that batch")):
        stage = SimpleNamespace(name="prune", updates=4, teacher=teacher, precision=precision, masks=None,
                                lr_scheduler=SimpleNamespace(get_last_lr=lambda: [0.1]))
        log = UpdateLog(stage, lambda parts: None, lambda *a: None, traced.append, 1)
        log.add(1, [healthy, healthy])  # accumulation: a window of micro-batches, each with its flag
        log.flush("prune")
        assert traced and all(TEACHER_FINITE not in record for record in traced), traced  # never in the trace
        log.add(2, [healthy, parts])  # one micro-batch's teacher outputs not finite: the window's mean below 1
        with pytest.raises(NonFiniteOutputError, match=r"prune: the teacher \(prune.teacher_checkpoint '.*t'\) gave "
                                                       rf"outputs that are not finite \(NaN or inf\) at optimizer step 1 "
                                                       rf".*{words}"):
            log.flush("prune")
    with pytest.raises(NonFiniteOutputError, match=r"the teacher \(x\) gives outputs .* of a held-out batch \(cls\)"):
        dev_cross_correlation(good, bad, [batch], "cls", "the teacher (x)")


@pytest.mark.parametrize("extra,refused", [("max_train_samples=4", {2, 4, 6, 7}),
                                           ("task.validation_from_train=0.3", {0, 1, 3, 5, 7, 8, 9})])
def test_review_the_training_target_bound_reads_the_rows_trained_on(tmp_path, extra, refused):
    """A training file's target too large to train on is refused where the run trains on its row, not where its sample
    or carve leaves the row out (by hand: default_rng(0).permutation(10)[:4] = [2, 4, 6, 7]; the 0.3 carve holds out
    rows 2, 4, 6)."""
    from sdp.cli.eval import compose_config

    from sdp.crosslingual import resolve_run_task
    from sdp.data.tasks import DataError

    for row in range(10):
        rows = [(f"text {i}", "2e19" if i == row else str(i % 5)) for i in range(10)]
        train = write_csv(tmp_path / "tr.csv", rows, header=("text", "score"))
        dev = write_csv(tmp_path / "dv.csv", rows[:1] + [("x", "3")], header=("text", "score"))
        cfg = compose_config(["task=custom", "task.text_fields=[text]", "task.label_column=score",
                              "task.metric=pearson_spearman", f"task.train_file={train}", f"task.validation_file={dev}",
                              extra])
        if row in refused:
            with pytest.raises(DataError, match=rf"data row {row + 1}: target 2e\+19 is too large to train on"):
                resolve_run_task(cfg)
        else:
            resolve_run_task(cfg)


def test_review_a_row_is_tokenised_whole_once_and_only_where_it_reached_the_length(tokenizer):
    """Review: the checks tokenised their twins whole again, each check anew (rows of a dev split three times, a label
    check's twins twice): 20 s more on a split of 100k rows. Only rows that reached the length, each once."""
    import datasets

    from sdp.data.token_cuts import CutRows

    texts = ["film one was good 😀", "film one", "film one was good and more", "a film"]
    rows = datasets.Dataset.from_dict({"text": texts})
    ds = datasets.Dataset.from_dict({"input_ids": [tokenizer(t, truncation=True, max_length=7)["input_ids"]
                                                   for t in texts]})
    asked: list[list[str]] = []

    def counting(*columns, **kwargs):
        asked.append(list(columns[0]))
        return tokenizer(*columns, **kwargs)

    cuts = CutRows(counting, {"train": rows}, {"train": ds}, ("text",), 7)
    assert cuts.of("train", [0, 1, 2]).tolist() == [False, False, True]
    assert cuts.of("train", [2, 3, 0]).tolist() == [True, False, False]
    assert asked == [[texts[0], texts[2]]], asked  # rows 1 and 3 are shorter than the length: never cut


def test_review_the_checks_share_what_they_tokenised_whole(tmp_path, tokenizer):
    """Review: each check of twins (a dev row read as a training row, a test row as a dev row, rows under two labels)
    tokenised its rows whole anew. One run's checks tokenise each row that reached the length once."""
    from collections import Counter

    from sdp.crosslingual import resolve_run_task
    from sdp.data.loading import load_run_splits
    from sdp.data.token_repeats import warn_token_repeats
    from sdp.data.tokenize import tokenize_splits

    text = "film one was good"
    filler = [(f"film number {i} here", ("pos", "neg")[i % 2]) for i in range(10)]
    train = [*filler, (text + " 😀", "pos"), (text + " 😡", "neg"), (text + " 😀 and a long tail", "pos")]
    test = write_csv(tmp_path / "te.csv", [("another film", "pos"), (text + " 🙄", "neg")])
    cfg = _custom(tmp_path, train, [(text + " 🙂", "pos"), ("a dev row", "neg")], "task.max_seq_length=7",
                  f"task.test_file={test}")
    task = resolve_run_task(cfg)
    loaded = load_run_splits(cfg, task)
    tokenized = tokenize_splits(loaded.datasets, task, tokenizer, 7, tmp_path / "c")
    seen: Counter = Counter()

    def counting(*columns, **kwargs):
        seen.update(columns[0])
        return tokenizer(*columns, **kwargs)

    warn_token_repeats(task, loaded.datasets, tokenized, 7, loaded.file_rows, loaded.text_checked,
                       loaded.labels_checked, counting)
    assert seen and max(seen.values()) == 1, seen  # each text once, across the three checks
    assert all(len(tokenizer(t)["input_ids"]) >= 7 for t in seen), seen  # only rows that reached the length


def test_review_an_evaluation_point_reads_the_updates_before_it(tmp_path, data_dir, monkeypatch):
    """Review: with train.eval_every below train.log_every, an evaluation ran on weights a teacher's NaN had spoiled
    before the updates' parts were read, and its refusal named the student ("the model (prune update 1 evaluation)
    gives outputs that are not finite"). The parts are read first: the teacher is named."""
    import torch
    from test_probe_round39 import _run_config

    from sdp.errors import NonFiniteOutputError
    from sdp.objectives.teacher import Teacher
    from sdp.sweep import run_job

    real = Teacher.outputs

    def spoiled(self, batch):
        return {k: torch.full_like(v, float("nan")) for k, v in real(self, batch).items()}

    monkeypatch.setattr(Teacher, "outputs", spoiled)
    cfg = _run_config("task=rte", f"data_dir={data_dir}", f"output_dir={tmp_path / 'run'}",
                      f"cache_dir={tmp_path / 'c'}", "model=tiny-bert", "max_train_samples=16", "max_eval_samples=16",
                      "task.max_seq_length=16", "dense.max_steps=2", "prune.max_steps=4", "train.batch_size=8",
                      "method=kd", "train.eval_every=1", "train.log_every=20")
    with pytest.raises(NonFiniteOutputError, match=r"prune: the teacher \(prune.teacher=frozen\) gave outputs that "
                                                   r"are not finite \(NaN or inf\) at optimizer step 0"):
        run_job(cfg)
