"""A model directory's config.json, read without loading weights or importing torch.

The config check (sdp/validate.py) uses it to compare a checkpoint's labels and width with the task and
the student, and the sequence length with the model's position table, before anything heavy loads.
"""

from __future__ import annotations

import importlib
import json
import os
import re
from pathlib import Path
from typing import Any

from sdp.io import file_sha256, hydra_quoted

# Models whose position ids start after the padding index (RoBERTa family): fewer usable positions.
_OFFSET_POSITIONS = ("roberta", "xlm-roberta", "camembert")
_GENERIC_LABEL = re.compile(r"^LABEL_\d+$")


class ModelLoadError(ValueError):
    """A model source that cannot be used, named with the reason."""


def check_model_dir(path: str | Path, what: str = "checkpoint") -> Path:
    """A directory with config.json and safetensors weights, or a clear error saying what is wrong."""
    p = Path(path)
    if not p.exists():
        raise ModelLoadError(f"{what} {str(p)!r} does not exist")
    if not p.is_dir():
        raise ModelLoadError(f"{what} {str(p)!r} is not a directory")
    if not (p / "config.json").is_file():
        raise ModelLoadError(f"{what} {str(p)!r} is not a model directory: it has no config.json{_run_folder(p, what)}")
    if not any(p.glob("*.safetensors")):
        pickles = [f.name for f in p.glob("*.bin")] + [f.name for f in p.glob("*.pt")]
        extra = f" (found {pickles}; pickled weights are never loaded)" if pickles else ""
        raise ModelLoadError(f"{what} {str(p)!r} has no *.safetensors weights{extra}")
    for weights in sorted(p.glob("*.safetensors")):
        damage = safetensors_damage(weights)
        if damage is not None:  # safetensors' own error ("incomplete metadata") named neither file nor cause
            raise ModelLoadError(f"{what} {str(p)!r}: {weights.name} is damaged ({damage}); copy or save the model "
                                 "again")
    return p


# A run folder's model folders, the one to give first: a dense.checkpoint or a teacher is a dense model (a run of
# stages=dense has model/ alone, its dense model); sdp-eval's model_dir, the run's result, is its model/
_RUN_MODELS = {"dense.checkpoint": ("dense_model", "model"), "prune.teacher_checkpoint": ("dense_model", "model")}


def _run_folder(path: Path, what: str) -> str:
    """``; it is a run folder ...; give <its model folder>`` where ``path`` holds a run's model folders, else "":
    `dense.checkpoint=<a run folder>` was refused as "no config.json" alone (probe round 53, noticed)."""
    held = [n for n in _RUN_MODELS.get(what, ("model", "dense_model")) if (path / n / "config.json").is_file()]
    if not held or (stages := _run_stages(path)) is None:  # no run's folder (probe round 54, ad_proj)
        return ""
    if what in _RUN_MODELS and held == ["model"] and stages != "dense":
        # a run given its dense model saves none: its model/ is pruned, and a teacher of it was taken unsaid (review)
        return ("; it is a run folder whose model/ is its pruned model (it saved no dense_model/: it was given its "
                "dense model), no dense model to give here; give a dense model's folder (a run's dense_model/, or "
                "the model/ of a stages=dense run)")
    given = f"{what}={hydra_quoted(str(path / held[0]))}" if "." in what else repr(str(path / held[0]))
    return f"; it is a run folder (it holds {' and '.join(n + '/' for n in held)}): give {given}"


