"""costs.md: wall_seconds per task, setup, kind of run and method; a resumed run (or one without a trace) is
counted, never averaged."""

from __future__ import annotations

from pathlib import Path

from conftest import run_record, write_run

from sdp.report.report import build_report

TRACE = [{"event": "train", "step": 1, "loss": 1.0}]


def _rows(tmp_path: Path) -> list[str]:
    return [line for line in (tmp_path / "tables" / "costs.md").read_text().splitlines() if line.startswith("| sst2")]


def test_costs_table_leaves_resumed_runs_out_of_the_statistics(tmp_path: Path):
    acc = {"accuracy": 0.8, "main": 0.8}
    write_run(tmp_path, "dense/sst2_seed1", run_record("sst2", "MP", 0.0, 1, acc, acc, wall_seconds=600.0), trace=TRACE)
    write_run(tmp_path, "dense_copy/sst2_seed1", run_record("sst2", "MP", 0.0, 1, acc, acc, wall_seconds=600.0),
              trace=TRACE)  # the same dense model's record twice (a copied folder): counted once
    for name, seed, seconds, trace in (("mp1", 1, 100.0, TRACE), ("mp2", 2, 300.0, TRACE),
                                       ("mp3", 3, 40.0, [*TRACE, {"event": "resume", "stage": "prune", "step": 5},
                                                         "not json, but says \"resume\""]),
                                       ("mp4", 4, 50.0, None)):  # no trace: cannot show it ran in one launch
        write_run(tmp_path, f"runs/{name}", run_record("sst2", "MP", 0.9, seed, acc, acc, wall_seconds=seconds),
                  trace=trace)
        (tmp_path / "runs" / name / ".hydra").mkdir()
        (tmp_path / "runs" / name / ".hydra" / "config.yaml").write_text(
            "dense:\n  checkpoint: /somewhere/dense_model\n")
    write_run(tmp_path, "demo/kd1", run_record("sst2", "KD", 0.9, 1, acc, acc, wall_seconds=900.0), trace=TRACE)
    write_run(tmp_path, "runs/kd1", run_record("sst2", "KD", 0.9, 2, acc, acc))  # an older record: no wall_seconds,
    # left out and counted (round 46, Left: a record without a time was dropped unsaid)
    (tmp_path / "README.md").write_text("# Study\n<!-- sdp-tables: costs.md -->\nSTALE\n<!-- /sdp-tables: costs.md -->\n"
                                        "end\n")
    build_report(tmp_path, plots=False)
    rows = _rows(tmp_path)
    assert rows == ["| sst2 | minilm | — | dense model (sparsity 0) | — | 600 | 600-600 | 1 | 0 |",
                    "| sst2 | minilm | — | dense + pruning | KD | 900 | 900-900 | 1 | 1 |",
                    "| sst2 | minilm | — | pruning (given dense model) | MP | 200 | 100-300 | 2 | 2 |"]
    readme = (tmp_path / "README.md").read_text()
    assert "STALE" not in readme and rows[2] in readme and readme.endswith("end\n")  # the quoted copy, refreshed
    text = (tmp_path / "tables" / "costs.md").read_text()
    build_report(tmp_path, plots=False)
    assert (tmp_path / "tables" / "costs.md").read_text() == text  # byte-identical on a re-run
