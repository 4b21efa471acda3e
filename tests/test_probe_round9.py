"""What probe round 9 found (issue 26; docs/probe_round9.md): plug-ins, structured pruning, config composition,
sweeps and several processes. Each test fails on the main the probe ran (b19056c) and passes after its fix. Tiny
models in process; the few that need a run use debug=smoke with a handful of updates."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from offline_env import offline_env as _env
from torch import nn

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"


def _smoke(data_dir: Path, tmp_path: Path, *extra: str) -> list[str]:
    return ["debug=smoke", "task=rte", f"data_dir={data_dir}", f"cache_dir={tmp_path / 'cache'}",
            "train.num_threads=1", *extra]


# ---------------------------------------------------------------------------------------------- criteria (p01-p08)
@dataclass
class _NoOptions:
    pass


def _criterion(scores_of):
    from sdp.pruning.criteria.base import Criterion

    class Plugin(Criterion):
        Options = _NoOptions
        granularities = ("unstructured", "structured")

        def scores(self, state):
            return scores_of(state)

    crit = Plugin()
    crit.sdp_name = "plugin"  # what the registry's build sets
    return crit


def _params() -> dict[str, nn.Parameter]:
    torch.manual_seed(0)
    return {"a.weight": nn.Parameter(torch.randn(8, 4)), "b.weight": nn.Parameter(torch.randn(4, 4))}


def test_unstructured_scores_with_nan_are_refused_not_over_pruned():
    """p01: a plug-in criterion whose scores hold NaN (every 4th weight): asked for 50%, the run masked 75% (a NaN
    compares neither above nor equal to the threshold, so it was pruned beside the k lowest), unsaid."""
    from sdp.pruning.criteria.base import CriterionScoresError
    from sdp.pruning.scored import ScoredMaskState

    def nan_every_4th(state):
        out = {}
        for n, p in state.params.items():
            s = p.detach().abs().clone()
            s.view(-1)[::4] = float("nan")
            out[n] = s
        return out

    state = ScoredMaskState(_params(), "global", _criterion(nan_every_4th))
    with pytest.raises(CriterionScoresError, match=r"prune.criterion='plugin': scores\(state\) gave 8 of 32 scores "
                                                   r"of a.weight that are not finite"):
        state.update(0.5)


@pytest.mark.parametrize(("case", "shape_of", "message"), [
    ("broadcast", lambda p: p.detach().abs().sum(1, keepdim=True), r"scores of shape \[8, 1\]; its weight has shape \[8, 4\]"),
    ("transposed", lambda p: p.detach().abs().t(), r"scores of shape \[4, 8\]; its weight has shape \[8, 4\]"),
    ("missing", None, r"has no score for 'a.weight'"),
])
def test_unstructured_scores_of_another_shape_are_refused(case, shape_of, message):
    """p02-p04: a score per row ([out, 1]) was broadcast over the row (rows ranked, not weights, unsaid); a
    transposed one was a RuntimeError traceback, a missing weight a KeyError traceback."""
    from sdp.pruning.criteria.base import CriterionScoresError
    from sdp.pruning.scored import ScoredMaskState

    def scores(state):
        if shape_of is None:
            return {n: p.detach().abs() for n, p in state.params.items() if n != "a.weight"}
        return {n: shape_of(p) for n, p in state.params.items()}

    state = ScoredMaskState(_params(), "global", _criterion(scores))
    with pytest.raises(CriterionScoresError, match=message):
        state.update(0.5)


def _tiny_bert():
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                                                    num_attention_heads=4, intermediate_size=64, num_labels=2))


def _structured(scores_of, kinds=("heads", "ffn")):
    from sdp.objectives.registry import CRITERIA
    from sdp.pruning.build import mask_state
    from sdp.pruning.masks import select_prunable

    model = _tiny_bert()
    l2 = CRITERIA.build("l2")

    def scores(state):
        return scores_of(l2.scores(state))

    return mask_state(model, select_prunable(model), _criterion(scores), "structured", structures=list(kinds))


def _nan_heads(out):
    out["heads"][0] = torch.full_like(out["heads"][0], float("nan"))
    return out


@pytest.mark.parametrize(("case", "edit", "message"), [
    ("nan", _nan_heads, r"gave 4 of 4 scores of heads of layer 0 that are not finite"),
    ("short", lambda out: {**out, "ffn": [s[:32] for s in out["ffn"]]},
     r"gave layer 0 32 scores for 'ffn'; it has 64 FFN neurons"),
    ("long", lambda out: {**out, "ffn": [torch.cat([s, s]) for s in out["ffn"]]},
     r"gave layer 0 128 scores for 'ffn'; it has 64 FFN neurons"),
    ("layers missing", lambda out: {k: v for k, v in out.items() if k != "layers"}, r"gave nothing for 'layers'"),
])
def test_structured_scores_that_cannot_be_ranked_are_refused(case, edit, message):
    """p06-p08: structured scores with NaN were sorted anyway (which heads went was arbitrary); a list of half the
    layer's neurons left the other half out of the ranking, unsaid; a longer one was an IndexError traceback."""
    from sdp.pruning.criteria.base import CriterionScoresError

    kinds = ("heads", "ffn", "layers") if case == "layers missing" else ("heads", "ffn")
    state = _structured(edit, kinds)
    with pytest.raises(CriterionScoresError, match=message):
        state.update(0.3)


