"""What probe round 18 found (issue 26; docs/probe_round18.md): sdp-eval reading its first eval split as the train
split (a cross-lingual _small task scored the English training rows as another language; a metric undefined on the
split was scored), a run folder that holds a model the run reads (moved aside by resume=false, then "does not
exist" or a traceback), a dense.checkpoint or teacher trained on the pair in the other order, and a teacher
checkpoint given without prune.teacher=checkpoint. Each test fails on the commit the probe ran (64a1732) and passes
after its fix. Tiny models, offline."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _compose(overrides: list[str]):
    from cli.eval import compose_config

    return compose_config(overrides)


def _read(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def test_eval_of_a_small_crosslingual_task_scores_that_languages_eval_rows(data_dir, tokenizer, tmp_path):
    """x03: `sdp-eval model_dir=<pawsx_small model> task=pawsx_small task.languages=[de]` scored 1000 rows at 58.00:
    the English train-side rows (the model's own training rows), named validation.de; the de eval side has 962
    rows (NS dropped), on which the run's own score was 55.51."""
    from sdp.crosslingual import resolve_task
    from sdp.data.xglue import zero_shot_partition
    from sdp.evaluation import load_eval_data

    cfg = _compose(["task=pawsx_small", "task.languages=[de]", f"data_dir={data_dir}", f"cache_dir={tmp_path}/c",
                    "max_eval_samples=null"])
    task = resolve_task(cfg.task)
    _, eval_rows = zero_shot_partition(task, data_dir)
    german = _read(data_dir / "paws-x" / "dev-de.tsv")
    expected = [german[i] for i in sorted(eval_rows) if "NS" not in (german[i][0].strip(), german[i][1].strip())]
    data, _ = load_eval_data(cfg, task, tokenizer)
    scored = data["validation.de"]
    assert len(scored) == len(expected)  # 962 on the shared files (1000 English rows before the fix)
    first = tokenizer(expected[0][0], expected[0][1], truncation=True, max_length=cfg.task.max_seq_length)
    assert scored[0]["input_ids"] == first["input_ids"]


def test_eval_refuses_a_metric_undefined_on_its_eval_split(data_dir, tokenizer, tmp_path):
    """e01: `sdp-eval model_dir=<stsb model> task=stsb max_eval_samples=2` printed pearson=-100.00 (2 examples), a
    correlation of two points; sdp-run refuses the same split (`eval split 'validation' has 2 row(s)`)."""
    from sdp.crosslingual import resolve_task
    from sdp.data.spec import DataError
    from sdp.evaluation import load_eval_data

    cfg = _compose(["task=stsb", f"data_dir={data_dir}", f"cache_dir={tmp_path}/c", "max_eval_samples=2"])
    with pytest.raises(DataError, match="eval split 'validation' has 2 row"):
        load_eval_data(cfg, resolve_task(cfg.task), tokenizer)


@pytest.mark.parametrize("key", ["dense.checkpoint", "prune.teacher_checkpoint", "model.pretrained"])
def test_a_run_folder_that_holds_a_model_the_run_reads_is_refused(tmp_path, key):
    """a01-a03: `output_dir=r dense.checkpoint=r/dense_model resume=false` moved r/dense_model into
    r/previous-<time>/, then `ModelLoadError: dense.checkpoint 'r/dense_model' does not exist` (the teacher the
    same); model.pretrained=r/model ended in a Hub `HFValidationError` traceback. A model from another run's folder
    is taken."""
    from omegaconf import OmegaConf

    from sdp.run.rundir import RunHoldsDataError
    from sdp.sweep import check_data_outside

    run = tmp_path / "r"
    (run / "dense_model").mkdir(parents=True)
    section, _, name = key.partition(".")
    cfg = OmegaConf.create({"data_dir": None, "task": {"name": "custom"}, "model": {}, "dense": {}, "prune": {},
                            section: {name: str(run / "dense_model")}})
    with pytest.raises(RunHoldsDataError, match="dense_model"):
        check_data_outside(run, cfg)
    check_data_outside(tmp_path / "other", cfg)  # the model in another folder: taken


def _pair_model(tokenizer, path: Path, fields: list[str]) -> Path:
    """A tiny BERT with RTE's labels, saved as a run's dense_model/ is, trained (says config.json) on ``fields``."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    labels = {0: "entailment", 1: "not_entailment"}
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, pad_token_id=tokenizer.pad_token_id, id2label=labels,
                        label2id={v: k for k, v in labels.items()}, max_position_embeddings=64)
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    data = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**data, "sdp_text_fields": fields}))
    return path


@pytest.mark.parametrize("overrides", [["dense.checkpoint={m}"],
                                       ["prune.teacher=checkpoint", "prune.teacher_checkpoint={m}"]])
def test_a_run_refuses_a_model_trained_on_its_pair_reversed(tokenizer, tmp_path, overrides):
    """t12, t13: a dense.checkpoint (or teacher) whose config.json says sdp_text_fields [sentence2, sentence1], given
    to a run on (sentence1, sentence2) (task=rte, or task=custom in that order): taken without a word, its dense
    score and its distillation target read every pair the other way (the order sdp-eval refuses since round 15).
    In its own order it is taken."""
    from sdp.errors import ConfigError
    from sdp.validate import validate_config

    m = _pair_model(tokenizer, tmp_path / "rev", ["sentence2", "sentence1"])
    given = [o.format(m=m) for o in overrides]
    cfg = _compose(["task=rte", "model=tiny-bert", "task.max_seq_length=32", *given])
    with pytest.raises(ConfigError, match=r"trained on pairs \(sentence2, sentence1\).*task=rte gives"):
        validate_config(cfg)
    dev = tmp_path / "dev.tsv"
    dev.write_text("sentence1\tsentence2\tlabel\na\tb\tentailment\n")
    custom = ["task=custom", f"task.train_file={dev}", f"task.validation_file={dev}", "task.label_column=label",
              "model=tiny-bert", "task.max_seq_length=32", *given]
    validate_config(_compose([*custom, "task.text_fields=[sentence2,sentence1]"]))  # its own order: taken
    with pytest.raises(ConfigError, match="task.text_fields gives the same columns in the other order"):
        validate_config(_compose([*custom, "task.text_fields=[sentence1,sentence2]"]))


def test_a_teacher_checkpoint_without_teacher_checkpoint_mode_is_refused(tokenizer, tmp_path):
    """t09: `prune.teacher=frozen prune.teacher_checkpoint=<model>` ran, distilling from the run's own dense model,
    the path recorded in the config (and its hash) as if it were the teacher."""
    from sdp.errors import ConfigError
    from sdp.validate import validate_config

    m = _pair_model(tokenizer, tmp_path / "t", ["sentence1", "sentence2"])
    for mode in ("frozen", "refresh"):
        cfg = _compose(["task=rte", "model=tiny-bert", "task.max_seq_length=32", f"prune.teacher={mode}",
                        f"prune.teacher_checkpoint={m}"])
        with pytest.raises(ConfigError, match="prune.teacher_checkpoint is read only with prune.teacher=checkpoint"):
            validate_config(cfg)
    validate_config(_compose(["task=rte", "model=tiny-bert", "task.max_seq_length=32", "prune.teacher=checkpoint",
                              f"prune.teacher_checkpoint={m}"]))


def test_sweeper_params_on_the_command_line_of_a_plain_sweep_is_one_line():
    """a08: `sdp-run -m ... "hydra.sweeper.params={seed:'1,2'}" seed=3` (or `+hydra.sweeper.params.seed='1,2'`)
    ended in a traceback from inside Hydra's composition (`AttributeError: 'NoneType' object has no attribute
    'get'`, `AssertionError: Unexpected type for root: NoneType`); a search's sweeper takes the same override."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "cli.run", "-m", "debug=smoke", "task=rte",
                           "+hydra.sweeper.params.seed='1,2'"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Hydra's basic sweeper does not take hydra.sweeper.params" in done.stderr
    from sdp.command_line import sweeper_params_errors

    assert sweeper_params_errors(["-m", "hparams_search=optuna", "+hydra.sweeper.params.seed='1,2'"]) == []
    assert sweeper_params_errors(["-m", "seed=1,2"]) == []
