"""Leftovers of probe rounds 26 and 27 (issue 26), fixed by the lead: each test fails on f99c739."""
from __future__ import annotations

import json

import pytest


def test_eval_output_dir_of_another_model_is_refused(tmp_path, caplog):
    """ev2: `sdp-eval model_dir=A ... output_dir=ev`, then `model_dir=B ... output_dir=ev` replaced A's record with
    no word. Another model or task is refused; the same model and task replaces it, said."""
    from sdp.errors import ConfigError
    from sdp.evaluation import check_out_dir

    a, b, ev = tmp_path / "a", tmp_path / "b", tmp_path / "ev"
    for d in (a, b, ev):
        d.mkdir()
    (ev / "metrics.json").write_text(json.dumps({"kind": "eval", "status": "completed", "task": "rte",
                                                 "model_dir": str(a.resolve()), "finished_at": "T0"}))
    with pytest.raises(ConfigError, match=r"holds the evaluation record of model_dir=.*/a' on task 'rte'"):
        check_out_dir(ev, b, "rte")
    with pytest.raises(ConfigError, match="not this model_dir and task"):
        check_out_dir(ev, a, "sst2")
    with caplog.at_level("WARNING", logger="sdp"):
        check_out_dir(ev, a, "rte")
    assert "replaces the record of the same model and task finished at T0" in caplog.text


def test_sigterm_during_sdp_eval_leaves_no_empty_default_folder(tmp_path, monkeypatch):
    """Round 27 (noticed): an sdp-eval stopped by SIGTERM left its empty default folder outputs/evals/<time>_..., which
    sdp-tables then listed. SIGTERM now ends it through the same clean-up as Ctrl-C."""
    import os
    import signal

    import sdp.evaluation
    from cli.eval import main

    def killed(cfg, model_dir, out_dir, length_given=True):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the evaluation")

    def sentinel(signum, frame):  # stands in for the default action, which would end pytest itself
        raise AssertionError("sdp-eval installed no SIGTERM handler")

    import cli.eval

    made = cli.eval.default_out_dir

    handlers = []

    def watched(cfg, model_dir):  # the handler is in place before the folder is made (torch's import came between)
        handlers.append(signal.getsignal(signal.SIGTERM))
        return made(cfg, model_dir)

    before = signal.signal(signal.SIGTERM, sentinel)
    try:
        monkeypatch.setattr(sdp.evaluation, "evaluate_saved", killed)
        assert main([f"model_dir={tmp_path / 'run' / 'model'}", "task=rte", f"output_root={tmp_path / 'out'}"]) == 143
        assert not list((tmp_path / "out" / "evals").iterdir())
        assert signal.getsignal(signal.SIGTERM) is sentinel  # the caller's handler is back
        monkeypatch.setattr(cli.eval, "default_out_dir", watched)
        assert main([f"model_dir={tmp_path / 'run' / 'model'}", "task=rte", f"output_root={tmp_path / 'o2'}"]) == 143
        assert handlers and handlers[0] is not sentinel
        assert not list((tmp_path / "o2" / "evals").iterdir())
    finally:
        signal.signal(signal.SIGTERM, before)


def test_run_into_a_folder_of_the_users_files_is_refused(tmp_path):
    """Round 27 (noticed): `sdp-run output_dir=<a folder of the user's files>` wrote the run among them, and
    resume=false (or a restart after a dead run) then moved them into previous-<time>/. Refused, nothing written."""
    from hydra import compose, initialize_config_dir

    import sdp.config  # noqa: F401
    from sdp.run.rundir import RunHoldsDataError
    from sdp.sweep import run_job

    theirs = tmp_path / "notes"
    theirs.mkdir()
    (theirs / "reviews.csv").write_text("text,label\nfine,1\n")
    (theirs / ".DS_Store").write_text("")
    conf = str(__import__("pathlib").Path(__file__).resolve().parents[1] / "conf")
    with initialize_config_dir(config_dir=conf, version_base="1.3"):
        cfg = compose("config", overrides=["debug=smoke", "train.num_threads=1", "dense.max_steps=2",
                                           "prune.max_steps=2", f"output_dir={theirs}", "resume=false",
                                           f"cache_dir={tmp_path / 'cache'}"])
    with pytest.raises(RunHoldsDataError, match=r"holds 1 file\(s\) of no sdp run \(reviews.csv\)"):
        run_job(cfg)
    assert sorted(p.name for p in theirs.iterdir()) == [".DS_Store", "reviews.csv"]  # nothing written or moved


