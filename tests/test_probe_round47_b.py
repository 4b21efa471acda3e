"""Probe round 47's findings, part B: a plug-in label that reads as a name sdp composes (plcc, pldense, plmpm), scores
outside their metric's range (sc150, dense150, scneg) and a launcher rank without its world size (rk1, lr1, rk2,
rk4)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from offline_env import REPO, offline_env

from sdp.objectives.component import DistillationTerm, WeightTerm
from sdp.objectives.registry import CRITERIA, DISTILL_TERMS, WEIGHT_TERMS
from sdp.pruning.criteria.base import Criterion


@dataclass
class _Options:
    scale: float = 1.0


class _Term(DistillationTerm):
    Options = _Options
    needs = ("logits",)

    def forward(self, student, teacher):  # pragma: no cover - never run
        return student["logits"].sum() * 0


class _Weight(WeightTerm):
    Options = _Options

    def forward(self, student, teacher):  # pragma: no cover - never run
        return 0.0


class _Criterion(Criterion):
    Options = _Options
    granularities = ("unstructured",)

    def scores(self, state):  # pragma: no cover - never run
        return {}


# ------------------------------------------------------------------------------ plcc, pldense, plmpm: plug-in labels
@pytest.mark.parametrize(("registry", "cls", "label"), [
    (DISTILL_TERMS, _Term, "SDP-CC(mean)"),  # plcc: sdp's SDP-CC on the mean representation
    (DISTILL_TERMS, _Term, "Dense"),  # pldense: sdp's name for dense models
    (DISTILL_TERMS, _Term, "dense"),
    (DISTILL_TERMS, _Term, "MP (movement)"),  # plmpm: MP with prune.criterion=movement
    (DISTILL_TERMS, _Term, "KD+AWR-cos"),  # KD with a weight term
    (WEIGHT_TERMS, _Weight, "MSE(pooled)"),
    (WEIGHT_TERMS, _Weight, "DENSE"),
    (WEIGHT_TERMS, _Weight, "L-MSE)"),
    (DISTILL_TERMS, _Term, "MP "),  # prints as MP; "MP  (movement)" as MP's variant
    (CRITERIA, _Criterion, "RAND)"),  # "MP (RAND))": the criterion read back by the tables ends at its ')'
])
def test_a_label_that_reads_as_a_name_sdp_composes_is_refused(registry, cls, label):
    """plcc: `DISTILL_TERMS.register("fake_cc", LogitMSE, label="SDP-CC(mean)")` was accepted, and its runs pooled with
    sdp's SDP-CC(mean) in claims.md and costs.md; a term labelled `Dense` was tabled as Dense at 50% (pldense), one
    labelled `MP (movement)` as MP's movement variant (plmpm)."""
    name = "p47_label_probe"
    with pytest.raises(ValueError) as caught:
        registry.register(name, cls, label=label)
    message = str(caught.value)
    assert name not in registry
    assert "\n" not in message and f"label {label!r}" in message and "a label is a name of its own" in message
    assert "'('" in message and "'Dense'" in message  # what is allowed


def test_the_built_in_and_documented_labels_still_register():
    """The rule refuses no label sdp or docs/plugins.md uses."""
    from sdp.objectives.component import label_problem
    from sdp.objectives.naming import method_name

    builtin = [DISTILL_TERMS.entry(n).label for n in DISTILL_TERMS] + [WEIGHT_TERMS.entry(n).label for n in WEIGHT_TERMS]
    builtin += [CRITERIA.entry(n).label for n in CRITERIA]
    documented = re.findall(r'register\([^)]*label="([^"]+)"', (REPO / "docs" / "plugins.md").read_text())
    assert set(documented) >= {"L-MSE", "RAND"} and {"MP", "SDP-CC", "AWR-fro", "movement"} <= set(builtin)
    assert [label for label in builtin + documented if label_problem(label)] == []
    try:  # registered under a name of their own (docs' own names may be the toy plug-ins' too)
        DISTILL_TERMS.register("p47_doc_term", _Term, label="P47 L-MSE")
        CRITERIA.register("p47_doc_criterion", _Criterion, label="P47-RAND")
        assert method_name("p47_doc_term", "frobenius", prune={"criterion": "p47_doc_criterion"}) == \
            "P47 L-MSE+AWR-fro (P47-RAND)"
    finally:
        DISTILL_TERMS._entries.pop("p47_doc_term", None)
        CRITERIA._entries.pop("p47_doc_criterion", None)


