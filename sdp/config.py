"""The structured config schema behind ``conf/``.

Hydra merges every YAML file into these dataclasses, so a mistyped key or a value of the wrong type
fails at start-up, before any model is loaded. Defaults that the papers do not fix are documented in
the YAML file that sets them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf


@dataclass
class ModelConfig:
    name: str = MISSING
    pretrained: str | None = None  # Hub id or local directory
    package: str | None = None  # Python package with get_model_path() (offline presets)
    tokenizer: str | None = None  # Hub id, local dir, or "package:<name>"; default: the model's own
    architecture: str | None = None  # bert | xlm-roberta: build a random model (tests), needs random_init
    random_init: dict[str, Any] | None = None
    trust_remote_code: bool = False  # never on by default: a Hub repo could run arbitrary code


@dataclass
class TaskConfig:
    name: str = MISSING
    max_seq_length: int = 128
    languages: list[str] | None = None  # cross-lingual tasks: evaluation languages (None = all)
    eval_test: bool = False  # cross-lingual tasks: also evaluate each language's labelled test split
    # A fraction of the (subsampled) train split held out as the only eval split, so hyperparameters are
    # chosen without reading the dev split that reports results; None = evaluate on the task's dev split(s).
    validation_from_train: float | None = None
    validation_seed: int = 0  # the carve is a fixed permutation of this seed: the same rows for every run
    # task=custom only (sdp/data/custom.py, conf/task/custom.yaml); None elsewhere.
    train_file: str | None = None  # .csv | .tsv | .jsonl
    validation_file: str | None = None
    text_fields: list[str] | None = None  # one or two text columns
    label_column: str | None = None
    label_names: list[str] | None = None  # class names in id order; None: the training labels, sorted
    metric: str | None = None  # accuracy | f1 | mcc | pearson_spearman


@dataclass
class ScheduleConfig:
    name: str = "cubic"
    unit: str = "fraction"  # fraction (of the pruning stage's optimizer steps) | steps
    start: float = 0.0
    end: float = 0.7
    frequency: float = 0.05
    initial_sparsity: float = 0.0


@dataclass
class RegularizerConfig:
    """The distillation term D (group ``regularizer``)."""

    name: str = "cross_correlation"
    alpha: float = 1.0
    representation: str = "cls"
    lambda_off: float = 0.0051
    normalize: bool = True
    temperature: float = 2.0
    eps: float = 1e-5
    off_target: str = "teacher"  # zero (Barlow Twins) | teacher: see conf/regularizer/cross_correlation.yaml
    gather: bool = False  # CC statistics over the global batch of all processes


@dataclass
class WeightRegConfig:
    """The AWR weight-alignment term R (group ``weight_reg``)."""

    name: str = "none"
    beta: float = 0.0


@dataclass
class TrainConfig:
    batch_size: int = 32
    eval_batch_size: int = 128
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    gradient_accumulation_steps: int = 1
    mixed_precision: str = "no"  # no | bf16 | fp16
    log_every: int = 20
    num_threads: int | None = None  # torch.set_num_threads; None keeps torch's default
    checkpoint_every: int = 500  # optimizer updates between checkpoints (0: only at stage ends and on SIGTERM)


@dataclass
class DenseConfig:
    epochs: float = 3.0
    max_steps: int | None = None  # overrides epochs when set
    lr: float = 5e-5
    lr_schedule: str = "linear"  # linear (warmup, then decay to 0) | constant (warmup, then flat)
    checkpoint: str | None = None  # an already fine-tuned model directory: skip the dense stage


@dataclass
class PruneConfig:
    epochs: float = 3.0
    max_steps: int | None = None
    lr: float = 5e-5
    scope: str = "global"  # global | layerwise
    # The one default of prune.include (conf/config.yaml leaves it out so conf/model/hf.yaml can set it).
    include: list[str] = field(default_factory=lambda: [r"encoder\.layer\.\d+\."])
    exclude: list[str] = field(default_factory=list)
    teacher: str = "frozen"  # frozen | refresh | checkpoint
    teacher_checkpoint: str | None = None
    teacher_cache: str = "memory"  # off | memory | disk
    teacher_prefill: bool = True  # cache a fixed teacher's outputs for the whole train set at stage start
    lr_schedule: str = "linear"  # linear | constant
    dropout: str = "on"  # on | off | distill_off (sdp/objectives/monitor.py)
    monitor_representation: str | None = "cls"  # CC(student, teacher) logged for every method; null: off
    reference_mask: str | None = None  # a run dir (or mask file) whose final mask the overlap compares with


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    regularizer: RegularizerConfig = field(default_factory=RegularizerConfig)
    weight_reg: WeightRegConfig = field(default_factory=WeightRegConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    dense: DenseConfig = field(default_factory=DenseConfig)
    prune: PruneConfig = field(default_factory=PruneConfig)
    sparsity: float = 0.9
    seed: int = 42
    data_dir: str | None = None
    cache_dir: str | None = None
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    output_root: str = "outputs"
    output_dir: str | None = None  # default: the Hydra run directory
    tracker: str = "none"  # none | tensorboard | wandb | mlflow: also log to it (sdp/training/tracking.py)
    push_to_hub: str | None = None  # a Hub repo id: upload model/ there at the end (sdp/models/card.py)
    resume: bool = True
    cpu: bool = False


def model_name_from(pretrained: str) -> str:
    """``org/name`` or ``/path/to/name/`` -> ``name``: the model's name in run directories and tables."""
    return str(pretrained).rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]


def register_configs() -> None:
    ConfigStore.instance().store(name="config_schema", node=Config)
    if not OmegaConf.has_resolver("sdp_model_name"):  # conf/model/hf.yaml derives model.name with it
        OmegaConf.register_new_resolver("sdp_model_name", model_name_from)


register_configs()
