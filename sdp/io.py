"""Atomic file writes (a kill during a write never leaves a half-written file behind), and the run log.

Temporary files and folders are created private (0600/0700, by ``tempfile``); once complete they get
the mode a plain ``open()`` / ``mkdir()`` would have given under the process umask, so results are
as readable by others as any other file the user writes.

A full disk (or quota) and a folder removed while a run writes into it are one-line errors naming the path
(:func:`writing`; ``DiskFullError`` and ``FolderRemovedError`` are user errors, sdp/errors.py), not the OS's
or a library's traceback: what was written before stays whole, since every file here is written aside and
renamed into place only once complete.

Also :func:`hydra_quoted`, a value (a path, mostly) as an override Hydra reads back: the advice of sdp/command_line.py
and sdp/models (a leaf, which may import this module only) quotes its values with it (probe round 53, pm_pkg_q).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


class DiskFullError(OSError):
    """No space left on the device (or the disk quota reached) while writing a file."""


class FolderRemovedError(OSError):
    """The folder a file was being written into was removed (or moved away) while the run went on."""


# safetensors (Rust) and other libraries wrap the OS's error in their own exception: only its text tells
NO_SPACE_TEXT = ("No space left on device", "Disk quota exceeded", "StorageFull", "os error 28", "os error 122")


def no_space(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return any(text in str(exc) for text in NO_SPACE_TEXT)


def removed_folder(path: str | Path) -> Path | None:
    """The outermost missing folder above ``path`` whose own parent exists (what was removed), else None."""
    missing = None
    for parent in Path(path).absolute().parents:
        if parent.is_dir():
            return missing
        missing = parent
    return None


@contextlib.contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """Writes to ``path`` in the block: a full disk, or the folder removed meanwhile, become one line naming it."""
    try:
        yield
    except (DiskFullError, FolderRemovedError):
        raise
    except Exception as exc:
        if no_space(exc):
            raise DiskFullError(
                f"no space left on the device writing {str(path)!r} ({type(exc).__name__}: "
                f"{' '.join(str(exc).split())[:200]}); the files written before it are whole (each is written "
                "aside and renamed into place). Free some space and run the same command again: a run resumes "
                "from its last checkpoint") from exc
        gone = removed_folder(path) if isinstance(exc, FileNotFoundError) else None
        if gone is not None:
            raise FolderRemovedError(
                f"the folder {str(gone)!r} was removed (or moved) while {str(path)!r} was being written in it; "
                "nothing more is written there. Run the same command again to start over") from exc
        raise


def umask_mode(directory: bool = False) -> int:
    """0666 (files) or 0777 (folders) less the current umask: what open()/mkdir() would give."""
    mask = os.umask(0)
    os.umask(mask)
    return (0o777 if directory else 0o666) & ~mask


def publish_tree(root: str | Path) -> None:
    """chmod a finished temporary folder (and everything in it) to the umask's modes."""
    root = Path(root)
    file_mode, dir_mode = umask_mode(), umask_mode(directory=True)
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(dir_mode if path.is_dir() else file_mode)


