"""The code a run was made by: part of its identity, next to its config (run.json and metrics.json ``code``).

    code_identity() -> {"id": ..., "version": ..., "commit": ..., "tree": ..., "diff": ...}

* In a git checkout (the package's own: ``git rev-parse --show-toplevel`` is the folder above sdp/):
  ``commit`` is HEAD; ``tree`` the git tree ids of the package folders (PACKAGE_DIRS) at HEAD; ``diff`` a hash
  of every uncommitted change there (``git diff HEAD`` plus the untracked files), None when there is none.
* Elsewhere (a wheel, an unpacked archive, a checkout with no git on PATH): ``commit`` is None and ``tree`` a hash
  of the installed package's files, with conf/ and cli/ when they sit beside sdp/ (a wheel ships them inside it).
* ``id`` hashes the version, tree and diff, not the commit: a commit that changes only records, docs or
  scripts (the study commits its records as it goes) leaves the code, and so a run's identity, as it was.

Two runs of one config stand for each other only with one ``id`` (sdp/run/rundir.py, sdp/sweep.py);
``reuse=any_code`` accepts a run made by other code. Plug-in modules (``SDP_PLUGINS``, ``sdp.plugins`` entry
points) are code a run executes too: with any, ``plugins`` holds each one's source hash and ``id`` hashes them as
well. Computed once per process: a run is identified by the code it started with, not by edits made while it runs;
a sweep's later job whose code on disk is no longer that code is refused (``check_unchanged``).
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any

PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # sdp/ (in a wheel, conf and cli ship inside it)
REPO_ROOT = PACKAGE_ROOT.parent
PACKAGE_DIRS = ("sdp", "conf", "cli")  # what sdp-run executes, in a checkout
REUSE_CHOICES = ("same_code", "any_code")  # the top-level key ``reuse`` (sdp/config.py)


def package_version() -> str:
    """The installed distribution's version (pyproject's), else "unknown"."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sdp-prune")
    except PackageNotFoundError:
        return "unknown"


def _git(root: Path, *args: str) -> bytes:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, check=True).stdout


def is_checkout(root: Path) -> bool:
    """True when ``root`` is the top of a git work tree (not merely inside one: a venv in a checkout is not)."""
    try:
        top = _git(root, "rev-parse", "--show-toplevel").decode().strip()
    except (OSError, subprocess.CalledProcessError):
        return False
    return Path(top).resolve() == root.resolve()


def _checkout_code(root: Path) -> dict[str, Any]:
    commit, *trees = _git(root, "rev-parse", "HEAD", *(f"HEAD:{d}" for d in PACKAGE_DIRS)).decode().split()
    digest = hashlib.sha256(_git(root, "diff", "HEAD", "--binary", "--", *PACKAGE_DIRS))
    untracked = _git(root, "ls-files", "--others", "--exclude-standard", "-z", "--", *PACKAGE_DIRS).split(b"\0")
    for name in sorted(n for n in untracked if n):
        digest.update(name + b"\0" + (root / name.decode()).read_bytes())
    changed = bool(_git(root, "status", "--porcelain", "--", *PACKAGE_DIRS).strip())
    for name in _hidden_edits(root):  # git diff and status skip them: their edits go into the diff here
        digest.update(b"hidden\0" + name.encode() + b"\0" + (root / name).read_bytes())
        changed = True
    return {"commit": commit, "tree": hashlib.sha256(" ".join(trees).encode()).hexdigest()[:16],
            "diff": digest.hexdigest()[:16] if changed else None}


def _hidden_edits(root: Path) -> list[str]:
    """Files marked skip-worktree or assume-unchanged (``git update-index``) whose content differs from the index:
    git diff and git status do not look at them, so an edit there left the identity as it was and the old result
    came back as this code's (probe round 6)."""
    hidden = []
    for entry in _git(root, "ls-files", "-v", "-s", "-z", "--", *PACKAGE_DIRS).decode().split("\0"):
        meta, _, name = entry.partition("\t")
        parts = meta.split()
        if len(parts) == 4 and (parts[0] == "S" or parts[0].islower()) and (root / name).is_file():
            hidden.append((name, parts[2]))
    if not hidden:
        return []
    blobs = _git(root, "hash-object", "--", *(n for n, _ in hidden)).decode().split()
    return [name for (name, indexed), blob in zip(hidden, blobs) if blob != indexed]