def test_a_run_folder_is_still_a_run_folder(tmp_path):
    """A folder with sdp's marks (a failed launch's run.json, a moved-aside previous-<time>/, its lock) is a
    run's, as before; an empty or dot-files-only folder is taken. A trace.jsonl or model/ beside the user's files is no
    mark of sdp's (probe round 42, oth5: such a folder was moved aside as a dead run's)."""
    from sdp.run.rundir import RunHoldsDataError
    from sdp.sweep import check_no_users_files

    with pytest.raises(RunHoldsDataError, match=r"holds 2 file\(s\) of no sdp run \(notes.txt, trace.jsonl\)"):
        (tmp_path / "trace").mkdir()
        (tmp_path / "trace" / "trace.jsonl").write_text("")
        (tmp_path / "trace" / "notes.txt").write_text("mine")
        check_no_users_files(tmp_path / "trace")
    for name in ("run.json", "previous-20261206-100000/", ".sdp.lock"):  # previous-*: a folder of move_aside's
        d = tmp_path / name.strip("/").replace(".", "_")
        d.mkdir()
        (d / name).mkdir() if name.endswith("/") else (d / name).write_text("")
        (d / "notes.txt").write_text("mine")
        check_no_users_files(d)
    (tmp_path / "empty").mkdir()
    check_no_users_files(tmp_path / "empty")
    check_no_users_files(tmp_path / "not_there")


def test_a_runs_model_folder_is_named_after_its_run(tmp_path, monkeypatch):
    """Round 26 (noticed): `model=hf model.pretrained=<run>/model` named the model "model" in RESULT, run folders and
    tables, so runs from two runs' models shared one name. It is named after the run's folder, as sdp-eval names it."""
    from sdp.config import model_name_from

    run = tmp_path / "tiny-bert_cross_correlation_s0.5_seed1_0123abcd"
    for sub in ("model", "dense_model"):
        (run / sub).mkdir(parents=True)
    assert model_name_from(str(run / "model")) == run.name
    assert model_name_from(str(run / "dense_model") + "/") == run.name + "-dense"
    monkeypatch.chdir(run / "model")
    assert model_name_from(".") == run.name  # "." spelled out
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "model").symlink_to(run / "dense_model")  # a link named model: its own folder's name
    assert model_name_from(str(tmp_path / "mine" / "model")) == "mine"
    monkeypatch.chdir(run)
    assert model_name_from("model") == run.name
    assert model_name_from("org/model") == "model"  # a Hub id (no such folder here): its last part
    assert model_name_from("distilbert/distilbert-base-uncased") == "distilbert-base-uncased"


def test_the_score_plot_title_says_what_it_draws():
    """Round 26 (noticed): the score-vs-sparsity title said "mean ± std over seeds" where each point had one seed."""
    import pandas as pd

    from sdp.report.plots import score_title

    assert score_title("rte", pd.Series([1, 1])) == "rte: score vs sparsity (one seed per point, n=1: no spread shown)"
    assert score_title("rte", pd.Series([3, 2])) == ("rte: score vs sparsity (line: mean, band: ± std, dots: seeds; "
                                                     "n=2-3 per point)")


def test_of_identical_copies_the_unbroken_one_is_kept():
    """Round 26 (noticed): of identical copies of a run, the newest was kept; a resumed newest copy (left out of
    costs.md's mean: it recorded only its last launch) hid the unbroken one: `— | — | 0`, left out 1."""
    import pandas as pd

    from sdp.report.collect import _COLUMNS
    from sdp.report.costs import render_costs
    from sdp.report.duplicates import dedupe as _dedupe

    def row(path, when, whole, seconds):
        return {**dict.fromkeys(_COLUMNS, ""), "path": path, "task": "rte", "model": "m", "method": "MP",
                "seed": 1, "target_sparsity": 0.5, "config_hash": "c", "row_setup": "", "finished_at": when,
                "final_main": 61.0, "whole_launch": whole, "wall_seconds": seconds, "dense_only": False,
                "own_dense_stage": True}

    runs = pd.DataFrame([row("a", "2026-12-06T10:00:00+00:00", True, 100.0),
                         row("b", "2026-12-06T11:00:00+00:00", False, 7.0)])
    kept, conflicts, identical = _dedupe(runs)
    assert list(kept["path"]) == ["a"] and identical == 1 and not conflicts
    assert "| 100 | 100-100 | 1 | 0 |" in render_costs(kept, pd.DataFrame())
    runs.loc[0, "final_main"] = 60.0  # differing scores: a conflict, the newest kept (as before)
    kept, conflicts, _ = _dedupe(runs)
    assert list(kept["path"]) == ["b"] and len(conflicts) == 1


