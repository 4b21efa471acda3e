"""What rounds 32-33 noticed and left, fixed by the lead while round 34 probed (docs/errors.md, "Leftovers of round 33,
fixed by the lead"). Each test fails on 058dc27."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from records import write_csv, write_record
from test_probe_round28 import _run


def _eval_record(root: Path, name: str, achieved: dict) -> None:
    (root / name).mkdir(parents=True, exist_ok=True)
    (root / name / "metrics.json").write_text(json.dumps({
        "kind": "eval", "status": "completed", "task": "rte", "model": "tiny-bert", "method": "KD (taylor)",
        "target_sparsity": 0.5, "achieved_sparsity": achieved, "final": {"accuracy": 0.9, "main": 0.9},
        "eval_examples": {"validation": 120}}))


def test_the_evaluations_table_shows_the_pruned_share_beside_the_target(tmp_path):
    """A structured model pruned to 61.72% of its prunable weights showed as `50%` only (its run's target) in the
    Evaluations table; summary.md's warning sent the reader to a table that did not show it."""
    from sdp.report.report import build_report

    _eval_record(tmp_path, "ev", {"prunable": 0.6171875, "model": 0.4})
    _eval_record(tmp_path, "given", {"model": 0.125})  # a given model/: the prunable set is not known
    build_report(tmp_path, plots=False)
    summary = (tmp_path / "tables" / "summary.md").read_text()
    assert "| path | task | model | method | sparsity | pruned | scored on (rows) | main |" in summary, summary
    assert "| `ev` | rte | tiny-bert | KD (taylor) | 50% | 61.72% | validation (120) | 90.00 |" in summary, summary
    assert "| `given` | rte | tiny-bert | KD (taylor) | 50% | 12.50% of all weights |" in summary, summary
    assert "(the Evaluations table shows the target and the pruned share): `ev`" in summary, summary


def test_an_evaluation_record_with_a_malformed_achieved_sparsity_is_tabled(tmp_path):
    """`"achieved_sparsity": [0.5]` in an eval record: build_report raised AttributeError (past_target)."""
    from sdp.report.report import build_report

    _eval_record(tmp_path, "ev", [0.5])
    build_report(tmp_path, plots=False)
    assert "| `ev` | rte | tiny-bert | KD (taylor) | 50% | — |" in (tmp_path / "tables" / "summary.md").read_text()


def test_summary_names_every_key_two_configs_differ_in(tmp_path):
    """Rows of other configs that differ in eight keys: summary.md named six and "(and 2 more)", so a seventh key
    that mattered (here `regularizer.temperature`, sorted after six others) was never shown."""
    from sdp.report.collect import collect_runs
    from sdp.report.setup_diff import setup_differences

    keys = ["alpha", "beta", "gamma", "delta", "epsilon", "kappa", "temperature", "zeta"]
    for seed in (1, 2):
        for variant, value in (("a", 1.0), ("b", 2.0)):
            _run(tmp_path, f"KD{variant}{seed}", "KD", seed, 0.8, config_hash=f"{variant}1234567",
                 regularizer={"name": "kd", **{k: value for k in keys}, "layers": list(range(40)) if variant == "a" else []})
    lines = [line for line in setup_differences(collect_runs(tmp_path).runs, tmp_path) if "rows of other configs" in line]
    assert len(lines) == 1, lines
    line = lines[0]
    assert "more)" not in line, line
    named = line.split("differ in ", 1)[1].split(": [", 1)[0].split(", ")
    assert named == sorted(f"regularizer.{k}" for k in keys + ["layers"]), line
    for key in keys:
        assert f"regularizer.{key}=1.0" in line and f"regularizer.{key}=2.0" in line, (key, line)
    assert "regularizer.layers=[0, 1, 2" in line and "…" in line and "39]" not in line, line  # a long value is cut


def test_sdp_tables_of_one_run_folder_does_not_write_into_the_record(tmp_path, capsys):
    """`sdp-tables results_dir=<one run's folder>` wrote tables/ (and its marker) into the run's own folder."""
    from cli.tables import main

    write_record(tmp_path, "run", "MP", 1, 0.8)
    run_dir = tmp_path / "run"
    before = sorted(p.name for p in run_dir.iterdir())
    assert main([f"results_dir={run_dir}", "plots=false"]) == 2
    err = capsys.readouterr().err
    assert f"results_dir='{run_dir}' is one run's folder (its run.json)" in err and "out_dir=" in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert main([f"results_dir={tmp_path}", f"out_dir={run_dir / 'mine'}", "plots=false"]) == 2  # given, inside it
    assert f"out_dir='{run_dir / 'mine'}' is inside the run folder '{run_dir}'" in capsys.readouterr().err
    assert sorted(p.name for p in run_dir.iterdir()) == before
    assert main([f"results_dir={run_dir}", f"out_dir={tmp_path / 'one'}", "plots=false"]) == 0  # the way out
    assert "| MP |" in (tmp_path / "one" / "glue.md").read_text()


def test_sdp_tables_of_a_folder_holding_an_evaluation_record_at_its_top(tmp_path, capsys):
    """sdp-eval output_dir=<results folder> leaves an eval record at its top; the runs below it are still tabled
    (the first form of the refusal above called it one run's folder: review)."""
    from cli.tables import main

    write_record(tmp_path / "runs", "run", "MP", 1, 0.8)
    _eval_record(tmp_path, ".", {"prunable": 0.5})
    assert main([f"results_dir={tmp_path}", "plots=false"]) == 0, capsys.readouterr().err
    assert "| MP |" in (tmp_path / "tables" / "glue.md").read_text()


def _code(tree: str, plugins: dict | None = None) -> dict:
    key = f"0.1.0|{tree}|None" + ("|" + "|".join(f"{n}={d}" for n, d in sorted(plugins.items())) if plugins else "")
    return {"id": hashlib.sha256(key.encode()).hexdigest()[:16], "version": "0.1.0", "tree": tree, "diff": None,
            **({"plugins": plugins} if plugins else {})}


def _plugin_pair(root: Path, plugin_tree: str, mp_plugins: dict | None = None, methods=("MP", "L-MSE"),
                 criterion: str = "magnitude") -> None:
    """MP runs made without plug-ins (code tree T; or with ``mp_plugins``) beside a plug-in method's runs (tree
    ``plugin_tree``)."""
    for seed in (1, 2):
        for name, method, code in (("MP", methods[0], _code("T", mp_plugins)),
                                   ("LM", methods[1], _code(plugin_tree, {"my_terms": "abc"}))):
            run = _run(root, f"{name}{seed}", method, seed, 0.8 + 0.01 * seed, criterion=criterion)
            record = json.loads((run / "metrics.json").read_text())
            (run / "metrics.json").write_text(json.dumps({**record, "code": code}))


def test_a_plugins_runs_beside_mp_runs_without_it_are_not_marked_as_mixed_code(tmp_path):
    """A plug-in method's runs (code id = sdp's tree + the plug-in's digest) beside MP runs made without the plug-in:
    glue.md's Dense row and the plug-in's deltas.md cell were marked † ("mixes sdp versions"), though the dense
    stages and the MP partners ran the same sdp code; sdp code that truly differs is still marked."""
    from sdp.report.report import build_report

    _plugin_pair(tmp_path / "same", "T")
    build_report(tmp_path / "same", plots=False)
    tables = tmp_path / "same" / "tables"
    dense = next(line for line in (tables / "glue.md").read_text().splitlines() if "| Dense |" in line)
    assert "†" not in dense, dense
    rows = [line for line in (tables / "deltas.md").read_text().splitlines() if "| L-MSE |" in line]
    assert len(rows) == 2 and not any("†" in row for row in rows), rows

    _plugin_pair(tmp_path / "other", "U")  # the plug-in's runs on another sdp tree: mixed, and marked
    build_report(tmp_path / "other", plots=False)
    tables = tmp_path / "other" / "tables"
    dense = next(line for line in (tables / "glue.md").read_text().splitlines() if "| Dense |" in line)
    assert "†" in dense, dense
    rows = [line for line in (tables / "deltas.md").read_text().splitlines() if "| L-MSE |" in line]
    assert len(rows) == 2 and all("†" in row for row in rows), rows


def test_core_id_is_the_id_of_the_same_code_without_plugins(tmp_path, monkeypatch):
    """code.core_id of a record made with a plug-in is the id a run of the same checkout without it records."""
    from sdp.run.code import PLUGINS_ENV, core_id, fingerprint

    (tmp_path / "my_r34_plugin.py").write_text("SCALE = 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(PLUGINS_ENV, raising=False)
    without = fingerprint()
    monkeypatch.setenv(PLUGINS_ENV, "my_r34_plugin")
    with_plugin = fingerprint()
    assert with_plugin["id"] != without["id"] and with_plugin["plugins"]
    assert core_id(with_plugin) == without["id"] == core_id(without)


def test_an_edited_plugin_criterion_between_a_row_and_its_mp_partner_is_still_marked(tmp_path):
    """KD (RAND) runs and their MP (RAND) partners both ran a plug-in criterion, edited in between (digests abc,
    def): one sdp code, other plug-in code, so the deltas are marked † (the first form of the fix compared the
    partners by sdp's code alone and dropped the mark: review)."""
    from sdp.report.report import build_report

    _plugin_pair(tmp_path, "T", mp_plugins={"my_terms": "def"}, methods=("MP (RAND)", "KD (RAND)"), criterion="rand")
    build_report(tmp_path, plots=False)
    rows = [line for line in (tmp_path / "tables" / "deltas.md").read_text().splitlines() if "| KD (RAND) |" in line]
    assert len(rows) == 2 and all("†" in row for row in rows), rows


def test_claims_do_not_call_a_plugins_runs_other_code(tmp_path):
    """MP and SDP-CC runs made without plug-ins, beside a plug-in method's runs, all of one sdp code: claims.md
    warned "2 of 2 pairing keys pair runs made by different code", citing a summary.md section that listed none."""
    from sdp.report.report import build_report

    for seed in (1, 2):
        for name, method, code in (("MP", "MP", _code("T")), ("CC", "SDP-CC", _code("T")),
                                   ("LM", "L-MSE", _code("T", {"my_terms": "abc"}))):
            run = _run(tmp_path, f"{name}{seed}", method, seed, 0.8 + 0.01 * seed,
                       regularizer={"name": "cross_correlation"} if method == "SDP-CC" else None)
            record = json.loads((run / "metrics.json").read_text())
            (run / "metrics.json").write_text(json.dumps({**record, "code": code}))
    build_report(tmp_path, plots=False)
    claims = (tmp_path / "tables" / "claims.md").read_text()
    assert "pair runs made by different code" not in claims, claims
    (tmp_path / "CC1" / "metrics.json").write_text(json.dumps({
        **json.loads((tmp_path / "CC1" / "metrics.json").read_text()), "code": _code("U")}))  # other sdp code
    build_report(tmp_path, plots=False)
    assert "Warning: 1 of 2 pairing keys pair runs made by different code" in (tmp_path / "tables" / "claims.md").read_text()


def test_a_long_value_is_cut_around_where_the_setups_differ(tmp_path):
    """Two custom data files whose paths differ past their 60th character printed as one value twice."""
    from sdp.report.setup_diff import _differ_words

    long = "/home/someone/experiments/sdp-study/data/custom/sentiment_v{}/train.csv"
    words = _differ_words(["task.train_file"], {"a1234567": {"task.train_file": long.format(1)},
                                                "b1234567": {"task.train_file": long.format(2)}})
    assert words == ("differ in task.train_file: [a1234567] task.train_file=…/sentiment_v1/train.csv'; "
                     "[b1234567] task.train_file=…/sentiment_v2/train.csv'"), words


def test_a_custom_tasks_rows_are_keyed_once(tmp_path, monkeypatch):
    """Loading a custom task made each training row's text_key twice (warn_conflicting_labels, then the comparison
    with the dev file): 400k rows cost seconds twice. Each row of each file is keyed once."""
    from omegaconf import OmegaConf

    import sdp.data.cells
    import sdp.data.custom
    import sdp.data.file_scan

    calls = []

    def counting(value, _key=sdp.data.file_scan.text_key):
        calls.append(value)
        return _key(value)

    for module in (sdp.data.cells, sdp.data.custom, sdp.data.file_scan):
        monkeypatch.setattr(module, "text_key", counting)
    train = write_csv(tmp_path / "train.csv", [(f"train row {i}", "pos" if i % 2 else "neg") for i in range(30)])
    dev = write_csv(tmp_path / "dev.csv", [(f"dev row {i}", "pos" if i % 2 else "neg") for i in range(7)] +
                    [("TRAIN  row 3", "pos")])
    cfg = OmegaConf.create({"name": "custom", "train_file": train, "validation_file": dev, "text_fields": ["text"],
                            "label_column": "label", "metric": "accuracy"})
    sdp.data.custom.custom_task(cfg)
    rows = [c for c in calls if c not in ("neg", "pos")]  # (the label names are keyed too, once each)
    assert len(rows) == 30 + 8, len(rows)
    assert calls.count("TRAIN  row 3") == 1


def _hash_file(values: list[int], version: int | None = None) -> bytes:
    """A ROW_KEYS_FILE of ``values`` (text key ``version``, this sdp's if None)."""
    import numpy as np

    from sdp.data.file_scan import TEXT_KEY_VERSION
    from sdp.data.fingerprint import ROW_KEYS_MAGIC

    head = ROW_KEYS_MAGIC + (TEXT_KEY_VERSION if version is None else version).to_bytes(4, "little")
    return head + np.array(sorted(values), dtype="<u8").tobytes()


def test_sdp_eval_says_which_rows_a_copied_model_trained_on_without_its_training_file(tmp_path, tokenizer,
                                                                                         monkeypatch):
    """sdp-eval compared a custom model's scored rows with part of its training file only while model/ sat in its run
    folder, and read the whole file to do it (21.6 s on 400k rows). The run writes its training rows' hashes
    (sdp_training_rows.u64) beside its record and into model/: a model/ copied away, its run folder and training file
    gone, still says which scored rows it trained on (upper-cased here), and a model of other rows says nothing."""
    import shutil

    import datasets
    import numpy as np
    from sdp.cli.eval import compose_config
    from test_probe_round32 import _classifier
    from test_probe_round33 import _eval
    from transformers import AutoModelForSequenceClassification

    from sdp.data.fingerprint import ROW_KEYS_FILE, read_row_hashes
    from sdp.models.card import NOT_UPLOADED
    from sdp.run.data_record import record_data
    from sdp.run_summary import save_model_dir

    rows = [(f"training text number {i} here", ("neg", "pos")[i % 2]) for i in range(20)]
    ds = datasets.Dataset.from_dict({"text": [t for t, _ in rows], "label": [i % 2 for i in range(20)]})
    run = tmp_path / "run"
    run.mkdir()
    cfg = compose_config(["task=custom", "task.text_fields=[text]", "task.label_column=label", "resume=false"])
    record_data(run, cfg, datasets.DatasetDict({"train": ds}), main_process=True, fields=("text",))
    hashes = read_row_hashes(run)
    assert hashes is not None and len(hashes) == 20 and np.all(np.diff(hashes.astype(np.float64)) >= 0)
    model = AutoModelForSequenceClassification.from_pretrained(_classifier(tokenizer, tmp_path / "plain"))
    save_model_dir(run / "model", model, tokenizer, cfg=cfg)
    assert (run / "model" / ROW_KEYS_FILE).read_bytes() == (run / ROW_KEYS_FILE).read_bytes()
    assert NOT_UPLOADED == ROW_KEYS_FILE  # kept off the Hub by push_to_hub
    away = tmp_path / "away" / "model"
    shutil.copytree(run / "model", away)
    shutil.rmtree(run)
    upper = write_csv(tmp_path / "up.csv", [(t.upper(), y) for t, y in rows[:6]] + [("a new text", "neg")] * 2)
    record = _eval(tmp_path, away, "e1", upper)
    said = [w for w in record.get("warnings", []) if "rows repeat a row model_dir was trained on" in w]
    assert len(said) == 1 and "split validation: 6 of 8 rows" in said[0] and "rows [1, 2, 3, 4, 5]" in said[0], said
    monkeypatch.setenv("HOME", str(tmp_path))  # model_dir=~/...: read where sdp-eval reads the model (review)
    record = _eval(tmp_path, "~/away/model", "e1h", upper)
    assert any("6 of 8 rows repeat a row model_dir was trained on" in w for w in record.get("warnings", [])), record
    (away / ROW_KEYS_FILE).write_bytes(_hash_file([1, 2, 3]))  # a model of other rows
    warnings = _eval(tmp_path, away, "e2", upper).get("warnings", [])
    assert not any("repeat a row" in w for w in warnings), warnings  # nothing compared, and said (probe round 38, hl5)
    assert any("were not compared with the rows model_dir was trained on" in w for w in warnings), warnings


def test_the_row_hashes_hold_the_rows_of_the_checkpoint_a_run_starts_from_and_are_made_once(tmp_path, tokenizer,
                                                                                             monkeypatch):
    """A prune-only run of a dense.checkpoint recorded its own rows only, so sdp-eval of the rows the checkpoint was
    fine-tuned on said nothing (review); the run's file now holds both. A launch on the data its run.json already
    records (a resume) does not hash the rows again."""
    import datasets
    from sdp.cli.eval import compose_config
    from test_probe_round32 import _classifier

    import sdp.run.data_record
    from sdp.data.fingerprint import ROW_KEYS_FILE, read_row_hashes
    from sdp.run.data_record import record_data

    dense = _classifier(tokenizer, tmp_path / "dense_model")
    (dense / ROW_KEYS_FILE).write_bytes(_hash_file([5, 6]))
    ds = datasets.Dataset.from_dict({"text": [f"row {i}" for i in range(4)], "label": [0, 1, 0, 1]})
    run = tmp_path / "run"
    run.mkdir()
    cfg = compose_config(["task=custom", "task.text_fields=[text]", "task.label_column=label", f"dense.checkpoint={dense}"])
    record_data(run, cfg, datasets.DatasetDict({"train": ds}), main_process=True, fields=("text",))
    hashes = read_row_hashes(run)
    assert len(hashes) == 6 and {5, 6} <= set(hashes.tolist()), hashes

    made = []
    monkeypatch.setattr(sdp.run.data_record, "write_row_hashes", lambda *args: made.append(args))
    record_data(run, cfg, datasets.DatasetDict({"train": ds}), main_process=True, fields=("text",))  # resumed
    assert made == []
    other = datasets.Dataset.from_dict({"text": [f"row {i}" for i in range(5)], "label": [0, 1, 0, 1, 0]})
    cfg.resume = False  # (a resume on other data is refused)
    record_data(run, cfg, datasets.DatasetDict({"train": other}), main_process=True, fields=("text",))
    assert len(made) == 1


def test_row_hashes_of_another_text_key_version_are_not_compared(tmp_path, caplog):
    """A file written under another text key (unspaced CJK keys, before round 34's fix) missed spaced rows: it is
    not read, and said, so the older comparisons are made; a file without the header is not read either."""
    import logging

    import datasets

    from sdp.data.fingerprint import ROW_KEYS_FILE, read_row_hashes, rows_among, write_row_hashes

    ds = datasets.Dataset.from_dict({"text": ["这部电影很好看", "good film"]})
    write_row_hashes(tmp_path, ds, ["text"])
    hashes = read_row_hashes(tmp_path)
    assert rows_among(datasets.Dataset.from_dict({"text": ["这 部 电 影 很 好 看", "GOOD  film", "new"]}), ["text"],
                      hashes) == [1, 2]
    (tmp_path / ROW_KEYS_FILE).write_bytes(_hash_file(hashes.tolist(), version=1))
    with caplog.at_level(logging.WARNING, logger="sdp"):
        assert read_row_hashes(tmp_path) is None
    from sdp.data.file_scan import TEXT_KEY_VERSION

    assert f"holds rows keyed by text key version 1 (this sdp keys by {TEXT_KEY_VERSION}), not read: the scored " \
           "rows" in caplog.text
    caplog.clear()
    (tmp_path / ROW_KEYS_FILE).write_bytes(hashes.astype("<u8").tobytes())  # 37ced31's form: no header
    with caplog.at_level(logging.WARNING, logger="sdp"):
        assert read_row_hashes(tmp_path) is None
    assert "was written without a text key version (an older sdp's file, or not one)" in caplog.text, caplog.text


def test_a_checkpoints_row_hashes_not_read_are_said_and_a_resume_rewrites_an_old_file(tmp_path, tokenizer, caplog):
    """A dense.checkpoint whose row-hash file this sdp does not read: its rows are left out of the run's file, and
    sdp-run says so in words true there (it said "compared by the older checks", and no check named them); a resumed
    run's file of an older form is written again (it was kept, and copied into model/ never to be read)."""
    import logging

    import datasets
    from sdp.cli.eval import compose_config
    from test_probe_round32 import _classifier

    from sdp.data.fingerprint import ROW_KEYS_FILE, read_row_hashes
    from sdp.run.data_record import record_data

    dense = _classifier(tokenizer, tmp_path / "dense_model")
    (dense / ROW_KEYS_FILE).write_bytes(_hash_file([5, 6], version=1))
    ds = datasets.Dataset.from_dict({"text": [f"row {i}" for i in range(4)], "label": [0, 1, 0, 1]})
    run = tmp_path / "run"
    run.mkdir()
    cfg = compose_config(["task=custom", "task.text_fields=[text]", "task.label_column=label", f"dense.checkpoint={dense}"])
    with caplog.at_level(logging.WARNING, logger="sdp"):
        record_data(run, cfg, datasets.DatasetDict({"train": ds}), main_process=True, fields=("text",))
    assert ("dense.checkpoint: " in caplog.text and "holds rows keyed by text key version 1" in caplog.text
            and "the rows it was fine-tuned on are not in this run's sdp_training_rows.u64" in caplog.text), caplog.text
    assert "sdp-eval: " not in caplog.text  # sdp-run's words, not sdp-eval's (second review)
    assert len(read_row_hashes(run)) == 4
    before = (run / ROW_KEYS_FILE).stat().st_mtime_ns
    record_data(run, cfg, datasets.DatasetDict({"train": ds}), main_process=True, fields=("text",))  # relaunched
    assert (run / ROW_KEYS_FILE).stat().st_mtime_ns == before  # a file of this version is kept
    (run / ROW_KEYS_FILE).write_bytes(read_row_hashes(run).astype("<u8").tobytes())  # an older form, headerless
    record_data(run, cfg, datasets.DatasetDict({"train": ds}), main_process=True, fields=("text",))  # resumed
    assert read_row_hashes(run) is not None and len(read_row_hashes(run)) == 4


def test_text_key_version_names_what_text_key_returns():
    """TEXT_KEY_VERSION must change with text_key: a model's row hashes are compared only under the version they were
    made with. If this fails after a change to text_key, bump TEXT_KEY_VERSION and update the keys below."""
    from sdp.data.file_scan import TEXT_KEY_VERSION, text_key

    keys = {text_key(t) for t in ("GOOD  film", "Tr\u00e8s bien", "\u597d\u7535\u5f71", "a\u200bb", "\uff21\uff22",
                                  "\u0928\u0939\u0940\u0902", "x\u0301y", "\u0645\u0631\u062d\u0628\u0627",
                                  "\u2764\ufe0f")}
    assert TEXT_KEY_VERSION == 3 and keys == {"good film", "tres bien", "\u597d \u7535 \u5f71", "ab", "\u0928\u0939\u0940\u0902", "xy",
                                              "\u0645\u0631\u062d\u0628\u0627", "\u2764"}


def test_look_alike_letters_are_read_in_the_case_written():
    """LOOK_ALIKE mapped casefolded letters: micrograms and milligrams ('µg', 'mg'), 'μs' and 'ms', and the Kazakh
    'һан' and 'нан' were refused as one label in look-alike letters; 'Good 好评' and 'good好评' were said to differ in
    accents or invisible characters (review of round 34). Look-alikes are a second key: 'Нет' and 'нет' are still one
    label told by case, and accented or compatibility forms ('naїve', '𝚨') still look-alikes (second review)."""
    from sdp.data.file_scan import label_problem, look_alikes

    for names in (["mg", "ml", "µg"], ["ms", "μs"], ["нан", "һан"], ["Нан", "Һан"], ["позитив", "негатив", "нейтрально"],
                  ["да", "нет"], ["так", "ні"], ["ус", "үс"], ["уч", "үч"], ["Нан", "һан"], ["е", "ҽ"], ["Jam", "Ͽam"]):
        assert label_problem(sorted(names)) is None, names  # one script's other words (third review: ус/үс, Нан/һан)
    for names in (["neg", "pos", "pоs"], ["POS", "РОS"], ["naïve", "naїve"], ["data", "dαta"], ["Yes", "Үes"],
                  ["Cat", "Ϲat"], ["cat", "ϲat"], ["Jam", "Ϳam"]):
        assert "differ only in look-alike letters of another script (" in label_problem(sorted(names)), names
    assert "differ only in look-alike letters (mathematical ones" in label_problem(["A", "𝚨"])  # round 47's words
    for names in (["Pos", "pоs"], ["ok", "ΟΚ"]):  # not only the letters: said
        assert "look-alike letters of another script and in letter case or spacing" in label_problem(sorted(names))
    assert look_alikes(["һa"], ["Һа"]) == "" and "'1.0' is '1' written otherwise" in look_alikes(["1.0"], ["1"])
    for names in (["Good 好评", "good好评"], ["Нет", "нет"], ["Καλό", "καλό"]):  # case: still one label (the first fix
        assert "differ only in spaces or letter case" in label_problem(sorted(names)), names  # lost these)
