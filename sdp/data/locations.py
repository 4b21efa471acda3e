"""Where a data file is: a local path, or a URL that ``datasets`` reads through fsspec (hf://, https://, s3://).

A ``file://`` URL names a local file. Taken as remote (``"://"`` in it), it skipped every check of a local file:
datasets' cache answered with the version a file had before another was copied over it with its time kept (probe
round 47, fu2, fr2), and the file was never scanned, so a quote not closed merged rows unsaid (q2), a row of one field
too many was a traceback (q3) or "column 'label' is empty" (q4). It is turned into its path before anything reads it
(sdp-run's and sdp-eval's config, sdp-predict's input, and each reader of a task's files here), so it is read as its
path is."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from sdp.data.spec import DataError

# The config's keys (sdp/config.py) that name a file or folder: the ones whose `file://` URLs and leading `~` are read
# as their local paths (local_config). Only these: a class name `file:///pos` was rewritten to `/pos` and then refused
# as unknown (probe round 50, lab_url1).
PATH_KEYS = frozenset({"model.pretrained", "model.tokenizer", "task.train_file", "task.validation_file",
                       "task.test_file", "dense.checkpoint", "prune.teacher_checkpoint", "prune.reference_mask",
                       "data_dir", "cache_dir", "output_root", "output_dir"})
# Of them, the keys whose leading `~` is read as home here: those outside a run's identity (sdp/run/env.py
# NON_IDENTITY_KEYS, NON_IDENTITY_GROUP_KEYS; tests/test_probe_round50_lead.py keeps them in step), and the model
# folders no run could read with a `~` before (check_model_dir took `~/dm` literally: "does not exist"), so no run
# recorded one. The task files keep `~` as written (their readers expand it): expanded here, a run made before with
# `task.train_file='~/x.tsv'` was refused on relaunch as another config (review of round 50's fixes); so do
# model.pretrained and model.tokenizer, which a run could read so (models/inspect.py expands them).
MODEL_FOLDER_KEYS = frozenset({"dense.checkpoint", "prune.teacher_checkpoint"})
HOME_KEYS = frozenset({"output_root", "output_dir", "cache_dir", "data_dir", "prune.reference_mask"}) | MODEL_FOLDER_KEYS
LOCAL_FORM = "a local file's URL is file:///<absolute path> (or file://localhost/<absolute path>); or give the path"


def is_file_url(location: str | Path) -> bool:
    """``file://...``, or RFC 8089's short ``file:/<absolute path>`` (Java's File.toURI() writes it: review)."""
    text = str(location)[:7].lower()
    return text == "file://" or (text[:6] == "file:/" and text[6:7] != "/")


def is_url(location: str | Path) -> bool:
    """A location ``datasets`` reads through fsspec (hf://, https://, s3://, ...), not a local file (file:// is one)."""
    return "://" in str(location) and not is_file_url(location)


def local_path(location: str | Path, name: str = "") -> str | Path:
    """``location`` as given, but a ``file://`` URL as its local path (percent-escapes undone); a DataError naming
    ``name=location`` where it names no file of this machine: fsspec read the path here whatever host it named."""
    if not is_file_url(location):
        return location
    text = str(location)
    parts = urlsplit(text)
    named = f"{name}={text!r}" if name else repr(text)
    if parts.netloc.lower() not in ("", "localhost"):  # file://data/x.csv: a relative path meant? (review)
        raise DataError(f"{named} names the host {parts.netloc!r} (a file URL's path begins at its third slash, and "
                        f"sdp reads no file of another machine); {LOCAL_FORM}")
    if parts.query or parts.fragment or text.endswith(("?", "#")):  # a '?' or '#' of the name itself is %3F or %23
        raise DataError(f"{named} holds a '?' or '#', which a URL reads as a query or a fragment, not as part of the "
                        f"file's name (write them %3F and %23 there); {LOCAL_FORM}")
    path = url2pathname(parts.path)
    if not path.startswith("/") or path == "/":
        raise DataError(f"{named} names no file; {LOCAL_FORM}")
    # `%00` was a traceback (embedded null byte), `%0A` a folder whose name printed across two lines (probe round
    # 50, ev_nul, run_nul, ev_nl)
    if controls := [c for c in path if unicodedata.category(c) == "Cc"]:
        raise DataError(f"{named} holds the control character {ascii(controls[0])} once decoded, which no file's name "
                        f"here should hold; {LOCAL_FORM}")
    return path