def test_structured_scores_of_the_built_in_criteria_pass_the_check():
    """The check takes what l2 gives (its per-layer score has one element), with every structure listed."""
    state = _structured(lambda out: out, ("heads", "ffn", "layers"))
    assert state.update(0.3)["kept_layers"] >= 1


# ------------------------------------------------------------------------------------------- terms (p10-p12)
class _Teacher:
    def __init__(self, model):
        self.model = model

    def outputs(self, batch):
        with torch.no_grad():
            return {"logits": self.model(**{k: v for k, v in batch.items() if k != "labels"}).logits}


def _objective(term):
    from sdp.objectives.objective import Objective

    return Objective(nn.functional.cross_entropy, term, 1.0, None, 0.0, (), False, {}, None, contextlib.nullcontext)


def _term(value_of):
    from sdp.objectives.component import DistillationTerm

    class Plugin(DistillationTerm):
        Options = _NoOptions
        needs = ("logits",)

        def forward(self, student, teacher):
            return value_of(student["logits"], teacher["logits"])

    term = Plugin()
    term.sdp_name = "plugin"
    return term


@pytest.mark.parametrize(("case", "value_of", "message"), [
    ("per example", lambda s, t: ((s - t) ** 2).mean(-1), r"regularizer=plugin: forward returned a tensor of shape \[3\]"),
    ("detached", lambda s, t: nn.functional.mse_loss(s.detach(), t), r"does not depend on the student"),
    ("a float", lambda s, t: 0.5, r"forward returned a float \(0.5\), not a tensor"),
])
def test_a_term_value_that_is_not_a_scalar_of_the_student_is_refused(case, value_of, message):
    """p10-p12: a per-example vector was a backward() traceback ("grad can be implicitly created only for scalar
    outputs"); a value computed on detached tensors, or a float, was added to the loss as a constant: the run
    completed as a distillation method with no gradient from its term, unsaid."""
    from sdp.objectives.objective import TermValueError

    model = _tiny_bert().train()
    batch = {"input_ids": torch.randint(0, 100, (3, 6)), "attention_mask": torch.ones(3, 6, dtype=torch.long),
             "labels": torch.tensor([0, 1, 0])}
    with pytest.raises(TermValueError, match=message):
        _objective(_term(value_of))(model, batch, _Teacher(model))
    loss, parts = _objective(_term(lambda s, t: nn.functional.mse_loss(s, t)))(model, batch, _Teacher(model))
    assert loss.requires_grad and parts["distill"].shape == ()  # a proper term goes through
    with torch.no_grad():  # a probe forward (no gradient anywhere) is not refused
        _objective(_term(lambda s, t: nn.functional.mse_loss(s, t)))(model, batch, _Teacher(model))


# ------------------------------------------------------------------------------------- plug-in loading (p15, p16)
def test_an_entry_point_plugin_that_does_not_import_is_one_line(tmp_path):
    """p15: an installed package's sdp.plugins entry point naming a module that does not import was a
    ModuleNotFoundError traceback for every sdp-run, whatever it was asked."""
    dist = tmp_path / "myterms_pkg-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myterms-pkg\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[sdp.plugins]\nmy_terms = my_terms_missing\n")
    proc = subprocess.run([sys.executable, "-m", "cli.run", "sparsity=1.5"], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env=_env(PYTHONPATH=os.pathsep.join([str(REPO), str(tmp_path)])))
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert ("sdp-run: error: PluginError: entry point 'my_terms' = 'my_terms_missing' of group 'sdp.plugins' "
            "(installed package 'myterms-pkg') does not load: ModuleNotFoundError") in proc.stderr


def test_a_plugins_own_helper_module_is_part_of_the_code_identity(tmp_path, monkeypatch):
    """p16: a plug-in that imports a helper module of its own (``from helper_scale import SCALE`` beside it): the
    helper edited (SCALE 1.0 -> 1e6) left the identity as it was, and the same command returned the old result as
    "already completed". Modules of the standard library, installed packages and sdp itself are not hashed here."""
    from sdp.run.code import plugin_code

    (tmp_path / "helper_scale.py").write_text("SCALE = 1.0\n")
    (tmp_path / "my_terms9.py").write_text("import json\nimport torch\nfrom sdp.objectives.registry import "
                                           "DISTILL_TERMS\nfrom helper_scale import SCALE\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SDP_PLUGINS", "my_terms9")
    before = plugin_code()["my_terms9"]
    (tmp_path / "helper_scale.py").write_text("SCALE = 1000000.0\n")
    importlib.invalidate_caches()
    assert plugin_code()["my_terms9"] != before
    (tmp_path / "helper_scale.py").write_text("SCALE = 1.0\n")
    assert plugin_code()["my_terms9"] == before  # the content, not the file's time


