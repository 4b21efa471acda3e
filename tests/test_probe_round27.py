"""What probe round 27 found (issue 26; docs/probe_round27.md): sdp-predict labelled the first field of a row with
more fields than its header, the second of two columns of one name and the last of two JSON keys of one name, where a
run refuses each file; the card's "Reproduce with" was not shell-quoted, so a pasted command ran another regex or
failed; sdp-eval through a link to a run's model/ (or model_dir=.) lost the run's method, seed and model name; a custom
data file replaced by another version with the same size and modification time was read from datasets' stale cache;
sdp-export model_dir=<folder> called the folder not a model folder; summary.md did not say that rows of other setups
differ in their custom data files; sdp-run into an sdp-eval folder called the record "a completed run of another config". Each test fails on the commit the
probe ran (5578c6d) and passes after its fix. Tiny files, offline; nothing is trained."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

REPO = Path(__file__).resolve().parents[1]
CONF = str(REPO / "conf")
SMOKE = ["debug=smoke", "train.num_threads=1", "dense.max_steps=2", "prune.max_steps=2"]


def _compose(overrides: list[str]):
    import sdp.config  # noqa: F401  (the structured schema)

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


# --------------------------------------------------------------------------- p1, p1t, dh2, jd1
@pytest.mark.parametrize("name, text, words", [
    ("p1.csv", "id,text\n1,superb movie\n2,the, superb movie\n", "line 3: expected 2 comma-separated fields"),
    ("p1t.tsv", "id\ttext\n1\tthe\tsuperb movie\n", "line 2: expected 2 tab-separated fields"),
    ("dh2.csv", "text,text\nthe,superb superb film\n", "line 1: the header names column(s) ['text'] more than once"),
    ("jd1.jsonl", '{"text": "the", "text": "superb superb film"}\n', "line 1: the object names key(s) ['text'] more"),
])
def test_sdp_predict_refuses_the_rows_a_run_refuses(tmp_path, name, text, words):
    """p1/p1t: `2,the, superb movie` under `id,text` was labelled as `the` (neg; the whole text is pos), the extra field
    dropped by csv.DictReader; dh2: of `text,text` the second column was labelled; jd1: of two "text" keys the last.
    A run refuses each file (file_scan.py); sdp-predict now says the same, naming the line."""
    from sdp.data.spec import DataError
    from sdp.prediction import file_texts

    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataError, match="input=.*" + re.escape(words)):
        file_texts(path, ["text"])


def test_sdp_predict_still_reads_a_quoted_comma_and_a_pair(tmp_path):
    from sdp.prediction import file_texts

    path = tmp_path / "ok.csv"
    path.write_text('id,a,b\n1,"the, superb movie",x\n')
    assert file_texts(path, ["a", "b"]) == [("the, superb movie", "x")]


# --------------------------------------------------------------------------- ls1, ls2, ls3
def test_sdp_predict_splits_rows_at_line_ends_only(tmp_path):
    """ls1: a CSV text holding U+2028 (a line separator to str.splitlines, not to a CSV reader) was two rows: 3 rows
    gave 4 labels, every one after it on the wrong row; ls2: a JSON line with a raw U+2028 in a string was `not JSON
    (Unterminated string ...)`; ls3: a TSV text holding U+0085 was `row 3 ... has no value`. A run reads all three."""
    from sdp.prediction import file_texts

    (tmp_path / "a.csv").write_text("text\nsuperb movie\nawful\u2028superb film\nawful film\n", encoding="utf-8")
    assert file_texts(tmp_path / "a.csv", ["text"]) == [("superb movie",), ("awful\u2028superb film",), ("awful film",)]
    (tmp_path / "a.jsonl").write_text('{"text": "superb"}\n{"text": "awful\u2028superb"}\n', encoding="utf-8")
    assert file_texts(tmp_path / "a.jsonl", ["text"]) == [("superb",), ("awful\u2028superb",)]
    (tmp_path / "a.tsv").write_text("id\ttext\n1\tsuperb\n2\tawful\x85superb\n", encoding="utf-8")
    assert file_texts(tmp_path / "a.tsv", ["text"]) == [("superb",), ("awful\x85superb",)]
    (tmp_path / "b.csv").write_bytes(b"text\r\nsuperb\r\n\"two\r\nlines\"\r\n")  # CRLF, a quoted line end
    assert [t[0].split() for t in file_texts(tmp_path / "b.csv", ["text"])] == [["superb"], ["two", "lines"]]


# --------------------------------------------------------------------------- cq1, cq2
def test_the_cards_command_pastes_into_a_shell_as_it_ran(monkeypatch):
    """cq1: `Reproduce with: sdp-run ... prune.exclude=[layer\\.1\\.]` pasted into bash ran `prune.exclude=[layer.1.]`
    (bash drops the backslashes: another regex, which matches layer.10 and layer.11 too); cq2: `prune.criterion_options=
    {seed: 3}` split into two words (`'prune.criterion_options={seed:' is not an override Hydra can read`)."""
    import shlex

    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from sdp.models.card import run_command

    overrides = ["task=rte", "prune.exclude=[layer\\.1\\.]", "prune.criterion_options={seed: 3}", "seed=1"]
    monkeypatch.setattr(HydraConfig, "initialized", staticmethod(lambda: True))
    monkeypatch.setattr(HydraConfig, "get", staticmethod(lambda: OmegaConf.create({"overrides": {"task": overrides}})))
    command = run_command()
    assert shlex.split(command) == ["sdp-run", *overrides]
    assert command.startswith("sdp-run task=rte ")  # plain words stay plain


# --------------------------------------------------------------------------- sl1, sl1b
def test_sdp_eval_finds_the_run_of_a_model_reached_through_a_link_or_dot(tmp_path, monkeypatch):
    """sl1: `sdp-eval model_dir=mA` (mA a link to a run's model/) recorded method '', seed null, target_sparsity null
    and the model named after the run's folder; sl1b: the same for `model_dir=.` inside model/."""
    from sdp.saved_model import source_run

    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    record = {"status": "completed", "method": "MP", "seed": 1, "model": "tiny-bert", "target_sparsity": 0.9,
              "config_hash": "h"}
    (run / "metrics.json").write_text(json.dumps(record))
    (run / ".sdp.lock").write_text("")  # sdp ran there (sdp/run/nesting.py is_sdp_metrics)
    link = tmp_path / "mA"
    link.symlink_to(run / "model")
    assert source_run(link) == record
    monkeypatch.chdir(run / "model")
    assert source_run(Path(".")) == record


# --------------------------------------------------------------------------- cf1
def test_a_data_file_replaced_with_the_same_size_and_time_is_read_again(tmp_path):
    """cf1: a dev file replaced by another version of the same size and modification time (`cp -p`, `rsync -a`, `tar
    x`) was read from datasets' cache of the old one: sdp-eval scored 85.83 on the old labels, 44.17 by hand."""
    from sdp.data.custom import read_table

    path = tmp_path / "dev.csv"
    path.write_text("text,label\n" + "".join(f"row {i},neg\n" for i in range(20)))
    stamp = path.stat().st_mtime_ns
    assert set(read_table(path, "validation_file")["label"]) == {"neg"}
    path.write_text("text,label\n" + "".join(f"row {i},pos\n" for i in range(20)))
    os.utime(path, ns=(stamp, stamp))
    assert set(read_table(path, "validation_file")["label"]) == {"pos"}


# --------------------------------------------------------------------------- e1
def test_sdp_export_says_it_takes_the_folder_itself(tmp_path, capsys):
    """e1: `sdp-export model_dir=rg1/model` said `'model_dir=rg1/model' is not a model folder (no config.json)` of a
    model folder (sdp-eval and sdp-predict take model_dir=...)."""
    from cli.export import main

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    with pytest.raises(SystemExit) as exc:
        main([f"model_dir={model}"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "takes the folder itself" in err and f"sdp-export {model}" in err


# --------------------------------------------------------------------------- mx1
def test_summary_says_rows_differ_in_their_custom_data(tmp_path):
    """mx1: MP rows `[50de90ef]` and `[5420270f]` of two custom data sets in one folder (one `custom` column), and
    summary.md had no line saying what tells them apart (task.* keys were left out as "the task")."""
    import pandas as pd

    from sdp.report.setup_diff import setup_differences

    base = {"model": {"name": "tiny-bert"}, "dense": {"lr": 0.01}, "task": {"name": "custom"}}
    rows = []
    for setup, train in (("a" * 16, "/d/L_tr.csv"), ("b" * 16, "/d/M_tr.csv")):
        run = tmp_path / setup
        run.mkdir()
        config = {**base, "task": {**base["task"], "train_file": train, "max_seq_length": 32}}
        (run / "run.json").write_text(json.dumps({"config": config}))
        rows.append({"model": "tiny-bert", "method": "MP", "schedule": "cubic", "teacher": "frozen",
                     "row_setup": setup, "path": setup})
    lines = setup_differences(pd.DataFrame(rows), tmp_path)
    assert any("task.train_file" in line and "/d/M_tr.csv" in line for line in lines), lines
    assert not any("max_seq_length" in line for line in lines)


# --------------------------------------------------------------------------- od1
def test_sdp_run_into_an_evaluation_folder_says_what_is_there(tmp_path):
    """od1: `sdp-run ... output_dir=<an sdp-eval folder>` said `holds a completed run of another config (config_hash
    None, seed None ...)`, and offered resume=false, which moves the evaluation record aside."""
    from sdp.run.rundir import ResumeRefusedError, completed_metrics

    (tmp_path / "metrics.json").write_text(json.dumps({"kind": "eval", "status": "completed", "task": "custom"}))
    cfg = _compose([*SMOKE, "task=rte"])
    with pytest.raises(ResumeRefusedError, match="holds an sdp-eval record"):
        completed_metrics(tmp_path, cfg)