def home_path(location: str, name: str = "") -> str:
    """``location`` with a leading ``~`` as the home folder: the input keys read `'~/x.csv'` as home, and the output
    keys wrote `'~/run'` to ./~/run while printing `~/run` (probe round 50, run_tilde, or_tilde, pr_tilde). A
    ``~user`` of no user here is a DataError (it made ./~user and then a traceback: review)."""
    if not location.startswith("~"):
        return location
    if (home := os.path.expanduser(location)).startswith("~"):
        named = f"{name}={location!r}" if name else repr(location)
        raise DataError(f"{named} begins with {location.split('/')[0]!r}, the home folder of no user here; give "
                        "the path (or ~/... for your own home folder)")
    return home


def local_argv(argv: list[str], path_keys: frozenset[str] | None = None) -> list[str]:
    """A command line's ``key=file:///...`` values (a bare argument too) as their paths, before anything reads them:
    `output_dir=file:///tmp/x` wrote the run to ./file:/tmp/x, unsaid (probe round 48, fw_od, fw_run), and cache_dir
    so made a cache no run found again (fw_cc); a leading ``~`` as home.
    Only the keys in ``path_keys`` (every argument where None): a class name or column is no path. A value in quotes,
    as sdp-run's are quoted (`"output='file:///tmp/p.txt'"`), is read without them: they were kept, and the labels
    written to ./'file:/tmp/p.txt' (probe round 49, pr_q, tb_q)."""
    out = []
    for arg in argv:
        key, eq, value = arg.partition("=") if "=" in arg and not is_file_url(arg) else ("", "", arg)
        name = key.lstrip("+~") or "argument"
        value = _unquoted(value, name)
        if path_keys is None or name in path_keys:  # (sdp-predict, sdp-tables, sdp-export: no sweeps, no comma lists)
            value = home_path(str(local_path(value, name)), name)
            check_name_lengths(value, name)
        out.append(f"{key}{eq}{value}")
    return out


NAME_MAX, PATH_MAX = 255, 4096  # bytes in one file name and in a whole path (Linux; ext4, xfs, apfs: 255 a name)


def check_name_lengths(value: str, name: str) -> None:
    """A DataError where a path names a file no file system here can hold: a part past NAME_MAX bytes (or the whole
    past PATH_MAX) made each reader's stat raise OSError 'File name too long', a traceback (round 53's part B,
    noticed: `model.pretrained=/tmp/<300 letters>`)."""
    long = [part for part in str(value).split("/") if len(part.encode()) > NAME_MAX]
    if long or len(str(value).encode()) > PATH_MAX:
        what = (f"a part of {len(long[0].encode())} bytes ({long[0][:24]!r}...)" if long
                else f"{len(str(value).encode())} bytes")
        raise DataError(f"{name}={str(value)[:60]!r}... names {what}, longer than a file's name (at most {NAME_MAX} "
                        f"bytes a part, {PATH_MAX} in all) can be here; give a shorter path")


def _unquoted(value: str, name: str) -> str:
    """``value`` without the quotes around it, read as Hydra reads a quoted value (`\\'` inside is a quote)."""
    if len(value) < 2 or value[0] != value[-1] or value[0] not in "'\"":
        return value
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_override(f"key={value}").value()
    except Exception:  # noqa: BLE001 - Hydra's grammar errors (HydraException, its antlr errors)
        parsed = None
    if not isinstance(parsed, str):
        raise DataError(f"{name}={value}: its quotes are not one quoted value (a quote inside one is written \\' or "
                        "\\\"); write the value in one pair of quotes, or without them")
    return parsed