# --------------------------------------------------------------------------------------------- structured (s05b)
def test_the_most_a_structure_set_can_remove_is_named_so_that_it_is_taken():
    """s05b: `sparsity=0.7422 is out of reach ...: at most 0.7422`: the maximum was printed rounded up, and that
    very value was refused. It is printed as the float it is, which is then taken."""
    from sdp.pruning.structures import SparsityOutOfReachError

    state = _structured(lambda out: out)
    with pytest.raises(SparsityOutOfReachError) as err:
        state.check_reachable(0.99)
    named = float(re.search(r"at most ([0-9.]+) of the prunable", str(err.value)).group(1))
    assert named == state.max_sparsity() == 0.8671875
    state.check_reachable(named)  # taken


# -------------------------------------------------------------------------------------------------- config (c01b)
def test_a_key_added_with_plus_that_nothing_reads_is_refused():
    """c01b: Hydra refuses `prune.critrion=taylor` and suggests `+prune.critrion=taylor`; taken so, the run went on
    with the default criterion (magnitude), unsaid. A mistyped top-level or train key too."""
    from hydra import compose, initialize_config_dir

    from sdp.errors import ConfigError
    from sdp.validate import validate_config

    with initialize_config_dir(config_dir=str(CONF), version_base=None):
        for override, message in [
            ("+prune.critrion=taylor", r"prune.critrion is not a key of prune \(added with '\+', nothing would read "
                                       r"it\): did you mean prune.criterion\?"),
            ("+sparsty=0.3", r"sparsty is not a key of the config .* did you mean sparsity\?"),
            ("+train.foo=1", r"train.foo is not a key of train"),
        ]:
            cfg = compose(config_name="config", overrides=["debug=smoke", "data_dir=null", override])
            with pytest.raises(ConfigError, match=message):
                validate_config(cfg)
        validate_config(compose(config_name="config", overrides=["debug=smoke", "data_dir=null"]))  # no '+' key


