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
from transformers import BertConfig, BertForSequenceClassification

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import structured_levels  # noqa: E402
import structured_report  # noqa: E402

from sdp.pruning.build import mask_state  # noqa: E402
from sdp.pruning.criteria.l2 import L2  # noqa: E402
from sdp.pruning.masks import select_prunable  # noqa: E402

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
    events = [{"event": "prune", "kept_layers": k, "kept_heads": 12 * k, "kept_ffn": 1536 * k} for k in (5, layers)]
    (run / "trace.jsonl").write_text("\n".join(json.dumps(e) for e in events) + "\n")


def test_the_report_pairs_by_seed_and_places_each_run_at_its_measured_speedup(tmp_path):
    _levels(tmp_path)
    (tmp_path / "README.md").write_text("top\n<!-- structured_report: frontier.md -->\nold\n"
                                        "<!-- /structured_report: frontier.md -->\nbottom\n")
    for seed, (mp, kd, cc) in enumerate([(80, 81, 82), (79, 80, 83), (81, 80, 84)], start=1):
        for method, folder, score in (("MP", "mp", mp), ("KD", "kd", kd), ("SDP-CC(mean)", "sdp_cc", cc)):
            _run(tmp_path, "sst2", method, folder, seed, score)
    _run(tmp_path, "mrpc", "MP", "mp", 1, 70, layers=4)  # a shape that was not measured: named, left out
    structured_report.main(["--root", str(tmp_path)])
    text = (tmp_path / "frontier.md").read_text()
    # SDP-CC minus MP per seed: +2, +4, +3 -> mean +3.00, t-interval 3 +- 4.303 * 1/sqrt(3)
    assert "| sst2 | about 2x | +3.00 [+0.52, +5.48] (n=3) |" in text
    assert "9 of 36 pruning runs finished" in text and "incomplete" in text
    assert "runs/mrpc/mp_s0.5_seed1: shape" in text and "left out" in text
    assert "| sst2 | about 2x (sparsity 0.5) | 3 | 2.00x | 90.00 ± 0.00 (n=3) | 80.00 ± 1.00 (n=3) |" in text
    readme = (tmp_path / "README.md").read_text()
    assert readme.startswith("top\n") and readme.endswith("bottom\n") and "old" not in readme and "+3.00" in readme
    assert (tmp_path / "frontier.png").stat().st_size > 0


def test_the_report_without_a_measurement_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit, match="run scripts/structured_levels.py first"):
        structured_report.main(["--root", str(tmp_path)])
