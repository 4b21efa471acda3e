"""The structured comparison grid (issue 28, "Evidence"): each level's sparsity fixes the shape whose latency was
measured (results/structured/levels/levels.json), the grid (scripts/grids/structured.yaml) runs at those levels and
its preset composes for every run, and the report reads records only (scripts/structured_levels.py,
conf/experiment/structured_grid.yaml, scripts/structured_report.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch
from scipy import stats
from transformers import BertConfig, BertForSequenceClassification

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import structured_levels  # noqa: E402
import structured_report  # noqa: E402

from sdp.pruning.build import mask_state  # noqa: E402
from sdp.pruning.criteria.l2 import L2  # noqa: E402
from sdp.pruning.masks import select_prunable  # noqa: E402
from sdp.report.floors import task_floor  # noqa: E402

LEVELS = REPO / "results" / "structured" / "levels" / "levels.json"
LEVELS_QUIET = REPO / "results" / "structured" / "levels_quiet" / "levels.json"  # re-measured idle, with "4x+"


def six_layers() -> BertForSequenceClassification:
    """A tiny BERT with MiniLM's 6 layers: what a level removes depends only on the layer count (every layer has
    the same prunable weights), not on the width."""
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=6, num_attention_heads=2,
                     intermediate_size=32, num_labels=2)
    return BertForSequenceClassification(cfg).eval()


def pruned_shape(sparsity: float) -> list[dict[str, int]]:
    """The kept shape after the grid's cubic schedule climbs to ``sparsity`` with prune.structures=[layers]."""
    model = six_layers()
    state = mask_state(model, select_prunable(model), L2(), "structured", structures=["layers"], target=sparsity)
    for i in range(1, 11):  # increasing targets, as the schedule's events give them (the last one is the target)
        state.update(sparsity * (1 - (1 - i / 10) ** 3))
    return state.kept_shapes()


@pytest.mark.parametrize("kept", [5, 4, 3, 2, 1])
def test_a_level_sparsity_removes_exactly_its_layers_at_full_width(kept):
    """level_sparsity(k) keeps k whole layers; 4/6 written as 0.6667 would take a fifth layer, hence 0.66."""
    shape = pruned_shape(structured_levels.level_sparsity(kept))
    assert sum(1 for s in shape if s["heads"]) == kept
    assert all(s in ({"heads": 2, "ffn": 32}, {"heads": 0, "ffn": 0}) for s in shape)
    assert structured_levels.level_sparsity(2) == 0.66 and structured_levels.level_sparsity(3) == 0.5


@pytest.mark.parametrize("levels_file", [LEVELS, LEVELS_QUIET], ids=["first", "quiet"])
def test_the_measured_levels_the_preset_and_the_grid_agree(tmp_path, levels_file):
    """The committed measurement names each level's sparsity and shape; the preset prunes whole layers only and
    composes for every run the study runner makes of the grid (dense model, MP, KD and SDP-CC per level)."""
    import grid
    from hydra import compose, initialize_config_dir

    import sdp.config  # noqa: F401

    levels = json.loads(levels_file.read_text())
    names = [lv["level"] for lv in levels["levels"]]  # the first measurement predates the "4x+" level
    assert names[:2] == list(structured_levels.TARGETS) and set(names[2:]) <= set(structured_levels.AT_LEAST)
    for lv in levels["levels"]:
        assert lv["sparsity"] == structured_levels.level_sparsity(lv["layers_kept"])
        assert sum(1 for s in pruned_shape(lv["sparsity"]) if s["heads"]) == lv["layers_kept"]
        assert lv["speedup"]["torch_b1"]["median"] > 1 and lv["speedup"]["onnxruntime_b1"]["median"] > 1
    assert levels["git"]["commit"] and levels["machine"]["cpu_model"]
    sparsities = [lv["sparsity"] for lv in levels["levels"]]
    opts = grid.compose_grid("structured", ["sparsities=[" + ",".join(map(str, sparsities)) + "]"])
    chains = grid.HOOKS[opts.hook].plan(opts, tmp_path)
    assert len({job[0] for c in chains for job in c}) == 6 + 2 * 3 * 3 * len(sparsities)  # a dense job can sit in 2 chains
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        for _, over, *_ in chains[0]:
            cfg = compose("config", overrides=["experiment=structured_grid", *over])
            assert cfg.prune.granularity == "structured" and list(cfg.prune.structures) == ["layers"]
            assert cfg.max_train_samples == 2000 and cfg.dense.epochs == 3 and cfg.prune.epochs == 2
        assert compose("config", overrides=["experiment=structured_grid"]).sparsity in sparsities