# ------------------------------------------------------------------------------ sc150, dense150, scneg: score ranges
def _write(root: Path, rel: str, record: dict) -> None:
    (root / rel).mkdir(parents=True)
    (root / rel / "metrics.json").write_text(json.dumps(record))


def _run(seed: int, final: dict, dense: dict | None = None, task: str = "custom") -> dict:
    return {"status": "completed", "task": task, "model": "tiny-bert", "method": "MP", "schedule": "cubic",
            "teacher": "frozen", "seed": seed, "target_sparsity": 0.8, "final": final,
            "dense": dense or {"accuracy": 0.975, "main": 0.975}, "versions": {"sdp": "aaa"}}


@pytest.mark.parametrize(("case", "field", "scores", "words"), [
    ("sc150", "final", {"accuracy": 1.5, "main": 1.5}, "`final.accuracy` is 1.5, outside its range [0, 1]"),
    ("dense150", "dense", {"accuracy": 1.5, "main": 1.5}, "`dense.accuracy` is 1.5, outside its range [0, 1]"),
    ("scneg", "final", {"accuracy": -0.2, "main": -0.2}, "`final.accuracy` is -0.2, outside its range [0, 1]"),
    ("f1", "final", {"f1": 0.9, "accuracy": 1.0, "test_f1": 1.25, "main": 0.95}, "`final.test_f1` is 1.25"),
    ("mcc", "final", {"mcc": -1.5, "main": -1.5}, "`final.mcc` is -1.5, outside its range [-1, 1]"),
    ("main", "final", {"accuracy": 0.5, "f1": 0.5, "main": -0.5}, "`final.main` is -0.5, outside its range [0, 1]"),
])
def test_a_score_outside_its_range_is_a_malformed_record(tmp_path, case, field, scores, words):
    """sc150: a record's accuracy of 1.5 was tabled as 150 and pooled (MP 114.72 ± 30.58 (n=3)); dense150 its dense
    accuracy (Dense 106.67); scneg an accuracy of -0.2 (58.61). Each is left out and named, as a NaN is."""
    from sdp.report.collect import collect_runs

    _write(tmp_path, "s1", _run(1, {"accuracy": 0.9583, "main": 0.9583}))
    _write(tmp_path, "s2", _run(2, scores) if field == "final" else _run(2, {"accuracy": 1.0, "main": 1.0}, scores))
    coll = collect_runs(tmp_path)
    assert list(coll.runs["path"]) == ["s1"], case
    [(path, reason)] = coll.malformed
    assert path == "s2/metrics.json" and reason.startswith(words), reason


def test_scores_within_their_ranges_still_count(tmp_path):
    """A negative correlation, both ends of a range, mnli's matched split and a cross-lingual language's score."""
    from sdp.report.collect import collect_runs

    _write(tmp_path, "cola", _run(1, {"mcc": -0.4, "main": -0.4}, {"mcc": 1.0, "main": 1.0}, task="cola"))
    _write(tmp_path, "stsb", _run(1, {"pearson": -1.0, "spearman": 0.2, "main": -0.4}, task="stsb"))
    _write(tmp_path, "mnli", _run(1, {"accuracy_m": 0.0, "accuracy_mm": 1.0, "main": 0.5}, task="mnli"))
    _write(tmp_path, "xnli", _run(1, {"accuracy": 0.7, "accuracy/de": 0.6, "test_accuracy/de": 0.65, "main": 0.7},
                                  task="xnli"))
    coll = collect_runs(tmp_path)
    assert not coll.malformed and sorted(coll.runs["path"]) == ["cola", "mnli", "stsb", "xnli"]


