"""Sparsity schedules: the target sparsity as a function of the optimizer-step count.

Every schedule counts *optimizer updates*, never micro-batches, so gradient accumulation and
multi-process runs reach the same sparsity at the same update. A schedule has a warmup (dense
training before ``start``), pruning events every ``frequency`` updates between ``start`` and
``end``, and a cooldown (masks fixed) after ``end``.

Closed forms, with progress p = (t - start) / (end - start) for start <= t < end:

    warmup     t < start:  s(t) = 0 (dense)
    cubic:     s(t) = s_f + (s_i - s_f) (1 - p)^3                      (Zhu & Gupta 2017)
    linear:    s(t) = s_i + (s_f - s_i) p
    exponential: s(t) = s_i + (s_f - s_i) (1 - exp(-5 p)) / (1 - exp(-5))
               (the gap to s_f shrinks geometrically, by exp(-5) over the ramp, normalised to hit s_f)
    one_shot:  s(t) = s_f from ``start`` on (one pruning event, at ``start``)
    cooldown   t >= end:   s(t) = s_f (masks fixed)

Pruning events fall on start, start + frequency, ... and always on ``end``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("sdp")

# Shape functions map progress p in [0, 1] to the fraction of the way from s_i to s_f.
ScheduleShape = Callable[[float], float]


def _cubic(p: float) -> float:
    # Zhu & Gupta (2017): s(t) = s_f + (s_i - s_f) (1 - p)^3
    return 1.0 - (1.0 - p) ** 3


def _linear(p: float) -> float:
    return p


EXPONENTIAL_RATE = 5.0


def _exponential(p: float, rate: float = EXPONENTIAL_RATE) -> float:
    # Remaining density decays geometrically; normalised so that p=1 reaches s_f exactly.
    return (1.0 - math.exp(-rate * p)) / (1.0 - math.exp(-rate))


def _one_shot(p: float) -> float:
    return 1.0


SCHEDULES: dict[str, ScheduleShape] = {
    "cubic": _cubic,
    "linear": _linear,
    "exponential": _exponential,
    "one_shot": _one_shot,
}


def get_shape(name: str) -> ScheduleShape:
    try:
        return SCHEDULES[name]
    except KeyError:
        raise ValueError(f"unknown schedule {name!r}; allowed: {sorted(SCHEDULES)}") from None


@dataclass(frozen=True)
class SparsitySchedule:
    """Resolved schedule over a stage of ``total_steps`` optimizer updates.

    ``start``, ``end`` and ``frequency`` are already in optimizer steps here; see
    :func:`resolve_schedule` for fractions of the stage.
    """

    name: str
    final_sparsity: float
    initial_sparsity: float
    start: int
    end: int
    frequency: int

    def __post_init__(self) -> None:
        get_shape(self.name)
        if not 0.0 <= self.final_sparsity < 1.0:
            raise ValueError(f"sparsity must be in [0, 1), got {self.final_sparsity}")
        if not 0.0 <= self.initial_sparsity <= self.final_sparsity:
            raise ValueError(
                f"initial_sparsity must be in [0, sparsity={self.final_sparsity}], got {self.initial_sparsity}"
            )
        if self.frequency < 1:
            raise ValueError(f"schedule frequency must be >= 1 optimizer step, got {self.frequency}")
        if not 0 <= self.start <= self.end:
            raise ValueError(f"schedule needs 0 <= start <= end, got start={self.start} end={self.end}")

    def pruning_steps(self) -> list[int]:
        """The optimizer steps (counted from 0, before the update) at which masks are recomputed."""
        if self.name == "one_shot":
            return [self.start]
        steps = list(range(self.start, self.end + 1, self.frequency))
        if steps[-1] != self.end:
            steps.append(self.end)  # the final event always lands on s_f
        return steps

    def sparsity_at(self, step: int) -> float:
        """Target sparsity in effect at optimizer step ``step`` (closed form)."""
        if step < self.start:
            return 0.0
        if self.name == "one_shot" or step >= self.end:
            return self.final_sparsity
        progress = (step - self.start) / max(self.end - self.start, 1)
        frac = get_shape(self.name)(progress)
        return self.initial_sparsity + (self.final_sparsity - self.initial_sparsity) * frac

    def is_pruning_step(self, step: int) -> bool:
        if step < self.start or step > self.end:
            return False
        if self.name == "one_shot":
            return step == self.start
        return (step - self.start) % self.frequency == 0 or step == self.end


def schedule_config_errors(name: str, start: float, end: float, frequency: float, unit: str) -> list[str]:
    """Config mistakes that do not depend on the stage length, found before any training starts."""
    errors = []
    if name == "one_shot":
        end = start
    for key, value in (("start", start), ("end", end), ("frequency", frequency)):
        try:
            _to_steps(value, unit, 1, key)
        except ValueError as err:
            errors.append(str(err))
    if start > end:
        errors.append(f"schedule.start={start} is after schedule.end={end}")
    if name != "one_shot" and not errors and frequency <= 0:  # 0 used to become "prune before every update"
        low = "1 (optimizer steps between pruning events)" if unit == "steps" else "0 (a fraction of the stage)"
        errors.append(f"schedule.frequency={frequency:g} must be {'>=' if unit == 'steps' else '>'} {low}")
    return errors


def _to_steps(value: float, unit: str, total_steps: int, key: str) -> int:
    if unit == "fraction":
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"schedule.{key}={value} with unit=fraction must be in [0, 1]")
        return int(round(value * total_steps))
    if unit == "steps":
        if value < 0 or float(value) != int(value):
            raise ValueError(f"schedule.{key}={value} with unit=steps must be a whole number of optimizer steps >= 0")
        return int(value)
    raise ValueError(f"unknown schedule unit {unit!r}; allowed: ['fraction', 'steps']")


def schedule_from_config(schedule_cfg: Any, final_sparsity: float, total_steps: int) -> SparsitySchedule:
    """:func:`resolve_schedule` from a ``schedule`` config group (conf/schedule/*.yaml)."""
    return resolve_schedule(schedule_cfg.name, final_sparsity, total_steps, start=schedule_cfg.start,
                            end=schedule_cfg.end, frequency=schedule_cfg.frequency, unit=schedule_cfg.unit,
                            initial_sparsity=schedule_cfg.initial_sparsity)


def resolve_schedule(
    name: str,
    final_sparsity: float,
    total_steps: int,
    *,
    start: float,
    end: float,
    frequency: float,
    unit: str = "fraction",
    initial_sparsity: float = 0.0,
) -> SparsitySchedule:
    """Turn config values (fractions of the stage or step counts) into a step-based schedule.

    Fractions are of the stage's ``total_steps`` optimizer updates, rounded to the nearest step.
    Pruning happens before an update, so the last possible event is before update ``total_steps - 1``;
    a later ``end`` is moved there (with a warning) so that s_f is always reached within the stage.
    """
    if total_steps < 1:
        raise ValueError(f"the pruning stage has {total_steps} optimizer steps; it needs at least 1")
    if name == "one_shot":
        end = start  # one event at start; everything after it is cooldown
    if start > end:
        raise ValueError(f"schedule.start={start} is after schedule.end={end}")
    start_s = _to_steps(start, unit, total_steps, "start")
    end_s = _to_steps(end, unit, total_steps, "end")
    if end_s > total_steps - 1:
        if unit == "steps":
            log.warning("schedule.end=%d is beyond the stage (%d updates); moved to %d",
                        end_s, total_steps, total_steps - 1)
        end_s = total_steps - 1
    if start_s > end_s and unit == "steps":
        # The warmup the user asked for (start) was cut without a word: only the end's move was logged.
        log.warning("schedule.start=%d is beyond the stage (%d updates); moved to %d: the warmup before the first "
                    "pruning event is shorter than asked", start_s, total_steps, end_s)
    start_s = min(start_s, end_s)
    freq_s = max(1, _to_steps(frequency, unit, total_steps, "frequency"))
    return SparsitySchedule(name, final_sparsity, initial_sparsity, start_s, end_s, freq_s)
