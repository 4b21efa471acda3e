"""Probe round 47 (docs/probe_round47.md), part C: class names that print alike by a joiner, a tag, an unassigned
default-ignorable or a control character, and sdp-predict rows of invisible text. Each test fails on 16a5d9e."""

from __future__ import annotations

import pytest
from records import write_csv

ALIKE = {  # two names that print alike
    "dalzwnj": ["\u062f\u200c\u0628", "\u062f\u0628"],  # a ZWNJ after dal, which joins no further
    "alefzwj": ["\u0627\u200d", "\u0627"],
    "devazwj": ["\u0915\u200d\u0916", "\u0915\u0916"],  # no virama: no half form
    "emozwj": ["\U0001F600\u200d", "\U0001F600"],
    "latzwjemo": ["a\u200d\U0001F600", "a\U0001F600"],
    "hebzwj": ["\u05e9\u200d\u05d1", "\u05e9\u05d1"],
    "cjkzwj": ["\u4e2d\u200d\u6587", "\u4e2d\u6587"],
    "aizwj": ["\u0661\u200d\u0662", "\u0661\u0662"],
    "zwj2": ["neg\u200d\u200d", "neg"],
    "zwnjzwj": ["ne\u200c\u200dg", "neg"],
    "zwjacc": ["ne\u0301\u200dg", "ne\u0301g"],
    "flagxx": ["\U0001F3F4\U000E0078\U000E0078\U000E007F", "\U0001F3F4"],  # no subdivision: the black flag
    "flagnocancel": ["\U0001F3F4\U000E0067\U000E0062", "\U0001F3F4"],
    "flagfar": ["\U0001F3F4 neg\U000E0067", "\U0001F3F4 neg"],
    "u2065": ["neg\u2065", "neg"],  # unassigned default-ignorables
    "ufff0": ["neg\ufff0", "neg"],
    "ue0000": ["neg\U000E0000", "neg"],
    "e0080": ["neg\U000E0080", "neg"],
}
APART = {  # names a joiner, a tag or a selector shapes: they print apart
    "flags": ["\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F",  # England, Scotland
              "\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F"],
    "england": ["\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", "\U0001F3F4"],
    "persian": ["\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", "\u0645\u06cc\u062e\u0648\u0627\u0647\u0645"],
    "half": ["\u0915\u094d\u200d\u0937", "\u0915\u094d\u0937"],
    "family": ["\U0001F468\u200d\U0001F469\u200d\U0001F467", "\U0001F468\U0001F469\U0001F467"],
    "rainbow": ["\U0001F3F3\ufe0f\u200d\U0001F308", "\U0001F3F3\ufe0f\U0001F308"],
    "zwjbeh": ["\u062f\u200d\u0628", "\u062f\u0628"],  # a ZWJ before beh gives its joined form
    "tatweel": ["\u0628\u200c\u0640", "\u0628\u0640"],  # a ZWNJ breaks beh's join to a tatweel
}


@pytest.mark.parametrize("case", sorted(ALIKE))
def test_names_alike_but_for_a_mark_that_shapes_nothing_are_refused(case):
    """dalzwnj ... e0080: a model's two outputs printed alike (`دب` twice, `🏴` twice, `neg` twice), accepted."""
    from sdp.data.printed_names import printed_names_problem

    assert "differ only in invisible characters" in str(printed_names_problem(ALIKE[case])), case


@pytest.mark.parametrize("case", sorted(APART))
def test_names_a_joiner_or_tag_shapes_still_print_apart(case):
    from sdp.data.printed_names import printed_names_problem

    assert printed_names_problem(APART[case]) is None, case


@pytest.mark.parametrize("name", ["pos\b\b\bneg", "\x1b[31mneg\x1b[0m", "neg\x7f"])
def test_a_class_name_with_a_control_character_is_refused(name):
    """bs, ansi: `pos\\b\\b\\bneg` and a colour escape showed `neg` beside `neg` in a terminal."""
    from sdp.class_names import check_class_names
    from sdp.models.inspect import ModelLoadError

    with pytest.raises(ModelLoadError, match=r"with a control character in it"):
        check_class_names({"id2label": {0: name, 1: "neg"}}, "model_dir 'm'")


@pytest.mark.parametrize("second", ["neg\u200d\u200d", "pos\b\b\bneg", "\u062f\u200c\u0628"])
def test_labels_a_model_could_not_be_named_by_are_refused_before_training(tmp_path, second):
    """lab_zwj2, lab_bs, lab_dal: runs trained on `neg` beside such a label, and made a model sdp-eval refuses."""
    from omegaconf import OmegaConf

    from sdp.data.custom import custom_task
    from sdp.data.tasks import DataError

    first = "\u062f\u0628" if second.startswith("\u062f") else "neg"
    rows = [(f"text {i}", (first, second)[i % 2]) for i in range(8)]
    train, dev = write_csv(tmp_path / "tr.csv", rows), write_csv(tmp_path / "dv.csv", rows[:2])
    task = OmegaConf.create({"name": "custom", "train_file": train, "validation_file": dev, "text_fields": ["text"],
                             "label_column": "label", "metric": "accuracy"})
    with pytest.raises(DataError, match=r"task.label_column='label' names .*(invisible|control character)"):
        custom_task(task)


def test_sdp_predict_says_rows_of_invisible_text(tmp_path, tokenizer, capsys):
    """pz1, pz2: a stdin line or a file row of a zero-width space alone was labelled `pos` with no word (a run refuses
    the row); labelled as an empty text is (round 15, p04), and now said."""
    from sdp.cli.predict import main
    from test_probe_round32 import _classifier

    model = _classifier(tokenizer, tmp_path / "m")
    path = write_csv(tmp_path / "pz.csv", [("a great charming film", "x"), ("\u200b", "y"), ("awful", "z")])
    out = tmp_path / "labels.txt"
    assert main([f"model_dir={model}", f"input={path}", "text_fields=text", f"output={out}"]) == 0
    assert len(out.read_text().splitlines()) == 3
    assert ("warning: 1 of 3 rows hold a text this model's tokenizer reads nothing in (empty, or characters it drops; "
            "first: input row 2)") in capsys.readouterr().err


def test_a_mathematical_twin_of_a_name_is_refused():
    """Round 47, noticed: `𝚗𝚎𝚐` (mathematical monospace) prints as `neg` in a terminal; both were kept as names."""
    from sdp.data.printed_names import printed_names_problem

    said = printed_names_problem(["neg", "\U0001d697\U0001d68e\U0001d690"])
    assert "differ only in look-alike letters (mathematical ones" in str(said), said
    assert printed_names_problem(["x", "\U0001d431"]) is not None and printed_names_problem(["x2", "x\u00b2"]) is None


def test_review_an_emoji_style_twin_is_said_as_such():
    """Review of round 47's fixes: `❤` beside `❤️` was said to differ in "invisible characters"."""
    from sdp.data.printed_names import printed_names_problem

    assert "differ only in a variation selector (text or emoji style)" in str(printed_names_problem(["\u2764",
                                                                                                     "\u2764\ufe0f"]))
