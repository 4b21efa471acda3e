"""What probe round 20 found (issue 26; docs/probe_round20.md): sdp-predict refusing a CSV or JSON Lines file
with a UTF-8 byte order mark that sdp-run and sdp-eval read. Each test fails on the commit the probe ran (616bd22)
and passes after its fix. No model, offline."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_predict_reads_a_file_with_a_utf8_bom_as_a_run_does(tmp_path, suffix):
    """m06: `sdp-predict model_dir=<d09's model> input=bom_dv.csv text_fields=sentence` (the file d09 scored on,
    saved by pandas with encoding='utf-8-sig') printed `DataError: input='bom_dv.csv' has no column ['sentence'];
    its columns: ['\\ufeffsentence', 'label']`, while sdp-run and sdp-eval read the same file (accuracy=48.00)."""
    from sdp.prediction import file_texts

    path = tmp_path / f"in{suffix}"
    if suffix == ".jsonl":
        body = "".join(json.dumps({"sentence": t, "label": 1}) + "\n" for t in ("a fine film", "a dull mess"))
    else:
        sep = "," if suffix == ".csv" else "\t"
        body = f"sentence{sep}label\na fine film{sep}1\na dull mess{sep}0\n"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    assert file_texts(path, ["sentence"]) == [("a fine film",), ("a dull mess",)]


@pytest.mark.parametrize(("suffix", "body"), [
    (".jsonl", '{"sentence": "a fine film"}\n{"text": "a wrong key"}\n{"sentence": "a dull mess"}\n'),
    (".jsonl", '{"sentence": "a fine film"}\n{"sentence": null}\n{"sentence": "a dull mess"}\n'),
    (".csv", "id,sentence\n1,a fine film\n2\n3,a dull mess\n"),
    (".tsv", "id\tsentence\n1\ta fine film\n2\n3\ta dull mess\n"),
])
def test_predict_refuses_a_row_without_its_text(tmp_path, suffix, body):
    """m07/m08: `sdp-predict model_dir=<d09's model> input=n27.jsonl text_fields=sentence` (a row with another key,
    one with null) and a CSV/TSV line short of fields printed `4 rows labelled` / `3 rows labelled`: a label for each
    row that has no text, as if it were an empty one."""
    from sdp.data.tasks import DataError
    from sdp.prediction import file_texts

    path = tmp_path / f"in{suffix}"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(DataError, match=r"row 2 .*has no value for \['sentence'\]"):
        file_texts(path, ["sentence"])


def test_predict_still_labels_an_empty_text_given_as_such(tmp_path):
    """An empty cell written as one (`2,`, `""`) is a text, labelled as given (probe round 15, p04)."""
    from sdp.prediction import file_texts

    path = tmp_path / "in.csv"
    path.write_text('id,sentence\n1,a fine film\n2,\n3,""\n', encoding="utf-8")
    assert file_texts(path, ["sentence"]) == [("a fine film",), ("",), ("",)]
