"""What probe round 26 found (issue 26; docs/probe_round26.md): a bf16 run scored its autocast, not the fp32 model it
saved; one dense.checkpoint given to three seeds was three dense models in the tables; a plug-in's helper imported
relatively, or from a folder without __init__.py, was in no code identity; sdp-eval measured a run's model over the
default prunable set and called it edited, and called a dense_model/ edited; a sweep over output_root (or a sweep
folder named by a swept key) noted none of its jobs and exited 0 over failures; a sweep over data_dir shared one
folder; two sdp-eval in one second wrote one record; dense-only runs in no table were said to be in every pruning
run's. Each test fails on the commit the probe ran (4641aeb) and passes after its fix. Tiny models, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

REPO = Path(__file__).resolve().parents[1]
CONF = str(REPO / "conf")
SMOKE = ["debug=smoke", "train.num_threads=1", "dense.max_steps=2", "prune.max_steps=2"]
SDP_RUN = [sys.executable, "-c", "import sys; from cli.run import main; sys.argv[0] = 'sdp-run'; main()"]


def _compose(overrides: list[str]):
    import sdp.config  # noqa: F401  (the structured schema)

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "SDP_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(REPO)}


# --------------------------------------------------------------------------- bf2
def test_a_bf16_run_scores_its_model_in_full_precision():
    """bf2: a train.mixed_precision=bf16 regression recorded pearson 0.00 ("constant predictions"): its 40 outputs
    differ by 1e-3 and bf16 autocast rounded them to one value; model/ (fp32) scores 85.31 in sdp-eval. The
    run's scoring now runs the model without autocast (its own process: accelerate's state is global)."""
    script = """
import torch
from accelerate import Accelerator
from transformers import BertConfig, BertForSequenceClassification
from sdp.training.loop import predict
torch.manual_seed(0)
model = BertForSequenceClassification(BertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=1,
    num_attention_heads=2, intermediate_size=37, num_labels=1)).eval()
batch = {"input_ids": torch.randint(1, 60, (6, 9)), "attention_mask": torch.ones(6, 9, dtype=torch.long),
         "labels": torch.zeros(6)}
with torch.no_grad():
    full = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float().numpy()
acc = Accelerator(cpu=True, mixed_precision="bf16")
logits, _ = predict(acc, acc.prepare(model), [batch])
print(float(abs(logits - full).max()))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert float(out.stdout.strip().splitlines()[-1]) < 1e-5  # under bf16 autocast: 1.1e-4


# --------------------------------------------------------------------------- dk1, dk1b, dk2
def _record(root: Path, name: str, method: str, seed: int, dense: float, final: float, given: str | None) -> None:
    run_dir = root / name
    run_dir.mkdir(parents=True)
    fingerprint = {"train": "t0", "validation": "v0", **({"model:dense.checkpoint": given} if given else {})}
    record = {"status": "completed", "task": "rte", "model": "tiny-bert", "method": method, "schedule": "cubic",
              "teacher": "frozen", "seed": seed, "target_sparsity": 0.9, "final": {"main": final, "accuracy": final},
              "dense": {"main": dense, "accuracy": dense}, "analysis": {}, "config_hash": f"h{method}{bool(given)}",
              "versions": {"sdp": "aaa", "sdp_dirty": False}, "finished_at": f"2026-12-06T10:0{seed}:00+00:00",
              "data_fingerprint": fingerprint}
    (run_dir / "metrics.json").write_text(json.dumps(record))
    cfg = {"task": {"name": "rte"}, "regularizer": {"name": method}, "sparsity": 0.9,
           "dense": {"checkpoint": f"/x/{given}/dense_model" if given else None, "max_steps": 2}}
    (run_dir / "run.json").write_text(json.dumps({"config": cfg}))


