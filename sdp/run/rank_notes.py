"""What stopped a rank other than 0, for the run's record: only rank 0 writes metrics.json and error.txt, and when
another rank raised (or got a stop signal outside a training stage) rank 0 recorded its own error, the symptom
(gloo's ``Connection closed by peer``), and the cause was said nowhere but on that rank's console (probe round 39,
d1 and d3). A rank > 0 now leaves ``rank-<N>.error`` (one line) in the run folder before it exits, so the peer's error
that rank 0 then meets is recorded with it; the notes are cleared when the folder is launched again."""

from __future__ import annotations

from pathlib import Path

from sdp.io import atomic_write
from sdp.run.launch import launcher_rank

PREFIX, SUFFIX = "rank-", ".error"  # <run dir>/rank-1.error


def note_rank_stop(run_dir: str | Path, what: str) -> None:
    """On a rank > 0: say in the run folder why this rank stops (its error, or the signal), before it exits."""
    rank = launcher_rank()
    if rank <= 0:
        return
    try:
        line = " ".join(str(what).split())[:500]
        atomic_write(Path(run_dir) / f"{PREFIX}{rank}{SUFFIX}", lambda p: p.write_text(line + "\n", encoding="utf-8"))
    except OSError:
        pass  # a run folder that cannot be written: the console still has it


def with_peer_stops(run_dir: str | Path, message: str) -> str:
    """Rank 0's error ``message``, led by what stopped the other ranks first where they said so (their notes; one
    that says what rank 0's says, such as a config error every rank found, is not said twice)."""
    notes = []
    for path in sorted(Path(run_dir).glob(f"{PREFIX}*{SUFFIX}"), key=_rank):  # rank 2 before rank 10
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if text and text != " ".join(message.split())[:500]:
            notes.append(f"rank {path.name[len(PREFIX):-len(SUFFIX)]}: {text}")
    return f"{'; '.join(notes)} (then rank 0: {message})" if notes else message


def _rank(path: Path) -> tuple[int, str]:
    number = path.name[len(PREFIX):-len(SUFFIX)]
    return (int(number) if number.isdigit() else 1 << 30, number)


def clear_rank_notes(run_dir: str | Path) -> None:
    """A new launch into the folder: an earlier launch's notes are not this one's."""
    for path in Path(run_dir).glob(f"{PREFIX}*{SUFFIX}"):
        try:
            path.unlink()
        except OSError:
            pass
