"""What probe round 14 found (issue 26; docs/probe_round14.md): commands that wrote over the user's own files
without a word (sdp-predict's output, sdp-export --out, sdp-eval's output_dir, sdp-tables' out_dir), a blank line
inside a file for sdp-predict, and a thread count that changes the weights unsaid. Each test fails on the commit
the probe ran (d5136e8) and passes after its fix. Tiny models; no run trains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def model_dir(tokenizer, tmp_path) -> Path:
    """A tiny BERT pair classifier with RTE's labels, saved as a run's model/ is (safetensors, tokenizer)."""
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, pad_token_id=tokenizer.pad_token_id,
                        id2label={0: "entailment", 1: "not_entailment"},
                        label2id={"entailment": 0, "not_entailment": 1})
    path = tmp_path / "model"
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _pairs(path: Path, blank_after: int | None = None) -> Path:
    lines = ["sentence1\tsentence2"] + [f"A man plays {i}.\tSomeone plays." for i in range(4)]
    if blank_after is not None:
        lines.insert(blank_after + 1, "")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_predict_refuses_an_output_that_is_its_input(model_dir, tmp_path, capsys):
    """n01: output= the input file replaced the user's texts with their labels, exit 0."""
    from cli.predict import main

    data = _pairs(tmp_path / "pairs.tsv")
    before = data.read_text()
    rc = main([f"model_dir={model_dir}", f"input={data}", "text_fields=sentence1,sentence2", f"output={data}"])
    assert rc == 2
    assert data.read_text() == before
    assert "which sdp-predict reads" in capsys.readouterr().err


def test_predict_refuses_an_output_that_is_a_file_of_the_model(model_dir, tmp_path, capsys):
    """n03: output=<model_dir>/config.json replaced the model's config with labels (the model no longer loaded)."""
    from cli.predict import main

    config = model_dir / "config.json"
    before = config.read_text()
    rc = main([f"model_dir={model_dir}", f"input={_pairs(tmp_path / 'pairs.tsv')}",
               "text_fields=sentence1,sentence2", f"output={config}"])
    assert rc == 2
    assert config.read_text() == before
    assert "config.json" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["pairs.tsv", "pairs.csv"])
def test_predict_refuses_a_blank_line_between_rows_of_a_file(tmp_path, name):
    """p06: a blank line inside the file was skipped: 4 labels for 5 lines, those after it one line off."""
    from sdp.data.tasks import DataError
    from sdp.prediction import file_texts

    path = _pairs(tmp_path / "pairs.tsv", blank_after=2)
    if name.endswith(".csv"):
        path = tmp_path / name
        path.write_text((tmp_path / "pairs.tsv").read_text().replace("\t", ","))
    with pytest.raises(DataError, match="line 4 is blank, and rows follow it"):
        file_texts(path, ["sentence1", "sentence2"])
    path.write_text(path.read_text().replace("\n\n", "\n") + "\n\n")  # blank lines at the end only: read
    assert len(file_texts(path, ["sentence1", "sentence2"])) == 4


def test_export_refuses_to_replace_a_file_that_is_not_onnx(model_dir, capsys):
    """n04: --out <model_dir>/model.safetensors wrote the ONNX graph over the model's weights, exit 0."""
    from cli.export import main

    weights = model_dir / "model.safetensors"
    before = weights.read_bytes()
    with pytest.raises(SystemExit) as exc:
        main([str(model_dir), "--out", str(weights)])
    assert exc.value.code == 2
    assert weights.read_bytes() == before
    assert "not an .onnx graph" in capsys.readouterr().err


