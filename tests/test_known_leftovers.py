"""Leftovers of probe rounds 26 and 27 (issue 26), fixed by the lead: each test fails on f99c739."""
from __future__ import annotations

import json

import pytest


def test_eval_output_dir_of_another_model_is_refused(tmp_path, caplog):
    """ev2: `sdp-eval model_dir=A ... output_dir=ev`, then `model_dir=B ... output_dir=ev` replaced A's record with
    no word. Another model or task is refused; the same model and task replaces it, said."""
    from sdp.errors import ConfigError
    from sdp.evaluation import check_out_dir

    a, b, ev = tmp_path / "a", tmp_path / "b", tmp_path / "ev"
    for d in (a, b, ev):
        d.mkdir()
    (ev / "metrics.json").write_text(json.dumps({"kind": "eval", "status": "completed", "task": "rte",
                                                 "model_dir": str(a.resolve()), "finished_at": "T0"}))
    with pytest.raises(ConfigError, match=r"holds the evaluation record of model_dir=.*/a' on task 'rte'"):
        check_out_dir(ev, b, "rte")
    with pytest.raises(ConfigError, match="not this model_dir and task"):
        check_out_dir(ev, a, "sst2")
    with caplog.at_level("WARNING", logger="sdp"):
        check_out_dir(ev, a, "rte")
    assert "replaces the record of the same model and task finished at T0" in caplog.text


def test_sigterm_during_sdp_eval_leaves_no_empty_default_folder(tmp_path, monkeypatch):
    """Round 27 (noticed): an sdp-eval stopped by SIGTERM left its empty default folder outputs/evals/<time>_..., which
    sdp-tables then listed. SIGTERM now ends it through the same clean-up as Ctrl-C."""
    import os
    import signal

    import sdp.evaluation
    from cli.eval import main

    def killed(cfg, model_dir, out_dir, length_given=True):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the evaluation")

    monkeypatch.setattr(sdp.evaluation, "evaluate_saved", killed)
    before = signal.getsignal(signal.SIGTERM)
    assert main([f"model_dir={tmp_path / 'run' / 'model'}", "task=rte", f"output_root={tmp_path / 'out'}"]) == 143
    assert not list((tmp_path / "out" / "evals").iterdir())
    assert signal.getsignal(signal.SIGTERM) is before  # the caller's handler is back