def test_one_dense_checkpoint_is_one_dense_model_in_the_tables(tmp_path):
    """dk1: three seeds given one dense.checkpoint showed `Dense 88.33 ± 0.00 (n=3)` (dk1b: claims.md's frontier
    alike); dk2: beside runs with their own dense stage, a seed's two dense models were averaged as one."""
    from sdp.report.aggregate import aggregate_cells
    from sdp.report.claims import render_claims
    from sdp.report.collect import collect_runs

    for seed in (1, 2, 3):
        for method, final in (("MP", 0.80 + seed / 100), ("SDP-CC", 0.82 + seed / 100)):
            _record(tmp_path / "given", f"{method}{seed}", method, seed, 0.88, final, "abc123")
    cells = aggregate_cells(collect_runs(tmp_path / "given").runs)
    dense = cells[(cells["method"] == "Dense") & (cells["metric"] == "main")]
    assert dense["n"].tolist() == [1] and dense["mean"].tolist() == pytest.approx([88.0])
    claims = render_claims(collect_runs(tmp_path / "given").runs, tmp_path / "given")
    assert "| rte | 0.9 | 88.00 (n=1) |" in claims
    for seed, dense_score in ((1, 0.88), (2, 0.55), (3, 0.88)):  # dk2: their own dense stages beside
        _record(tmp_path / "given", f"KD{seed}", "KD", seed, dense_score, 0.8, None)
    cells = aggregate_cells(collect_runs(tmp_path / "given").runs)
    dense = cells[(cells["method"] == "Dense") & (cells["metric"] == "main")]
    assert dense["n"].tolist() == [4] and dense["mean"].tolist() == pytest.approx([(88 + 88 + 55 + 88) / 4])


def test_a_dense_model_given_to_one_seed_is_that_seeds(tmp_path):
    """The committed demo records: a run's own dense stage and the runs given its dense_model by path (one seed)
    are one dense model, n=1, as before."""
    from sdp.report.aggregate import aggregate_cells
    from sdp.report.collect import collect_runs

    _record(tmp_path, "own", "SDP-CC", 42, 0.83, 0.8, None)
    _record(tmp_path, "mp", "MP", 42, 0.83, 0.7, "own-dense")
    cells = aggregate_cells(collect_runs(tmp_path).runs)
    assert cells[(cells["method"] == "Dense") & (cells["metric"] == "main")]["n"].tolist() == [1]


# --------------------------------------------------------------------------- dn2
def test_dense_only_runs_no_pruning_run_used_are_said(tmp_path):
    """dn2: `sdp-run -m stages=dense seed=1,2`; sdp-tables said `No runs were found` and `dense-only runs left out
    (...; their dense score is in every pruning run's): 2`, with no pruning run in the folder."""
    from sdp.report.collect import collect_runs

    for seed in (1, 2):
        run_dir = tmp_path / f"d{seed}"
        run_dir.mkdir()
        (run_dir / "metrics.json").write_text(json.dumps({
            "status": "completed", "task": "rte", "model": "tiny-bert", "method": "SDP-CC", "seed": seed,
            "stages": "dense", "target_sparsity": 0.0, "final": {"main": 0.6}, "dense": {"main": 0.6}}))
    coll = collect_runs(tmp_path)
    assert coll.n_dense_only == 2
    assert any("2 dense-only run(s) (stages=dense) are in no table" in w for w in coll.warnings)


# --------------------------------------------------------------------------- pl2, pl3
def test_a_plugin_helper_imported_relatively_or_from_a_plain_folder_is_in_its_identity(tmp_path, monkeypatch):
    """pl2: `SDP_PLUGINS=mypkg.terms`, terms.py `from .helpers import SCALE`: SCALE edited, the same command
    returned the old result as "already completed" (the identity unchanged). pl3: `from utilsx.scale import SCALE`
    where utilsx/ has no __init__.py: the same."""
    from sdp.run.code import plugin_code

    pkg, plain = tmp_path / "r26pkg", tmp_path / "r26plain"
    pkg.mkdir()
    plain.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "helpers.py").write_text("SCALE = 1.0\n")
    (pkg / "terms.py").write_text("from .helpers import SCALE\n")
    (plain / "scale.py").write_text("SCALE = 1.0\n")
    (tmp_path / "r26_plain_terms.py").write_text("from r26plain.scale import SCALE\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SDP_PLUGINS", "r26pkg.terms,r26_plain_terms")
    before = plugin_code()
    (pkg / "helpers.py").write_text("SCALE = 500.0\n")
    (plain / "scale.py").write_text("SCALE = 9.0\n")
    after = plugin_code()
    assert before["r26pkg.terms"] != after["r26pkg.terms"]
    assert before["r26_plain_terms"] != after["r26_plain_terms"]