def test_the_4x_level_is_the_most_layers_at_or_above_4x_not_taken_by_a_target():
    b1 = {5: 1.2, 4: 1.5, 3: 1.9, 2: 2.8, 1: 5.2}
    assert structured_levels.choose(b1) == {"2x": 3, "3-4x": 2, "4x+": 1}
    assert structured_levels.choose({**b1, 2: 4.1})["4x+"] == 1  # 2 layers is taken by "3-4x"
    with pytest.raises(SystemExit, match="no candidate reaches 4.0x"):
        structured_levels.choose({**b1, 1: 3.9})


def _levels(root: Path) -> None:
    (root / "levels").mkdir(parents=True)
    (root / "levels" / "levels.json").write_text(json.dumps({
        "batch1_speedup_min_of_runtimes": {"3": 2.0, "2": 3.0},
        "levels": [{"level": "2x", "layers_kept": 3, "sparsity": 0.5}, {"level": "3-4x", "layers_kept": 2, "sparsity": 0.66}]}))


def _run(root: Path, task: str, method: str, folder: str, seed: int, score: float, layers: int = 3,
         sparsity: float = 0.5) -> None:
    run = root / "runs" / task / f"{folder}_s{sparsity}_seed{seed}"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({
        "status": "completed", "task": task, "method": method, "target_sparsity": sparsity, "seed": seed,
        "final": {"main": score / 100}, "dense": {"main": 0.9}}))
    events = [{"event": "prune", "step": step, "kept_layers": k, "kept_heads": 12 * k, "kept_ffn": 1536 * k}
              for step, k in ((20, layers), (10, 5))]  # the last event's line first: as real traces can have it
    (run / "trace.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")


def test_the_report_pairs_by_seed_and_places_each_run_at_its_measured_speedup(tmp_path):
    _levels(tmp_path)
    (tmp_path / "README.md").write_text("top\n<!-- structured_report: frontier.md -->\nOLD BLOCK\n"
                                        "<!-- /structured_report: frontier.md -->\nbottom\n")
    for seed, (mp, kd, cc) in enumerate([(80, 81, 82), (79, 80, 83), (81, 80, 84)], start=1):
        for method, folder, score in (("MP", "mp", mp), ("KD", "kd", kd), ("SDP-CC(mean)", "sdp_cc", cc)):
            _run(tmp_path, "sst2", method, folder, seed, score)
    _run(tmp_path, "mrpc", "MP", "mp", 1, 70, layers=4)  # a shape that was not measured: named, left out
    structured_report.main(["--root", str(tmp_path)])
    text = (tmp_path / "frontier.md").read_text()
    # SDP-CC minus MP per seed: +2, +4, +3 -> mean +3.00, t-interval 3 +- 4.303 * 1/sqrt(3); minus KD: +1, +3, +4.
    # Holm over the table's intervals with n >= 3: sst2 and pooled (mrpc's one run is left out), MP and KD: 4.
    p_mp, p_kd = (stats.ttest_1samp(d, 0).pvalue for d in ([2, 4, 3], [1, 3, 4]))
    holm_mp, holm_kd = 4 * p_mp, max(4 * p_mp, 2 * p_kd)  # the two MP p-values tie, then the two KD ones
    assert f"| sst2 | about 2x | +3.00 [+0.52, +5.48] (n=3; Holm p {holm_mp:.3f}) | +2.67 " in text
    assert f"(n=3; Holm p {holm_kd:.3f}) |" in text and "over the 4 intervals of this table" in text
    assert "9 of 36 pruning runs finished" in text and "incomplete" in text
    assert "runs/mrpc/mp_s0.5_seed1: shape" in text and "left out" in text
    assert "| sst2 | about 2x (sparsity 0.5) | 3 | 2.00x | 90.00 ± 0.00 (n=3) | 80.00 ± 1.00 (n=3) |" in text
    readme = (tmp_path / "README.md").read_text()
    assert readme.startswith("top\n") and readme.endswith("bottom\n") and "OLD BLOCK" not in readme and "+3.00" in readme
    assert (tmp_path / "frontier.png").stat().st_size > 0