def test_a_collection_warning_reaches_the_terminal(tmp_path, capsys):
    """Round 26's dn2 (left): dense-only runs in no table were said in summary.md alone; the terminal said `0 runs`
    and glue.md "No runs were found". sdp-tables now prints every collection warning on stderr, and summary.md's
    first line counts the dense-only runs."""
    from cli.tables import main

    for seed in (1, 2):
        run_dir = tmp_path / "runs" / f"d{seed}"
        run_dir.mkdir(parents=True)
        (run_dir / "metrics.json").write_text(json.dumps({
            "status": "completed", "task": "rte", "model": "tiny-bert", "method": "Dense", "seed": seed,
            "stages": "dense", "target_sparsity": 0.0, "final": {"main": 0.6}, "dense": {"main": 0.6}}))
    assert main([f"results_dir={tmp_path / 'runs'}", f"out_dir={tmp_path / 'tables'}", "plots=false"]) == 0
    assert "warning: 2 dense-only run(s) (stages=dense) are in no table" in capsys.readouterr().err
    summary = (tmp_path / "tables" / "summary.md").read_text()
    assert "(no completed pruning run with a valid metrics.json; 2 dense-only run(s): see Other warnings)" in summary


def test_a_run_on_another_dev_file_is_not_judged_against_this_files_floor(monkeypatch, data_dir):
    """Round 24's left: claims.md read the floor from SDP_DATA_DIR's dev file even for runs whose data_dir held
    another (an edited RTE dev): their cells were marked ‡ against a file they never read. A run whose recorded
    fingerprint of the split is not the file's is now left unjudged, as a run scored on a sample is."""
    from sdp.report.floors import _fingerprint, scored_floor_rows

    monkeypatch.setenv("SDP_DATA_DIR", str(data_dir))
    own = _fingerprint("rte", str(data_dir))
    assert own is not None and len(own) == 16
    assert scored_floor_rows("rte", None, {"validation": 277}, {"validation": own, "train": "x"})
    assert not scored_floor_rows("rte", None, {"validation": 277}, {"validation": "0123456789abcdef"})
    assert scored_floor_rows("rte", None, {"validation": 277})  # a record without fingerprints: as before


def test_a_seeds_own_dense_model_and_a_copy_given_to_others_are_one(tmp_path, data_dir):
    """Round 26's dk1 (left): a dense model was told by its dense.checkpoint fingerprint, and a run's own dense stage
    had none, so seed 1's own dense stage and a copy of it given to seeds 2 and 3 counted as two dense models
    (`Dense ... (n=2)`). A run now records its own dense_model/ by content, as a run given a copy records that."""
    import shutil

    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    import sdp.config  # noqa: F401
    from sdp.recipe import run
    from sdp.report.aggregate import aggregate_cells
    from sdp.report.collect import collect_runs
    from sdp.run.same_data import input_fingerprints

    conf = str(__import__("pathlib").Path(__file__).resolve().parents[1] / "conf")
    with initialize_config_dir(config_dir=conf, version_base="1.3"):
        cfg = compose("config", overrides=["debug=smoke", "task=rte", "train.num_threads=1", "dense.max_steps=2",
                                           "prune.max_steps=2", f"data_dir={data_dir}", f"cache_dir={tmp_path / 'c'}"])
    own = run(cfg, run_dir=tmp_path / "runs" / "own")
    shutil.copytree(tmp_path / "runs" / "own" / "dense_model", tmp_path / "copy")
    given = input_fingerprints(OmegaConf.create({"dense": {"checkpoint": str(tmp_path / "copy")}}))
    assert own["dense_model_fingerprint"] == given["model:dense.checkpoint"]

    for seed in (2, 3):  # records of runs given the copy: the same model, by the fingerprint a run records
        run_dir = tmp_path / "runs" / f"given{seed}"
        run_dir.mkdir()
        record = {**own, "seed": seed, "finished_at": f"2026-12-06T10:0{seed}:00+00:00",
                  "data_fingerprint": {**own["data_fingerprint"], **given}}
        record.pop("dense_model_fingerprint")
        (run_dir / "metrics.json").write_text(json.dumps(record))
        run_json = json.loads((tmp_path / "runs" / "own" / "run.json").read_text())
        run_json["config"]["dense"]["checkpoint"] = str(tmp_path / "copy")
        (run_dir / "run.json").write_text(json.dumps(run_json))
    cells = aggregate_cells(collect_runs(tmp_path / "runs").runs)
    assert cells[(cells["method"] == "Dense") & (cells["metric"] == "main")]["n"].tolist() == [1]