def test_predict_replaces_an_existing_output_file_only_when_told(model_dir, tmp_path, capsys):
    """This round's leftover: output=<an existing file> that is neither the input nor a file of the model (the
    user's own notes.txt) was replaced with labels, exit 0. Now refused; overwrite=true replaces it."""
    from cli.predict import main

    notes = tmp_path / "notes.txt"
    notes.write_text("mine\n")
    args = [f"model_dir={model_dir}", f"input={_pairs(tmp_path / 'pairs.tsv')}", "text_fields=sentence1,sentence2",
            f"output={notes}"]
    assert main(args) == 2
    assert notes.read_text() == "mine\n"
    assert "exists; sdp-predict does not replace a file unless told" in capsys.readouterr().err
    assert main([*args, "overwrite=true"]) == 0
    assert len(notes.read_text().splitlines()) == 4


def test_export_replaces_another_onnx_graph_only_when_told(model_dir, tmp_path, capsys):
    """This round's leftover: --out <an existing .onnx> (another model's graph) was replaced without a word."""
    from cli.export import main

    other = tmp_path / "other.onnx"
    other.write_bytes(b"another model's graph")
    with pytest.raises(SystemExit) as exc:
        main([str(model_dir), "--out", str(other)])
    assert exc.value.code == 2
    assert other.read_bytes() == b"another model's graph"
    assert "add --overwrite to replace it" in capsys.readouterr().err


def test_eval_refuses_an_output_dir_whose_metrics_json_is_not_a_record(tmp_path):
    """n05: output_dir holding the user's own metrics.json (not JSON, or not a dict) had it replaced unread."""
    from sdp.errors import ConfigError
    from sdp.evaluation import check_out_dir

    for text in ("my notes\n", "[1, 2]\n"):
        (tmp_path / "metrics.json").write_text(text)
        with pytest.raises(ConfigError, match="not an evaluation record"):
            check_out_dir(tmp_path)
    (tmp_path / "metrics.json").write_text(json.dumps({"kind": "eval", "status": "completed", "task": "rte",
                                                       "model_dir": "/m"}))
    check_out_dir(tmp_path)  # an earlier evaluation's record is replaced, as before


def test_tables_refuse_an_out_dir_they_never_wrote(tmp_path, capsys):
    """n02: out_dir= a folder of the user's: its summary.md was replaced and plots/*.png deleted (plots=false too)."""
    from cli.tables import main

    results, out = tmp_path / "results", tmp_path / "paper"
    results.mkdir()
    (out / "plots").mkdir(parents=True)
    (out / "summary.md").write_text("mine\n")
    (out / "plots" / "figure1.png").write_bytes(b"png")
    assert main([f"results_dir={results}", f"out_dir={out}", "plots=false"]) == 2
    assert "was not written by sdp-tables" in capsys.readouterr().err
    assert (out / "summary.md").read_text() == "mine\n" and (out / "plots" / "figure1.png").exists()
    fresh = tmp_path / "fresh"  # a folder sdp-tables wrote is its own to rewrite, every time
    assert main([f"results_dir={results}", f"out_dir={fresh}", "plots=false"]) == 0
    assert main([f"results_dir={results}", f"out_dir={fresh}", "plots=false"]) == 0
    assert (fresh / "summary.md").is_file()


def test_usage_says_the_thread_count_changes_the_weights():
    """r02: train.num_threads=2 gave another model_sha256 than 1 (the same scores), and no doc said so."""
    text = (REPO / "docs" / "usage.md").read_text()
    assert "`train.num_threads` is the exception torch cannot avoid" in text


def test_bench_refuses_an_out_that_is_a_file_before_measuring(tmp_path, capsys):
    """b01: scripts/bench --out <a file> measured for a minute, then a FileExistsError traceback: results lost."""
    import sys

    sys.path.insert(0, str(REPO))  # the repo root: scripts.bench
    from scripts.bench.__main__ import parse_args

    afile = tmp_path / "afile"
    afile.write_text("x\n")
    for out in (afile, afile / "sub"):
        with pytest.raises(SystemExit) as exc:
            parse_args(["--sections", "memory", "--out", str(out)])
        assert exc.value.code == 2
        assert "not a folder" in capsys.readouterr().err
    assert parse_args(["--sections", "memory", "--out", str(tmp_path / "new")]).out == str(tmp_path / "new")
