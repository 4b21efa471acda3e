"""The exact tables, summary and CSVs produced from small hand-written results trees."""

from __future__ import annotations

from pathlib import Path

from conftest import run_record, stsb, write_run

from sdp.report.render import fmt_num, fmt_sparsity, tex_escape
from sdp.report.report import build_report

GLUE_TABLE = """\
| Model | Method | Sparsity | MRPC F1/acc | STS-B P/S | GLUE avg | Source |
| :-- | :-- | :-- | --: | --: | --: | :-- |
| minilm | Dense | 0% | 91.00/81.00 ± 1.41/1.41 (n=2)† | 88.00/86.00 (n=1) | 86.50† | run here |
| minilm | MP | 50% | 81.00/71.00 ± 1.41/1.41 (n=2)† | 80.00/78.00 (n=1) | 77.50† | run here |
| minilm | SDP-CC | 50% | 85.50/75.50 ± 0.71/0.71 (n=2) | — | — | run here |
| bert-base | [pub] MP+KD | 50% | 88.80/— | — | — | Someone 2020 |
"""

DELTAS = """\
## Δ main score vs Dense (points)

| Model | Method | Sparsity | MRPC | STS-B |
| :-- | :-- | :-- | --: | --: |
| minilm | MP | 50% | -10.00 (n=2)† | -8.00 (n=1) |
| minilm | SDP-CC | 50% | -5.50 (n=2)† | — |

- Paired run by run: each run minus the dense score of the model it pruned (its own record's, whichever seed trained that model), or minus the MP run of its setup, task, seed and sparsity; mean over the n seeds that have the partner; — = no partner or no run.
- † = the cell aggregates runs from different code versions (see summary.md).

## Δ main score vs MP at the same sparsity (points)

| Model | Method | Sparsity | MRPC |
| :-- | :-- | :-- | --: |
| minilm | SDP-CC | 50% | +4.50 (n=2)† |
"""

XGLUE_TABLE = """\
| Model | Method | Sparsity | en | de | Mean |
| :-- | :-- | :-- | --: | --: | --: |
| minilm | Dense | 0% | 81.00 ± 1.41 (n=2) | 71.00 ± 1.41 (n=2) | 76.00 ± 1.41 (n=2) |
| minilm | MP | 90% | 76.00 ± 1.41 (n=2) | 62.00 ± 2.83 (n=2) | 69.00 ± 2.12 (n=2) |
| minilm | SDP-CC+AWR-cos | 90% | 78.00 (n=1) | 66.00 (n=1) | 72.00 (n=1) |
"""

XGLUE_DROP = """\
| minilm | MP | 90% | 5.00 ± 0.00 (n=2) | 9.00 ± 1.41 (n=2) | 7.00 |
| minilm | SDP-CC+AWR-cos | 90% | 2.00 (n=1) | 4.00 (n=1) | 3.00 |
"""


def test_glue_markdown_exact(glue_tree: Path) -> None:
    build_report(glue_tree, plots=False)
    text = (glue_tree / "tables" / "glue.md").read_text()
    assert GLUE_TABLE in text
    assert "GLUE avg = mean of the main scores of MRPC, STS-B" in text
    assert "No runs were found" not in text


def test_deltas_exact(glue_tree: Path) -> None:
    build_report(glue_tree, plots=False)
    assert DELTAS in (glue_tree / "tables" / "deltas.md").read_text()
    csv = (glue_tree / "tables" / "deltas.csv").read_text().splitlines()
    assert csv[0] == ("model,method,schedule,teacher,sparsity,variant,task,mean,delta_dense,delta_mp,n_dense,n_mp,"
                      "flagged,undefined_dense,undefined_mp")
    assert csv[3] == "minilm,SDP-CC,cubic,frozen,0.5,,mrpc,80.5000,-5.5000,4.5000,2,2,1,0,0"


def test_glue_csv_and_latex(glue_tree: Path) -> None:
    build_report(glue_tree, plots=False)
    out = glue_tree / "tables"
    lines = (out / "glue.csv").read_text().splitlines()
    assert lines[0] == ("origin,model,method,schedule,teacher,sparsity,variant,task,metric,mean,std,n,flagged,undefined,"
                        "versions,source,note")
    assert "run,minilm,MP,cubic,frozen,0.5,,mrpc,f1,81.0000,1.4142,2,1,0,aaa bbb,," in lines
    assert "run,minilm,MP,cubic,frozen,0.5,,stsb,main,79.0000,,1,0,0,aaa,," in lines
    assert "published,bert-base,MP+KD,,,0.5,,mrpc,f1,88.8000,,,0,0,,Someone 2020," in lines
    assert not any(",SDP-CC,cubic,frozen,0.5,,stsb," in line for line in lines)  # missing, not zero
    tex = (out / "glue.tex").read_text()
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    assert "minilm & MP & 50\\% & 81.00/71.00 $\\pm$ 1.41/1.41 (n=2)$^\\dagger$ & 80.00/78.00 (n=1) & " \
        "77.50$^\\dagger$ & run here \\\\" in tex  # fmt: skip


