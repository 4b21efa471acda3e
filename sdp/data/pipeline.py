"""The run's data, ready to train on: tokenised splits, query groups, collator and loaders."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from sdp.data.loading import load_run_splits
from sdp.data.tasks import TaskSpec
from sdp.data.token_repeats import warn_token_repeats
from sdp.data.tokenize import PaddingCollator, make_collator, make_dataloader, tokenize_splits
from sdp.errors import ConfigError


@dataclass
class RunData:
    datasets: dict[str, Any]  # split -> tokenised dataset (with labels and row index ``idx``)
    groups: dict[str, np.ndarray]  # split -> query id per example (ranking metrics, WPR), else {}
    dropped_rows: dict[str, int]  # split -> rows the source dropped (PAWS-X ``NS``), for metrics.json
    collator: PaddingCollator
    train_loader: Any
    eval_loaders: dict[str, Any]  # one per evaluated split, in task.eval_splits order
    raw: Any  # the loaded splits before tokenising (their fingerprints identify the run's data)
    token_ids: Any = ()  # hashes of the training rows' token ids, for the run's ROW_KEYS_FILE (token_repeats.py)
    file_rows: Any = None  # split -> its rows' rows in their file, where sampled or carved (LoadedSplits.file_rows)


def build_data(cfg: Any, task: TaskSpec, tokenizer, accelerator) -> RunData:
    # Tokenise on the main process first so the others read its cache instead of racing it.
    with accelerator.main_process_first():
        loaded = load_run_splits(cfg, task)
        raw = loaded.datasets
        tokenized = tokenize_splits(raw, task, tokenizer, cfg.task.max_seq_length, cfg.cache_dir, loaded.file_rows,
                                    loaded.labels_checked)
        token_ids = warn_token_repeats(task, raw, tokenized, cfg.task.max_seq_length, loaded.file_rows,
                                       loaded.text_checked, loaded.labels_checked, tokenizer)  # (round 35, lt1)
    train = tokenized[task.train_split]
    if len(train) < cfg.train.batch_size:
        raise ConfigError(
            f"train.batch_size={cfg.train.batch_size} is larger than the training set "
            f"({len(train)} examples); lower it or raise max_train_samples"
        )
    n, k = accelerator.num_processes, cfg.train.gradient_accumulation_steps
    if len(train) < cfg.train.batch_size * k * n:  # each stage would make one update from a part of its window
        raise ConfigError(
            f"train.batch_size={cfg.train.batch_size} x train.gradient_accumulation_steps={k}"
            f"{f' x {n} processes' if n > 1 else ''} = {cfg.train.batch_size * k * n} examples per optimizer update "
            f"is more than the training set ({len(train)} examples): every stage would make a single update from "
            "part of one window, and the pruning schedule would collapse into it; lower them or raise max_train_samples"
        )
    collator = make_collator(tokenizer)
    # A trailing batch of one cannot be standardised by the cross-correlation loss: drop just that case.
    drop_last = len(train) % cfg.train.batch_size == 1
    return RunData(
        datasets=tokenized,
        raw=raw,
        token_ids=token_ids,
        file_rows=loaded.file_rows,
        groups=loaded.groups,
        dropped_rows=loaded.dropped_rows,
        collator=collator,
        train_loader=make_dataloader(train, collator, cfg.train.batch_size, True, cfg.seed, drop_last),
        eval_loaders={
            split: make_dataloader(tokenized[split], collator, cfg.train.eval_batch_size, False, cfg.seed)
            for split in task.eval_splits
        },
    )


def ordered_batches(dataset: Any, collator: PaddingCollator, batch_size: int, device: Any) -> Iterator[dict[str, Any]]:
    """``dataset`` in row order (not shuffled, not sharded across processes), batch by batch on ``device``:
    for one pass over a whole split on every process (teacher prefill, held-out measurements)."""
    loader = make_dataloader(dataset, collator, batch_size, False, seed=0)  # seed: unused without shuffling
    return ({k: v.to(device) for k, v in batch.items()} for batch in loader)
