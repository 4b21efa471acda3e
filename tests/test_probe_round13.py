"""What probe round 13 found (issue 26; docs/probe_round13.md): sdp-eval's carve of the training rows, a tokenizer
that is not its model's, a search none of whose trials completed, and the docs' `-m cli.run`. Each test fails on the
main the probe ran (03928d2) and passes after its fix, but for the controls marked as such. Tiny models; no run
trains."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
XLMR_TOKENIZER = REPO / "sdp" / "assets" / "tiny-xlmr-tokenizer"


def _classifier(tokenizer, path: Path, own_tokenizer=None) -> Path:
    """A tiny BERT classifier for RTE's two labels, saved with ``own_tokenizer`` (its own, the MiniLM one, if None)."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, pad_token_id=tokenizer.pad_token_id,
                        id2label={0: "entailment", 1: "not_entailment"},
                        label2id={"entailment": 0, "not_entailment": 1})
    BertForSequenceClassification(config).save_pretrained(path)
    (own_tokenizer or tokenizer).save_pretrained(path)
    return path


def _run_record(run_dir: Path, max_train_samples, validation_from_train) -> None:
    """The run.json a run writes, with the keys that decide its carve (sdp/training_rows.py CARVE_KEYS)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    config = {"task": {"name": "rte", "validation_from_train": validation_from_train, "validation_seed": 0},
              "max_train_samples": max_train_samples}
    (run_dir / "run.json").write_text(json.dumps({"config": config, "config_hash": "h"}))


# ------------------------------------------------------------------------- sdp-eval's held-out rows (a06, a07)
def _eval_cfg(tmp_path, data_dir, *extra):
    from sdp.cli.eval import compose_config

    return compose_config(["task=rte", "task.max_seq_length=32", f"data_dir={data_dir}",
                           f"cache_dir={tmp_path / 'cache'}", *extra])


def test_sdp_eval_holds_out_the_rows_the_models_run_held_out(tmp_path, data_dir, tokenizer):
    """a06: `sdp-eval model_dir=<a tuning run's dense_model> task=rte task.validation_from_train=0.25` scored 622 rows
    cut from the whole RTE training file (`rte accuracy=48.71 (622 examples)`), while the run had held out 16 of its
    64 rows (max_train_samples=64) and trained on the other 48, all of them among the 622; max_train_samples=64 given
    on the command line was ignored. Now the carve is the run's: 16 rows; without its max_train_samples, refused."""
    from sdp.errors import ConfigError
    from sdp.evaluation import evaluate_saved

    run = tmp_path / "tuning"
    _run_record(run, 64, 0.25)
    model = _classifier(tokenizer, run / "dense_model")
    record = evaluate_saved(_eval_cfg(tmp_path, data_dir, "task.validation_from_train=0.25", "max_train_samples=64"),
                            model, tmp_path / "ev1")
    assert record["eval_examples"] == {"validation_from_train": 16}
    with pytest.raises(ConfigError, match=r"max_train_samples: 64 there, None here\): the rows held out here include"):
        evaluate_saved(_eval_cfg(tmp_path, data_dir, "task.validation_from_train=0.25"), model, tmp_path / "ev2")


def test_sdp_eval_does_not_hold_out_rows_a_run_trained_on(tmp_path, data_dir, tokenizer):
    """a07: a model whose run trained on every row of its 64 (no task.validation_from_train), scored with
    task.validation_from_train=0.25: a "held-out" score over rows it trained on. Refused; dev still scores (control)."""
    from sdp.errors import ConfigError
    from sdp.evaluation import evaluate_saved

    run = tmp_path / "plain"
    _run_record(run, 64, None)
    model = _classifier(tokenizer, run / "model")
    with pytest.raises(ConfigError, match=r"task\.validation_from_train: None there, 0\.25 here"):
        evaluate_saved(_eval_cfg(tmp_path, data_dir, "task.validation_from_train=0.25", "max_train_samples=64"),
                       model, tmp_path / "ev1")
    record = evaluate_saved(_eval_cfg(tmp_path, data_dir, "max_eval_samples=8"), model, tmp_path / "ev2")
    assert record["eval_examples"] == {"validation": 8}  # control


