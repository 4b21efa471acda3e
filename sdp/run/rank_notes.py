"""What stopped a rank other than 0, for the run's record: only rank 0 writes metrics.json and error.txt, and when
another rank raised (or got a stop signal outside a training stage) rank 0 recorded its own error, the symptom
(gloo's ``Connection closed by peer``), and the cause was said nowhere but on that rank's console (probe round 39,
d1 and d3). A rank > 0 now leaves ``rank-<N>.error`` (one line) in the run folder before it exits, so the peer's error
that rank 0 then meets is recorded with it; the notes are cleared when the folder is launched again. A rank killed
outright (SIGKILL, the out-of-memory killer) writes none: rank 0's record then says that a rank ended without one."""

from __future__ import annotations

import re
from pathlib import Path

from sdp.io import atomic_write
from sdp.run.launch import launcher_rank, launcher_world_size

PREFIX, SUFFIX = "rank-", ".error"  # <run dir>/rank-1.error
# ranks > 0 in ASCII digits: a user's rank-summary.error, rank-0.error or rank-١.error is theirs (rounds 45-46, u3, u5, u6)
NOTE_NAME = re.compile(rf"{PREFIX}[1-9][0-9]*{re.escape(SUFFIX)}")
# What rank 0 meets when a peer process is gone: gloo's words (in an error that names gloo: a Hub download's
# "Connection reset by peer" is no peer rank's), NCCL's for a lost peer (its other errors, out of memory, are rank 0's)
GLOO_PEER_LOST = ("Connection closed by peer", "Connection reset by peer", "Broken pipe", "Read error")
NCCL_PEER_LOST = ("remote process exited", "ncclRemoteError", "communicator was aborted")  # not rank 0's own NCCL error


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


STOPPED_BY_SIGNAL = "interrupted by "  # how a rank's note of a stop signal begins (sdp/run/signals.py)


def peer_lost(message: str) -> bool:
    """Whether rank 0's error ``message`` is a peer process gone (torch.distributed's, not a network fault's)."""
    return ("gloo" in message and any(words in message for words in GLOO_PEER_LOST)) or any(
        words in message for words in NCCL_PEER_LOST)


def stopped_by_signal(run_dir: str | Path, message: str) -> bool:
    """Whether the run was stopped, not failed: a rank noted a stop signal, every other note is one too or its peer's
    leaving (of three ranks, rank 2 meets rank 1's leaving as rank 0 does), and rank 0's own error ``message`` is
    their leaving (gloo's ``Connection closed by peer``). It resumes from its newest checkpoint. A rank's error beside
    them (out of memory, then the launcher's SIGTERM to the rest) is a failure. A rank killed outright leaves no note:
    of four ranks or more, one so killed beside a launcher's SIGTERM noted by another reads as interrupted (it is
    resumable all the same: the checkpoint is rank 0's)."""
    notes = [text for _, text in _notes(run_dir)]
    stops = [text.startswith(STOPPED_BY_SIGNAL) for text in notes]
    return any(stops) and all(stop or peer_lost(text) for stop, text in zip(stops, notes)) and peer_lost(message)


def with_peer_stops(run_dir: str | Path, message: str) -> str:
    """Rank 0's error ``message``, led by what stopped the other ranks first where they said so (their notes; one
    that says what rank 0's says, such as a config error every rank found, is not said twice)."""
    said = [f"rank {rank}: {text}" for rank, text in _notes(run_dir) if text != " ".join(message.split())[:500]]
    if said:
        return f"{'; '.join(said)} (then rank 0: {message})"
    if launcher_world_size() > 1 and peer_lost(message):  # a rank that died with no word
        return (f"{message} (another rank ended without a note: killed outright, as by SIGKILL or the out-of-memory "
                "killer, or crashed in native code; the launcher's output names the rank and its exit)")
    return message


def _notes(run_dir: str | Path) -> list[tuple[str, str]]:
    """(rank, note) of every rank's note in the folder, rank 2 before rank 10."""
    notes = []
    for path in sorted(_note_files(run_dir), key=_rank):
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if text:
            notes.append((path.name[len(PREFIX):-len(SUFFIX)], text))
    return notes


def _note_files(run_dir: str | Path) -> list[Path]:
    return [path for path in Path(run_dir).glob(f"{PREFIX}*{SUFFIX}") if NOTE_NAME.fullmatch(path.name)]


def _rank(path: Path) -> tuple[int, str]:
    number = path.name[len(PREFIX):-len(SUFFIX)]
    return int(number), number  # NOTE_NAME's: digits


def clear_rank_notes(run_dir: str | Path) -> None:
    """A new launch into the folder: an earlier launch's notes are not this one's."""
    for path in _note_files(run_dir):
        try:
            path.unlink()
        except OSError:
            pass
