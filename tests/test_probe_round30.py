"""What probe round 30 found (issue 26; docs/probe_round30.md): rows repeating the dev or training rows up to letter
case, spacing or Unicode form were scored as new rows, unsaid; runs with their own dense stages stopped pairing when a
record was older or ran at another thread count; a run resumed under other code, costs at other thread counts and
the card of a run on two processes hid what ran; files with CR-only line ends were an unreadable error; two writers
of one output lost one result unsaid; a Hydra group given null was a traceback; labels and columns in another Unicode
form were two classes, or refused as printing alike; the quoting advice for a list did not read. Each test fails on
the commit the probe ran (95f75ea) and passes after its fix. Hand-written files, records and tiny models, offline."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import unicodedata
from pathlib import Path

import pytest
from omegaconf import OmegaConf
from records import write_csv, write_record


def _task(train: str, dev: str, test: str | None = None, text: str = "text"):
    return OmegaConf.create({"name": "custom", "train_file": train, "validation_file": dev, "test_file": test,
                             "text_fields": [text], "label_column": "label", "metric": "accuracy"})


# --------------------------------------------------------------------------- uc1, uw1, ut1, ue1, vc1
def test_rows_repeating_others_up_to_case_and_spacing_are_said(tmp_path, caplog):
    """uc1/uw1/ue1: `task.test_file=` the dev rows upper-cased (or with other spacing): `test_accuracy=95.00`, the dev
    score again (an uncased tokenizer reads them as the same rows), no word; ut1: a dev file of training rows
    title-cased, scored as held-out; vc1: a carve of a file holding each row twice, once upper-cased."""
    from sdp.data.custom import SCORING_ONLY, custom_task, repeated_rows

    train = write_csv(tmp_path / "tr.csv", [(f"train text {i}", "ab"[i % 2]) for i in range(20)])
    dev_rows = [(f"dev text {i}", "ab"[i % 2]) for i in range(10)]
    dev = write_csv(tmp_path / "dv.csv", dev_rows)
    upper = write_csv(tmp_path / "up.csv", [(t.upper(), y) for t, y in dev_rows])
    spaced = write_csv(tmp_path / "ws.csv", [("  " + t.replace(" ", "  ") + " ", y) for t, y in dev_rows])
    for test, scoring in ((upper, False), (spaced, False), (upper, True)):  # True: as sdp-eval reads
        caplog.clear()
        token = SCORING_ONLY.set(scoring)
        try:
            with caplog.at_level(logging.WARNING, logger="sdp"):
                custom_task(_task(train, dev, test))
        finally:
            SCORING_ONLY.reset(token)
        assert f"{Path(test).name}': 10 of 10 rows repeat a row of task.validation_file='{dev}'" in caplog.text, \
            caplog.text
    titled = write_csv(tmp_path / "tt.csv", [(f"Train Text {i}", "ab"[i % 2]) for i in range(10)])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        custom_task(_task(train, titled))
    assert "10 of 10 rows repeat a row of task.train_file=" in caplog.text and "partly a training score" in caplog.text
    composed = unicodedata.normalize("NFC", "très bien")
    assert repeated_rows({"text": ["a film", composed]}, {"text": ["A  FILM", unicodedata.normalize("NFD", composed),
                                                                  "another"]}, ["text"]) == [1, 2]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="sdp"):
        custom_task(_task(train, write_csv(tmp_path / "own.csv", [(f"own text {i}", "ab"[i % 2]) for i in range(10)])))
    assert not caplog.records  # rows of its own: no word


# --------------------------------------------------------------------------- pm1, pn1
def test_runs_with_their_own_dense_stage_pair_by_config_as_before(tmp_path):
    """pm1: MP seed 1's record made before dense_model_fingerprint was recorded, beside KD seed 1's with one: deltas.md
    `KD +0.00 (n=1)`, by hand -0.42 (n=2); pn1: KD at train.num_threads=2 (its dense model other in the last bits)
    beside MP at 1: `KD vs MP —`. Round 29's pairs through a given dense model still hold, a seed's own only."""
    from sdp.report.collect import collect_runs
    from sdp.report.tables import delta_frame

    write_record(tmp_path, "mp1", "MP", 1, 0.9417)  # an older record: no fingerprint
    write_record(tmp_path, "kd1", "KD", 1, 0.9333, own="fp-kd1")
    write_record(tmp_path, "mp2", "MP", 2, 0.925, own="fp-mp2")
    write_record(tmp_path, "kd2", "KD", 2, 0.925, own="fp-kd2", threads=2)  # another thread count, another fingerprint
    write_record(tmp_path, "mp3", "MP", 3, 0.90, own="fp-mp3")
    write_record(tmp_path, "kd3", "KD", 3, 0.80, given=(str(tmp_path / "mp3" / "dense_model"), "fp-mp3"))  # its seed's
    write_record(tmp_path, "mp4", "MP", 4, 0.90, own="fp-mp4")
    write_record(tmp_path, "kd4", "KD", 4, 0.50, given=(str(tmp_path / "mp3" / "dense_model"), "fp-mp3"))  # another seed's
    kd = delta_frame(collect_runs(tmp_path).runs).set_index("method").loc["KD"]
    assert (kd["n_mp"], round(kd["delta_mp"], 2)) == (3, round((-0.0084 + 0.0 - 0.10) / 3 * 100, 2))


# --------------------------------------------------------------------------- rz1
def test_a_run_resumed_under_other_code_says_so_in_its_record_and_the_tables(tmp_path):
    """rz1: a run stopped, its plug-in edited, resumed with reuse=any_code: metrics.json named the last code alone
    (run.json's earlier_code the first), and summary.md said "All aggregated cells come from one sdp version"."""
    from sdp.report.report import build_report
    from sdp.run_summary import code_trail

    write_record(tmp_path, "mp1", "MP", 1, 0.9, own="fp1")
    run = tmp_path / "mp1"
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, "earlier_code": [{"id": "4ba7b1f1088164de"}]}))
    code = code_trail(run, {"id": "5ec2ecade1ba987d"})
    assert code == {"id": "5ec2ecade1ba987d", "before_resume": ["4ba7b1f1088164de"]}
    metrics = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**metrics, "code": code}))
    build_report(tmp_path, plots=False)
    summary = (tmp_path / "tables" / "summary.md").read_text()
    assert ("`mp1`: resumed with reuse=any_code under other code: trained by code 4ba7b1f1088164de, then "
            "5ec2ecade1ba987d") in summary, summary