def test_the_carve_travels_with_a_model_folder_copied_away_from_its_run(tmp_path, data_dir, tokenizer):
    """This round's leftover: the carve was read from run.json beside the model only, so the a07 model copied
    elsewhere (`cp -r run/model ~/models/m`) was scored on "held-out" rows it trained on. sdp-run now writes the
    carve into config.json (sdp_training_rows) with the weights; a folder with neither is taken as given."""
    from omegaconf import OmegaConf
    from transformers import BertConfig, BertForSequenceClassification

    from sdp.errors import ConfigError
    from sdp.evaluation import evaluate_saved
    from sdp.run_summary import save_model_dir

    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, pad_token_id=tokenizer.pad_token_id,
                        id2label={0: "entailment", 1: "not_entailment"},
                        label2id={"entailment": 0, "not_entailment": 1})
    run_cfg = OmegaConf.create({"task": {"name": "rte", "validation_from_train": None, "validation_seed": 0,
                                         "max_seq_length": 32}, "max_train_samples": 64})
    save_model_dir(tmp_path / "copied", BertForSequenceClassification(config), tokenizer, cfg=run_cfg)
    assert not (tmp_path / "run.json").exists()  # no run record beside it: only config.json tells
    with pytest.raises(ConfigError, match=r"task\.validation_from_train: None there, 0\.25 here"):
        evaluate_saved(_eval_cfg(tmp_path, data_dir, "task.validation_from_train=0.25", "max_train_samples=64"),
                       tmp_path / "copied", tmp_path / "ev1")


# ------------------------------------------------------------------------ another model's tokenizer (p01-p03)
def test_a_tokenizer_of_another_model_is_refused(tmp_path, tokenizer):
    """p01-p03: a MiniLM classifier beside the XLM-R tokenizer (8,000 ids, all inside its 30,522-row table) scored
    `rte accuracy=46.57` (its own tokenizer: 52.71), labelled text, and started a run, without a word. The padding
    id, which the config and the tokenizer both name, disagrees (1 against 0): refused in one line. The MiniLM
    tokenizer beside the model still loads (control)."""
    from transformers import AutoTokenizer

    from sdp.models.inspect import ModelLoadError
    from sdp.models.presets import check_vocab
    from sdp.saved_model import load_saved_model

    xlmr = AutoTokenizer.from_pretrained(str(XLMR_TOKENIZER))
    foreign = _classifier(tokenizer, tmp_path / "foreign", own_tokenizer=xlmr)
    with pytest.raises(ModelLoadError, match=r"the tokenizer pads with token id 1 \('<pad>'\), the config of "
                                             r"model_dir '.*foreign' with 0: the tokenizer does not belong"):
        load_saved_model(foreign, cpu=True)
    saved = load_saved_model(_classifier(tokenizer, tmp_path / "own"), cpu=True)  # control
    with pytest.raises(ModelLoadError, match=r"the config of the model with 0"):  # model.pretrained, dense.checkpoint
        check_vocab(saved.model, xlmr)


# ------------------------------------------------------------------- a search with no completed trial (a03)
def test_a_search_whose_trials_all_failed_ends_in_one_line(tmp_path, tokenizer):
    """a03: `sdp-run -m hparams_search=optuna ... dense.checkpoint=<a dense model of another carve>`: each trial's
    one line (`job failed ... ConfigError: dense.checkpoint ... was not trained on this run's carve`), then Optuna's
    `ValueError: No trials are completed yet.` with a 25-line traceback, exit 1. Now one line, exit 2."""
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    run = tmp_path / "dense"
    _run_record(run, 64, 0.25)  # the search holds out 10%: another carve
    _classifier(tokenizer, run / "dense_model")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("HYDRA_FULL_ERROR", None)
    proc = subprocess.run(
        [sys.executable, "-m", "sdp.cli.run", "-m", "hparams_search=optuna", "hydra.sweeper.n_trials=1",
         "debug=smoke", "task=rte", f"dense.checkpoint={run / 'dense_model'}",
         f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "was not trained on this run's carve" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "sdp-run: error: SearchError: no trial of the hyperparameter search completed" in proc.stderr


# ------------------------------------------------------------------------------------ the docs' commands (d07)
def test_the_docs_launch_a_module_that_exists_outside_the_checkout():
    """d07: README, usage.md and scale-out.md said `accelerate launch ... -m cli.run`; from any folder but the
    checkout's root that is `No module named 'cli'` in each process (and an installed wheel has no `cli`). The
    installed module is sdp.cli.run (`-m sdp.cli.run` ran the same command to its RESULT line)."""
    for doc in ("README.md", "docs/usage.md", "docs/scale-out.md"):
        text = (REPO / doc).read_text()
        assert "-m cli.run" not in text, doc
        assert "-m sdp.cli.run" in text, doc


def test_the_probe_doc_lists_what_it_ran():
    text = (REPO / "docs" / "probe_round13.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "|---" not in line]
    assert len(rows) >= 32
    assert "## Probe round 13" in (REPO / "docs" / "errors.md").read_text()
