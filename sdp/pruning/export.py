"""ONNX export of a (compacted) sequence classifier: ``model/model.onnx``, run by onnxruntime without sdp.

An ONNX graph holds any per-layer shapes, so it carries what a transformers config cannot (a different number of
heads per layer). It needs the ``export`` extra (onnx, onnxruntime; onnxscript for torch's newer exporter):
``pip install 'sdp[export]'``. Inputs: ``input_ids``, ``attention_mask`` (and ``token_type_ids`` where the model
has token types), int64, dynamic batch and sequence length; output: ``logits``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sdp.io import atomic_write

log = logging.getLogger("sdp")
ONNX_FILE = "model.onnx"
EXPORT_PACKAGES = ("onnx", "onnxruntime")
OPSET = 17


def missing_export_packages() -> list[str]:
    """The export extra's packages that are not installed (cheap: no import)."""
    return [p for p in EXPORT_PACKAGES if importlib.util.find_spec(p) is None]


def input_names(model: nn.Module) -> list[str]:
    """What the exported graph takes: token types only where the embeddings have them (BERT; RoBERTa too)."""
    embeddings = getattr(getattr(model, "base_model", model), "embeddings", None)
    has_types = getattr(embeddings, "token_type_embeddings", None) is not None
    return ["input_ids", "attention_mask", *(["token_type_ids"] if has_types else [])]


class _Logits(nn.Module):
    """Positional inputs in, logits out: the signature the exporter traces."""

    def __init__(self, model: nn.Module, names: list[str]) -> None:
        super().__init__()
        self.model, self.names = model, names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.model(**dict(zip(self.names, inputs))).logits


@torch.no_grad()
def export_onnx(model: nn.Module, path: str | Path, example_length: int = 16, replace: bool = True) -> Path:
    """Write ``model`` (in eval mode, on the CPU, fp32) as an ONNX graph at ``path``, whole or not at all; ``replace``
    false: FileExistsError where a file is there by then (two exports into one --out both said they wrote it)."""
    missing = missing_export_packages()
    if missing:
        raise RuntimeError(f"ONNX export needs {missing}: pip install 'sdp[export]'")
    model = model.float().cpu().eval()
    names = input_names(model)
    ids = torch.randint(0, int(model.config.vocab_size), (2, example_length))
    example = [ids, torch.ones_like(ids)] + ([torch.zeros_like(ids)] if "token_type_ids" in names else [])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice, tracer notes
        # The TorchScript exporter: 6x faster here than the dynamo one (which needs onnxscript), same graph.
        atomic_write(path, lambda tmp: torch.onnx.export(
            _Logits(model, names), tuple(example), str(tmp), input_names=names, output_names=["logits"],
            opset_version=OPSET, dynamo=False,
            dynamic_axes={**{n: {0: "batch", 1: "sequence"} for n in names}, "logits": {0: "batch"}}), replace=replace)
    return path