def _run_stages(run: Path) -> str | None:
    """A run's ``stages`` (metrics.json, else run.json's; "" unsaid), None for no run's: sdp-eval's (round 55, ad_evfolder)."""
    for name, keys in (("metrics.json", ("stages",)), ("run.json", ("config", "stages"))):
        try:
            node = json.loads((run / name).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(node, dict) and node.get("kind") != "eval":
            for key in keys:
                node = node.get(key) if isinstance(node, dict) else None
            return str(node or "")
    return None


def check_loaded_whole(what: str, path: str | Path, info: dict[str, Any]) -> None:
    """A fine-tuned folder must fill every weight of its model: ``from_pretrained`` initialises the missing ones at
    random and says so only in a load report. A pretrained encoder's folder (no classification head) then scored,
    labelled, distilled from or pruned as "fine-tuned" gave a random head's numbers, another on every load (probe
    round 12, h06-h09)."""
    missing = sorted(info.get("missing_keys") or [])
    if missing:
        shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        raise ModelLoadError(
            f"{what} {str(path)!r} is not a fine-tuned classifier: its weights lack {shown}, which loading would "
            "initialise at random (a pretrained encoder has no trained classification head); give a model "
            "fine-tuned for the task (a run's model/ or dense_model/), or start from the encoder with model.pretrained"
        )


def check_finite(what: str, path: str | Path, model: Any) -> None:
    """Every weight of a loaded folder is a finite number: a NaN weight makes every logit NaN, which torch's argmax
    reads as the first class, so a damaged (or diverged) model was scored at the share of that class (52.50),
    predicted `neg` for every row and a regression 0.00, unsaid (probe round 40, nan1-nan6, dcn)."""
    import torch

    for name, weight in model.named_parameters():
        if not bool(torch.isfinite(weight).all()):
            bad = int((~torch.isfinite(weight)).sum())
            raise ModelLoadError(f"{what} {str(path)!r}: weight {name} holds {bad} value(s) that are not finite (NaN "
                                 "or inf): the folder is damaged, or the run that saved it diverged; its outputs "
                                 "would mean nothing")


def shape_mismatches(path: str | Path) -> list[str]:
    """``name: stored [..], config.json gives [..]`` for each weight of a local folder's safetensors whose shape its
    config.json does not give (a hand-edited max_position_embeddings, vocab_size or hidden size), read from the
    headers against the model its config builds on the meta device (no weight is read or allocated)."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    try:
        with torch.device("meta"):
            model = AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(str(path)))
    except Exception:  # noqa: BLE001 - a config transformers cannot build: nothing to compare with
        return []
    expected = {k: list(v.shape) for k, v in model.state_dict().items()}
    prefix = f"{model.base_model_prefix}."  # an encoder saved alone names its weights without it (a Hub MiniLM)
    expected.update({k.removeprefix(prefix): v for k, v in expected.items() if k.startswith(prefix)})
    found = []
    for weights in sorted(Path(path).glob("*.safetensors")):
        with open(weights, "rb") as fh:
            header = json.loads(fh.read(int.from_bytes(fh.read(8), "little")))
        found += [f"{k}: stored {v['shape']}, config.json gives {expected[k]}" for k, v in sorted(header.items())
                  if k in expected and isinstance(v, dict) and list(v.get("shape", [])) != expected[k]]
    return found


def mismatch_error(what: str, path: str | Path, err: BaseException) -> ModelLoadError | None:
    """The one-line error for ``from_pretrained``'s size-mismatch RuntimeError on a local folder (its message only
    points at a load report above the traceback), or None for any other error. A config.json edited by hand was a
    traceback in sdp-eval, sdp-predict and sdp-export, and "a classification head of another shape" for
    model.pretrained whatever weight it was (probe round 15, a05 and a10)."""
    if "size mismatch" not in str(err) and "ignore_mismatched_sizes" not in str(err):
        return None
    found = shape_mismatches(path) if Path(str(path)).is_dir() else []
    if not found:
        return None
    shown = "; ".join(found[:3]) + (f"; and {len(found) - 3} more" if len(found) > 3 else "")
    return ModelLoadError(f"{what} {str(path)!r}: its config.json does not describe its weights ({shown}): the "
                          "config was edited, or belongs to another model; give the config.json saved with the "
                          "weights")


def safetensors_damage(path: str | Path) -> str | None:
    """Why a .safetensors file cannot be whole (cut short, or a header that is not one), or None: its 8-byte header
    length, JSON header and the data end its tensors announce, checked against the file's size (no tensor read)."""
    try:
        size = Path(path).stat().st_size
        with open(path, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            if size < 8 or size < 8 + n:
                return f"truncated: {size} bytes, its header alone announces {8 + n}"
            header = json.loads(fh.read(n))
    except OSError as err:
        return f"unreadable: {err.strerror or err}"
    except ValueError:
        return "its header is not valid JSON: not a safetensors file, or overwritten"
    if not isinstance(header, dict):
        return "its header is not a JSON object: not a safetensors file"
    offsets = [t.get("data_offsets") if isinstance(t, dict) else None for k, t in header.items() if k != "__metadata__"]
    if not all(isinstance(o, list) and len(o) == 2 and all(isinstance(x, int) for x in o) for o in offsets):
        return "its header lists a tensor without valid data_offsets"
    need = 8 + n + max((o[1] for o in offsets), default=0)
    if size < need:
        return f"truncated: {size} bytes, its tensors need {need}"
    return None


# Bytes per element of the float dtypes a weight file holds; a value is an exact zero when its bits, the sign
# bit left out, are all 0 (so -0.0 counts).
_FLOAT_BITS = {"F64": ("<u8", 0x7FFFFFFFFFFFFFFF), "F32": ("<u4", 0x7FFFFFFF), "F16": ("<u2", 0x7FFF),
               "BF16": ("<u2", 0x7FFF)}
SAMPLE = 1 << 16  # entries read per matrix, as whole rows spread over it (the check stays fast for BERT-large)


def encoder_zero_fraction(path: str | Path) -> float | None:
    """The share of exact zeros in a model folder's encoder weight matrices (2-D ``*.layer.<i>.*.weight``: the
    matrices unstructured pruning zeroes; up to SAMPLE entries of each), read from its safetensors files with numpy,
    no torch; None when it holds no such matrix. A fine-tuned dense model has next to none; an unstructured run's
    model/ has its sparsity."""
    import numpy as np

    zeros = total = 0
    for weights in sorted(Path(path).glob("*.safetensors")):
        with open(weights, "rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(n))
            for name, info in header.items():
                if (name == "__metadata__" or not isinstance(info, dict) or len(info.get("shape", [])) != 2
                        or not re.search(r"\.layer\.\d+\..*\.weight$", name) or info.get("dtype") not in _FLOAT_BITS):
                    continue
                dtype, mask = _FLOAT_BITS[info["dtype"]]
                bits = _sample_rows(fh, 8 + n + info["data_offsets"][0], *info["shape"], np.dtype(dtype))
                rows, cols = info["shape"]  # each sample stands for its whole matrix, weighed by its size
                zeros += np.count_nonzero((bits & np.array(mask, dtype=dtype)) == 0) / max(bits.size, 1) * rows * cols
                total += rows * cols
    return float(zeros / total) if total else None


def _sample_rows(fh: Any, start: int, rows: int, cols: int, dtype: Any) -> Any:
    """Whole rows spread evenly over a [rows, cols] matrix stored from ``start``, about SAMPLE entries in all (every
    row when it is no larger). Whole rows see zeroed columns; rows spread over the matrix see zeroed rows wherever
    they lie. The matrix's first SAMPLE entries alone (its first rows) missed a model whose heads and neurons past
    them were zeroed as rows (probe round 7)."""
    import numpy as np

    size = cols * dtype.itemsize
    if rows * cols <= SAMPLE:
        fh.seek(start)
        return np.frombuffer(fh.read(rows * size), dtype=dtype)
    parts = []
    for row in np.unique(np.linspace(0, rows - 1, max(1, SAMPLE // cols), dtype=np.int64)):
        fh.seek(start + int(row) * size)
        parts.append(fh.read(size))
    return np.frombuffer(b"".join(parts), dtype=dtype)


def weights_digest(folder: str | Path) -> dict[str, str]:
    """sha256 of each ``*.safetensors`` file in ``folder``, by name: what a run's metrics.json records of its model/
    (``model_sha256``), so that a model/ edited or replaced after the run is told from the one the run wrote. Its
    nonzero count alone (sdp/evaluation.py) missed an edit that keeps the count: weights changed, none zeroed.
    Cached per file state (path, size, modification time): a sweep asks of one folder more than once."""
    out = {}
    for path in sorted(Path(folder).glob("*.safetensors")):
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in _DIGESTS:
            _DIGESTS[key] = file_sha256(path)
        out[path.name] = _DIGESTS[key]
    return out


_DIGESTS: dict[tuple, str] = {}


def changed_weights(folder: str | Path, recorded: Any) -> str | None:
    """The first ``*.safetensors`` file of ``folder`` whose content is not the ``recorded`` digest (a run's
    ``model_sha256``; a file added or gone counts), or None: unchanged, or nothing recorded (a record from before
    digests were written is judged by what else it has)."""
    if not isinstance(recorded, dict) or not recorded:
        return None
    found = weights_digest(folder)
    return next((name for name in sorted(set(recorded) | set(found)) if recorded.get(name) != found.get(name)), None)


# A tokenizer can be built from any of these; a folder with none of them gets transformers' fallback, a
# tokenizer with a handful of special tokens that maps every word to [UNK] (and trains without an error).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "spiece.model",
                   "sentencepiece.bpe.model", "tokenizer.model")
# The files that hold a vocabulary: tokenizer_config.json alone is options, not words. A folder with only it loaded
# a 5-token tokenizer that read every word as [UNK], and was scored, labelled and fine-tuned on (probe round 15, a09).
VOCAB_FILES = (*(f for f in TOKENIZER_FILES if f != "tokenizer_config.json"), "spm.model")  # DeBERTa-v2/v3's (review)


def looks_local(source: str) -> bool:
    """A path rather than a Hub id: it is written as one (absolute, ./, ../, ~), or it exists."""
    if source.startswith(("/", "./", "../", "~")):
        return True
    try:  # a name too long for a path is an OSError, not "no": a Hub id then (probe round 53, pm_nouser's kind)
        return Path(source).exists()
    except (OSError, ValueError):
        return False


def check_tokenizer_dir(source: Any) -> None:
    """A local ``model.tokenizer``: a folder holding tokenizer files, else a ModelLoadError naming it. An empty
    folder (or `~`, a home without them) was transformers' ValueError traceback ("Couldn't instantiate the backend
    tokenizer ... sentencepiece"), once the data had been read (probe round 53, tk_empty, tk_home). A Hub id, a
    package: or asset: source is read when it loads."""
    if not source or str(source).startswith(("package:", "asset:")) or not looks_local(str(source)):
        return
    path = Path(os.path.expanduser(str(source)))
    shown = repr(str(source)) + (f" ({str(path)!r})" if str(path) != str(source) else "")
    allowed = "give a folder holding a tokenizer's files (tokenizer.save_pretrained), a Hub id, or package:<name>"
    if str(path).startswith("~"):  # (as sdp/data/locations.py home_path says it: review)
        raise ModelLoadError(f"model.tokenizer={str(source)!r} begins with {str(source).split('/')[0]!r}, the home "
                             "folder of no user here; give the path (or ~/... for your own home folder)")
    if not path.exists():
        raise ModelLoadError(f"model.tokenizer {shown} does not exist; {allowed}")
    if not path.is_dir():
        raise ModelLoadError(f"model.tokenizer {shown} is not a folder; {allowed}")
    if not any((path / f).is_file() for f in VOCAB_FILES):
        raise ModelLoadError(f"model.tokenizer {shown} has no tokenizer files (none of {list(VOCAB_FILES)}; "
                             f"tokenizer_config.json alone holds no vocabulary); {allowed}")


def check_model_config(model_cfg: Any) -> None:
    """One weight source per preset: a bundled preset silently winning over ``model.pretrained`` would
    train a different model than the one asked for. In the config check (check_pretrained_dir): said only once the
    data was read, it left a failed record (round 53's helper, noticed)."""
    if model_cfg.get("pretrained") and (model_cfg.get("package") or model_cfg.get("architecture")):
        kind = f"package {model_cfg.package!r}" if model_cfg.get("package") else f"random {model_cfg.architecture!r}"
        raise ModelLoadError(
            f"model={model_cfg.name} is a bundled preset ({kind}) and cannot take "
            f"model.pretrained={model_cfg.pretrained!r}; use model=hf "
            # quoted as Hydra reads it back: `model.pretrained=~/m`, advised raw, was Hydra's error (round 53, pm_pkg_q)
            f"model.pretrained={hydra_quoted(str(model_cfg.pretrained))}"
        )


def check_pretrained_dir(model_cfg: Any) -> None:
    """A local ``model.pretrained``: a model folder (config.json, safetensors) with its tokenizer, unless
    ``model.tokenizer`` names another (a local one is checked too, whatever the preset). A Hub id is checked when it
    loads (that needs the network)."""
    check_model_config(model_cfg)
    check_tokenizer_dir(model_cfg.get("tokenizer"))
    source = model_cfg.get("pretrained")
    if not source or model_cfg.get("package") or model_cfg.get("architecture") or not looks_local(str(source)):
        return
    path = check_model_dir(Path(os.path.expanduser(str(source))), "model.pretrained")
    check_id2label(read_config(path), f"model.pretrained {str(source)!r}")  # a traceback in transformers
    if model_cfg.get("tokenizer") is None and not any((path / f).is_file() for f in VOCAB_FILES):
        raise ModelLoadError(
            f"model.pretrained {str(source)!r} has no tokenizer files (none of {list(VOCAB_FILES)}; "
            "tokenizer_config.json alone holds no vocabulary), and a tokenizer made without them maps every word to "
            "[UNK]; save its tokenizer there "
            "(tokenizer.save_pretrained) or set model.tokenizer=<the tokenizer's folder or Hub id>"
        )


# config.json: the prunable set (prune.include/exclude) the run that saved the folder pruned, so sdp-eval of a copy
# measures its zeros over that set (sdp/run_summary.py record_training; probe round 36, ev1)
PRUNABLE_KEY = "sdp_prunable"


def read_config(path: str | Path) -> dict[str, Any] | None:
    try:
        return json.loads((Path(path) / "config.json").read_text())
    except (OSError, ValueError):
        return None


def preset_config(model_cfg: Any) -> dict[str, Any] | None:
    """The preset's config.json as a dict (random presets: their random_init), or None when it is only
    on the Hub (not looked up: that would need the network before the config is even valid)."""
    if model_cfg.get("architecture"):
        model_type = "xlm-roberta" if model_cfg.architecture == "xlm-roberta" else "bert"
        return {"model_type": model_type, "max_position_embeddings": 512, **dict(model_cfg.random_init or {})}
    if model_cfg.get("package"):
        try:
            return read_config(importlib.import_module(model_cfg.package).get_model_path())
        except ImportError:
            return None
    if model_cfg.get("pretrained") and (folder := Path(os.path.expanduser(str(model_cfg.pretrained)))).is_dir():
        return read_config(folder)  # `~/m` too: its checks (length, the teacher's width) were skipped (review)
    return None


def position_limit(config: dict[str, Any]) -> int | None:
    """Longest input the model's position table takes (RoBERTa-type models lose pad_token_id + 1)."""
    n = config.get("max_position_embeddings")
    if n is None:
        return None
    if config.get("model_type") in _OFFSET_POSITIONS:
        n -= int(config.get("pad_token_id", 1) or 0) + 1
    return int(n)


def length_error(key: str, value: int, config: dict[str, Any], what: str) -> str | None:
    """The one-line error for a ``key=value`` sequence length past ``what``'s position table (None when it fits, or
    the table is unknown): a longer text was a RuntimeError from the embeddings, once the data had been read. The
    one check for sdp-run (validate.py), sdp-eval (evaluation.py) and sdp-predict (prediction.py)."""
    limit = position_limit(config)
    if limit is None or int(value) <= limit:
        return None
    return (f"{key}={value} is longer than {what} takes ({limit} positions, config.json max_position_embeddings); "
            f"allowed: at most {limit}")


def check_id2label(config: dict[str, Any] | None, where: str) -> None:
    """config.json's id2label, read as transformers reads it: ids that are whole numbers, else a ModelLoadError naming
    ``where`` (a model.pretrained folder's: a run gives the model the task's own names). Where the names are printed
    or scored, sdp/class_names.py checks them too."""
    if config is not None and not isinstance(config, dict):  # a JSON list: .get was an AttributeError traceback
        raise ModelLoadError(f"{where}: config.json is not a JSON object of a model's settings")
    id2label = (config or {}).get("id2label") or {}
    bad = [str(k) for k in id2label if _whole_number(k) is None] if isinstance(id2label, dict) else None
    if bad or bad is None:  # transformers' own reading of such a config.json is a traceback
        raise ModelLoadError(f"{where}: config.json id2label " + (
            f"has ids that are not whole numbers ({bad[:4]})" if bad else "is not an object of id: name") +
            "; give each output's id as a number, with its class name")


def same_labels(theirs: list[str], ours: list[str], ordered: bool = True) -> bool:
    """Whether two lists of class names name the same classes (in one order where ``ordered``): letter case aside (a
    checkpoint's `Entailment` is a task's `entailment`), but exactly where case tells two classes apart: `[NEG, neg]`
    and `[neg, NEG]` were one order, the classes swapped (review of round 44's fixes)."""
    arrange = (lambda names: list(names)) if ordered else sorted
    folded = [arrange(str(n).lower() for n in names) for names in (theirs, ours)]
    return arrange(theirs) == arrange(ours) or (folded[0] == folded[1] and len(set(folded[1])) == len(folded[1]))


def _whole_number(key: Any) -> int | None:
    """An id2label key as transformers reads it (``int()``: '+1', '١' too), or None (`'²'`, '1.0', 'a')."""
    try:
        return int(str(key))
    except ValueError:
        return None


def label_names(config: dict[str, Any]) -> list[str] | None:
    """The checkpoint's label names in id order; None when they are transformers' LABEL_i defaults."""
    id2label = config.get("id2label")
    if not id2label:
        return None
    names = [str(id2label[k]) for k in sorted(id2label, key=lambda k: int(k))]
    return None if all(_GENERIC_LABEL.match(n) for n in names) else names


def num_labels(config: dict[str, Any]) -> int:
    if config.get("id2label"):
        return len(config["id2label"])
    return int(config.get("num_labels", 2))
