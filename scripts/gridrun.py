"""A resumable grid of `sdp-run` calls, two at a time, with a progress file: the engine of scripts/grid.py.

Each run goes into a fixed folder, so a re-launch skips finished runs (their metrics.json says
``completed``) without starting a process, and resumes interrupted ones from their last checkpoint.
A record made by older code is kept only as sdp/run/code_policy.py declares (nothing that affects
training changed since its commit; then it is flagged ``code_changed_since``), else the run is made again;
``reuse_any_code`` keeps every record. Runs are started with `nice`, one thread each (two side by side give ~1.3x the runs per hour of one
2-thread run on the reference 2-core machine).

Stopping: SIGINT (Ctrl-C) or SIGTERM (`make stop-grids`, through the pid file of scripts/grid_pids.py) to the
driver is passed on to its runs, which run in their own sessions so that each gets the signal once and from the
driver only; they checkpoint and stop, no new run starts, and the driver exits with 128 + the signal. A run
stopped so is "interrupted (resumable)", not failed: the same command resumes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from grid_config import config_change
from grid_pids import Registration

from sdp.io import write_json
from sdp.report.collect import was_resumed
from sdp.run.code_policy import judge, with_flag
from sdp.run.rundir import read_run_record

REPO = Path(__file__).resolve().parents[1]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# How a run that a stop signal ended exits (sdp/run/preemption.py: 128 + the signal; killed outright: -signal)
INTERRUPTED_CODES = {code for sig in (*STOP_SIGNALS, signal.SIGUSR2) for code in (128 + sig, -sig)}


def offline_environment() -> None:
    """The Hub is optional: offline by default, data from the shared folder beside the checkout."""
    for key in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(key, "1")
    os.environ.setdefault("SDP_DATA_DIR", str((REPO.parent / "shared" / "data").resolve()))


RUN_NICE = 10  # a run's nice, added to the driver's own


def lower_autogroup(pid: int, nice: int, proc_root: Path = Path("/proc")) -> bool:
    """Give a run's session the run's nice. With Linux's autogroup scheduling (sched_autogroup_enabled=1) each
    session is scheduled as one group against the others and a process's nice counts only inside its group, so a
    run in its own session at nice 10 or 19 took a full share beside CI and everything else (seen 2026-12-05: two
    nice-19 grid runs held 80% of a 2-core machine). Writing /proc/<pid>/autogroup sets the group's own nice.
    False where there is no autogroup or it may not be written: the run's plain nice then does what it can."""
    try:
        (proc_root / str(pid) / "autogroup").write_text(f"{nice}\n")
    except OSError:
        return False
    return True


@dataclass
class GridOptions:
    """What every grid config (scripts/grids/*.yaml) sets; a hook's own options extend it (scripts/grid.py)."""

    hook: str = "???"  # which plan: study, calibration or runs (scripts/grid.py HOOKS)
    title: str = "Grid"  # PROGRESS.md's heading
    root: str = "???"  # the grid's folder; a relative one is relative to the repository
    experiment: str = "???"  # the conf/experiment/ preset every run starts from
    jobs: int = 2  # runs side by side
    overrides: list[str] = field(default_factory=list)  # extra sdp-run overrides for every run
    # keep every finished record whatever code made it (flagged code_changed_since); by default one made by older
    # code is kept only if nothing that affects training changed since (sdp/run/code_policy.py), else run again
    reuse_any_code: bool = False


