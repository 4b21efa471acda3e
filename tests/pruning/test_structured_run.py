"""A structured SDP-CC run end to end (tiny-bert, real RTE rows): it ends with a smaller model/ in standard form
and model/model.onnx, both predicting what the masked network predicts; sdp-export re-exports any model/."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

import sdp.config  # noqa: F401  (registers the structured schema)
from sdp.data.batch import model_inputs
from sdp.pruning import export
from sdp.recipe import PruneRecipe

CONF = str(Path(__file__).resolve().parents[2] / "conf")


@pytest.fixture(scope="module")
def finished(data_dir, tmp_path_factory):
    if export.missing_export_packages():
        pytest.skip(f"the export extra is not installed ({export.missing_export_packages()}): pip install 'sdp[export]'")
    run_dir = tmp_path_factory.mktemp("structured_run")
    overrides = ["debug=smoke", "task=rte", f"data_dir={data_dir}", f"cache_dir={run_dir / 'cache'}", "cpu=true",
                 "train.num_threads=1", "max_train_samples=24", "max_eval_samples=12", "train.batch_size=6",
                 "dense.max_steps=2", "prune.max_steps=6", "task.max_seq_length=24", "sparsity=0.5",
                 "prune.granularity=structured", "prune.criterion=taylor", "prune.structures=[heads,ffn,layers]"]
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    from sdp.run.rundir import prepare_run_dir
    from sdp.validate import validate_config

    validate_config(cfg)
    recipe = PruneRecipe(cfg, prepare_run_dir(run_dir / "run"))  # the checks run() makes before setup
    recipe.setup()
    said = _Lines()
    logging.getLogger("sdp").addHandler(said)
    try:
        metrics = recipe.train()
    finally:
        logging.getLogger("sdp").removeHandler(said)
    return recipe, metrics, run_dir / "run", said.lines


class _Lines(logging.Handler):
    """The sdp logger's lines (what stdout and run.log show), for a module-scoped fixture (caplog is per test)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_structured_run_saves_a_smaller_model_that_predicts_the_same(finished):
    from transformers import AutoModelForSequenceClassification

    recipe, metrics, run_dir, said = finished
    assert metrics["status"] == "completed"
    total = metrics["prunable_params"]
    assert metrics["achieved_sparsity"]["prunable"] * total >= round(0.5 * total)
    events = [json.loads(line) for line in (run_dir / "trace.jsonl").read_text().splitlines()]
    assert any(e["event"] == "prune" and "kept_heads" in e for e in events)
    model_dir = run_dir / "model"
    structure = json.loads((model_dir / "structure.json").read_text())
    assert structure["encoder_params"]["onnx"] <= structure["encoder_params"]["standard"]
    assert structure["encoder_params"]["standard"] < structure["encoder_params"]["dense"]
    # The log says what went, as model/structure.json does (the README points a user there).
    layers = structure["layers"]
    line = next(s for s in said if s.startswith("structured: kept "))
    assert line.startswith(f"structured: kept {sum(1 for s in layers if s['heads'])} of {len(layers)} layers; heads "
                           f"per layer {[s['heads'] for s in layers]}, FFN neurons per layer {[s['ffn'] for s in layers]}")
    assert f"{structure['encoder_params']['onnx']} in model/model.onnx" in line
    saved = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).eval()
    assert saved.config.num_hidden_layers == sum(1 for layer in structure["layers"] if layer["heads"])
    student = recipe.accelerator.unwrap_model(recipe.model).eval()
    session = export.onnx_session(model_dir / export.ONNX_FILE)
    loader = next(iter(recipe.eval_loaders.values()))
    for batch in loader:
        inputs = model_inputs(batch)
        with torch.no_grad():
            masked, standard = student(**inputs).logits, saved(**inputs).logits
        torch.testing.assert_close(standard, masked, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(torch.from_numpy(export.onnx_logits(session, inputs)), masked, rtol=1e-4, atol=1e-4)


def test_sdp_export_reexports_a_model_dir(finished, tmp_path, capsys):
    from cli.export import main

    _, _, run_dir, _ = finished
    out = tmp_path / "again.onnx"
    assert main([str(run_dir / "model"), "--out", str(out)]) == 0
    assert out.is_file() and out.stat().st_size > 0
    printed = json.loads(capsys.readouterr().out)  # dense: the unpruned model's, as the run recorded it
    saved = json.loads((run_dir / "model" / "structure.json").read_text())["encoder_params"]
    assert printed["encoder_params"]["dense"] == saved["dense"] > printed["encoder_params"]["standard"]
    assert printed["onnx"] == str(out)
    with pytest.raises(SystemExit):
        main([str(tmp_path)])  # not a model folder: a one-line usage error


def test_a_run_from_a_structured_model_starts_from_its_own_unpruned_shape(finished, data_dir, tmp_path):
    """Round 26's rp2 (noticed): a run from a structured run's model/ (`model=hf model.pretrained=<run>/model`) kept
    its config's sdp_unpruned, so sdp-export of the new run's model/ gave the first cut's encoder size as dense
    (17088 where the new run started from 8898). The loaded model is the new run's unpruned start."""
    from sdp.pruning.compact import UNPRUNED_KEY, encoder_params
    from sdp.run.rundir import prepare_run_dir

    _, _, first, _ = finished
    assert json.loads((first / "model" / "config.json").read_text()).get(UNPRUNED_KEY)  # a cut model
    overrides = ["debug=smoke", "task=rte", f"data_dir={data_dir}", f"cache_dir={tmp_path / 'cache'}", "cpu=true",
                 "train.num_threads=1", "max_train_samples=24", "max_eval_samples=12", "task.max_seq_length=24",
                 "model=hf", f"model.pretrained={first / 'model'}"]
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    recipe = PruneRecipe(cfg, prepare_run_dir(tmp_path / "again"))
    recipe.setup()
    student = recipe.accelerator.unwrap_model(recipe.model)
    assert getattr(student.config, UNPRUNED_KEY, None) is None
    assert encoder_params(student) < json.loads((first / "model" / "structure.json").read_text())[
        "encoder_params"]["dense"]