# --------------------------------------------------------------------------- ev1, ev3, ep1
@pytest.fixture(scope="module")
def narrowed_run(tmp_path_factory, data_dir) -> dict[str, Path]:
    """A smoke RTE run that prunes layer 0 only (prune.exclude=[layer\\.1\\.])."""
    from sdp.recipe import run

    tmp = tmp_path_factory.mktemp("narrow")
    cfg = _compose([*SMOKE, "task=rte", "method=mp", r"prune.exclude=[layer\.1\.]", f"data_dir={data_dir}",
                    f"cache_dir={tmp}/cache"])
    run(cfg, run_dir=tmp / "run")
    return {"tmp": tmp, "run": tmp / "run", "data": data_dir}


def _eval(run: dict[str, Path], folder: str, *overrides: str) -> int:
    from cli.eval import main

    return main([f"model_dir={run['run'] / folder}", "task=rte", f"data_dir={run['data']}",
                 f"cache_dir={run['tmp']}/cache", *overrides])


def test_sdp_eval_counts_sparsity_over_the_runs_prunable_set(narrowed_run, capsys):
    """ev1: the record said `prunable 0.25` for a model its run pruned to 50% of its prunable set, warned that the
    untouched folder was "edited or replaced after the run", and dropped its method and seed."""
    assert _eval(narrowed_run, "model", f"output_dir={narrowed_run['tmp'] / 'ev1'}") == 0
    assert "edited or replaced" not in capsys.readouterr().err
    record = json.loads((narrowed_run["tmp"] / "ev1" / "metrics.json").read_text())
    assert record["achieved_sparsity"]["prunable"] == pytest.approx(0.5)
    assert record["method"] == "MP" and "source_run_differs" not in record


def test_sdp_eval_of_a_dense_model_is_not_called_edited(narrowed_run, capsys):
    """ev3: `sdp-eval model_dir=<run>/dense_model`: `model_dir's model.safetensors is not the file its run wrote
    ...: edited or replaced after the run` (the record beside it describes model/)."""
    assert _eval(narrowed_run, "dense_model", f"output_dir={narrowed_run['tmp'] / 'ev3'}") == 0
    assert "edited or replaced" not in capsys.readouterr().err
    record = json.loads((narrowed_run["tmp"] / "ev3" / "metrics.json").read_text())
    assert "source_run_differs" not in record
    # round 28 (noticed): the run's own dense model, named as one: method Dense at 0, the run's seed
    assert (record["method"], record["seed"], record["target_sparsity"]) == ("Dense", 42, 0.0)


def test_two_evaluations_in_one_second_keep_two_records(narrowed_run, monkeypatch, capsys):
    """ep1: two sdp-eval started in one second (default output_dir) printed one folder; the file held one record."""
    import cli.eval

    monkeypatch.setattr(cli.eval.time, "strftime", lambda fmt: "2026-12-06_11-43-40")
    root = narrowed_run["tmp"] / "out"
    assert _eval(narrowed_run, "model", f"output_root={root}") == 0
    assert _eval(narrowed_run, "model", f"output_root={root}", "max_eval_samples=8") == 0
    folders = sorted(p.name for p in (root / "evals").iterdir())
    assert folders == ["2026-12-06_11-43-40_rte_run", "2026-12-06_11-43-40_rte_run-2"]
    counts = [json.loads((root / "evals" / f / "metrics.json").read_text())["eval_examples"] for f in folders]
    assert counts == [{"validation": 277}, {"validation": 8}]