def atomic_write(path: str | Path, write: Callable[[Path], None], replace: bool = True) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path`` (same directory, so the rename is atomic). ``replace``
    false: FileExistsError if ``path`` exists by then, the file there kept (another process's output written while
    this one worked was replaced, both saying they wrote it: probe round 30)."""
    path = Path(path)
    if path.is_symlink():  # into the file it points to, as a shell's > writes: the rename replaced the link itself,
        path = path.resolve()  # and the file it named kept its old content (sdp-predict output=; probe round 15, o04)
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            write(Path(tmp))
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.chmod(tmp, umask_mode())
            if replace:
                os.replace(tmp, path)
            else:  # a hard link is made only where no file is: the check and the write are one step
                try:
                    os.link(tmp, path)
                    os.unlink(tmp)
                except FileExistsError:
                    raise
                except OSError:  # no hard links here (some network or FUSE filesystems): the name is claimed
                    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))  # as one step, then filled
                    os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)  # a full disk gets its space back; the old file is untouched
            raise


def is_sdp_run_record(record: Any) -> bool:
    """Whether a parsed run.json is sdp's: its config with the config_hash sdp writes beside it (every run.json since the
    first; another Hydra app's holds a config too: probe rounds 42-43, oth4, a4). One rule for sdp/run/nesting.py and
    sdp/training_rows.py, which sdp/run imports."""
    return isinstance(record, dict) and isinstance(record.get("config"), dict) and "config_hash" in record


TEMPORARY = re.compile(r"\.(.+)\.[a-z0-9_]{8}\.(tmp|old)")  # atomic_write's temporary and set-aside names


def remove_dead_temporaries(folder: str | Path) -> list[str]:
    """Remove the temporaries a killed process left in ``folder``: atomic_write's and rundir.atomic_dir's
    ``.<name>.<8 random characters>.tmp`` (mkstemp's), and atomic_dir's ``.old`` holding the old version, which is moved
    back where the kill came between its two renames and ``<name>`` is gone. The caller holds the folder's lock, so no
    live process writes them. A run killed while writing model/ (its ONNX graph) kept a hidden 4.6 MB
    ``.model.<random>.tmp/`` after it resumed and completed (probe round 31, noticed). Returns the names removed."""
    gone = []
    for path in sorted(Path(folder).iterdir()):
        if not (found := TEMPORARY.fullmatch(path.name)):
            continue  # a user's own hidden file (.notes.v1.old) is not sdp's
        target = path.parent / found.group(1)
        if found.group(2) == "old" and (path / "x").exists() and not target.exists():
            os.replace(path / "x", target)  # the only copy: the new version never took its place
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() and not path.is_symlink() else path.unlink(missing_ok=True)
        gone.append(path.name)
    return gone


def write_json(path: str | Path, data: Any) -> None:
    text = json.dumps(data, indent=2, sort_keys=False, default=float) + "\n"
    atomic_write(path, lambda p: p.write_text(text))


def append_jsonl(path: str | Path, record: dict) -> None:
    """One record, one line (a line cut short by a kill or a full disk is cut off at the next resume: logs.py)."""
    with writing(path), open(path, "a") as fh:
        fh.write(json.dumps(record) + "\n")


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks (checkpoint manifests, model digests)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def folder_lock(path: str | Path, wait: bool = True,
                waiting: Callable[[], None] | None = None) -> Iterator[bool]:
    """``flock`` on the folder itself (no file is left in it) for the block; yields whether it is held (``wait`` false:
    False at once where another process holds it). Two tools writing one folder at once each said they wrote it,
    and one's output was lost, or the folder held both's files mixed (probe round 30). ``waiting``: called once
    before a wait for another's hold (a command that waited for ever said nothing: probe round 47, lk1)."""
    import fcntl

    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                yield False
                return
            if not _held_within(fd, WAIT_BEFORE_SAYING) and waiting is not None:
                waiting()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield True
    finally:
        os.close(fd)


# Another reader's ordinary turn (two jobs of a sweep reading their files) is no news: said only past this wait
WAIT_BEFORE_SAYING = 10.0  # seconds (review of round 47's fixes: it was said at once, a warning in every record)


def _held_within(fd: int, seconds: float) -> bool:
    """Whether ``fd``'s flock is got within ``seconds``, trying every tenth of a second."""
    import fcntl
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.1)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            continue
    return False


def lock_holder(path: str | Path) -> str | None:
    """``pid N (its command)`` of the process holding an ``flock`` on ``path``, read from /proc/locks (Linux); None
    where it is not known (another system, another pid namespace, the lock gone meanwhile)."""
    try:
        st = os.stat(path)
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:  # "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234567 0 EOF" (a waiter's line has "->" second)
        fields = line.split()
        if len(fields) < 6 or fields[1] != "FLOCK" or fields[5].count(":") != 2:
            continue
        major, minor, inode = fields[5].split(":")
        try:
            same = (int(inode), int(major, 16), int(minor, 16)) == (st.st_ino, os.major(st.st_dev), os.minor(st.st_dev))
        except ValueError:
            continue
        if same:
            try:
                command = Path(f"/proc/{fields[4]}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                command = b""
            words = " ".join(command.decode(errors="replace").split())
            return f"pid {fields[4]}" + (f" ({words[:160]}{'...' if len(words) > 160 else ''})" if words else "")
    return None


# A run folder's final mask: written by sdp/pruning/overlap.py, read by the run's inputs (sdp/run/same_data.py) and
# claims.md (sdp/report/claim_pairs.py); named here, where nothing loads torch.
MASK_FILE = "mask.safetensors"


def hydra_quoted(value: str) -> str:
    """``value`` in the quotes Hydra reads back as ``value``: double quotes around a `'`, else single quotes, a quote
    inside escaped (the advice wrapped any value in '...', and `dv'q.csv` so quoted was Hydra's error again: probe
    round 49, qa_apos)."""
    quote = '"' if "'" in value and '"' not in value else "'"
    # a backslash run before the quote (or at the end) is doubled, then the quote escaped: Hydra's quoted-string rules
    escaped = re.sub(rf"(\\*)({quote}|$)", lambda m: m[1] * 2 + ("\\" + quote if m[2] else ""), value)
    return f"{quote}{escaped}{quote}"