# --------------------------------------------------------------------------- ct1
def test_costs_split_runs_of_one_setup_at_other_thread_counts(tmp_path):
    """ct1: KD at train.num_threads=2 beside MP at 1, one setup: costs.md `KD | 6` beside `MP | 1`, nothing said."""
    from sdp.report.report import build_report

    write_record(tmp_path, "mp1", "MP", 1, 0.9, own="fp1")
    write_record(tmp_path, "kd1", "KD", 1, 0.9, own="fp2", threads=2)
    build_report(tmp_path, plots=False)
    costs = (tmp_path / "tables" / "costs.md").read_text()
    assert "| dense + pruning (1 thread) | MP | 10 |" in costs and "| dense + pruning (2 threads) | KD | 20 |" in costs
    assert "Runs of one setup at other `train.num_threads`" in costs


# --------------------------------------------------------------------------- gcr1, jcr1
def test_files_with_cr_only_line_ends_are_read(tmp_path):
    """gcr1: a GLUE TSV with CR-only line ends was one header line, listed whole in a one-line error of 871,584
    characters; jcr1: a JSON Lines file with them, `line 1: not valid JSON (Extra data ...)`."""
    from sdp.data.file_scan import scan_file
    from sdp.data.glue_local import read_tsv

    tsv = tmp_path / "train.tsv"
    tsv.write_bytes(b"index\tsentence\tlabel\r0\ta film\t1\r1\tanother\t0\r")
    head, rows = read_tsv(tsv, header=True)
    assert head == ["index", "sentence", "label"] and [r[1] for r in rows] == [["0", "a film", "1"], ["1", "another", "0"]]
    lines = tmp_path / "train.jsonl"
    lines.write_text("".join(json.dumps({"text": f"t{i}", "label": i % 2}) + "\r" for i in range(5)), newline="")
    assert scan_file(lines, ".jsonl", "train_file") == 5