def test_an_evaluation_records_score_outside_its_range_is_named(tmp_path):
    """sdp-eval's records (sdp/report/not_runs.py) are checked as runs are."""
    from sdp.report.collect import collect_runs

    for rel, accuracy in (("ev_ok", 0.95), ("ev_bad", 1.5)):
        _write(tmp_path, rel, {"kind": "eval", "task": "custom", "model": "tiny-bert", "method": "MP",
                               "target_sparsity": 0.5, "final": {"accuracy": accuracy, "main": accuracy}})
    coll = collect_runs(tmp_path)
    assert list(coll.evaluations["path"]) == ["ev_ok"]
    assert coll.malformed == [("ev_bad/metrics.json", "`final.accuracy` of an evaluation record is 1.5, outside its "
                                                      "range [0, 1] (scores are recorded as fractions: 1.0 is 100%)")]


# ------------------------------------------------------------------------------ rk1, lr1, rk2, rk4: a rank, no world
@pytest.mark.parametrize(("env", "words"), [
    ({"RANK": "1"}, "RANK=1 is set but WORLD_SIZE is not set"),  # rk1, rk2, rk4: a job script's RANK
    ({"PMI_RANK": "1"}, "PMI_RANK=1 is set but PMI_SIZE is not set"),  # lr1
    ({"RANK": "2", "WORLD_SIZE": "2", "MASTER_ADDR": "h"}, "RANK=2 is set but WORLD_SIZE=2, and a rank is below the world size"),
])
def test_a_rank_without_its_world_size_is_refused(env, words):
    from sdp.run.launch import LauncherError, check_rank_in_world

    with pytest.raises(LauncherError) as caught:
        check_rank_in_world(env)
    message = str(caught.value)
    assert message.startswith(words) and "\n" not in message
    assert f"Unset {words.split('=')[0]}" in message and "torchrun" in message


