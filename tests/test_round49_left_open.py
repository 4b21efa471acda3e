"""What probe round 49 left open (docs/errors.md, "Probe round 49's findings"), fixed by the lead in session 24. Each
test fails on b43e2a8 and passes after its fix. Hand-written configs and environments, offline."""

from __future__ import annotations

import subprocess
import sys


def _sdp_run(tmp_path, *args):
    from offline_env import offline_env

    return subprocess.run([sys.executable, "-m", "cli.run", *args], cwd=tmp_path, env=offline_env(),
                          capture_output=True, text=True, timeout=600)


def test_a_sweep_under_a_file_url_root_keeps_its_own_files_there(tmp_path):
    """A multirun with output_root=file:///x ran its jobs under /x, but left multirun.yaml and .sdp-jobs/ (the notes
    its outcome is read from) under ./file:/x. Jobs that fail at once (no data folder) are enough to see the folders."""
    done = _sdp_run(tmp_path, "-m", "debug=smoke", f"output_root=file://{tmp_path}/s%20w",
                    f"data_dir={tmp_path / 'none'}", "seed=1,2")
    assert done.returncode == 1 and "2 of 2 jobs of the sweep failed" in done.stderr, done.stderr[-2000:]
    sweep = tmp_path / "s w" / "sweeps"
    assert (sweep / "multirun.yaml").is_file() and len(list((sweep / ".sdp-jobs").glob("*.json"))) == 2
    assert not (tmp_path / "file:").exists(), sorted(p.name for p in tmp_path.iterdir())


def test_an_output_root_url_of_another_host_is_one_line(tmp_path):
    """Hydra's folders are made of output_root's path (sdp_local_root): a URL naming another machine is sdp's one
    line and exit 2 before any folder is made, for a run and for a sweep."""
    for sweep in ([], ["-m", "seed=1,2"]):
        done = _sdp_run(tmp_path, *sweep, "debug=smoke", "output_root=file://host/x")
        assert done.returncode == 2, done.stderr[-2000:]
        assert done.stderr.strip().splitlines() == [
            "sdp-run: error: DataError: output_root='file://host/x' names the host 'host' (a file URL's path begins at "
            "its third slash, and sdp reads no file of another machine); a local file's URL is file:///<absolute "
            "path> (or file://localhost/<absolute path>); or give the path"], done.stderr[-2000:]
        assert list(tmp_path.iterdir()) == [], sorted(p.name for p in tmp_path.iterdir())


def test_a_joiner_beside_the_other_joiner_is_judged_by_the_forms_it_makes():
    """ar_zwnjzwj, ar_zwjzwnj: `ب ZWNJ ZWJ ب` and `ب ZWJ ZWNJ ب` print apart from `ب ZWNJ ب` (a beh in its final or
    initial form beside an isolated one), and were refused as twins: each joiner was judged through the other. A print
    key holds each joining letter's form instead of judging each joiner alone."""
    from sdp.data.printed_names import print_alike, printed_names_problem

    beh, zwnj, zwj = "\u0628", "\u200c", "\u200d"
    for name in (beh + zwnj + zwj + beh, beh + zwj + zwnj + beh):
        assert printed_names_problem([name, beh + zwnj + beh]) is None, [hex(ord(c)) for c in name]
    # what prints alike still does: a ZWJ between two letters that join anyway (round 48, arzwjmid); a beh before
    # one ZWJ or two (its initial form both times); a hamza above, composed or not; ZWJs between Latin letters
    for pair in ([beh + zwj + beh, beh + beh], [beh + zwj + zwj, beh + zwj], ["\u0627\u0654", "\u0623"],
                 ["a" + zwj + zwj + "b", "ab"]):
        assert print_alike(pair) is not None, pair
    # what prints apart still does: a ZWNJ between joining letters, a beh before a ZWJ (initial) or alone (isolated),
    # an Indic half form, two emoji joined into one glyph
    for pair in ([beh + zwnj + beh, beh + beh], [beh + zwj + zwj, beh], ["\u0915\u094d\u200d\u0937", "\u0915\u094d\u0937"],
                 ["\U0001f468\u200d\U0001f469", "\U0001f468\U0001f469"]):
        assert print_alike(pair) is None, pair


def test_an_interpolation_stays_one_when_met_before_its_value():
    """An interpolation `${output_root}` met before output_root (a file URL) was converted was replaced by the path
    (a list's item, in round 49; a list holds no path key since round 50): the saved config lost the interpolation.
    Both passes (own values, then interpolations) go over the whole config now."""
    from omegaconf import OmegaConf

    from sdp.data.locations import local_config

    cfg = OmegaConf.create({"task": {"train_file": "${output_root}", "validation_file": "file:///a%20b",
                                     "test_file": "${cache_dir}"}, "output_root": "file:///tmp/r", "cache_dir": "x"})
    cfg.cache_dir = "${oc.env:SDP_TEST_NO_SUCH_VAR,file:///tmp/u}"
    local_config(cfg)
    raw = OmegaConf.to_container(cfg)
    assert raw["task"]["train_file"] == "${output_root}" and cfg.task.train_file == "/tmp/r", raw
    assert raw["task"]["validation_file"] == "/a b", raw
    assert raw["cache_dir"] == "/tmp/u" and raw["task"]["test_file"] == "${cache_dir}", raw  # converted once resolved