def test_the_report_without_a_measurement_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit, match="run scripts/structured_levels.py first"):
        structured_report.main(["--root", str(tmp_path)])


def _measurement(b1: dict[int, tuple[float, float]], levels: list[tuple[str, int, float]], **extra) -> dict:
    """A synthetic levels.json: batch-1 torch / onnxruntime median speed-ups per layers kept, and its levels."""
    speedup = {f"{rt}_b1": {f"layers{k}": {"median": v[i]} for k, v in b1.items()}
               for i, rt in enumerate(("torch", "onnxruntime"))}
    return {"speedup": speedup, "batch1_speedup_min_of_runtimes": {str(k): min(v) for k, v in b1.items()},
            "levels": [{"level": n, "layers_kept": k, "sparsity": s} for n, k, s in levels], **extra}


def test_the_report_adds_the_remeasured_4x_level_and_uses_the_quiet_axis(tmp_path):
    """levels_quiet/levels.json (the quiet re-measure) adds "4x+" (1 layer kept) and gives the frontier axis; the
    first measurement stays beside it, and the older levels keep their shapes even where the re-measure's rule
    would choose another."""
    old = [("2x", 3, 0.5), ("3-4x", 2, 0.66)]
    (tmp_path / "levels").mkdir(parents=True)
    (tmp_path / "levels" / "levels.json").write_text(json.dumps(_measurement(
        {3: (2.33, 2.31), 2: (2.76, 3.25), 1: (4.95, 5.65)}, old, measured_at="2026-12-04 23:01:33 UTC",
        machine={"loadavg_start": [9.5, 9, 9], "loadavg_end": [14.0, 12, 11]})))
    (tmp_path / "levels_quiet").mkdir()
    (tmp_path / "levels_quiet" / "levels.json").write_text(json.dumps(_measurement(
        {4: (2.1, 2.0), 3: (1.94, 2.42), 2: (2.82, 3.47), 1: (5.23, 7.11)},
        [("2x", 4, 0.33), ("3-4x", 2, 0.66), ("4x+", 1, 0.83)], measured_at="2026-12-05 00:43:10 UTC",
        machine={"loadavg_start": [0.18, 0, 0], "loadavg_end": [2.36, 0, 0]})))
    for seed, (mp, cc) in enumerate([(60, 64), (62, 65)], start=1):
        _run(tmp_path, "sst2", "MP", "mp", seed, mp, layers=1, sparsity=0.83)
        _run(tmp_path, "sst2", "SDP-CC(mean)", "sdp_cc", seed, cc, layers=1, sparsity=0.83)
    _run(tmp_path, "mrpc", "KD", "kd", 1, 70, layers=3, sparsity=0.5)
    structured_report.main(["--root", str(tmp_path)])
    text = (tmp_path / "frontier.md").read_text()
    assert "5 of 54 pruning runs finished" in text  # 2 tasks x 3 seeds x 3 methods x 3 levels
    assert ("Frontier axis: the quiet re-measure (levels_quiet/levels.json, measured 2026-12-05 00:43:10 UTC, load "
            "average 0.18 at start, 2.36 at end); the first measurement (levels/levels.json, measured 2026-12-04 "
            "23:01:33 UTC, load average 9.50 at start, 14.00 at end)") in text
    assert "| about 2x | 0.5 | 3 | 2.33x / 2.31x | 1.94x / 2.42x | 1.94x |" in text
    assert "| about 3-4x | 0.66 | 2 | 2.76x / 3.25x | 2.82x / 3.47x | 2.82x |" in text
    assert "| about 4x+ | 0.83 | 1 | 4.95x / 5.65x (not a level then) | 5.23x / 7.11x | 5.23x |" in text
    assert "would put 'about 2x' at 4 layers kept; the grid keeps the first measurement's 3" in text
    assert "| sst2 | about 4x+ (sparsity 0.83) | 1 | 5.23x | 90.00 ± 0.00 (n=2) | 61.00 ± 1.41 (n=2) | — |" in text
    # 70.00 is below MRPC's floor (74.80): marked where the data is found
    kd = "70.00 (n=1)" + (" ‡" if task_floor("mrpc", None) is not None else "")
    assert f"| mrpc | about 2x (sparsity 0.5) | 3 | 1.94x | 90.00 (n=1) | — | {kd} | — |" in text
    assert "| sst2 | about 4x+ | — (n=2) |" in text and "left out" not in text
    assert (tmp_path / "frontier.png").stat().st_size > 0


