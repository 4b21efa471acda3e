"""What probe round 10 found (issue 26; docs/probe_round10.md): cross-lingual data, teachers, schedules, the grid and
records scripts, and the bench check. Each test fails on the main the probe ran (5b88428) and passes after its fix,
but for the one control marked as such. Synthetic files and tiny models; the two that need a process run a
debug=smoke run or a grid launch that stops at its first run."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from offline_env import offline_env as _env

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # scripts.bench
sys.path.insert(0, str(REPO / "scripts"))  # grid, gridrun (scripts/ is not a package)


# ------------------------------------------------------------------------------------------- cross-lingual (x04, x05)
_PREMISES = ["A man plays a guitar.", "Two dogs run in a park.", "A woman reads a book.", "Kids eat ice cream.",
             "The sun sets over the sea.", "A chef cooks pasta.", "A boy kicks a ball.", "Birds sing at dawn."]
_XNLI_LABELS = ["entailment", "neutral", "contradiction"]


def _xnli_rows() -> list[tuple[str, str, str]]:
    """8 premises x 3 hypotheses, consecutive triples as in the XTREME dev files (24 rows: 12 train-side)."""
    return [(p, f"hypothesis {i} of {p}", _XNLI_LABELS[i]) for p in _PREMISES for i in range(3)]


def _write(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")


def test_a_language_file_that_is_not_parallel_is_refused(tmp_path):
    """x05: dev-de.tsv with the English row count but another order (here reversed): its eval side held the German
    translations of the rows the model trained on in English, and was scored as zero-shot (accuracy/de 28.12 against
    en 50.00 in the probe), unsaid. A parallel file has the English labels row by row; one that does not is refused."""
    from sdp.data.tasks import DataError, get_task
    from sdp.data.xglue import read_xtreme_split

    rows = _xnli_rows()
    _write(tmp_path / "xnli" / "dev-en.tsv", rows)
    _write(tmp_path / "xnli" / "dev-fr.tsv", rows)  # parallel (the same rows): loads
    _write(tmp_path / "xnli" / "dev-de.tsv", rows[::-1])
    task = get_task("xnli_small")
    assert len(read_xtreme_split(task, tmp_path, "validation.fr")) == 12  # XNLI drops nothing: a plain list
    with pytest.raises(DataError, match=r"dev-de\.tsv: \d+ of its 12 eval-side rows have another label .*not parallel"):
        read_xtreme_split(task, tmp_path, "validation.de")


def _pawsx_rows() -> list[tuple[str, str, str]]:
    return [(f"sentence {i} one", f"sentence {i} two", str(i % 2)) for i in range(20)]


def test_a_language_left_without_rows_is_a_data_error_not_a_traceback(tmp_path):
    """x04b: a PAWS-X language whose eval-side rows are all the NS placeholder reached the loader as an empty split:
    `ValueError: The columns in features (['idx', 'labels']) must be identical as the columns in the dataset:
    ['idx']`, a traceback after the model loaded. Now a DataError naming the file, the language and the way out."""
    from sdp.data.tasks import DataError, get_task
    from sdp.data.xglue import read_xtreme_split

    rows = _pawsx_rows()
    _write(tmp_path / "paws-x" / "dev-en.tsv", rows)
    _write(tmp_path / "paws-x" / "dev-ja.tsv", [("NS", "NS", lab) for _, _, lab in rows])
    task = get_task("pawsx_small")
    with pytest.raises(DataError, match=r"dev-ja\.tsv: every one of the 10 rows of validation\.ja is the 'NS' "
                                        r"placeholder, so language 'ja' has no row to score; leave it out with "
                                        r"task\.languages"):
        read_xtreme_split(task, tmp_path, "validation.ja")


def test_ns_rows_whose_labels_differ_are_not_taken_for_a_non_parallel_file(tmp_path):
    """Control for the parallel check (passes on 5b88428 too): the shared PAWS-X files differ from English in the
    label of some NS rows only (dev-de: 32 rows, all NS); those rows are dropped, and the file loads."""
    from sdp.data.tasks import get_task
    from sdp.data.xglue import read_xtreme_split

    rows = _pawsx_rows()
    de = [("NS", t2, "0" if lab == "1" else "1") if i in (11, 13) else (t1, t2, lab)
          for i, (t1, t2, lab) in enumerate(rows)]
    _write(tmp_path / "paws-x" / "dev-en.tsv", rows)
    _write(tmp_path / "paws-x" / "dev-de.tsv", de)
    got = read_xtreme_split(get_task("pawsx_small"), tmp_path, "validation.de")
    assert len(got.rows) == 8 and got.dropped == 2


# ------------------------------------------------------------------------------------------------- teacher (t04, t05)
def test_a_teacher_of_another_vocabulary_is_refused_naming_it(data_dir, tmp_path):
    """t05: a prune.teacher_checkpoint fine-tuned for RTE's labels at the student's width but with another
    vocabulary (40,000 tokens; the student's tokenizer has 30,522) ran to completion: the teacher read the student's
    token ids as its own, and the run distilled from that. (t04: a smaller table was refused, but as `tokenizer has
    30522 tokens but the model's embedding table has 8001`, blaming the user's model.)"""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    labels = {0: "entailment", 1: "not_entailment"}
    config = BertConfig(vocab_size=40000, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, id2label=labels, label2id={v: k for k, v in labels.items()})
    BertForSequenceClassification(config).save_pretrained(tmp_path / "teacher")
    out = subprocess.run(
        [sys.executable, "-m", "cli.run", "debug=smoke", "task=rte", f"data_dir={data_dir}",
         f"cache_dir={tmp_path / 'cache'}", "train.num_threads=1", "dense.max_steps=1", "prune.max_steps=1",
         "prune.teacher=checkpoint", f"prune.teacher_checkpoint={tmp_path / 'teacher'}",
         f"output_dir={tmp_path / 'run'}"],
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600,
    )
    assert out.returncode == 2, out.stdout[-2000:] + out.stderr[-2000:]
    assert "ModelLoadError: prune.teacher_checkpoint" in out.stderr
    assert "has an embedding table of 40000 tokens, the student's has 30522" in out.stderr
    assert "Traceback" not in out.stderr


# --------------------------------------------------------------------------------------------------- schedule (s07)
def test_a_schedule_start_beyond_the_stage_is_said(caplog):
    """s07: schedule.unit=steps schedule.start=5 schedule.end=10 on a 2-update stage: only the end's move was logged;
    the start (the warmup asked for) went from 5 to 1 without a word."""
    from sdp.pruning.schedules import resolve_schedule

    with caplog.at_level(logging.WARNING, logger="sdp"):
        sched = resolve_schedule("cubic", 0.5, 2, start=5, end=10, frequency=1, unit="steps")
    assert (sched.start, sched.end) == (1, 1)
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "schedule.end=10 is beyond the stage" in text
    assert "schedule.start=5 is beyond the stage (2 updates); moved to 1" in text


# ------------------------------------------------------------------------------------- records and grids (g01-g06)
def test_commit_records_outside_the_repository_is_one_line(tmp_path):
    """g01: `python scripts/commit_records.py /tmp/...` (a grid run elsewhere, as README's slice example does) listed
    the runs under --dry-run, then without it died with `ValueError: '/tmp/...' is not in the subpath of '<repo>'`."""
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({"status": "completed", "final": {"main": 0.5}}))
    out = subprocess.run([sys.executable, "scripts/commit_records.py", str(tmp_path)], cwd=REPO, env=_env(),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stderr
    assert "Traceback" not in out.stderr
    assert f"commit_records: '{tmp_path}' is outside the repository" in out.stderr


def _grid(argv: list[str], capsys) -> tuple[int | str | None, str]:
    import grid

    try:
        grid.main(argv)
        code = 0
    except SystemExit as stop:
        code = stop.code
    return code, capsys.readouterr().out


def test_grid_plan_takes_its_flag_before_the_overrides(tmp_path, capsys):
    """g02: `python scripts/grid.py study --plan root=/tmp/s 'tasks=[rte]' ...` was `grid.py: error: unrecognized
    arguments: root=/tmp/s tasks=[rte] ...` (the overrides were taken only before the flag)."""
    code, out = _grid(["study", "--plan", f"root={tmp_path}", "tasks=[rte]", "seeds=[1]", "sparsities=[0.5]"], capsys)
    assert code == 0
    assert f"# Study: 4 runs under {tmp_path}" in out


@pytest.mark.parametrize("override, message", [
    ("tasks=[rtee]", "grid: tasks=['rtee']: unknown task(s) ['rtee']; allowed: "),
    ("sparsities=[1.0]", "grid: sparsity 1.0 is not in [0, 1)"),
    ("add=[rte:1.5]", "grid: sparsity 1.5 is not in [0, 1)"),
])
def test_grid_refuses_a_task_or_sparsity_sdp_run_refuses(tmp_path, capsys, override, message):
    """g05: --plan listed `runs/rte/mp_s1.0_seed1 to run` (and `runs/rtee/...`) for runs that each fail at start-up;
    a launch lost every chain to the typo, told only in the run logs."""
    code, _ = _grid(["study", f"root={tmp_path}", "tasks=[rte]", "seeds=[1]", "sparsities=[0.5]", override, "--plan"],
                    capsys)
    assert isinstance(code, str) and code.startswith(message), code


def test_a_grid_launch_with_a_failed_run_exits_nonzero(tmp_path):
    """g06: a launch whose runs failed printed `FAILED (1): dense/rtee_seed1` and exited 0, so `make study` (and any
    script) took it for a success. Now it exits 1 with one line naming the failed runs and their logs."""
    out = subprocess.run(
        [sys.executable, "scripts/grid.py", "study", f"root={tmp_path}", "tasks=[rte]", "seeds=[1]",
         "sparsities=[0.5]", "jobs=1", 'overrides=["no_such_key=1"]'],
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600,
    )
    assert "FAILED" in out.stdout, out.stdout[-2000:]
    assert out.returncode == 1, out.stdout[-2000:] + out.stderr[-2000:]
    assert "grid study: 1 run(s) failed this launch (dense/rte_seed1)" in out.stderr


# ---------------------------------------------------------------------------------------------- bench check (b03-b05)
def _s(median, iqr: float = 0.0) -> dict:
    m = median if isinstance(median, (int, float)) else 1.0
    return {"median": median, "q1": m - iqr / 2, "q3": m + iqr / 2, "min": m, "max": m, "n": 3}


def _bench(mp=1.0, speedup: float = 275.7, bound: float = 1.37, weights: int = 84934656, layers: int = 12) -> dict:
    return {
        "steps": {"task": "mrpc", "batch_size": 32, "max_seq_length": 128, "sparsity": 0.9,
                  "ratios": {"mp_over_finetune": _s(mp, 0.01), "sdp_cached_over_mp": _s(1.0),
                             "sdp_uncached_over_mp": _s(1.25)}},
        "prune": {"layers": layers, "weights": weights, "sparsity": 0.9, "speedup_vs_torch": _s(speedup),
                  "over_bandwidth_bound": _s(bound)},
    }


def test_bench_check_does_not_compare_a_pruning_event_of_another_size():
    """b03: `--check --fresh <a --quick run>` against the committed full run: `REGRESSION pruning event speed-up over
    torch global_unstructured ...: 104.083 now, 275.731 committed` (2 layers against 12: the speed-up grows with
    the weights), a configuration difference reported as a regression of the code."""
    from scripts.bench.check import NOT_COMPARED, compare

    regressions, checked = compare(_bench(), _bench(speedup=104.1, bound=1.31, weights=14155776, layers=2))
    assert regressions == []
    skipped = [line for line in checked if line.startswith(NOT_COMPARED)]
    assert len(skipped) == 2 and len(checked) == 5
    assert "layers 12 committed, 2 now; weights 84934656 committed, 14155776 now" in skipped[0]


@pytest.mark.parametrize("median", [float("nan"), None, "1.02"])
def test_bench_check_flags_a_median_that_is_not_a_number(median):
    """b04, b05: a fresh (or edited) median of NaN compared as not worse (`nan now, 1.019 committed`, no regression,
    exit 0); null was `TypeError: float() argument must be a string or a real number, not 'NoneType'`."""
    from scripts.bench.check import compare

    regressions, _ = compare(_bench(), _bench(mp=median))
    assert len(regressions) == 1
    assert regressions[0].startswith("REGRESSION MP update / plain update (steps.ratios.mp_over_finetune)")
    assert regressions[0].endswith("not a finite number")


def test_a_language_file_reordered_within_each_label_is_refused(tmp_path):
    """x05's check compared labels only: a dev-de.tsv in another order that keeps each row's label (shuffled within
    each label) passed, and its eval side held translations of trained rows. A translation's length follows its
    source's row by row; here it does not. The same file in the English order loads (control)."""
    import random

    from sdp.data.tasks import DataError, get_task
    from sdp.data.xglue import read_xtreme_split

    premises = [f"premise {p} " + "long words " * (p % 7) for p in range(40)]
    rows = [(pr, f"hypothesis {i} " + "more text " * ((p * 3 + i) % 11), _XNLI_LABELS[i])
            for p, pr in enumerate(premises) for i in range(3)]
    _write(tmp_path / "xnli" / "dev-en.tsv", rows)
    german = [(f"de {a}", f"de {b}", y) for a, b, y in rows]
    _write(tmp_path / "xnli" / "dev-de.tsv", german)
    task = get_task("xnli_small")
    assert len(read_xtreme_split(task, tmp_path, "validation.de")) == 60  # control
    rng = random.Random(0)
    shuffled = list(german)
    for y in _XNLI_LABELS:  # each label's rows trade places among themselves: every row keeps its label
        at = [i for i, r in enumerate(german) if r[2] == y]
        for i, j in zip(at, rng.sample(at, len(at))):
            shuffled[i] = german[j]
    _write(tmp_path / "xnli" / "dev-de.tsv", shuffled)
    with pytest.raises(DataError, match=r"dev-de\.tsv: the lengths of its 60 eval-side rows do not follow those of "
                                        r"the same rows of .*dev-en\.tsv' \(Spearman -?0\.\d\d;"):
        read_xtreme_split(task, tmp_path, "validation.de")