def onnx_session(path: str | Path, threads: int | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_logits(session, batch: dict[str, torch.Tensor]) -> np.ndarray:
    """Run an exported graph on a batch of the model's inputs (the ones the graph takes)."""
    wanted = [i.name for i in session.get_inputs()]
    feed = {n: batch[n].detach().cpu().numpy().astype(np.int64) if n in batch else
            np.zeros_like(batch["input_ids"].cpu().numpy(), dtype=np.int64) for n in wanted}
    return session.run(["logits"], feed)[0]


def log_structure(record: dict) -> None:
    """What went, in the run's log (stdout and run.log): the layers, heads and FFN neurons kept, and the sizes of
    the two forms; the same as model/structure.json."""
    layers, params = record["layers"], record["encoder_params"]
    kept = [s for s in layers if s["heads"]]
    log.info("structured: kept %d of %d layers; heads per layer %s, FFN neurons per layer %s (0: removed); encoder "
             "parameters: %d dense, %d in model/ (standard form), %d in model/%s (model/%s)", len(kept), len(layers),
             [s["heads"] for s in layers], [s["ffn"] for s in layers], params["dense"], params["standard"],
             params["onnx"], ONNX_FILE, STRUCTURE_FILE)


STRUCTURE_FILE = "structure.json"  # model/structure.json: the kept heads and neurons per layer, and the two forms


def _structure_record(kept, dense_params: int, standard: nn.Module, compact: nn.Module) -> dict:
    from sdp.pruning.compact import encoder_params

    return {"layers": kept.summary(),  # per original layer: kept heads and FFN neurons (0, 0: removed)
            "encoder_params": {"dense": dense_params, "standard": encoder_params(standard),
                               "onnx": encoder_params(compact)},
            "standard": {"num_hidden_layers": standard.config.num_hidden_layers,
                         "intermediate_size": standard.config.intermediate_size,
                         "heads": "kept as zeros (a stock config has one head count and head size)"},
            "onnx": ONNX_FILE}


def structured_outputs(student: nn.Module, masks) -> tuple[nn.Module, object]:
    """What a finished run saves as model/: the student itself (unstructured), or (structured) its standard form,
    with ``extra_files(folder)`` adding the exact per-layer model as model.onnx and structure.json."""
    if getattr(masks, "blocks", None) is None:
        return student, None
    from sdp.io import write_json
    from sdp.pruning.compact import compact_form, encoder_params, kept_from_masks, standard_form

    kept = kept_from_masks(masks)
    standard, compact = standard_form(student, kept), compact_form(student, kept)

    def extra_files(folder: Path) -> None:
        export_onnx(compact, folder / ONNX_FILE)
        record = _structure_record(kept, encoder_params(student), standard, compact)
        write_json(folder / STRUCTURE_FILE, record)
        log_structure(record)

    return standard, extra_files


def export_model_dir(model_dir: str | Path, out: str | Path | None = None, replace: bool = True,
                     check: Any = None) -> tuple[Path, dict]:
    """Any run's model/ (or any sequence-classification folder) as ONNX, with heads and FFN neurons that add
    nothing (all-zero output columns) cut out first: ``out`` defaults to ``<model_dir>/model.onnx``. ``check``:
    called with the loaded model before anything is written (sdp-export: its weights are finite)."""
    from transformers import AutoModelForSequenceClassification

    from sdp.pruning.compact import compact_form, kept_from_weights
    from sdp.pruning.structures import StructureError

    model_dir = Path(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(str(model_dir), use_safetensors=True,
                                                               trust_remote_code=False).eval()
    if check is not None:
        check(model)
    try:
        kept = kept_from_weights(model)
        compact = compact_form(model, kept)
        # A structured run's model/ is its smaller standard form: counted from it, "dense" would be that form's size
        # (13318 for a run whose dense encoder had 17088: probe round 6 x03), so the run's record of it is read.
        dense, source = unpruned_encoder_params(model, model_dir)
        record = {**_structure_record(kept, dense, model, compact), "dense_from": source}
    except StructureError:  # not a BERT-like encoder: exported as it is
        compact, record = model, {}
    path = export_onnx(compact, Path(out) if out else model_dir / ONNX_FILE, replace=replace)
    return path, record


def unpruned_encoder_params(model: nn.Module, model_dir: Path) -> tuple[int, str]:
    """The encoder parameters of the model a folder's model was cut from, and where that figure comes from: its
    config (``sdp_unpruned``, written by standard_form), else the folder's structure.json (runs before that key),
    else the model itself (a folder with no record of a cut, e.g. an unstructured run's, is its own dense model)."""
    from sdp.pruning.compact import UNPRUNED_KEY, encoder_params

    record = getattr(model.config, UNPRUNED_KEY, None)
    if isinstance(record, dict) and isinstance(record.get("encoder_params"), int):
        return record["encoder_params"], f"config.json {UNPRUNED_KEY}"
    try:
        dense = json.loads((model_dir / STRUCTURE_FILE).read_text())["encoder_params"]["dense"]
        if isinstance(dense, int):
            return dense, STRUCTURE_FILE
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return encoder_params(model), "the model itself (no record that it was cut)"
