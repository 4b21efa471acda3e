"""Which weights a model's ``prune.include`` patterns select, checked as soon as the model is loaded.

A pattern written for one naming scheme silently matches nothing in another (DistilBERT's blocks are
``transformer.layer.N``, not ``encoder.layer.N``); found only when the pruning stage starts, that costs a
whole dense stage. :func:`check_prunable` runs right after loading, before any training.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from torch import nn

from sdp.pruning.masks import select_prunable

# The encoder blocks' Linear weights (attention Q K V O, FFN in/out) under each family's module names.
# Biases and LayerNorms in those blocks match too but are never pruned: only nn.Linear weights are.
BUILTIN_INCLUDE: dict[str, str] = {
    "bert/roberta/xlm-roberta": r"encoder\.layer\.\d+\.",  # bert.encoder.layer.N, roberta.encoder.layer.N
    "distilbert": r"transformer\.layer\.\d+\.",  # distilbert.transformer.layer.N (q_lin, ffn.lin1, ...)
}


class PrunableSetError(ValueError):
    """``prune.include`` / ``prune.exclude`` do not fit the loaded model."""


def check_patterns(include: Iterable[str], exclude: Iterable[str] = ()) -> None:
    """A PrunableSetError naming the first prune.include / prune.exclude pattern that is no regular expression: a bare
    re.error traceback in sdp-run (review of round 35's fixes) and in sdp-eval (probe round 36, ei1, ei2)."""
    for key, patterns in (("include", include), ("exclude", exclude)):
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as err:
                raise PrunableSetError(f"prune.{key} pattern {pattern!r} is not a regular expression: {err}") from None


def check_prunable(model: nn.Module, include: Iterable[str], exclude: Iterable[str] = ()) -> dict[str, nn.Parameter]:
    """The prunable set, or a PrunableSetError if it is empty or a pattern matches only parameters that
    are not nn.Linear weights (LayerNorm, embeddings, biases: never pruned, so the pattern is a mistake).

    Several include patterns are alternatives (e.g. :data:`BUILTIN_INCLUDE` for several families), so a
    single pattern matching nothing is fine as long as the set as a whole is not empty. Each exclude pattern must
    leave out some included weight: one that matches none is a typo (probe round 35, ex1), so an exclude list is
    written for the model at hand, not shared across families."""
    include, exclude = list(include), list(exclude)
    linear = {f"{name}.weight" for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    params = [name for name, _ in model.named_parameters()]
    check_patterns(include, exclude)
    for pattern in include:
        hits = [n for n in params if re.search(pattern, n)]
        if hits and not any(n in linear for n in hits):
            raise PrunableSetError(
                f"prune.include pattern {pattern!r} matches only parameters that are not nn.Linear weights "
                f"(e.g. {hits[:3]}); only Linear weights are pruned"
            )
    try:
        chosen = select_prunable(model, include, exclude)
    except ValueError as err:
        blocks = sorted({m.group(0) for n in linear if (m := re.match(r"(.*?\.)\d+\.", n))})
        raise PrunableSetError(
            f"{err}. The model's Linear weights live under {blocks or sorted(linear)[:5]}; built-in patterns: "
            f"{BUILTIN_INCLUDE}"
        ) from None
    # An exclude pattern that leaves out nothing is a typo: the run pruned every matrix, and its card named the
    # pattern as if some were kept (probe round 35, ex1)
    included = select_prunable(model, include, ())
    for pattern in exclude:
        if not any(re.search(pattern, name) for name in included):
            raise PrunableSetError(f"prune.exclude pattern {pattern!r} matches none of the {len(included)} prunable "
                                   f"weights (e.g. {sorted(included)[:2]}), so it excludes nothing; fix the pattern "
                                   "or drop it")
    return chosen


def check_sparsity_leaves_weights(prunable: dict[str, nn.Parameter], sparsity: float, scope: str = "global") -> None:
    """A PrunableSetError when ``sparsity`` zeroes every prunable weight: masks zero ``round(sparsity * n)`` of
    ``n`` (per tensor for scope=layerwise), so a sparsity within 0.5/n of 1 is silently the same as 1."""
    groups = {name: p.numel() for name, p in prunable.items()} if scope == "layerwise" else {
        "the prunable set": sum(p.numel() for p in prunable.values())}
    for name, n in groups.items():
        if round(sparsity * n) >= n:
            raise PrunableSetError(
                f"sparsity={sparsity} zeroes every one of the {n} prunable weights of {name} (scope={scope}): "
                f"nothing would survive; allowed: sparsity < {(n - 0.5) / n:.10g}")
