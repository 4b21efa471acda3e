"""Local GLUE readers: real shared files (row counts, labels, spot checks) and small MNLI/QQP files."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdp.data.glue_local import read_glue_split
from sdp.data.tasks import DataError, DataFileNotFoundError, get_task

# (task, split, rows, label set) from /work/shared/data/README.md
REAL_COUNTS = [
    ("cola", "train", 8551, {"acceptable", "unacceptable"}),
    ("cola", "validation", 1043, {"acceptable", "unacceptable"}),
    ("sst2", "train", 67349, {"negative", "positive"}),
    ("sst2", "validation", 872, {"negative", "positive"}),
    ("mrpc", "train", 3668, {"equivalent", "not_equivalent"}),
    ("mrpc", "validation", 408, {"equivalent", "not_equivalent"}),
    ("stsb", "train", 5749, None),
    ("stsb", "validation", 1500, None),
    ("rte", "train", 2490, {"entailment", "not_entailment"}),
    ("rte", "validation", 277, {"entailment", "not_entailment"}),
    ("wnli", "train", 635, {"entailment", "not_entailment"}),
    ("wnli", "validation", 71, {"entailment", "not_entailment"}),
    ("qnli", "validation", 5463, {"entailment", "not_entailment"}),
]


@pytest.mark.parametrize(("name", "split", "n", "labels"), REAL_COUNTS)
def test_real_glue_counts_and_labels(data_dir, name, split, n, labels):
    task = get_task(name)
    rows = read_glue_split(task, data_dir, split)
    assert len(rows) == n
    for row in rows[:50]:
        assert set(row) == {*task.text_fields, "label"}
        assert all(isinstance(row[f], str) and row[f] for f in task.text_fields)
    if labels is None:
        scores = [r["label"] for r in rows]
        assert all(isinstance(s, float) for s in scores)
        assert 0.0 <= min(scores) and max(scores) <= 5.0
    else:
        assert {r["label"] for r in rows} == labels


def test_glue_folder_directly(data_dir):
    """data_dir may point straight at the glue/ folder."""
    rows = read_glue_split(get_task("rte"), data_dir / "glue", "validation")
    assert len(rows) == 277


SPOT = [
    (
        "cola",
        "train",
        0,
        {"sentence": "Our friends won't buy this analysis, let alone the next one we propose."},
        "acceptable",
    ),
    # last dev row: the file has no final newline
    ("cola", "validation", -1, {"sentence": "John talked to Bill about himself."}, "acceptable"),
    ("sst2", "validation", 0, {"sentence": "it 's a charming and often affecting journey . "}, "positive"),
    ("sst2", "validation", 1, {"sentence": "unflinchingly bleak and desperate "}, "negative"),
    (
        "mrpc",
        "validation",
        0,
        {
            "sentence1": "He said the foodservice pie business doesn't fit the company's long-term growth strategy.",
            "sentence2": '"The foodservice pie business does not fit our long-term growth strategy.',
        },
        "equivalent",
    ),
    (
        "stsb",
        "validation",
        1,
        {"sentence1": "A young child is riding a horse.", "sentence2": "A child is riding a horse."},
        4.75,
    ),
    ("rte", "validation", 0, {"sentence2": "Christopher Reeve had an accident."}, "not_entailment"),
    (
        "wnli",
        "validation",
        0,
        {
            "sentence1": "The drain is clogged with hair. It has to be cleaned.",
            "sentence2": "The hair has to be cleaned.",
        },
        "not_entailment",
    ),
    ("wnli", "validation", 1, {"sentence2": "Susan did not answer."}, "entailment"),
    (
        "qnli",
        "validation",
        0,
        {"question": "What came into force after the new constitution was herald?"},
        "entailment",
    ),
]


@pytest.mark.parametrize(("name", "split", "i", "fields", "label"), SPOT)
def test_real_glue_spot_rows(data_dir, name, split, i, fields, label):
    row = read_glue_split(get_task(name), data_dir, split)[i]
    for key, value in fields.items():
        assert row[key] == value
    assert row["label"] == label


# ------------------------------------------------------------------------------- MNLI / QQP (written here)

MNLI_TRAIN_HEAD = (
    "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
    "sentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label"
)
MNLI_DEV_HEAD = (
    "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\t"
    "sentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label"
)


def _mnli_row(i: int, s1: str, s2: str, gold: str, dev: bool) -> str:
    labels = [gold] * (5 if dev else 1)
    return "\t".join(
        [
            str(i),
            str(100 + i),
            f"{100 + i}e",
            "fiction",
            "( a b )",
            "( c d )",
            "(ROOT a)",
            "(ROOT c)",
            s1,
            s2,
            *labels,
            gold,
        ]
    )


def write_mnli(root: Path) -> Path:
    d = root / "glue" / "MNLI"
    d.mkdir(parents=True)
    (d / "train.tsv").write_text(
        "\n".join(
            [
                MNLI_TRAIN_HEAD,
                _mnli_row(0, 'He said "hi".', "He spoke.", "entailment", False),
                _mnli_row(1, "A cat sat.", "A dog sat.", "contradiction", False),
                _mnli_row(2, "It rained.", "It was cold.", "neutral", False),
                _mnli_row(3, "She ran.", "She moved.", "entailment", False),
            ]
        )
        + "\n"
    )
    (d / "dev_matched.tsv").write_text(
        "\n".join(
            [
                MNLI_DEV_HEAD,
                _mnli_row(0, "Matched one.", "Hyp one.", "neutral", True),
                _mnli_row(1, "Matched two.", "Hyp two.", "entailment", True),
            ]
        )
        + "\n"
    )
    (d / "dev_mismatched.tsv").write_text(
        "\n".join(
            [
                MNLI_DEV_HEAD,
                _mnli_row(0, "Mismatched one.", "Hyp three.", "contradiction", True),
            ]
        )
    )
    return root


def write_qqp(root: Path) -> Path:
    d = root / "glue" / "QQP"
    d.mkdir(parents=True)
    head = "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate"
    (d / "train.tsv").write_text(
        "\n".join(
            [
                head,
                "0\t1\t2\tHow do I learn Python?\tWhat is the best way to learn Python?\t1",
                '1\t3\t4\tWhy is the sky blue?\tWhat is "Rayleigh" scattering?\t0',
                "2\t5\t6\tWho wrote Hamlet?\tWho is the author of Hamlet?\t1",
            ]
        )
        + "\n"
    )
    # Both classes in dev: a split without the positive class is refused (F1 is undefined on it).
    (d / "dev.tsv").write_text("\n".join([head, "7\t8\t9\tIs water wet?\tIs fire hot?\t0",
                                           "8\t10\t11\tIs ice frozen water?\tIs ice water that froze?\t1"]) + "\n")
    return root


def test_mnli_official_layout(tmp_path):
    root = write_mnli(tmp_path)
    task = get_task("mnli")
    train = read_glue_split(task, root, "train")
    assert [r["label"] for r in train] == ["entailment", "contradiction", "neutral", "entailment"]
    assert train[0] == {"premise": 'He said "hi".', "hypothesis": "He spoke.", "label": "entailment"}
    m = read_glue_split(task, root, "validation_matched")
    mm = read_glue_split(task, root, "validation_mismatched")
    assert [r["premise"] for r in m] == ["Matched one.", "Matched two."]
    assert mm == [{"premise": "Mismatched one.", "hypothesis": "Hyp three.", "label": "contradiction"}]


def test_qqp_official_layout(tmp_path):
    root = write_qqp(tmp_path)
    task = get_task("qqp")
    train = read_glue_split(task, root, "train")
    assert [r["label"] for r in train] == ["duplicate", "not_duplicate", "duplicate"]
    assert train[1]["question2"] == 'What is "Rayleigh" scattering?'
    dev = read_glue_split(task, root / "glue", "validation")
    assert dev == [{"question1": "Is water wet?", "question2": "Is fire hot?", "label": "not_duplicate"},
                   {"question1": "Is ice frozen water?", "question2": "Is ice water that froze?", "label": "duplicate"}]


# ------------------------------------------------------------------------------------------------ errors


def _write_task_file(tmp_path: Path, subdir: str, name: str, text: str) -> Path:
    d = tmp_path / "glue" / subdir
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(text)
    return tmp_path


def test_missing_data_dir(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(DataFileNotFoundError, match="nope"):
        read_glue_split(get_task("rte"), missing, "validation")


def test_missing_task_folder(tmp_path):
    with pytest.raises(DataFileNotFoundError, match="RTE"):
        read_glue_split(get_task("rte"), tmp_path, "validation")


def test_missing_file(tmp_path):
    root = _write_task_file(
        tmp_path, "RTE", "train.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n"
    )
    with pytest.raises(FileNotFoundError, match="dev.tsv"):
        read_glue_split(get_task("rte"), root, "validation")


def test_empty_file(tmp_path):
    root = _write_task_file(tmp_path, "RTE", "dev.tsv", "")
    with pytest.raises(DataError, match=r"dev\.tsv.*empty"):
        read_glue_split(get_task("rte"), root, "validation")


def test_header_only_file(tmp_path):
    root = _write_task_file(tmp_path, "RTE", "dev.tsv", "index\tsentence1\tsentence2\tlabel\n")
    with pytest.raises(DataError, match="no rows"):
        read_glue_split(get_task("rte"), root, "validation")


def test_wrong_column_count(tmp_path):
    text = "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\ta\tb\textra\tentailment\n"
    root = _write_task_file(tmp_path, "RTE", "dev.tsv", text)
    with pytest.raises(DataError, match=r"dev\.tsv' line 3: expected 4 .* got 5"):
        read_glue_split(get_task("rte"), root, "validation")


def test_wrong_column_count_headerless(tmp_path):
    root = _write_task_file(tmp_path, "CoLA", "dev.tsv", "gj04\t1\t\tFine.\ngj04\t1\tBroken.\n")
    with pytest.raises(DataError, match="line 2: expected 4 .* got 3"):
        read_glue_split(get_task("cola"), root, "validation")


def test_unknown_string_label(tmp_path):
    text = "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\ta\tb\tmaybe\n"
    root = _write_task_file(tmp_path, "RTE", "dev.tsv", text)
    with pytest.raises(DataError, match=r"line 3: unknown label 'maybe'.*'entailment', 'not_entailment'"):
        read_glue_split(get_task("rte"), root, "validation")


def test_unknown_numeric_label(tmp_path):
    root = _write_task_file(tmp_path, "SST-2", "dev.tsv", "sentence\tlabel\ngood\t1\nbad\t2\n")
    with pytest.raises(DataError, match=r"line 3: unknown label '2'.*'0', '1'"):
        read_glue_split(get_task("sst2"), root, "validation")


def test_unparsable_score(tmp_path):
    head = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
    root = _write_task_file(tmp_path, "STS-B", "dev.tsv", head + "0\tg\tf\ty\t0\tn\tn\ta\tb\tfive\n")
    with pytest.raises(DataError, match=r"line 2: cannot parse score 'five'"):
        read_glue_split(get_task("stsb"), root, "validation")


def test_missing_header_column(tmp_path):
    root = _write_task_file(
        tmp_path, "RTE", "dev.tsv", "index\tpremise\tsentence2\tlabel\n0\ta\tb\tentailment\n"
    )
    with pytest.raises(DataError, match="no column 'sentence1'"):
        read_glue_split(get_task("rte"), root, "validation")


def test_bom_and_quotes(tmp_path):
    text = '\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\t"Open quote\tclose" here\n0\t3\t4\tx\ty\n'
    root = _write_task_file(tmp_path, "MRPC", "dev.tsv", text)
    rows = read_glue_split(get_task("mrpc"), root, "validation")
    assert rows == [
        {"sentence1": '"Open quote', "sentence2": 'close" here', "label": "equivalent"},
        {"sentence1": "x", "sentence2": "y", "label": "not_equivalent"},
    ]
