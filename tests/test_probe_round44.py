"""Probe round 44 (docs/probe_round44.md, a deciding round; probe only): its findings, fixed by the lead. Each test
fails on c383027 (the round's BASE) and passes after its fix. Hand-written files and tiny models, offline."""

from __future__ import annotations

import json

import pytest
from records import write_csv
from test_probe_round32 import _classifier

NAMES = {  # id2label's output 0, beside "pos" or as given: what it printed
    "gnl": "neg\nmore",  # 4 lines for 3 inputs
    "gls": "neg\u2028x",  # 3 lines to a reader splitting at U+2028
    "cr": "neg\r",  # `neg\r\n` in the output file (noticed)
    "gzw": "\u200b",  # an invisible label
    "gnan": float("nan"),  # `nan`
}
ALIKE = {  # two outputs whose names print alike
    "gnfd": ("caf\u00e9", "cafe\u0301"),
    "gcyr": ("neg", "n\u0435g"),
    "gnbsp": ("neg", "neg\u00a0"),
}


@pytest.mark.parametrize("case", sorted(NAMES))
def test_a_class_name_that_does_not_print_as_one_line_is_refused(tmp_path, tokenizer, case, capsys):
    """gnl, gls, gzw, gnan: sdp-predict printed 4 lines for 3 inputs, a line U+2028 splits, an invisible label or
    `nan`, with no word. sdp-predict, sdp-eval and sdp-export refuse the model, naming the class."""
    from sdp.cli.predict import main

    from sdp.models.inspect import ModelLoadError
    from sdp.saved_model import check_saved_model

    model = _classifier(tokenizer, tmp_path / "m")
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "id2label": {"0": NAMES[case], "1": "pos"}}))
    said = r"with a line break in it" if case in ("gnl", "gls", "cr") else r"names no class for the id\(s\) \[0\]"
    with pytest.raises(ModelLoadError, match=said):
        check_saved_model(model)
    write_csv(tmp_path / "in.csv", [("a great film", "x"), ("awful", "y"), ("also a film", "z")])
    out = tmp_path / "labels.txt"
    assert main([f"model_dir={model}", f"input={tmp_path / 'in.csv'}", "text_fields=text", f"output={out}"]) == 2
    assert not out.exists() and "config.json id2label" in capsys.readouterr().err


@pytest.mark.parametrize("case", sorted(ALIKE))
def test_two_class_names_that_print_alike_are_refused(tmp_path, tokenizer, case):
    """gnfd, gcyr, gnbsp: `café` in two Unicode forms, `neg` with a Cyrillic е, `neg` with a no-break space named two
    outputs that print as one; only names equal code point for code point were refused."""
    from sdp.models.inspect import ModelLoadError
    from sdp.saved_model import check_saved_model

    model = _classifier(tokenizer, tmp_path / "m")
    config = json.loads((model / "config.json").read_text())
    first, second = ALIKE[case]
    (model / "config.json").write_text(json.dumps({**config, "id2label": {"0": first, "1": second}}))
    with pytest.raises(ModelLoadError, match=r"names classes that differ only in .*\(.*\): two classes whose names "
                                             r"print alike cannot be told apart"):
        check_saved_model(model)
    (model / "config.json").write_text(json.dumps({**config, "id2label": {"0": first, "1": "pos"}}))
    check_saved_model(model)  # each name alone is a class name


@pytest.mark.parametrize("names", [["NEG", "neg"], ["1", "01"], ["Neg", "neg"]])
def test_class_names_that_print_apart_are_kept_and_never_swapped(tmp_path, tokenizer, names):
    """Review of round 44's fixes: `NEG` and `neg` print apart, and task.label_names may list them: a run trained such
    a model, which sdp-eval and sdp-predict then refused. A checkpoint's labels are compared exactly where letter case
    tells two apart (`[NEG, neg]` matched a task's `[neg, NEG]` with its classes swapped)."""
    from sdp.models.inspect import same_labels
    from sdp.saved_model import check_saved_model

    model = _classifier(tokenizer, tmp_path / "m")
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "id2label": dict(enumerate(names))}))
    check_saved_model(model)  # no error
    assert same_labels(names, names) and not same_labels(names, names[::-1])
    assert same_labels(["Entailment", "not_entailment"], ["entailment", "not_entailment"])  # case aside otherwise


@pytest.mark.parametrize("names", [["neg", "n\u0435g"], ["caf\u00e9", "cafe\u0301"], ["neg", "neg\u00a0"],
                                   ["\u200b", "pos"], ["neg\nx", "pos"]])
def test_task_label_names_a_model_could_not_be_named_by_are_refused(tmp_path, names):
    """Review of round 44's fixes: task.label_names of two names that print alike (or one that shows nothing, or
    holds a line break) trained a model whose outputs sdp-eval and sdp-predict then refused: refused before any file
    is read."""
    from omegaconf import OmegaConf

    from sdp.data.custom import custom_task
    from sdp.data.tasks import DataError

    train = write_csv(tmp_path / "tr.csv", [("a film", names[0]), ("another", names[1])])
    task = OmegaConf.create({"name": "custom", "train_file": train, "validation_file": train, "text_fields": ["text"],
                             "label_column": "label", "metric": "accuracy", "label_names": names})
    with pytest.raises(DataError, match=r"task.label_names=.* names (classes that differ only in|a class that shows "
                                        r"nothing|the class .* with a line break)"):
        custom_task(task)