def read_completed(run_dir: Path) -> dict | None:
    """The metrics of a completed run in ``run_dir``, else None."""
    try:
        metrics = json.loads((run_dir / "metrics.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return metrics if metrics.get("status") == "completed" else None


def needed(files: tuple[str, ...], *later: Path) -> tuple[str, ...]:
    """``files`` if any of the ``later`` runs is unfinished, else (): weights are not committed, so a finished run
    is redone for them (on a fresh machine) only while a later run still reads them."""
    return files if any(read_completed(d) is None for d in later) else ()


def _scores(metrics: dict | None) -> tuple:
    """The numbers a redone run must reproduce: its dense and final main scores."""
    return tuple((metrics or {}).get(k, {}).get("main") for k in ("dense", "final"))


def committed_record(run_dir: Path) -> dict | None:
    """``run_dir``'s metrics.json as committed (git HEAD), or None where none was committed. The working copy
    cannot be the reference: a redo (resume=false) moves it aside and writes its own."""
    try:
        rel = (Path(run_dir).resolve() / "metrics.json").relative_to(REPO).as_posix()
    except ValueError:  # a grid outside the repository: nothing committed to compare with
        return None
    out = subprocess.run(["git", "show", f"HEAD:{rel}"], cwd=REPO, capture_output=True, text=True)
    try:
        return json.loads(out.stdout) if out.returncode == 0 else None
    except json.JSONDecodeError:
        return None


def mismatch(result: dict | None, committed: dict | None) -> bool:
    """A completed run whose scores differ from its committed record: later runs would read a model (or mask)
    that the committed records were not made from."""
    return result is not None and committed is not None and _scores(result) != _scores(committed)


def _refused_resume(log: Path) -> bool:
    """Did the last launch in ``log`` stop because the folder's unfinished run is another config's?"""
    tail = log.read_text(errors="replace")[-2000:]
    return "ResumeRefusedError" in tail or "belongs to another config" in tail


class Grid:
    """Runs ``sdp-run <base> <overrides>`` into fixed folders under ``root``; writes ``root/PROGRESS.md``."""

    def __init__(self, root: Path, base: list[str], jobs: int = 2, title: str = "Grid",
                 reuse_any_code: bool = False) -> None:
        self.root, self.base, self.jobs, self.title = Path(root), list(base), jobs, title
        self.reuse_any_code = reuse_any_code  # keep records (and resume runs) made by any code, flagged
        self.running: set[str] = set()
        self.plan: list[str] = []
        self.known: list[str] = []  # every run this grid was given (done or not): PROGRESS.md lists only these
        self.failed: list[str] = []
        self.interrupted: list[str] = []  # stopped by a signal this launch: resumable, not failed
        self.stopping: int | None = None  # the stop signal the driver received: no new run starts
        self.procs: dict[str, subprocess.Popen] = {}  # the runs in progress, by label
        self.registration: Registration | None = None
        self._lock = threading.Lock()
        self._folder_locks: dict[str, threading.Lock] = {}  # one launch per folder: two chains may share a job

    def label(self, run_dir: Path) -> str:
        return str(run_dir.relative_to(self.root))

    def launch(self, run_dir: Path, overrides: list[str], requires: tuple[str, ...] = ()) -> dict | None:
        """``requires``: files of the finished run that later runs read (a dense model, a mask). The records
        are committed but those files are not, so on a fresh machine such a run is done again (resume=false).
        A job two chains share runs once: the second launch waits for the first and then finds it done, or
        failed in this launch of the grid (then it is not tried again until the next)."""
        label = self.label(run_dir)
        with self._lock:
            folder_lock = self._folder_locks.setdefault(label, threading.Lock())
        with folder_lock:
            if label in self.failed or self.stopping is not None:
                return None
            return self._launch(run_dir, overrides, requires)

    def _launch(self, run_dir: Path, overrides: list[str], requires: tuple[str, ...]) -> dict | None:
        done, committed = read_completed(run_dir), committed_record(run_dir)
        if done is not None and not self.keep(run_dir, done):
            done = committed = None  # made again (sdp-run sets the old files aside); the old scores no longer stand
        if done is not None and (changed := config_change([*self.base, *overrides], read_run_record(run_dir), done)):
            print(f"re-running {self.label(run_dir)}: its record was made with another config ({changed})", flush=True)
            done, committed, overrides = None, None, [*overrides, "resume=false"]
        missing = [f for f in requires if not (run_dir / f).exists()]
        if done is not None and not missing:
            return self._unless_mismatch(run_dir, done, committed)  # also after an earlier launch's redo
        overrides = [*overrides, *self.resume_overrides(run_dir, done)]
        if done is not None:
            print(f"redoing {self.label(run_dir)}: {', '.join(missing)} missing (not committed)", flush=True)
            overrides = [*overrides, "resume=false"]
        run_dir.mkdir(parents=True, exist_ok=True)
        label = self.label(run_dir)
        with self._lock:
            self.running.add(label)
            self.write_progress()
        code = self._call(run_dir, overrides)
        if code == 2 and _refused_resume(self.log_path(run_dir)):
            # Interrupted under another commit whose run identity differs (a changed config schema): the
            # half-run cannot be continued, so it starts over; its files are moved to previous-<time>/.
            print(f"restarting {label}: its unfinished run cannot be resumed by this code", flush=True)
            code = self._call(run_dir, [*overrides, "resume=false"])
        result = read_completed(run_dir)
        if code == 0 and mismatch(result, committed):
            code, result = -1, self._unless_mismatch(run_dir, result, committed)
        stopped = code in INTERRUPTED_CODES and result is None
        with self._lock:
            self.running.discard(label)
            if stopped and label not in self.interrupted:
                self.interrupted.append(label)
            elif code != 0 and label not in self.failed:
                self.failed.append(label)
            self.write_progress()
        print(f"{'done' if code == 0 else 'interrupted (resumable)' if stopped else f'FAILED ({code})'}: {label}",
              flush=True)
        return result

    def keep(self, run_dir: Path, done: dict) -> bool:
        """Does the completed record in ``run_dir`` stand for this code (sdp/run/code_policy.py)? A record
        kept from older code is flagged in its metrics.json (code_changed_since), once."""
        keep, flag, why = judge(done, self.reuse_any_code)
        if not keep:
            print(f"re-running {self.label(run_dir)}: made by other code: {why}", flush=True)
        elif (flagged := with_flag(done, flag)) is not None:
            write_json(run_dir / "metrics.json", flagged)
            print(f"kept {self.label(run_dir)}, flagged code_changed_since: {why}", flush=True)
        return keep

    def resume_overrides(self, run_dir: Path, done: dict | None) -> list[str]:
        """``reuse=any_code`` for an unfinished run started by older code that the policy lets resume (sdp-run
        refuses it otherwise, and the grid then starts it over)."""
        record = read_run_record(run_dir) if done is None else None
        if record is None or "config" not in record:
            return []
        keep, _, why = judge(record, self.reuse_any_code, completed=False)
        if keep and why != "made by this code":
            print(f"resuming {self.label(run_dir)} started by older code: {why}", flush=True)
            return ["reuse=any_code"]
        return []

    def _unless_mismatch(self, run_dir: Path, result: dict, committed: dict | None) -> dict | None:
        """``result``, or None (the chain stops, on every launch until resolved) when a redone run does not
        reproduce its committed record."""
        if not mismatch(result, committed):
            return result
        label = self.label(run_dir)
        print(f"MISMATCH: {label} gives {_scores(result)}, its committed record {_scores(committed)}; the runs "
              "that depend on it are not started (git checkout the record and redo it, or investigate)", flush=True)
        with self._lock:
            if label not in self.failed:
                self.failed.append(label)
        return None

    def log_path(self, run_dir: Path) -> Path:
        """The run's console output, kept beside (not in) its folder: resume=false moves that folder's files."""
        return self.root / "logs" / (self.label(run_dir).replace("/", "__") + ".log")

    def command(self, run_dir: Path, overrides: list[str]) -> list[str]:
        return ["nice", "-n", str(RUN_NICE), sys.executable, "-m", "cli.run", *self.base, *overrides,
                "train.num_threads=1", f"hydra.run.dir={run_dir}", f"output_dir={run_dir}"]

    def _call(self, run_dir: Path, overrides: list[str]) -> int:
        cmd = self.command(run_dir, overrides)
        self.log_path(run_dir).parent.mkdir(parents=True, exist_ok=True)
        label = self.label(run_dir)
        with open(self.log_path(run_dir), "a") as log:
            log.write(f"$ {' '.join(cmd)}\n")
            log.flush()
            # Its own session: a Ctrl-C at the terminal reaches the driver only, which passes it on once (below).
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            lower_autogroup(proc.pid, min(19, os.nice(0) + RUN_NICE))
            with self._lock:
                self.procs[label] = proc
                self._register_runs()
                late = self.stopping  # the signal came while this run was starting: it did not reach it
            if late is not None:
                proc.send_signal(late)
            try:
                return proc.wait()
            finally:
                with self._lock:
                    self.procs.pop(label, None)
                    self._register_runs()

    def _register_runs(self) -> None:
        if self.registration is not None:
            with contextlib.suppress(OSError):  # the pid file is for make stop-grids; the runs go on without it
                self.registration.runs([p.pid for p in self.procs.values()])

    @contextlib.contextmanager
    def _stoppable(self):
        """While the grid runs: its pid file (make stop-grids) and the stop signals passed on to its runs. At the
        end, a stopped grid writes PROGRESS.md and exits with 128 + the signal."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum, frame):  # no lock here: the main thread may be inside one when the signal lands
            first, self.stopping = self.stopping is None, signum
            procs = list(self.procs.values())  # a run added after this line sees self.stopping (_call)
            for proc in procs:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signum)
            if first:
                print(f"{signal.Signals(signum).name}: stopping the grid: {len(procs)} running run(s) checkpoint and "
                      "stop, no new run starts; the same command resumes them", flush=True)

        try:
            self.registration = Registration(Path(sys.argv[0]).name, self.root)
        except OSError as err:  # e.g. a read-only checkout: the grid runs, only make stop-grids cannot find it
            print(f"warning: no pid file for make stop-grids ({err}); stop this grid with Ctrl-C", flush=True)
        previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)
            if self.registration is not None:
                self.registration.close()
            self.registration = None
        if self.stopping is not None:
            self.write_progress()
            print(f"grid stopped ({signal.Signals(self.stopping).name}): {len(self.interrupted)} run(s) interrupted, "
                  "resumable: " + (", ".join(self.interrupted) or "none"), flush=True)
            raise SystemExit(128 + self.stopping)

    def run_all(self, jobs: list[tuple]) -> list[dict | None]:
        """Independent runs, ``self.jobs`` at a time: (run dir, overrides[, required files]) each."""
        self._know([self.label(d) for d, *_ in jobs])
        self.plan = [self.label(d) for d, *_ in jobs if read_completed(d) is None]
        with self._stoppable(), ThreadPoolExecutor(self.jobs) as pool:
            return list(pool.map(lambda job: self.launch(*job), jobs))

    def run_chains(self, chains: list[list[tuple]]) -> None:
        """Chains run side by side; the runs of one chain in order (e.g. MP before the runs comparing with it),
        and a chain stops at its first failed run."""
        self._know([self.label(d) for chain in chains for d, *_ in chain])
        self.plan = list(dict.fromkeys(self.label(d) for chain in chains for d, *_ in chain if read_completed(d) is None))

        def run_chain(chain):
            for job in chain:  # later runs of a chain read what earlier ones wrote: stop at the first failure
                if self.launch(*job) is None:
                    return

        with self._stoppable(), ThreadPoolExecutor(self.jobs) as pool:
            list(pool.map(run_chain, chains))

    def _know(self, labels: list[str]) -> None:
        self.known += [label for label in dict.fromkeys(labels) if label not in self.known]  # a shared job once

    def time_left(self, todo: list[str]) -> str:
        """Hours left at the pace of this grid's finished runs: each run left is estimated by the mean
        ``wall_seconds`` of the finished runs in its folder (the study's runs/<task>/), else of its top folder
        (dense/, runs/), else of all; a running one counts half. The sum is shared by the runs side by side,
        but never less than the longest run left. Resumed runs (their record holds only their last launch) are
        left out of the means."""
        seconds: dict[str, list[float]] = {}
        for label in self.known:
            done = read_completed(self.root / label)
            if done and isinstance(done.get("wall_seconds"), (int, float)) \
                    and not was_resumed(self.root / label / "trace.jsonl"):  # fmt: skip
                for folder in _folders(label):
                    seconds.setdefault(folder, []).append(float(done["wall_seconds"]))
        left = [(label, 1.0) for label in todo] + [(label, 0.5) for label in self.running]
        if not left:
            return "nothing"
        if not seconds.get(""):
            return f"{len(left)} runs; no finished run to estimate their time from yet"

        def estimate(label: str) -> float:
            folder = next(f for f in _folders(label) if seconds.get(f))  # "" (all runs) always has some
            return sum(seconds[folder]) / len(seconds[folder])

        each = [share * estimate(label) for label, share in left]
        hours = max(sum(each) / self.jobs, max(each)) / 3600
        return (f"about {hours:.1f} h for {len(todo)} waiting and {len(self.running)} running ({self.jobs} side "
                f"by side; each at the mean time of the finished, not resumed, runs of its folder, of which there "
                f"are {len(seconds[''])})")

    def write_progress(self) -> None:
        done = sorted(label for label in self.known if read_completed(self.root / label))
        todo = [p for p in self.plan if p not in done and p not in self.running]
        lines = [f"# {self.title}: progress (written by scripts/gridrun.py)", "",
                 f"Updated {time.strftime('%Y-%m-%d %H:%M:%S %Z')}.", "",
                 f"- done ({len(done)}): " + (", ".join(done) or "none"),
                 f"- running ({len(self.running)}): " + (", ".join(sorted(self.running)) or "none"),
                 f"- next ({len(todo)}): " + (", ".join(todo) or "—"),
                 f"- failed this launch ({len(self.failed)}): " + (", ".join(self.failed) or "none"),
                 *([f"- interrupted this launch, resumable ({len(self.interrupted)}): " + ", ".join(self.interrupted)]
                   if self.interrupted else []),
                 f"- left: {self.time_left(todo)}", "", FOOTER, "", NOTES, ""]
        self.root.mkdir(parents=True, exist_ok=True)
        notes = kept_notes(self.root / "PROGRESS.md")
        text = "\n".join(lines) + (notes + "\n" if notes else "")
        try:
            old = (self.root / "PROGRESS.md").read_text()
        except FileNotFoundError:
            old = None
        if old is not None and _without_stamp(old) == _without_stamp(text):
            return  # nothing but the time changed: a launch that ran nothing leaves a committed file as it was
        tmp = self.root / ".PROGRESS.md.tmp"
        tmp.write_text(text)
        tmp.replace(self.root / "PROGRESS.md")


def _without_stamp(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("Updated ")]


FOOTER = "Finished runs are skipped and interrupted ones resume when the same command runs again."
NOTES = "<!-- Notes: the grid rewrites this file above this line and keeps what is written below it. -->"


def kept_notes(path: Path) -> str:
    """The hand-written part of a PROGRESS.md: the text below the NOTES line, or (a file written before that line
    existed) below the generated FOOTER; "" when there is none."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return ""
    for line in (NOTES, FOOTER):
        if line in text:
            return text.split(line, 1)[1].strip("\n")
    return ""


def _folders(label: str) -> list[str]:
    """A run's folders, nearest first, ending with "" (the whole grid): runs/cola/mp_s0.9 -> runs/cola, runs, ""."""
    parts = label.split("/")[:-1]
    return ["/".join(parts[:i]) for i in range(len(parts), 0, -1)] + [""]