@pytest.mark.parametrize("env", [
    {},  # one process
    {"WORLD_SIZE": "1"},
    {"RANK": "0"},  # rank 0 of one process runs as it is (the lead: refusing it stopped a run that was right)
    {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1"},  # torchrun
    {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "ACCELERATE_MIXED_PRECISION": "no"},  # accelerate --multi_gpu
    {"ACCELERATE_MIXED_PRECISION": "no", "ACCELERATE_USE_CPU": "true"},  # accelerate, one process
    {"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2", "MASTER_ADDR": "h"},  # Open MPI (MASTER_ADDR exported:
    {"PMI_RANK": "3", "PMI_SIZE": "4", "MASTER_ADDR": "h"},  # MPICH, Intel MPI        accelerate needs it: round 49)
    {"MV2_COMM_WORLD_RANK": "1", "MV2_COMM_WORLD_SIZE": "2", "MASTER_ADDR": "h"},  # MVAPICH
    {"SLURM_PROCID": "0", "SLURM_NTASKS": "1", "SLURM_LOCALID": "0"},  # hydra/launcher=slurm's job (submitit)
])
def test_real_launches_pass_the_rank_check(env):
    from sdp.run.launch import check_rank_in_world

    check_rank_in_world(env)


def test_sdp_run_with_an_inherited_rank_is_refused_before_anything(tmp_path):
    """rk4: `RANK=1 sdp-run ... task.train_file=missing.csv` left only rank-1.error in its folder (no failed record);
    rk1/rk2: a run with `RANK=1` ran with no RESULT line, run.log or lock."""
    out = tmp_path / "rk4"
    done = subprocess.run([sys.executable, "-m", "cli.run", "debug=smoke", "task=custom",
                           f"task.train_file={tmp_path / 'missing.csv'}", f"task.validation_file={tmp_path / 'v.csv'}",
                           f"output_dir={out}"], cwd=REPO, env=offline_env(RANK="1"), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("sdp-run: error: LauncherError: RANK=1 is set but WORLD_SIZE"), lines
    assert not out.exists()


def test_the_library_run_refuses_an_inherited_rank(tmp_path, monkeypatch):
    """The library run (sdp.recipe.run) holds the folder's lock on rank 0 only (round 46): RANK=1 ran it unlocked."""
    from hydra import compose, initialize_config_dir

    import sdp.config  # noqa: F401  (the structured schema)
    from sdp.recipe import run
    from sdp.run.launch import LauncherError

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["debug=smoke", "sparsity=1.5", f"output_dir={tmp_path / 'r'}"])
    monkeypatch.setenv("RANK", "1")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with pytest.raises(LauncherError, match="RANK=1 is set but WORLD_SIZE is not set"):
        run(cfg)  # refused before the config's own error (sparsity=1.5) and before the folder is made
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("label", ["a|b", "L\nMSE", "L\x1b[31mMSE", "\u200b", "\u041c\u0420"])
def test_a_label_that_breaks_the_tables_or_prints_as_another_is_refused(label):
    """The lead, after round 47 (part B's noticed): a `|` or a line break broke glue.md's rows, a control character
    misprinted, an invisible label printed nothing, and a Cyrillic `МР` printed as MP's row beside MP's."""
    from sdp.objectives.component import Registry
    from sdp.objectives.registry import DISTILL_TERMS

    cls = next(iter(DISTILL_TERMS._entries.values())).cls
    registry = Registry("regularizer_probe", "alpha", DISTILL_TERMS.base, compose=False)
    registry.peers = (DISTILL_TERMS,)
    with pytest.raises(ValueError, match=r"breaks sdp's tables|shows nothing|is already"):
        registry.register("probe_term", cls, label=label)


def test_a_languages_score_outside_its_range_is_a_malformed_record(tmp_path):
    """Part B's noticed: `per_language` scores were not range-checked: a language's accuracy of 1.5 was tabled."""
    from sdp.report.collect import collect_runs
    from tests.report.conftest import run_record, write_run

    acc = {"accuracy": 0.6, "main": 0.6}
    for name, value in (("ok", 0.6), ("bad", 1.5)):
        write_run(tmp_path, name, run_record("xnli", "MP", 0.5, 1, acc, acc,
                                             per_language={"de": {"dense": value, "final": 0.5}}))
    coll = collect_runs(tmp_path)
    assert list(coll.runs["path"]) == ["ok"]
    assert coll.malformed == [("bad/metrics.json", "`per_language.de.dense` is 1.5, outside its range [0, 1] "
                                                   "(accuracies are recorded as fractions)")]


@pytest.mark.parametrize("label", ["D\u0435nse", "Dense\u200b", "dEnse"])
def test_review_a_label_that_prints_as_dense_is_refused(label):
    """Review of round 47's fixes: `Dеnse` (a Cyrillic е) and `Dense` + U+200B registered, and were tabled as Dense."""
    from sdp.objectives.component import label_problem

    assert "is sdp's name for dense models" in str(label_problem(label))


@pytest.mark.parametrize(("env", "ok"), [
    ({"RANK": "1", "PMI_RANK": "1", "PMI_SIZE": "2", "MASTER_ADDR": "h"}, True),  # a job script mapping MPI's rank
    ({"RANK": "1", "OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2", "MASTER_ADDR": "h"}, True),
    ({"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2", "PMI_RANK": "1", "MASTER_ADDR": "h"}, True),
    ({"RANK": "1"}, False),
])
def test_review_a_rank_is_read_against_the_world_any_launcher_set(env, ok):
    """Review of round 47's fixes: `RANK=1` beside MPI's `PMI_SIZE=2` was refused (its world size is PMI's)."""
    from sdp.run.launch import LauncherError, check_rank_in_world

    if ok:
        check_rank_in_world(env)
    else:
        with pytest.raises(LauncherError):
            check_rank_in_world(env)


def test_review_sdp_run_help_runs_whatever_rank_is_set():
    """Review of round 47's fixes: a stray `RANK=1` refused even `sdp-run --help`."""
    import os

    done = subprocess.run([sys.executable, "-m", "cli.run", "--help"], capture_output=True, text=True,
                          env={**os.environ, "RANK": "1"}, cwd=str(Path(__file__).resolve().parents[1]))
    assert done.returncode == 0 and "Hydra override" in done.stdout, done.stderr