def _installed_code(package: Path) -> dict[str, Any]:
    """No git: the package's own files (sources, configs, assets), compiled caches left out; in a source tree
    (conf/ and cli/ beside sdp/, as an editable install or an unpacked archive has them: a wheel ships them inside
    sdp/) those folders too, named as the wheel names them. Without them an edit to cli/ left the identity as it was,
    and the old result came back as this code's when git was not on PATH (probe round 7)."""
    folders = [(package, "")]
    beside = package.parent
    if (not (package / "conf").is_dir() and (beside / "conf" / "config.yaml").is_file()
            and (beside / "cli" / "run.py").is_file()):
        folders += [(beside / name, f"{name}/") for name in PACKAGE_DIRS if name != package.name]
    digest = hashlib.sha256()
    for folder, prefix in folders:  # the package first, in the order it always had: a wheel's identity is unchanged
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                           and p.suffix not in (".pyc", ".pyo")):
            digest.update((prefix + path.relative_to(folder).as_posix()).encode() + b"\0" + path.read_bytes())
    return {"commit": None, "tree": digest.hexdigest()[:16], "diff": None}


def fingerprint(root: Path = REPO_ROOT, package: Path = PACKAGE_ROOT) -> dict[str, Any]:
    """The code identity of the checkout at ``root`` (else of the installed ``package``); not cached."""
    try:
        code = _checkout_code(root) if is_checkout(root) else _installed_code(package)
    except (OSError, subprocess.CalledProcessError):  # e.g. git missing or a shallow clone without HEAD:<dir>
        code = _installed_code(package)
    code = {"version": package_version(), **code}
    key = f"{code['version']}|{code['tree']}|{code['diff']}"
    plugins = plugin_code()
    if plugins:  # only then: the identity of a run without plug-ins stays what it was
        code["plugins"] = plugins
        key += "|" + "|".join(f"{name}={digest}" for name, digest in sorted(plugins.items()))
    return {"id": hashlib.sha256(key.encode()).hexdigest()[:16], **code}


# Plug-in modules (sdp/objectives/registry.py, named here without importing it: nothing of sdp's is imported here)
# run inside the training loop as much as sdp's own code; edited after a run, the same command returned the old
# result as "already completed" (probe round 6).
PLUGINS_ENV, PLUGIN_GROUP = "SDP_PLUGINS", "sdp.plugins"


def _module_files(name: str) -> list[tuple[str, Path]]:
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations and not spec.origin:  # a folder without __init__.py
        return sorted((f.relative_to(d).as_posix(), f) for d in spec.submodule_search_locations
                      if not _is_foreign(Path(d)) for f in Path(d).rglob("*.py") if "__pycache__" not in f.parts)
    if spec is None or not spec.origin or not Path(spec.origin).is_file():
        return []
    if spec.submodule_search_locations:  # a package: every source file under it
        return sorted((f.relative_to(d).as_posix(), f) for d in spec.submodule_search_locations
                      for f in Path(d).rglob("*.py") if "__pycache__" not in f.parts)
    return [(Path(spec.origin).name, Path(spec.origin))]


def _is_foreign(path: Path) -> bool:
    """A file another identity covers or no one edits: sdp's own folders (the code identity above), the standard
    library and installed packages."""
    import sys
    import sysconfig

    path = path.resolve()
    roots = [REPO_ROOT / d for d in PACKAGE_DIRS] + [PACKAGE_ROOT]
    roots += [Path(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}]
    roots += [Path(p) for p in sysconfig.get_paths().values()]
    return any(path.is_relative_to(r.resolve()) for r in roots)


def _local_imports(path: Path, seen: set[Path]) -> list[tuple[str, Path]]:
    """The user's own modules a plug-in file imports (``from helper_scale import SCALE`` beside it), found by
    reading its import statements (nothing is imported here), recursively: an edit to such a helper changes what
    the plug-in computes, and it left the identity as it was, so the old result came back as "already completed"
    (probe round 9)."""
    import ast

    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return []
    names, relative = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:  # from .helpers import X: beside it (probe round 26)
            relative += _relative_files(path, node)
    found = [(f"{name.split('.')[0]}/{label}", file) for name in sorted(names)
             for label, file in _module_files(name.split(".")[0])]
    out = []
    for label, file in [*found, *relative]:
        if file.resolve() in seen or _is_foreign(file):
            continue
        seen.add(file.resolve())
        out.append((label, file))
        if file.suffix == ".py":
            out += _local_imports(file, seen)
    return out