def test_summary_reports_problems(glue_tree: Path) -> None:
    build_report(glue_tree)  # traces are read for the plots
    text = (glue_tree / "tables" / "summary.md").read_text()
    for line in (
        "- metrics.json files found: 10",
        "- completed runs used: 5 (identical duplicates collapsed: 1)",
        "- failed runs: 1",
        "- malformed metrics.json skipped: 2",
        "| `runs/bad/j8` | failed | mrpc | KD | 50% | 3 | RuntimeError: CUDA out of memory |",
        "- `runs/bad/j9/metrics.json`: `final` is not an object",
        "- task=mrpc, model=minilm, method=SDP-CC, schedule=cubic, teacher=frozen, target_sparsity=50%, seed=1: "
        "`runs/sweepA/j2` (79.00); `runs/sweepB/j2` (80.00); kept `runs/sweepB/j2` (newest)",
        "- warning: `mrpc / minilm / MP / 50% / cubic / frozen` mixes code versions aaa, bbb (sdp's own code, or the plug-in "
        "files its runs loaded, differ; marked †)",
        "- `runs/sweepA/j1/trace.jsonl`: 1 unreadable line(s) skipped",
    ):
        assert line in text, line
    assert text.count("runs/bad/j7/metrics.json") == 1


def test_xglue_tables(xglue_tree: Path) -> None:
    build_report(xglue_tree, plots=False)
    text = (xglue_tree / "tables" / "xglue.md").read_text()
    assert XGLUE_TABLE in text and XGLUE_DROP in text
    assert (xglue_tree / "tables" / "xglue.tex").is_file()
    assert "run,minilm,MP,cubic,frozen,0.9,,xnli,drop/de,9.0000,1.4142,2,0,0,aaa,," in (
        xglue_tree / "tables" / "xglue.csv").read_text().splitlines()  # fmt: skip
    # Paired with MP's seed-1 run (the same dense model): 72.00 - 67.50. The unpaired difference of means over
    # seeds (72.00 - 69.00 = +3.00) would charge SDP-CC with MP's seed 2, which it never ran.
    assert "| minilm | SDP-CC+AWR-cos | 90% | +4.50 (n=1) |" in (xglue_tree / "tables" / "deltas.md").read_text()


def test_no_xglue_without_cross_lingual_runs(glue_tree: Path) -> None:
    build_report(glue_tree, plots=False)
    assert not (glue_tree / "tables" / "xglue.md").exists()


def test_empty_results_dir_gives_published_rows(tmp_path: Path) -> None:
    root = tmp_path / "results"
    (root / "baselines").mkdir(parents=True)
    repo_csv = Path(__file__).resolve().parents[2] / "results" / "baselines" / "published_glue.csv"
    (root / "baselines" / "published_glue.csv").write_text(repo_csv.read_text())
    report = build_report(root)
    glue = (root / "tables" / "glue.md").read_text()
    assert "- No runs were found: only published rows are shown." in glue
    assert "| bert-base | [pub] MP+KD | 90% | — | — | — | — | 79.80/65.00 | 78.30/79.30 | — | — | — | " \
        "Sanh et al. 2020, Movement Pruning, Table 1 |" in glue  # fmt: skip
    assert "**No runs were found**" in (root / "tables" / "summary.md").read_text()
    assert not (root / "tables" / "plots").exists()
    assert {p.name for p in report.files} == {f"{s}.{e}" for s in ("glue", "deltas") for e in ("md", "tex", "csv")} | {
        "summary.md"}  # fmt: skip


def test_config_variants_split_rows(tmp_path: Path) -> None:
    for i, h in enumerate(("aaaa1111zz", "bbbb2222zz")):
        write_run(tmp_path, f"r{i}", run_record("stsb", "KD", 0.5, 1, stsb(0.8 + i / 10, 0.8), None,
                                                 config_hash=h))  # fmt: skip
    build_report(tmp_path, plots=False)
    glue = (tmp_path / "tables" / "glue.md").read_text()
    assert "| minilm | KD [aaaa1111] | 50% | 80.00/80.00 (n=1) |" in glue
    assert "| minilm | KD [bbbb2222] | 50% | 90.00/80.00 (n=1) |" in glue
    assert "rows split by config hash" in (tmp_path / "tables" / "summary.md").read_text()