# --------------------------------------------------------------------------- ec1, pr1, ex1c, tx1
def _classifier(tokenizer, path: Path) -> Path:
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, num_labels=2, pad_token_id=tokenizer.pad_token_id,
                        id2label={0: "entailment", 1: "not_entailment"},
                        label2id={"entailment": 0, "not_entailment": 1})
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_two_sdp_eval_into_one_output_dir_do_not_lose_a_record_unsaid(tmp_path, data_dir, tokenizer, monkeypatch):
    """ec1: two sdp-eval of different models into one output_dir at once both printed `-> .../metrics.json`; one
    record was lost (one after the other, the second is refused)."""
    from sdp.cli.eval import compose_config

    import sdp.evaluation
    from sdp.errors import ConfigError

    model, out = _classifier(tokenizer, tmp_path / "m"), tmp_path / "ev"
    other = {"kind": "eval", "status": "completed", "task": "rte", "model_dir": "/elsewhere/model", "final": {}}
    real = sdp.evaluation.predict_split

    def meanwhile(*args, **kwargs):  # the other sdp-eval finishes while this one scores
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(other))
        return real(*args, **kwargs)

    monkeypatch.setattr(sdp.evaluation, "predict_split", meanwhile)
    cfg = compose_config(["task=rte", "task.max_seq_length=32", f"data_dir={data_dir}", f"cache_dir={tmp_path / 'c'}",
                          "max_eval_samples=8"])
    with pytest.raises(ConfigError, match=r"holds the evaluation record of model_dir='/elsewhere/model'"):
        sdp.evaluation.evaluate_saved(cfg, model, out)
    assert json.loads((out / "metrics.json").read_text()) == other  # kept


def test_two_sdp_predict_into_one_new_file_do_not_lose_the_labels_unsaid(tmp_path, tokenizer, monkeypatch, capsys):
    """pr1: two sdp-predict into one new output= at once both said `N rows labelled -> pr.txt`; one's labels were
    lost."""
    from sdp.cli.predict import main

    import sdp.prediction

    model = _classifier(tokenizer, tmp_path / "m")
    write_csv(tmp_path / "in.csv", [("a film", "x"), ("another", "y")])
    out = tmp_path / "pr.txt"
    real = sdp.prediction.predict_labels

    def meanwhile(*args, **kwargs):
        out.write_text("the other process's labels\n")
        return real(*args, **kwargs)

    monkeypatch.setattr(sdp.prediction, "predict_labels", meanwhile)
    code = main([f"model_dir={model}", f"input={tmp_path / 'in.csv'}", "text_fields=text", f"output={out}"])
    assert code == 2 and "was written by another process while this one labelled" in capsys.readouterr().err
    assert out.read_text() == "the other process's labels\n"


def test_two_sdp_export_into_one_out_do_not_lose_a_graph_unsaid(tmp_path, tokenizer, monkeypatch):
    """ex1c: two sdp-export into one --out at once both printed their sizes; one graph was lost."""
    import torch
    from sdp.cli.export import main

    model, out = _classifier(tokenizer, tmp_path / "m"), tmp_path / "g.onnx"
    real = torch.onnx.export

    def meanwhile(*args, **kwargs):
        real(*args, **kwargs)
        out.write_bytes(b"the other export's graph")

    monkeypatch.setattr(torch.onnx, "export", meanwhile)
    with pytest.raises(SystemExit):
        main([str(model), "--out", str(out)])
    assert out.read_bytes() == b"the other export's graph"