def test_cells_at_a_floor_are_marked_and_so_are_the_rows_that_compare_them(tmp_path, data_dir):
    """MRPC's floor is 74.80 (every pair "equivalent"): a structured run that removed all but one layer scored it in
    every seed (the grid's MRPC MP at 1 layer) and read as a method's result; marked ‡ now, as claims.md marks it."""
    floor = task_floor("mrpc", str(data_dir))
    levels = {"batch1_speedup_min_of_runtimes": {"3": 2.0}, "levels": [{"level": "2x", "layers_kept": 3,
                                                                         "sparsity": 0.5}]}
    scores = {"MP": 100 * floor, "KD": 100 * floor + 0.3, "SDP-CC(mean)": 80.0}  # KD within half a point: at it too
    rows = [{"task": task, "method": m, "sparsity": 0.5, "seed": s, "score": score if task == "mrpc" else 85.0,
             "dense": 86.0, "layers": 3, "speedup": 2.0, "label": f"{task}{m}{s}"}
            for task in structured_report.TASKS for m, score in scores.items() for s in (1, 2, 3)]
    floors = {"mrpc": floor, "sst2": task_floor("sst2", str(data_dir))}
    text = structured_report.render(rows, [], levels, None, 18, floors)
    mrpc = next(line for line in text.splitlines() if line.startswith("| mrpc | about 2x (sparsity"))
    assert mrpc.endswith("74.80 ± 0.00 (n=3) ‡ | 75.10 ± 0.00 (n=3) ‡ | 80.00 ± 0.00 (n=3) |")
    sst2 = next(line for line in text.splitlines() if line.startswith("| sst2 | about 2x (sparsity"))
    assert "‡" not in sst2
    assert "Floors (x 100): mrpc 74.80, sst2 50.92. Cells at a floor: 2: mrpc about 2x KD; mrpc about 2x MP." in text
    assert "| mrpc | about 2x | +5.20 [+5.20, +5.20] (n=3; Holm p 0.000) ‡ | +4.90" in text and "| sst2 | about 2x | +0.00" in text
    assert next(line for line in text.splitlines() if line.startswith("| pooled | about 2x")).count("‡") == 2
    assert "‡" not in next(line for line in text.splitlines() if line.startswith("| sst2 | about 2x |"))
    unknown = structured_report.render(rows, [], levels, None, 18)  # no data folder: nothing marked, and said so
    assert "‡ |" not in unknown and "unknown for mrpc, sst2 (no local dev file: SDP_DATA_DIR)" in unknown


def test_a_cell_scored_on_a_sample_of_the_dev_split_is_not_judged_against_the_files_floor(tmp_path, data_dir,
                                                                                           monkeypatch):
    """claims.md's rule since probe round 11, here too: a run scored on 32 dev rows (max_eval_samples) has that
    sample's floor, not the whole file's, so its cell is neither marked nor called clear; the legend counts it."""
    monkeypatch.setenv("SDP_DATA_DIR", str(data_dir))
    floor = task_floor("mrpc", str(data_dir))
    levels = {"batch1_speedup_min_of_runtimes": {"3": 2.0}, "levels": [{"level": "2x", "layers_kept": 3,
                                                                         "sparsity": 0.5}]}
    rows = [{"task": "mrpc", "method": m, "sparsity": 0.5, "seed": s, "score": 100 * floor, "dense": 86.0,
             "layers": 3, "speedup": 2.0, "label": f"{m}{s}",
             "eval_examples": {"validation": 32 if m == "MP" else 408}} for m in structured_report.METHODS
            for s in (1, 2, 3)]
    text = structured_report.render(rows, [], levels, None, 9, {"mrpc": floor, "sst2": None})
    assert "Cells at a floor: 2: mrpc about 2x KD; mrpc about 2x SDP-CC(mean)." in text
    assert "Not judged: 1 cell(s) whose runs were scored on a sample of the dev split" in text