def local_config(cfg: Any, prefix: str = "") -> None:
    """A composed config's ``file://`` values (interpolations resolving to one too) replaced by their paths, in place,
    after Hydra has parsed them: a URL's decoded path put back on the command line was Hydra text again, and
    `%2C`, `%24%7B...%7D` or a trailing `%20` became a sweep, an interpolation or nothing (probe round 49, pc_sw,
    pc_int, pc_sp); a quoted or choice() value was not converted at all (pc_quote, pc_choice)."""
    # A config's own values first, then its interpolations: `${output_root}/x` resolves to the converted root, and
    # `file:///tmp/r_${seed}` or SDP_CACHE_DIR=file:///... through `${oc.env:...}` to a URL that is converted too
    # (review of round 49's fixes: both were skipped, and the run written to ./file:/...). Each pass over the whole
    # config: a list's `${output_root}` item, met before output_root was converted, was replaced by its path (round
    # 49, left open).
    for interpolations in (False, True):
        _convert_file_urls(cfg, prefix, interpolations, PATH_KEYS)


_REFERENCE = re.compile(r"\$\{\.*[\w\-]+(?:(?:\.|\[)[\w\-\]]+)*\}")  # `${r}`, `${task.train_file}`: another node alone


def _convert_file_urls(cfg: Any, prefix: str, interpolations: bool, keys: frozenset[str]) -> None:
    """local_config's one pass: the ``file://`` (or ``~``) values of ``keys`` that are (or are not) interpolations."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    raw = OmegaConf.to_container(cfg, resolve=False)  # each value as written (an interpolation's `${...}`)
    for key in list(cfg.keys() if isinstance(cfg, DictConfig) else range(len(cfg))):
        name = f"{prefix}{key}" if isinstance(cfg, DictConfig) else f"{prefix.rstrip('.')}[{key}]"
        is_interpolation = OmegaConf.is_interpolation(cfg, key)
        try:
            value = cfg[key]
        except Exception:  # noqa: BLE001 - an interpolation that cannot resolve here (a missing value): its own error
            continue
        if isinstance(value, (DictConfig, ListConfig)):
            if not is_interpolation:
                _convert_file_urls(value, f"{name}.", interpolations, keys)
        elif name in keys and isinstance(value, str) and value.startswith("~") and name not in HOME_KEYS:
            home_path(value, name)  # kept as written, but `~user` of no user is one line (a traceback: round 51)
            check_name_lengths(value, name)
        elif (name in keys and is_interpolation == interpolations and isinstance(value, str)
              and (is_file_url(value) or (value.startswith("~") and name in HOME_KEYS))
              and not (is_interpolation and _REFERENCE.fullmatch(str(raw[key])))):
            # a path's own `${` is no interpolation (pc_int); `${u}` alone stays one: u is converted in its own right
            path = str(local_path(value, name))
            path = home_path(path, name) if name in HOME_KEYS else path
            check_name_lengths(path, name)
            cfg[key] = re.sub(r"(\\*)\$\{", lambda m: m[1] * 2 + "\\${", path)
        elif name in keys and isinstance(value, str):
            check_name_lengths(value, name)


def local_argv_or_exit(argv: list[str], prog: str, path_keys: frozenset[str] | None = None) -> list[str]:
    """local_argv, or its error as one line (``<prog>: error: ...``) and SystemExit(2), as a command's parser says."""
    import sys

    try:
        return local_argv(argv, path_keys)
    except DataError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


def data_location(path: str | Path) -> str:
    """What the run records and reads: a local file's absolute path, or the URL as given."""
    return str(path) if is_url(path) else str(Path(str(local_path(path))).expanduser().resolve())

