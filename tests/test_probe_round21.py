"""What probe round 21 found (issue 26; docs/probe_round21.md). Each test fails on the commit the probe ran
(a538a3b) and passes after its fix. No model, offline."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("added", ["+max_eval_sample=5", "+output=m01.json"])
def test_eval_refuses_a_key_added_with_plus_that_nothing_reads(tmp_path, capsys, added):
    """m04: `sdp-eval model_dir=u01/model task=rte +max_eval_sample=5` (a typo, in the form Hydra's own error
    suggests) printed `rte accuracy=52.71, main=52.71 (277 examples)`: every row scored, the key unread, while
    sdp-run refuses the same key. It fails now before any model is read (model_dir need not exist)."""
    from cli.eval import main

    rc = main([f"model_dir={tmp_path / 'none'}", "task=rte", added, f"output_dir={tmp_path / 'out'}"])
    err = capsys.readouterr().err
    assert rc != 0
    assert "is not a key of the config (added with '+', nothing would read it)" in err
    assert not (tmp_path / "out").exists()