def _relative_files(path: Path, node: Any) -> list[tuple[str, Path]]:
    """The files a relative import in ``path`` reads (``from .helpers import X``, ``from . import helpers``,
    ``from ..pkg import y``), labelled by their place relative to ``path``'s folder."""
    base = path.parent
    for _ in range(node.level - 1):
        base = base.parent
    mods = [node.module] if node.module else [a.name for a in node.names]
    out = []
    for mod in mods:
        target = base.joinpath(*mod.split("."))
        for file in (target.with_name(target.name + ".py"), target / "__init__.py"):
            if file.is_file():
                out.append((f".{node.level}/{file.relative_to(base).as_posix()}", file))
    return out


def plugin_code() -> dict[str, str]:
    """{module: hash of its source file(s)} of each plug-in named in $SDP_PLUGINS or as an ``sdp.plugins`` entry
    point ("unknown" for one whose source cannot be found); empty without plug-ins."""
    from importlib.metadata import entry_points

    names = [n.strip() for n in os.environ.get(PLUGINS_ENV, "").split(",") if n.strip()]
    names += [ep.value.split(":")[0] for ep in entry_points(group=PLUGIN_GROUP)]
    out = {}
    for name in dict.fromkeys(names):
        files = _module_files(name)
        seen = {f.resolve() for _, f in files}
        files += [helper for _, f in list(files) if f.suffix == ".py" for helper in _local_imports(f, seen)]
        digest = hashlib.sha256()
        for label, path in files:
            digest.update(label.encode() + b"\0" + path.read_bytes())
        out[name] = digest.hexdigest()[:16] if files else "unknown"
    return out


@functools.lru_cache(maxsize=1)
def code_identity() -> dict[str, Any]:
    """This process's code identity (fingerprint of the code it started with)."""
    return fingerprint()


class CodeChangedError(RuntimeError):
    """The code on disk is no longer the code this process's identity was taken from (sdp/errors.py USER_ERRORS)."""


def check_unchanged() -> None:
    """For a job of a sweep: the code on disk must still be the code this process's identity names. A sweep's
    process takes its identity once, and a local sweep's jobs are forked from it with the modules it had imported;
    code edited while the sweep ran then ran in its later jobs only in part (the modules a job imports first) under
    one identity, or under the edit's identity in a forked job that ran the old modules it inherited: the record
    named code that did not make it (probe round 7). Such a job is refused; launching the sweep again runs it."""
    started, now = code_identity(), fingerprint()
    if now["id"] != started["id"]:
        raise CodeChangedError(f"the code changed while this sweep ran (code {started['id']} when it started, "
                               f"{now['id']} now): this job would run a mix of both under one identity; launch the "
                               "sweep again to run it on the code as it is now")


def core_id(code: dict) -> str:
    """The identity of sdp's own code in a recorded ``code`` block: its id less the plug-ins' (what a run of the same
    sdp without plug-ins records as its id). Plug-ins act in the pruning stage only, so a plug-in run's dense stage,
    and its MP partner run without plug-ins, are the same sdp code: the tables marked them as mixed versions (†)."""
    if not code.get("plugins") or not code.get("tree"):
        return str(code.get("id") or "")
    return hashlib.sha256(f"{code.get('version')}|{code.get('tree')}|{code.get('diff')}".encode()).hexdigest()[:16]


def recorded_code(record: dict | None) -> dict | None:
    """The ``code`` block of a run.json or metrics.json; None for a record from before it was written."""
    code = (record or {}).get("code")
    return code if isinstance(code, dict) and code.get("id") else None


def same_code(record: dict | None) -> bool:
    """Was ``record`` (run.json or metrics.json) made by this process's code? A record without one: not known,
    so not the same."""
    code = recorded_code(record)
    return code is not None and code["id"] == code_identity()["id"]


def describe(record: dict | None) -> str:
    """'code <id> (commit <c>)' of a record, for one-line messages."""
    code = recorded_code(record)
    if code is None:
        commit = ((record or {}).get("versions") or {}).get("sdp")
        return f"unrecorded code (commit {str(commit)[:10]})" if commit else "unrecorded code"
    return f"code {code['id']}" + (f" (commit {code['commit'][:10]}{', uncommitted changes' if code.get('diff') else ''})"
                                   if code.get("commit") else "")
