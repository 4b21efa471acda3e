"""tracker=tensorboard writes readable event files; every run's model/ has a card; push_to_hub uploads it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

import sdp.config  # noqa: F401
from sdp.recipe import run

CONF = str(Path(__file__).resolve().parents[2] / "conf")


class FakeHfApi:
    """Stands in for huggingface_hub.HfApi (no network here): records what would be uploaded."""

    calls: list[tuple] = []

    def create_repo(self, repo_id, exist_ok=False):
        FakeHfApi.calls.append(("create_repo", repo_id))

    def upload_folder(self, folder_path, repo_id, commit_message=""):
        FakeHfApi.calls.append(("upload_folder", repo_id, sorted(p.name for p in Path(folder_path).iterdir())))
        return "https://huggingface.co/me/pruned/commit/0"


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory, data_dir) -> tuple[Path, dict]:
    pytest.importorskip("tensorboard")
    import huggingface_hub

    tmp = tmp_path_factory.mktemp("tracked")
    mp = pytest.MonkeyPatch()
    mp.setattr(huggingface_hub, "HfApi", FakeHfApi)
    try:
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            cfg = compose(config_name="config", overrides=[
                "debug=smoke", "task=rte", f"data_dir={data_dir}", f"cache_dir={tmp}/cache",
                "tracker=tensorboard", "push_to_hub=me/pruned"])
        metrics = run(cfg, run_dir=tmp / "run")
    finally:
        mp.undo()
    return tmp / "run", metrics


def test_tensorboard_events_hold_the_logged_tags(tracked_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir, metrics = tracked_run
    # The scalars' folder (add_hparams writes the config into a sub-folder of its own).
    accs = [EventAccumulator(str(d)).Reload() for d in {p.parent for p in run_dir.rglob("events.out.tfevents.*")}]
    (acc,) = [a for a in accs if a.Tags()["scalars"] and "hparams" not in str(a.path)] or accs[:1]
    tags = set(acc.Tags()["scalars"])
    for tag in ("train/dense/loss", "train/dense/lr", "train/prune/loss", "train/prune/task_loss",
                "train/prune/distill", "train/prune/sparsity", "train/prune/lr", "prune/achieved_sparsity",
                "prune/loss_before", "final/main", "dense/main", "final/achieved_sparsity"):
        assert tag in tags, (tag, sorted(tags))
    final = acc.Scalars("final/main")[-1].value
    assert final == pytest.approx(metrics["final"]["main"], abs=1e-6)
    dense_updates = len(acc.Scalars("train/dense/loss"))
    assert dense_updates >= 1 and len(acc.Scalars("train/prune/sparsity")) >= 1
    assert (run_dir / "trace.jsonl").read_text().strip()  # the always-on record stays


def test_model_card_and_push(tracked_run):
    run_dir, metrics = tracked_run
    card = (run_dir / "model" / "README.md").read_text()
    achieved = 100 * metrics["achieved_sparsity"]["prunable"]
    for text in ("| Base model | tiny-bert (random init) |", "| Task and data | rte:", "SDP-CC",
                 "| Target sparsity | 50.0%", f"| Achieved sparsity | {achieved:.2f}%",
                 f"main {100 * metrics['dense']['main']:.2f}", f"main {100 * metrics['final']['main']:.2f}",
                 f"| sdp version | {metrics['versions']['sdp']} |", "```\npython"):
        assert text in card, text
    assert ("create_repo", "me/pruned") in FakeHfApi.calls
    upload = next(c for c in FakeHfApi.calls if c[0] == "upload_folder")
    assert upload[1] == "me/pruned" and {"README.md", "model.safetensors", "config.json"} <= set(upload[2])
