"""Sparsity schedules: the value at every pruning step against the closed form (issues 2 and 3)."""

from __future__ import annotations

import math

import pytest

from sdp.pruning.schedules import SparsitySchedule, resolve_schedule


def closed_form(name: str, t: int, s_f: float, start: int, end: int, s_i: float = 0.0) -> float:
    if t < start:
        return 0.0
    if name == "one_shot" or t >= end:
        return s_f
    p = (t - start) / (end - start)
    shape = {
        "cubic": 1 - (1 - p) ** 3,
        "linear": p,
        "exponential": (1 - math.exp(-5 * p)) / (1 - math.exp(-5)),
    }[name]
    return s_i + (s_f - s_i) * shape


def expected_events(name: str, start: int, end: int, freq: int) -> list[int]:
    if name == "one_shot":
        return [start]
    steps = list(range(start, end + 1, freq))
    return steps if steps[-1] == end else [*steps, end]


def test_known_values_issue_2():
    cubic = SparsitySchedule("cubic", 0.9, 0.0, start=0, end=10, frequency=1)
    assert cubic.sparsity_at(5) == pytest.approx(0.9 * (1 - 0.5**3)) == pytest.approx(0.7875)
    assert cubic.sparsity_at(0) == 0.0 and cubic.sparsity_at(10) == 0.9 and cubic.sparsity_at(1000) == 0.9
    assert cubic.sparsity_at(2) == pytest.approx(0.9 * (1 - 0.8**3))
    linear = SparsitySchedule("linear", 0.8, 0.0, start=0, end=10, frequency=1)
    assert linear.sparsity_at(5) == pytest.approx(0.4) and linear.sparsity_at(7) == pytest.approx(0.56)
    expo = SparsitySchedule("exponential", 0.9, 0.0, start=0, end=10, frequency=1)
    assert expo.sparsity_at(5) == pytest.approx(0.9 * (1 - math.exp(-2.5)) / (1 - math.exp(-5)))
    one = SparsitySchedule("one_shot", 0.9, 0.0, start=3, end=3, frequency=1)
    assert [one.sparsity_at(t) for t in (0, 2, 3, 4, 99)] == [0.0, 0.0, 0.9, 0.9, 0.9]
    # with initial sparsity: s(start) = s_i
    warm = SparsitySchedule("cubic", 0.9, 0.3, start=4, end=8, frequency=2)
    assert warm.sparsity_at(3) == 0.0 and warm.sparsity_at(4) == pytest.approx(0.3)
    assert warm.sparsity_at(6) == pytest.approx(0.9 + (0.3 - 0.9) * 0.5**3)


@pytest.mark.parametrize("name", ["cubic", "linear", "exponential", "one_shot"])
@pytest.mark.parametrize(
    "total, start, end, freq, unit, want",  # want = (start, end, frequency) in optimizer steps
    [
        (100, 0.0, 0.7, 0.05, "fraction", (0, 70, 5)),
        (100, 0.1, 0.8, 0.1, "fraction", (10, 80, 10)),  # warmup 10 steps, cooldown 20
        (37, 0.2, 0.9, 0.07, "fraction", (7, 33, 3)),  # rounding to whole steps
        (50, 5, 23, 4, "steps", (5, 23, 4)),  # end off the frequency grid: still an event at end
        (30, 0, 29, 1, "steps", (0, 29, 1)),
        (20, 3, 40, 5, "steps", (3, 19, 5)),  # end beyond the stage: moved to the last update
    ],
)
def test_sparsity_at_every_pruning_step(name, total, start, end, freq, unit, want):
    s_f = 0.9
    sched = resolve_schedule(name, s_f, total, start=start, end=end, frequency=freq, unit=unit)
    w_start, w_end, w_freq = want
    if name == "one_shot":
        w_end = w_start  # end is ignored: one event at start
    assert (sched.start, sched.end, sched.frequency) == (w_start, w_end, w_freq)
    events = sched.pruning_steps()
    assert events == expected_events(name, w_start, w_end, w_freq)
    assert [t for t in range(total) if sched.is_pruning_step(t)] == events
    for t in events:  # EVERY pruning step against the closed form
        assert sched.sparsity_at(t) == pytest.approx(closed_form(name, t, s_f, w_start, w_end), abs=1e-12)
    values = [sched.sparsity_at(t) for t in range(total)]
    assert all(v == 0.0 for v in values[:w_start])  # warmup: dense
    assert all(v == s_f for v in values[w_end:])  # cooldown: s_f, masks fixed
    assert all(a <= b + 1e-12 for a, b in zip(values, values[1:]))  # never decreasing
    assert sched.sparsity_at(events[-1]) == s_f  # the last event reaches s_f
    if name == "one_shot":
        assert events == [w_start] and sched.sparsity_at(w_start) == s_f


def test_one_shot_ignores_end_and_defaults_prune_at_first_update():
    sched = resolve_schedule("one_shot", 0.8, 10, start=0.0, end=0.0, frequency=1.0)
    assert sched.pruning_steps() == [0] and sched.sparsity_at(0) == 0.8
    later = resolve_schedule("one_shot", 0.8, 10, start=0.5, end=0.0, frequency=1.0)
    assert later.pruning_steps() == [5] and later.sparsity_at(4) == 0.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"start": 0.8, "end": 0.2, "frequency": 0.1}, "after"),
        ({"start": 0.0, "end": 1.5, "frequency": 0.1}, "must be in \\[0, 1\\]"),
        ({"start": 0, "end": 5, "frequency": 1.5, "unit": "steps"}, "whole number"),
        ({"start": 0, "end": 5, "frequency": 1, "unit": "epochs"}, "unknown schedule unit"),
    ],
)
def test_bad_values_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        resolve_schedule("cubic", 0.9, 100, **kwargs)


def test_bad_schedule_objects():
    with pytest.raises(ValueError, match="unknown schedule"):
        SparsitySchedule("quadratic", 0.9, 0.0, 0, 10, 1)
    with pytest.raises(ValueError, match="sparsity"):
        SparsitySchedule("cubic", 1.0, 0.0, 0, 10, 1)
    with pytest.raises(ValueError, match="initial_sparsity"):
        SparsitySchedule("cubic", 0.5, 0.6, 0, 10, 1)
    with pytest.raises(ValueError, match="frequency"):
        SparsitySchedule("cubic", 0.5, 0.0, 0, 10, 0)
    with pytest.raises(ValueError, match="at least 1"):
        resolve_schedule("cubic", 0.5, 0, start=0, end=1, frequency=1)


def test_schedule_config_errors_before_training():
    from sdp.pruning.schedules import schedule_config_errors

    assert schedule_config_errors("cubic", 0.0, 0.7, 0.05, "fraction") == []
    assert schedule_config_errors("one_shot", 0.3, 0.0, 1.0, "fraction") == []  # end ignored
    assert schedule_config_errors("cubic", 10, 200, 5, "steps") == []
    errors = schedule_config_errors("cubic", 0.0, 0.7, 0.05, "steps")  # fractions left with unit=steps
    assert len(errors) == 2 and all("whole number" in e for e in errors)
    assert any("after" in e for e in schedule_config_errors("linear", 0.5, 0.2, 0.1, "fraction"))