# --------------------------------------------------------------------------- ds1, os1, os1b
def test_a_sweep_over_data_dir_is_refused_before_any_job(tmp_path, data_dir):
    """ds1: `-m data_dir=A,B`: both jobs in one folder, the second refused as "computed on other data" with
    resume=false as the way out (it would move the first job's result aside)."""
    out = subprocess.run([*SDP_RUN, "-m", *SMOKE, "task=rte", f"data_dir={data_dir},{tmp_path}/other",
                          f"output_root={tmp_path}/o", f"cache_dir={tmp_path}/cache"], capture_output=True, text=True,
                         cwd=tmp_path, env=_env(data_dir), timeout=300)
    assert out.returncode == 2
    assert "sweeps data_dir, which is no part of a job's folder name or run id" in out.stderr
    assert not list((tmp_path / "o").rglob("metrics.json"))


@pytest.mark.parametrize("how", ["output_root", "sweep_dir"])
def test_a_sweep_whose_jobs_have_their_own_sweep_dirs_still_says_how_they_ended(tmp_path, data_dir, how):
    """os1: `-m output_root=a,b` (os1b: `hydra.sweep.dir='s_${seed}'` with seed swept) whose every job failed:
    `sweep: 0 jobs noted: 0 completed, 0 failed, 0 refused`, exit 0."""
    where = ([f"output_root={tmp_path}/a,{tmp_path}/b"] if how == "output_root"
             else ["seed=1,2", f"hydra.sweep.dir={tmp_path}/s_${{seed}}"])
    out = subprocess.run([*SDP_RUN, "-m", *SMOKE, "task=rte", *where, f"data_dir={tmp_path}/missing",
                          f"cache_dir={tmp_path}/cache"], capture_output=True, text=True, cwd=tmp_path,
                         env=_env(data_dir), timeout=300)
    assert out.returncode == 1
    assert "sweep: 2 jobs noted: 0 completed, 2 failed, 0 refused" in out.stderr + out.stdout


# --------------------------------------------------------------------------- tb1
def test_structured_pruning_of_a_narrowed_prunable_set_is_one_line(tmp_path, data_dir):
    """tb1: `prune.granularity=structured 'prune.exclude=[layer\\.1\\.]'`: the right message, under a 20-line
    traceback (StructureError was no user error)."""
    out = subprocess.run([*SDP_RUN, *SMOKE, "task=rte", "prune.granularity=structured", "prune.criterion=l2",
                          r"prune.exclude=[layer\.1\.]", f"output_dir={tmp_path}/run", f"cache_dir={tmp_path}/cache"],
                         capture_output=True, text=True, cwd=tmp_path, env=_env(data_dir), timeout=300)
    assert out.returncode != 0
    assert "sdp-run: error: StructureError: prune.granularity=structured prunes every encoder block's" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout


def test_sdp_eval_with_its_own_prunable_set_is_not_called_edited(narrowed_run, capsys):
    """Round 26's ev1 (left): `sdp-eval ... 'prune.include=[layer\\.1\\.]'` (another set than the run's) counted the
    nonzero weights over its own set, and called the untouched folder "edited or replaced after the run". The
    weights' sha256 (model_sha256) shows the folder is the run's; the sparsity is over the set asked for."""
    assert _eval(narrowed_run, "model", r"prune.include=[layer\.1\.]", f"output_dir={narrowed_run['tmp'] / 'ev4'}") == 0
    assert "edited or replaced" not in capsys.readouterr().err
    record = json.loads((narrowed_run["tmp"] / "ev4" / "metrics.json").read_text())
    assert record["achieved_sparsity"]["prunable"] == 0.0  # layer 1, which the run left out, kept every weight
    assert record["method"] == "MP" and "source_run_differs" not in record