def test_sdp_tables_and_predict_read_a_quoted_value_as_sdp_run_does(tmp_path):
    """pr_q, tb_q: `"out_dir='file:///.../tq'"` kept its quotes: the tables went to ./'file:/.../tq' and the line named
    the quoted text. A value in one pair of quotes is read without them (as Hydra reads sdp-run's); quotes that are
    not one quoted value are one line."""
    import pytest
    from offline_env import offline_env

    from sdp.data.locations import local_argv
    from sdp.data.spec import DataError

    assert local_argv(["output='file:///tmp/p%20o.txt'", 'text_fields="a,b"', "x='it\\'s'", "plain"]) == [
        "output=/tmp/p o.txt", "text_fields=a,b", "x=it's", "plain"]
    with pytest.raises(DataError, match="its quotes are not one quoted value"):
        local_argv(["output='a'b'"])
    (tmp_path / "res").mkdir()
    done = subprocess.run([sys.executable, "-m", "cli.tables", f"results_dir={tmp_path / 'res'}", "plots=false",
                           f"out_dir='file://{tmp_path}/t%20q'"], cwd=tmp_path, env=offline_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "t q" / "summary.md").is_file() and f"{tmp_path}/t q/summary.md" in done.stdout + done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res", "t q"]


def test_the_quoting_advice_is_one_hydra_reads_back():
    """qa_apos: the advice for an unreadable override wrapped any value in '...', and `dv'q.csv` so quoted was Hydra's
    error again. It is quoted as Hydra reads it back: double quotes around a `'`, an escaped quote where both occur."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from sdp.command_line import hydra_quoted, unreadable_override_errors

    parser = OverridesParser.create()
    for value in ("/tmp/p49/dv'q x.csv", "/tmp/a'b\"c d"):
        (error,) = unreadable_override_errors([f"task.validation_file={value}"])
        advice = error.rsplit(": ", 1)[1]
        assert parser.parse_override(advice).value() == value, (value, advice)
    for value in ("x y\\", "a\\'b\"", "plain"):  # backslashes before a quote, or at the end
        assert parser.parse_override(f"k={hydra_quoted(value)}").value() == value, value


def test_infinity_written_two_ways_is_one_label():
    """Round 49, noticed: `inf` and `Infinity` were two classes while `1e1` and `10` were one (a non-finite number
    was kept as its text). `-nan` and `nan` are one NaN; `snan` is no number (float() refuses it)."""
    from sdp.data.file_scan import label_problem

    for twins in (["Infinity", "inf"], ["-Infinity", "-inf"], ["-nan", "nan"]):
        assert "the way a number is written" in (label_problem(twins) or ""), twins
    assert label_problem(["-inf", "inf"]) is None and label_problem(["nan", "snan"]) is None


def test_hydras_folders_that_are_file_urls_are_one_line(tmp_path):
    """Review of the session-24 fix: a user's `hydra.run.dir=${output_root}/mine` (or hydra.sweep.dir) with output_root
    a file URL was written under ./file:/... (only the default folders take output_root's path); a sweep naming a bad
    output_root URL was a traceback in its second job; `--cfg job --resolve` with one was a traceback. Round 50's
    fu_hydra_rundir, fu_sweepdir: hydra.run.dir=file:///x made ./file:/x."""
    cases = [
        (["debug=smoke", f"output_root=file://{tmp_path}/h4", "hydra.run.dir=${output_root}/mine"],
         f"hydra.run.dir is 'file://{tmp_path}/h4/mine', a file URL"),
        (["-m", "debug=smoke", f"output_root=file://{tmp_path}/sx", "hydra.sweep.dir=${output_root}/sw", "seed=1,2"],
         f"hydra.sweep.dir is 'file://{tmp_path}/sx/sw', a file URL"),
        (["debug=smoke", f"hydra.run.dir=file://{tmp_path}/u"], f"hydra.run.dir is 'file://{tmp_path}/u', a file URL"),
        (["-m", "debug=smoke", f"output_root={tmp_path}/ok,file://host/x"], "output_root='file://host/x' names the host"),
    ]
    for args, said in cases:
        done = _sdp_run(tmp_path, *args)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, (args, done.stderr[-2000:])
        assert said in done.stderr, (args, done.stderr)
        assert list(tmp_path.iterdir()) == [], (args, sorted(p.name for p in tmp_path.iterdir()))
    shown = _sdp_run(tmp_path, "debug=smoke", "output_root=file://host/x", "--cfg", "job", "--resolve")
    assert shown.returncode == 0 and "output_root: file://host/x" in shown.stdout, shown.stderr[-2000:]