def test_formatting_helpers() -> None:
    assert fmt_num(-0.001) == "0.00" and fmt_num(-0.001, signed=True) == "+0.00"
    assert fmt_num(float("nan")) == "—"
    assert fmt_sparsity(0.9) == "90%" and fmt_sparsity(0.975) == "97.5%"
    assert tex_escape("a_b 5% ± †") == "a\\_b 5\\% $\\pm$ $^\\dagger$"


def _avg_column(glue_md: str, name: str = "GLUE avg") -> dict[str, str]:
    """Method label -> its cell in the column ``name``, for every row of the markdown table."""
    lines = [ln for ln in glue_md.splitlines() if ln.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    col = header.index(name)
    rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]
    return {f"{r[1]} {r[2]}": r[col] for r in rows}


def _sst2_run_beside_the_published_rows(tmp_path: Path) -> Path:
    """A results folder with the repository's published GLUE rows and one MP run on SST-2 (80.00)."""
    root = tmp_path / "results"
    (root / "baselines").mkdir(parents=True)
    repo_csv = Path(__file__).resolve().parents[2] / "results" / "baselines" / "published_glue.csv"
    (root / "baselines" / "published_glue.csv").write_text(repo_csv.read_text())
    sst2 = {"accuracy": 0.8, "main": 0.8}
    write_run(root, "r1", run_record("sst2", "MP", 0.9, 1, sst2, sst2))
    return root


def test_glue_avg_never_one_task_under_the_label(tmp_path: Path) -> None:
    # Runs on SST-2 only, published rows on more tasks: the table's GLUE set is every task with a column,
    # so neither the runs nor a published row with SST-2 + three others get an "average" of one task.
    root = _sst2_run_beside_the_published_rows(tmp_path)
    build_report(root, plots=False)
    avg = _avg_column((root / "tables" / "glue.md").read_text())
    assert avg["MP 90%"] == "—" and avg["Dense 0%"] == "—"
    assert avg["[pub] CoFi (structured) 95%"] == "—"  # was 90.40, its SST-2 score alone


def test_runs_on_fewer_glue_tasks_than_the_published_rows_get_their_own_average(tmp_path: Path) -> None:
    """Runs on SST-2 and MRPC beside the repository's published rows (all eight GLUE tasks): the GLUE avg stays
    the eight-task one (— for the runs), and a second column averages SST-2 and MRPC for every row that has them."""
    root = _sst2_run_beside_the_published_rows(tmp_path)
    write_run(root, "r2", run_record("mrpc", "MP", 0.9, 1, {"f1": 0.7, "accuracy": 0.6, "main": 0.65},
                                     {"f1": 0.9, "accuracy": 0.8, "main": 0.85}))
    build_report(root, plots=False)
    text = (root / "tables" / "glue.md").read_text()
    avg, runs_avg = _avg_column(text), _avg_column(text, "Avg of runs' tasks")
    assert avg["MP 90%"] == "—" and runs_avg["MP 90%"] == "72.50" and runs_avg["Dense 0%"] == "82.50"
    # transformers' run_glue README: SST-2 92.32, MRPC (88.85 + 84.07) / 2; and its eight-task GLUE avg.
    assert runs_avg["[pub] Dense (run_glue) 0%"] == "89.39" and avg["[pub] Dense (run_glue) 0%"] == "81.67"
    assert "Avg of runs' tasks = mean of the main scores of SST-2, MRPC (the GLUE tasks the runs cover)" in text


def test_two_setups_of_a_task_never_mix_dense_rows_or_mp_partners(tmp_path: Path) -> None:
    """A study and a demo sweep in one results folder: two dense models of SST-2 (two Dense rows, labelled by
    setup), and each KD run is compared with the MP run of its own setup, never with the other's."""
    import json

    for name, epochs, dense, finals in (("study", 3, 0.84, {"MP": 0.76, "KD": 0.79}),
                                        ("demo", 1, 0.83, {"MP": 0.78, "KD": 0.79})):
        for method, final in finals.items():
            path = write_run(tmp_path, f"{name}/{method}", run_record(
                "sst2", method, 0.9, 1, {"main": final}, {"main": dense}, config_hash=f"{name}{method}")).parent
            (path / "run.json").write_text(json.dumps({"config": {"dense": {"epochs": epochs}, "regularizer": {}}}))
    build_report(tmp_path, plots=False)
    glue = (tmp_path / "tables" / "glue.md").read_text()
    dense_rows = [line for line in glue.splitlines() if line.startswith("| minilm | Dense [")]
    assert sorted(r.split(" | ")[3].split(" ")[0] for r in dense_rows) == ["83.00", "84.00"]
    deltas = (tmp_path / "tables" / "deltas.md").read_text().split("## Δ main score vs MP")[1]
    kd_rows = sorted(line.split(" | ")[-1] for line in deltas.splitlines() if line.startswith("| minilm | KD ["))
    assert kd_rows == ["+1.00 (n=1) |", "+3.00 (n=1) |"]  # demo 79 - 78, study 79 - 76: each with its own MP