def test_two_sdp_tables_into_one_out_dir_do_not_mix_their_tables(tmp_path, capsys):
    """tx1: two sdp-tables of different results folders into one out_dir at once: glue.md of one, summary.md,
    costs.md and claims.md of the other."""
    from sdp.cli.tables import main

    write_record(tmp_path / "r", "mp1", "MP", 1, 0.9, own="fp1")
    out = tmp_path / "t"
    out.mkdir()
    fd = os.open(out, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another sdp-tables is writing it
        assert main([f"results_dir={tmp_path / 'r'}", f"out_dir={out}", "plots=false"]) == 2
        assert "is being written by another sdp-tables now" in capsys.readouterr().err
        assert not any(out.iterdir())
    finally:
        os.close(fd)
    assert main([f"results_dir={tmp_path / 'r'}", f"out_dir={out}", "plots=false"]) == 0


# --------------------------------------------------------------------------- hn1
def test_a_hydra_group_given_null_is_one_line():
    """hn1: `sdp-run hydra/launcher=null` (or hydra/sweeper=null): a 25-line traceback ending in Hydra's `Config group
    override must be a string or a list. Got NoneType`."""
    from sdp.command_line import conf_groups, misspelt_key_errors

    errors = misspelt_key_errors(["debug=smoke", "hydra/launcher=null", "hydra/sweeper=null"], conf_groups())
    assert [e.split(":")[0] for e in errors] == ["hydra/launcher=null", "hydra/sweeper=null"]
    assert "hydra/launcher is a config group: name one of its options" in errors[0]
    assert misspelt_key_errors(["hydra/launcher=local"], conf_groups()) == []


# --------------------------------------------------------------------------- nf1, nf2, cn1
def test_labels_and_columns_in_another_unicode_form_are_one_and_said(tmp_path):
    """nf2: a training file whose `très bon` labels were half NFC, half NFD made a 3-class model for 2 classes, unsaid;
    nf1: a dev label in the other form was `unknown label(s) ['très bon'] ...; allowed: [..., 'très bon']`; cn1: a
    text field named in the other form, `has no column ['rés']; its columns: [..., 'rés', ...]`."""
    from sdp.data.custom import custom_task
    from sdp.data.tasks import DataError

    nfc, nfd = unicodedata.normalize("NFC", "très bon"), unicodedata.normalize("NFD", "très bon")
    rows = [(f"text {i}", [nfc, nfd, "not good"][i % 3]) for i in range(12)]
    train = write_csv(tmp_path / "tr.csv", rows)
    dev = write_csv(tmp_path / "dv.csv", [(f"dev {i}", [nfc, "not good"][i % 2]) for i in range(6)])
    with pytest.raises(DataError, match=r"holds labels that differ only in Unicode form \('tre\\u0300s bon', "):
        custom_task(_task(train, dev))
    train = write_csv(tmp_path / "tr2.csv", [(f"text {i}", [nfc, "not good"][i % 2]) for i in range(12)])
    dev = write_csv(tmp_path / "dv2.csv", [(f"dev {i}", [nfd, "not good"][i % 2]) for i in range(6)])
    with pytest.raises(DataError, match=r"unknown label\(s\).*\('tre\\u0300s bon' is 'tr\\xe8s bon' written otherwise"):
        custom_task(_task(train, dev))
    res = unicodedata.normalize("NFC", "rés")
    train = write_csv(tmp_path / "tr3.csv", [(f"text {i}", "ab"[i % 2]) for i in range(12)], header=(res, "label"))
    dev = write_csv(tmp_path / "dv3.csv", [(f"dev {i}", "ab"[i % 2]) for i in range(6)], header=(res, "label"))
    with pytest.raises(DataError, match=r"has no column .*\('re\\u0301s' is 'r\\xe9s' written otherwise"):
        custom_task(_task(train, dev, text=unicodedata.normalize("NFD", res)))


# --------------------------------------------------------------------------- qh1
def test_the_quoting_advice_for_a_list_quotes_its_elements():
    """qh1: `task.text_fields=[rés]` was told `quoted as a whole: task.text_fields='[rés]'`, a string, which Hydra
    then refused for a list key; `task.text_fields=['rés']` reads."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from sdp.command_line import unreadable_override_errors

    (error,) = unreadable_override_errors(["task.text_fields=[rés]"])
    advice = error.rsplit(": ", 1)[1]
    assert advice == "task.text_fields=['rés']", error
    assert OverridesParser.create().parse_overrides([advice])[0].value() == ["rés"]
    assert unreadable_override_errors(["output_dir=/tmp/x=1"])[0].endswith("output_dir='/tmp/x=1'")


# --------------------------------------------------------------------------- dc1
def test_the_card_of_a_run_on_several_processes_gives_its_launch():
    """dc1: the card of `accelerate launch --multi_gpu --num_processes 2 -m sdp.cli.run ...` said `Reproduce with:
    sdp-run ...`, which ran on one process (another global batch): 90.67 where the card said 94.67."""
    from hydra import compose, initialize_config_dir

    from sdp.models.card import model_card

    conf = str(Path(__file__).resolve().parents[1] / "conf")
    with initialize_config_dir(config_dir=conf, version_base="1.3"):
        cfg = compose(config_name="config", overrides=["debug=smoke", "task=rte"])
    metrics = {"achieved_sparsity": {"prunable": 0.5}, "method": "MP", "nonzero_params": 1, "total_params": 2,
               "dense": {"main": 0.6}, "final": {"main": 0.55}, "seed": 1, "versions": {"sdp": "x"},
               "distributed": {"world_size": 2}}
    card = model_card(metrics, cfg, "sdp-run debug=smoke task=rte")
    assert "accelerate launch --multi_gpu --num_processes 2 -m sdp.cli.run debug=smoke task=rte" in card
    assert "\nsdp-run debug=smoke task=rte" in model_card({**metrics, "distributed": {"world_size": 1}}, cfg,
                                                          "sdp-run debug=smoke task=rte")
