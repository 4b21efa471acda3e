"""The data registries (tasks, XGLUE task info, local readers, Hub adapters, file sources) are the same whatever
order their modules are imported in: each registry's own module lists its built-ins (issue 24)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

from sdp.data.xglue_tasks import XGLUE_LANGUAGES

REPO = Path(__file__).resolve().parents[2]
MODULES = ["sdp.data", "sdp.data.tasks", "sdp.data.xglue_tasks", "sdp.data.loading", "sdp.data.sources",
           "sdp.data.xglue", "sdp.data.custom", "sdp.data.glue_local", "sdp.data.pipeline", "sdp.crosslingual"]

# Imports `order`, then prints every registry: names, and the qualified names of the functions behind them.
SNAPSHOT = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
from sdp.data import loading, tasks, xglue_tasks
fn = lambda f: f"{f.__module__}.{f.__qualname__}"
print(json.dumps({
    "TASKS": list(tasks.TASKS), "XTASKS": sorted(xglue_tasks.XTASKS),
    "LOCAL_READERS": {k: fn(v) for k, v in sorted(loading.LOCAL_READERS.items())},
    "HUB_ADAPTERS": {k: fn(v) for k, v in sorted(loading.HUB_ADAPTERS.items())},
    "FILE_SOURCES": sorted(loading.FILE_SOURCES),
}))
"""


def _start(code: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _output(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return out.strip().splitlines()[-1]


def test_registries_are_identical_in_any_import_order():
    rng = random.Random(24)
    orders = [MODULES[1:2], list(reversed(MODULES)), rng.sample(MODULES, len(MODULES))]
    procs = [_start(SNAPSHOT, *order) for order in orders]  # fresh interpreters, side by side
    seen = [json.loads(_output(proc)) for proc in procs]
    assert all(s == seen[0] for s in seen), [order for order, s in zip(orders, seen) if s != seen[0]]
    first = seen[0]
    assert {"cola", "xnli", "pawsx_small"} <= set(first["TASKS"]) and first["TASKS"][0] == "cola"
    assert set(first["LOCAL_READERS"]) == {"glue", "xglue", "xtreme", "custom"}
    assert first["HUB_ADAPTERS"] == {"xglue": "sdp.data.xglue.hub_adapter"} and first["FILE_SOURCES"] == ["custom"]


def test_an_xglue_task_loads_in_a_fresh_interpreter(tmp_path):
    """Once, this needed ``import sdp.data.xglue`` first: 'no local reader for source 'xglue''."""
    xnli = tmp_path / "xglue_full_dataset" / "XNLI"
    xnli.mkdir(parents=True)
    (xnli / "multinli.train.en.tsv").write_text("premise\thypo\tlabel\na\tb\tneutral\nc\td\tentailment\n")
    for lang in XGLUE_LANGUAGES["xnli"]:
        (xnli / f"{lang}.dev").write_text("p\th\tentailment\n")
    code = ("import sys\nfrom sdp.data.loading import load_splits\nfrom sdp.data.tasks import get_task\n"
            "out = load_splits(get_task('xnli'), data_dir=sys.argv[1]).datasets\n"
            "print(len(out['train']), sorted({len(v) for k, v in out.items() if k != 'train'}), len(out))")
    assert _output(_start(code, str(tmp_path))) == f"2 [1] {1 + len(XGLUE_LANGUAGES['xnli'])}"