def test_one_experiment_keeps_one_row_label_across_tasks(tmp_path: Path) -> None:
    """A study on two tasks and a demo on one of them: the study's row carries its label in both task columns,
    not unlabelled in one and labelled in the other (labels used to be chosen per task)."""
    import json

    from conftest import mrpc

    runs = (("study", 3, "mrpc", mrpc(0.8, 0.7)), ("study", 3, "stsb", stsb(0.5, 0.4)), ("demo", 1, "mrpc", mrpc(0.6, 0.5)))
    for name, epochs, task, final in runs:
        path = write_run(tmp_path, f"{name}/{task}", run_record(task, "MP", 0.9, 1, final, None,
                                                                   config_hash=f"{name}{task}")).parent
        config = {"task": {"name": task}, "dense": {"epochs": epochs}, "regularizer": {}}
        (path / "run.json").write_text(json.dumps({"config": config}))
    build_report(tmp_path, plots=False)
    rows = [line for line in (tmp_path / "tables" / "glue.md").read_text().splitlines()
            if line.startswith("| minilm | MP")]
    assert len(rows) == 2 and all(" [" in r.split(" | ")[1] for r in rows)
    study = next(r for r in rows if "50.00/40.00" in r)
    assert "80.00/70.00" in study  # the study's MRPC and STS-B cells on one row


def test_metrics_of_one_cell_over_different_seeds_show_each_n(tmp_path: Path) -> None:
    """A run that lacks one metric of a pair (F1 not finite): the cell says n=3/2, not a single n=2."""
    from conftest import mrpc

    for seed in (1, 2, 3):
        final = mrpc(0.8, 0.7)
        if seed == 2:
            final = {"accuracy": 0.7, "main": 0.75}
        write_run(tmp_path, f"r{seed}", run_record("mrpc", "MP", 0.9, seed, final, None))
    build_report(tmp_path, plots=False)
    assert "| 80.00/70.00 ± 0.00/0.00 (n=2/3) |" in (tmp_path / "tables" / "glue.md").read_text()


def test_setup_labels_are_explained_and_costs_uses_the_same_hashes(tmp_path: Path) -> None:
    """Probe round 20, r04: glue.md labelled rows `Dense [1d668756]` with no word of what the hash is, and costs.md
    named the same two setups by other hashes (the setup with the task; glue.md's is without it)."""
    import json

    for name, epochs in (("study", 3), ("demo", 1)):
        path = write_run(tmp_path, f"{name}/MP", run_record("sst2", "MP", 0.9, 1, {"main": 0.8}, {"main": 0.84},
                                                            config_hash=name, wall_seconds=5.0)).parent
        (path / "run.json").write_text(json.dumps({"config": {"dense": {"epochs": epochs}, "regularizer": {},
                                                              "task": {"name": "sst2"}}}))
    build_report(tmp_path, plots=False)
    glue = (tmp_path / "tables" / "glue.md").read_text()
    labels = sorted(line.split(" | ")[1].split("[")[1].rstrip("]") for line in glue.splitlines()
                    if line.startswith("| minilm | Dense ["))
    assert len(labels) == 2 and "[hash] after a method = the runs' setup" in glue
    costs = (tmp_path / "tables" / "costs.md").read_text()
    assert sorted(line.split(" | ")[2] for line in costs.splitlines() if line.startswith("| sst2 |")) == labels


def test_a_methods_rows_are_all_labelled_where_any_of_them_mixes_setups(tmp_path: Path) -> None:
    """A study at 50% and 90%, a demo at 90% only: MP 90% was labelled (two setups) and MP 50% was not, so a reader
    could not tell which experiment's row it was (probe round 20's left). Every MP row names its setup."""
    import json

    for name, epochs, sparsities in (("study", 3, (0.5, 0.9)), ("demo", 1, (0.9,))):
        for sp in sparsities:
            path = write_run(tmp_path, f"{name}/MP{sp}", run_record("sst2", "MP", sp, 1, {"main": sp / 2}, None,
                                                                    config_hash=f"{name}{sp}")).parent
            (path / "run.json").write_text(json.dumps({"config": {"dense": {"epochs": epochs}, "regularizer": {},
                                                                  "task": {"name": "sst2"}}}))
    build_report(tmp_path, plots=False)
    rows = [line.split(" | ")[1:3] for line in (tmp_path / "tables" / "glue.md").read_text().splitlines()
            if line.startswith("| minilm | MP")]
    assert len(rows) == 3 and all(" [" in label for label, _ in rows), rows
    study = {sp for label, sp in rows if label == next(lb for lb, s in rows if s == "50%")}
    assert study == {"50%", "90%"}  # the study's two rows carry one label