def test_a_bf16_runs_analysis_is_measured_in_full_precision():
    """Round 26's bf2 (left): under train.mixed_precision=bf16 the probe loss around each pruning step and the
    held-out CC(student, teacher) ran the student under autocast (the teacher, never prepared, in fp32). Both are
    now measured as the scores are, in the weights' fp32; training keeps its autocast (own process: accelerate's
    state is global)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    script = """
import copy, torch
from accelerate import Accelerator
from transformers import BertConfig, BertForSequenceClassification
from sdp.objectives.monitor import dev_cross_correlation
from sdp.training.trace import probe_loss
torch.manual_seed(0)
model = BertForSequenceClassification(BertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=1,
    num_attention_heads=2, intermediate_size=37, num_labels=1))
plain = copy.deepcopy(model)
batch = {"input_ids": torch.randint(1, 60, (6, 9)), "attention_mask": torch.ones(6, 9, dtype=torch.long),
         "labels": torch.rand(6)}
mse = lambda logits, y: torch.nn.functional.mse_loss(logits.squeeze(-1), y)
acc = Accelerator(cpu=True, mixed_precision="bf16")
prepared = acc.prepare(model)
wrapped = prepared.forward
print(abs(probe_loss(prepared, batch, mse) - probe_loss(plain, batch, mse)))
teacher = copy.deepcopy(plain)
ours = dev_cross_correlation(prepared, teacher, [batch], "cls")
exact = dev_cross_correlation(plain, teacher, [batch], "cls")
print(max(abs(ours[k] - exact[k]) for k in exact if isinstance(exact[k], float)))
print(prepared.forward == wrapped, prepared(**{k: batch[k] for k in ("input_ids", "attention_mask")}).logits.dtype)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=repo,
                         env={**os.environ, "PYTHONPATH": str(repo)}, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    loss_gap, cc_gap, after = out.stdout.strip().splitlines()[-3:]
    assert float(loss_gap) < 1e-6 and float(cc_gap) < 1e-6, out.stdout
    assert after.startswith("True")  # the training forward is the autocast one again


def test_a_conflict_says_when_its_runs_dense_models_differ(tmp_path):
    """Round 26's dk2 (noticed): a seed's run with its own dense stage and one given a dense.checkpoint were listed
    as "Conflicting duplicates (same config and seed ...)" with no word of what told them apart."""
    from sdp.report.collect import collect_runs
    from sdp.report.report import build_report

    for name, given, final in (("own", None, 0.61), ("given", "/x/dn1/dense_model", 0.66)):
        run_dir = tmp_path / name
        run_dir.mkdir()
        (run_dir / "metrics.json").write_text(json.dumps({
            "status": "completed", "task": "rte", "model": "tiny-bert", "method": "MP", "schedule": "cubic",
            "teacher": "frozen", "seed": 1, "target_sparsity": 0.5, "final": {"main": final},
            "dense": {"main": 0.7}, "cell_hash": "same", "finished_at": f"2026-12-06T10:0{int(bool(given))}:00+00:00",
            "data_fingerprint": {"validation": "v", **({"model:dense.checkpoint": "abc123"} if given else {})}}))
        (run_dir / "run.json").write_text(json.dumps({"config": {"dense": {"checkpoint": given}}}))
    coll = collect_runs(tmp_path)
    assert len(coll.conflicts) == 1
    build_report(tmp_path, out_dir=tmp_path / "tables", plots=False)
    summary = (tmp_path / "tables" / "summary.md").read_text()
    assert ("kept `given` (newest) (their dense models differ: `given` was given dense.checkpoint; `own` "
            "trained its own)") in summary