# ------------------------------------------------------------------------------------------ processes (m03, m04)
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ranks_given_different_configs_are_refused_in_one_line(tmp_path, data_dir):
    """m04: two ranks of one launch with different overrides (sparsity 0.5 and 0.6) trained the whole dense stage
    and then stopped with a MaskMismatchError traceback blaming non-deterministic kernels."""
    port = str(_free_port())
    procs = []
    for rank, sparsity in ((0, "0.5"), (1, "0.6")):
        env = _env(CUDA_VISIBLE_DEVICES="", MASTER_ADDR="127.0.0.1", MASTER_PORT=port, WORLD_SIZE="2",
                   LOCAL_WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank))
        procs.append(subprocess.Popen([sys.executable, "-m", "cli.run",
                                       *_smoke(data_dir, tmp_path, f"sparsity={sparsity}", "dense.max_steps=2",
                                               "prune.max_steps=2", f"output_dir={tmp_path / 'run'}")],
                                      cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outs = [p.communicate(timeout=300)[0] for p in procs]
    for proc, out in zip(procs, outs):
        assert proc.returncode == 2, out[-3000:]
        assert "LauncherError: the 2 processes of this launch were given different configs" in out, out[-3000:]
        assert "MaskMismatchError" not in out and "dense validation" not in out


def _stop_mid_prune(proc, run_dir: Path) -> None:
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError, ValueError):
            latest = json.loads((run_dir / "checkpoints" / "latest.json").read_text())
            if latest["stage"] == "prune" and latest["step"] >= 2:
                proc.send_signal(signal.SIGTERM)
                break
        time.sleep(0.02)
    proc.communicate(timeout=120)


def test_a_checkpoint_of_another_number_of_processes_is_not_resumed(tmp_path, data_dir):
    """m03: a 2-process run stopped mid-prune and resumed on 1 process went on with a warning only ("data order
    per rank changes"); its metrics.json said world_size 1 for a run whose dense stage and first updates had
    twice the global batch. Here the checkpoint's state.json says 2 processes, as a 2-process launch writes it."""
    run_dir = tmp_path / "run"
    args = [sys.executable, "-m", "cli.run", *_smoke(data_dir, tmp_path, "train.checkpoint_every=1",
                                                     "dense.max_steps=2", "prune.max_steps=40",
                                                     f"output_dir={run_dir}")]
    proc = subprocess.Popen(args, cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _stop_mid_prune(proc, run_dir)
    assert proc.returncode == 128 + signal.SIGTERM
    latest = json.loads((run_dir / "checkpoints" / "latest.json").read_text())["name"]
    state_file = run_dir / "checkpoints" / latest / "state.json"
    state = json.loads(state_file.read_text())
    assert state["world_size"] == 1
    state_file.write_text(json.dumps({**state, "world_size": 2}))
    again = subprocess.run(args, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 2, again.stderr[-3000:]
    assert "CheckpointRefusedError" in again.stderr and "was written by a launch of 2 process(es); this launch has 1" \
        in again.stderr
    # a refusal records nothing: the run stays interrupted, resumable (it was recorded failed: probe round 42, d_ws)
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "interrupted"


# ------------------------------------------------------------------------------------------------ sweeps (w01)
def test_a_job_of_a_local_sweep_stopped_alone_leaves_the_others_running(tmp_path, data_dir):
    """w01: SIGTERM to one job's process of `hydra/launcher=local` (the sweep itself got none) stopped the whole
    sweep: the jobs not yet started never ran, the job's note stayed "running" and no outcome was printed, where
    the README says of this launcher that a killed job is reported and the others finish."""
    root, sweep = tmp_path / "out", tmp_path / "out" / "sweep"
    args = [sys.executable, "-m", "cli.run", "-m", *_smoke(data_dir, tmp_path), "hydra/launcher=local",
            "hydra.launcher.n_jobs=1", "seed=1,2", "train.checkpoint_every=1", "dense.max_steps=2",
            "prune.max_steps=40", f"output_root={root}", f"hydra.sweep.dir={sweep}"]
    proc = subprocess.Popen(args, cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline, job = time.time() + 240, None
    while time.time() < deadline and proc.poll() is None:
        found = [d for d in sweep.glob("*seed=1*") if d.is_dir()] if sweep.is_dir() else []
        with contextlib.suppress(OSError, ValueError, IndexError, KeyError, TypeError):
            latest = json.loads((found[0] / "checkpoints" / "latest.json").read_text())
            pid = json.loads((found[0] / ".sdp.lock").read_text())["pid"]
            if latest["stage"] == "prune" and latest["step"] >= 2 and pid != proc.pid:
                os.kill(pid, signal.SIGTERM)
                job = found[0]
                break
        time.sleep(0.02)
    out, _ = proc.communicate(timeout=300)
    assert job is not None, out[-3000:]
    assert proc.returncode == 1, out[-4000:]
    assert "sweep: 2 jobs noted: 1 completed, 0 failed, 0 refused, 1 killed" in out, out[-4000:]
    assert "stopped by a signal to it alone" in out.split("sweep: 2 jobs noted")[1]
    assert json.loads((job / "metrics.json").read_text())["status"] == "interrupted"
    other = [d for d in sweep.glob("*seed=2*") if d.is_dir()][0]
    assert json.loads((other / "metrics.json").read_text())["status"] == "completed"


class _FailingLoader:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def load_sweep_config(self, *args, **kwargs):
        raise self.exc


def _job_outcome(exc: BaseException) -> tuple:
    """What a local sweep's job process sends back when Hydra's setup of the job raises ``exc`` (run in a forked
    process: the job resets signal handlers)."""
    import multiprocessing
    from types import SimpleNamespace

    from sdp.local_launch import _job

    launcher = SimpleNamespace(config=None, task_function=None,
                               hydra_context=SimpleNamespace(config_loader=_FailingLoader(exc)))
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    proc = context.Process(target=_job, args=(launcher, 3, ["seed=1"], send))
    proc.start()
    send.close()
    outcome = receive.recv()
    proc.join(timeout=60)
    return outcome


def test_a_local_job_whose_setup_raises_is_a_failed_job_not_a_signal(tmp_path):
    """Review of w01's fix: every exception of a job's process came back as "stopped" (code 130), and with the sweep
    itself not signalled it was noted "killed ... stopped by a signal to it alone, after a checkpoint": a job whose
    Hydra setup raised (no signal, no checkpoint) was recorded as killed. Now a failed job with its own error."""
    from sdp.local_launch import note_killed
    from sdp.run.preemption import RunInterrupted

    assert _job_outcome(ValueError("no such config group option")) == (
        "raised", "ValueError: no such config group option")
    assert _job_outcome(RunInterrupted(143))[:2] == ("stopped", 143)  # a stop signal stays one
    note = note_killed(tmp_path, 3, 0.0, "ValueError: no such config group option", None, status="failed")
    assert note["status"] == "failed" and note["error"] == "ValueError: no such config group option"
    assert json.loads((tmp_path / ".sdp-jobs" / "3.json").read_text())["status"] == "failed"