def test_one_dense_checkpoint_under_two_pruning_setups_is_one_dense_row(tmp_path):
    """dr1: MP runs of prune.criterion=magnitude and movement, both given one dense.checkpoint (its fingerprint in
    their records), made two Dense rows of one model, each marked by a hash the MP rows did not carry. Runs given
    other dense models (another fingerprint) keep a row each."""
    from records import write_record

    from sdp.report.report import build_report

    def dense_rows(name: str, prints: dict[str, str]) -> list[str]:
        root = tmp_path / name
        for criterion, fingerprint in prints.items():
            for seed in (1, 2):
                run = f"mp_{criterion}_{seed}"
                write_record(root, run, "MP", seed, 0.6 + 0.01 * seed, given=("/m/dense", f"{fingerprint}-{seed}"))
                config = json.loads((root / run / "run.json").read_text())
                config["config"]["prune"]["criterion"] = criterion
                (root / run / "run.json").write_text(json.dumps(config))
                record = json.loads((root / run / "metrics.json").read_text())
                record["config_hash"] = f"h-{criterion}"
                (root / run / "metrics.json").write_text(json.dumps(record))
        build_report(root, plots=False)
        return [line for line in (root / "tables" / "glue.md").read_text().splitlines() if "| Dense" in line]

    assert len(one := dense_rows("one", {"magnitude": "fp", "movement": "fp"})) == 1, one
    assert len(two := dense_rows("two", {"magnitude": "fp", "movement": "other"})) == 2, two


def test_a_carriage_return_inside_a_stdin_line_is_refused(tmp_path, tokenizer, monkeypatch, capsys):
    """cr1: `printf 'a film\\rwith more words\\nawful\\n' | sdp-predict` gave 3 labels for the 2 lines the user counts
    (stdin was read with universal newlines: a lone \\r ended a line), with no word. Lines end at \\n (\\r\\n and
    \\r\\r\\n too); a carriage return inside one is refused, naming its line."""
    import io
    import sys

    from sdp.cli.predict import main

    model = _classifier(tokenizer, tmp_path / "m")
    for data, code, lines in ((b"a great film\rwith more words\nawful boring mess\n", 2, 0),
                              (b"a great film\r\nawful boring mess\r\r\n", 0, 2)):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        assert main([f"model_dir={model}"]) == code
        out, err = capsys.readouterr()
        assert len(out.splitlines()) == lines, out
        assert (code == 0) or "stdin line 1 holds a carriage return (\\r) inside it" in err, err


def test_sdp_predict_at_a_length_told_says_how_many_rows_reach_it(tmp_path, tokenizer, capsys):
    """Round 44, noticed: sdp-predict at an explicit max_seq_length=6 cut 120 of 120 rows with no word, where sdp-eval
    says how many rows reach the length (counted by hand below)."""
    from sdp.cli.predict import main

    model = _classifier(tokenizer, tmp_path / "m")
    rows = [("a great film that goes on", "x"), ("awful", "y"), ("one two three four", "z")]
    lengths = [len(tokenizer(text)["input_ids"]) for text, _ in rows]
    assert lengths == [8, 3, 6], lengths  # by hand: reach 6 are rows 1 (cut) and 3 (exactly 6)
    write_csv(tmp_path / "in.csv", rows)
    assert main([f"model_dir={model}", f"input={tmp_path / 'in.csv'}", "text_fields=text", "max_seq_length=6",
                 f"output={tmp_path / 'out.txt'}"]) == 0
    assert "warning: 2 of 3 rows reach max_seq_length=6 tokens (cut to it, or exactly that long)" in \
        capsys.readouterr().err


def test_the_xnli_small_card_names_what_it_trained_on():
    """Round 44, noticed: xnli_small's card said `its train split` of a task that trains on the English train side of
    the XNLI dev files."""
    from test_probe_round17 import _cfg, _metrics

    from sdp.models.card import model_card

    card = model_card(_metrics(), _cfg("task=xnli_small", "model=tiny-xlmr"), "sdp-run ...")
    assert "xnli_small: the English train side of the XNLI dev files (conf/task/xnli_small.yaml) (a sample" in card
    assert "scored on its dev split(s) (each language's eval side) (32 rows" in card, card
    assert "its train split" not in card


def test_sdp_eval_refuses_case_twin_classes_in_another_order(tmp_path, tokenizer):
    """Review of round 44's fixes: a model of `[NEG, neg]` scored by sdp-eval with task.label_names=[neg,NEG] gave
    25.00 where its own order gave 75.00, no word (sdp-eval's label check compared letter case aside)."""
    from omegaconf import OmegaConf

    from sdp.models.inspect import ModelLoadError
    from sdp.saved_model import check_task_labels

    config = {"id2label": {"0": "NEG", "1": "neg"}, "num_labels": 2}
    check_task_labels("m", config, OmegaConf.create({"is_regression": False, "label_names": ["NEG", "neg"],
                                                      "name": "custom"}))  # its own order: no error
    with pytest.raises(ModelLoadError, match=r"was trained for the labels \['NEG', 'neg'\] in that order"):
        check_task_labels("m", config, OmegaConf.create({"is_regression": False, "label_names": ["neg", "NEG"],
                                                          "name": "custom"}))
    config = {"id2label": {"0": "Entailment", "1": "Not_entailment"}, "num_labels": 2}  # case aside otherwise
    check_task_labels("m", config, OmegaConf.create({"is_regression": False, "name": "rte",
                                                      "label_names": ["entailment", "not_entailment"]}))