def test_a_conflict_says_nothing_of_dense_models_it_cannot_tell_apart():
    """Both trained their own dense stage, one recorded before dense_model_fingerprint: not known to differ."""
    from sdp.report.duplicates import Conflict, dense_words

    def conflict(*dense):
        return Conflict(key={}, seed=1, paths=["a", "b"], values=[0.6, 0.7], kept="b", dense=list(dense))

    assert dense_words(conflict((True, ""), (True, "3969f15560bb59d9"))) == ""
    assert dense_words(conflict((True, "3969f15560bb59d9"), (True, "3969f15560bb59d9"))) == ""
    assert dense_words(conflict((True, "3969f15560bb59d9"), (True, "0000f15560bb59d9"))) == (
        " (their dense models differ: `a` trained its own (3969f15560bb59d9); `b` trained its own (0000f15560bb59d9))")


def test_a_checkpoint_that_names_no_classes_is_said(tmp_path, caplog):
    """Round 23's left: a dense.checkpoint whose id2label are transformers' generic LABEL_i names no classes, so its
    order cannot be checked against the run's labels; it was taken in the run's order with no word."""
    from hydra import compose, initialize_config_dir

    import sdp.config  # noqa: F401
    from sdp.models.presets import load_model, load_tokenizer

    conf = str(__import__("pathlib").Path(__file__).resolve().parents[1] / "conf")
    with initialize_config_dir(config_dir=conf, version_base="1.3"):
        cfg = compose("config", overrides=["debug=smoke"])
    tokenizer = load_tokenizer(cfg.model)
    model = load_model(cfg.model, 2, ("neg", "pos"), tokenizer)
    model.config.id2label, model.config.label2id = {0: "LABEL_0", 1: "LABEL_1"}, {"LABEL_0": 0, "LABEL_1": 1}
    model.save_pretrained(tmp_path / "ckpt")
    with caplog.at_level("WARNING", logger="sdp"):
        load_model(cfg.model, 2, ("neg", "pos"), tokenizer, checkpoint=str(tmp_path / "ckpt"))
    assert "names no classes (config.json id2label LABEL_0 ... LABEL_1): its outputs are read as this run's labels " \
           "['neg', 'pos'] in that order, unchecked" in caplog.text
    caplog.clear()
    model.config.id2label, model.config.label2id = {0: "neg", 1: "pos"}, {"neg": 0, "pos": 1}
    model.save_pretrained(tmp_path / "named")
    with caplog.at_level("WARNING", logger="sdp"):
        load_model(cfg.model, 2, ("neg", "pos"), tokenizer, checkpoint=str(tmp_path / "named"))
    assert "names no classes" not in caplog.text


def test_a_reference_mask_of_another_seed_or_sparsity_is_said(tmp_path):
    """Round 28's rf2 (left): a run took a prune.reference_mask of another seed, sparsity or method without a word;
    only claims.md checked it. The run now says what the reference run differs in, before it trains."""
    from sdp.pruning.overlap import reference_run_note

    ref = tmp_path / "mp_seed1"
    ref.mkdir()
    (ref / "metrics.json").write_text(json.dumps({"seed": 1, "target_sparsity": 0.9, "method": "MP"}))
    assert reference_run_note(ref, 1, 0.9) is None
    assert reference_run_note(ref / "mask.safetensors", 1, 0.9) is None  # the mask file in it: the same run
    note = reference_run_note(ref, 2, 0.5)
    assert note == (f"prune.reference_mask={str(ref)!r} is a run of seed 1 (this run's 2), target sparsity 0.9 (this "
                    "run's 0.5): its overlap is recorded as the reference overlap all the same (claims.md's overlap "
                    "with MP takes a run's own MP partner only)")
    (ref / "metrics.json").write_text(json.dumps({"seed": 1, "target_sparsity": 0.9, "method": "KD"}))
    assert "is a run of method KD:" in reference_run_note(ref, 1, 0.9)
    assert reference_run_note(tmp_path / "elsewhere.safetensors", 1, 0.9) is None  # no record beside it
