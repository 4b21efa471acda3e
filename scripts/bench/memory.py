"""Section `memory`: bytes that masks, the teacher and the teacher cache add, per prunable weight."""

from __future__ import annotations

from typing import Any


# ------------------------------------------------------------------------------------------- memory
def section_memory(recipe) -> dict[str, Any]:
    """Exact tensor sizes: masks, the teacher copy and the cache, against the prunable weight count."""
    n_prunable = sum(p.numel() for p in recipe.prunable.values())
    teacher = recipe.teacher
    if teacher is None or teacher.cache is None:
        raise RuntimeError("memory section needs a recipe with a cached teacher (regularizer=cross_correlation)")
    tmodel = teacher.model
    teacher_bytes = sum(t.numel() * t.element_size() for t in [*tmodel.parameters(), *tmodel.buffers()])
    student = recipe.accelerator.unwrap_model(recipe.model)
    student_bytes = sum(p.numel() * p.element_size() for p in student.parameters())
    cache = teacher.cache
    per_example = cache.nbytes() / cache.num_examples
    return {
        "prunable_weights": n_prunable,
        "model_params": sum(p.numel() for p in student.parameters()),
        "mask_bytes": recipe.masks.mask_bytes(),
        "mask_bytes_per_weight": recipe.masks.mask_bytes() / n_prunable,
        "teacher_bytes": teacher_bytes,
        "teacher_bytes_per_weight": teacher_bytes / n_prunable,
        "student_param_bytes": student_bytes,
        "cache_examples": cache.num_examples,
        "cache_outputs": {k: list(v.shape[1:]) for k, v in cache.store.items()},
        "cache_bytes": cache.nbytes(),
        "cache_bytes_per_example": per_example,
        "cache_bytes_per_weight": cache.nbytes() / n_prunable,
        "adamw_bytes_per_weight": 8.0,  # exp_avg + exp_avg_sq, fp32: for scale
    }
