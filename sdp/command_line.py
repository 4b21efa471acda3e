"""Checks of an sdp-run (or sdp-eval) command line before Hydra composes it: each names the argument and its cure,
where Hydra's own error would be a traceback or send the user to a '+' nothing reads. The schema is sdp/config.py's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdp.config import Config
from sdp.io import hydra_quoted  # (there: sdp/models quotes its advice with it, and may import sdp.io only)


def conf_groups() -> set[str]:
    """The config tree's group names (debug, experiment, method, ...): the repository's conf/ beside sdp/, else the
    installed package sdp.conf (a wheel)."""
    root: Any = Path(__file__).resolve().parents[1] / "conf"
    if not root.is_dir():
        from importlib.resources import files

        root = files("sdp.conf")
    return {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}


def misspelt_key_errors(argv: list[str], groups: set[str]) -> list[str]:
    """Plain overrides of a key the schema lacks, before Hydra composes (its "To append to your config use
    +spasity=0.5" sends the user to a '+' nothing reads); a group given null. ``groups``: the tree's group names."""
    import dataclasses
    import difflib

    import sdp.config as here  # the schema's field types are names there (annotations are strings)

    errors = []
    for arg in argv:
        key, _, value = arg.partition("=")
        if (key.lstrip("+") in groups or key.lstrip("+").startswith("hydra/")) and value == "null":  # Hydra's "Got
            errors.append(f"{arg}: {key.lstrip('+')} is a config group: name one of its options (sdp-run --help lists "
                          "them; no distillation or weight term: regularizer=none, weight_reg=none)")  # NoneType": r29, r30
        if arg.startswith(("-", "+", "~")) or "=" not in arg or "/" in key or "@" in key or key.startswith("hydra"):
            continue
        schema, prefix = Config, ""
        for part in key.split("."):
            fields = {f.name: f for f in dataclasses.fields(schema)}
            if part not in fields and not (schema is Config and part in groups):
                close = difflib.get_close_matches(part, [*fields, *(groups if schema is Config else ())], n=1)
                hint = f"did you mean {prefix}{close[0]}? " if close else ""
                errors.append(f"{arg}: {prefix}{part} is not a key of {prefix.rstrip('.') or 'the config'} (nothing "
                              f"would read it, '+' or not): {hint}its keys are {sorted(fields)}")
                break
            sub = fields[part].type if part in fields else None
            sub = getattr(here, sub, None) if isinstance(sub, str) else sub
            if not (isinstance(sub, type) and dataclasses.is_dataclass(sub)):
                break  # an open node (regularizer options, a dict) or a leaf: Hydra and the validation judge it
            schema, prefix = sub, f"{prefix}{part}."
    return errors


def deletion_errors(argv: list[str]) -> list[str]:
    """``~key`` removing a schema key (or its group), before Hydra composes: ``~sparsity`` failed inside Hydra with
    a 100-line traceback (round 11). The optional preset groups (``~debug``, ``~method``) stay removable."""
    import dataclasses

    fields = {f.name for f in dataclasses.fields(Config)}
    errors = []
    for arg in argv:
        if not arg.startswith("~"):
            continue
        key = arg[1:].partition("=")[0]
        if key.split(".")[0] in fields:
            errors.append(f"{arg} removes {key!r}, which sdp-run reads (a key of the schema, sdp/config.py): set it "
                          f"to another value instead ({key}=<value>; regularizer=none, weight_reg=none for no term)")
    return errors


def repeated_sweep_errors(argv: list[str]) -> list[str]:
    """A key given twice on the command line where one of them sweeps (``-m seed=1,2 seed=3``): Hydra keeps the
    last and drops the other without a word, so the sweep ran one job where the user asked for two (probe round
    16, k13). A key repeated with plain values keeps Hydra's rule (the last wins, round 11's h07). Arguments Hydra
    cannot parse (a flag's value such as ``--cfg job``, a malformed override) are left to Hydra."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser, given = OverridesParser.create(), {}
    for arg in argv:
        if arg.startswith("-") or "=" not in arg:
            continue
        try:
            (override,) = parser.parse_overrides([arg])
        except Exception:  # noqa: BLE001 - Hydra reports a bad override itself, in its words
            continue
        given.setdefault(override.key_or_group, []).append(override)
    return [f"{key} is given {len(group)} times ({', '.join(o.input_line for o in group)}) and one of them is a "
            f"sweep: Hydra would keep only the last ({group[-1].input_line}); give the key once, with every value "
            f"to sweep ({key}=a,b,c)"
            for key, group in given.items() if len(group) > 1 and any(o.is_sweep_override() for o in group)]


def sweeper_params_errors(argv: list[str]) -> list[str]:
    """``hydra.sweeper.params`` on the command line with Hydra's basic sweeper (sdp's default): its params default to
    None, and Hydra's composition fails on it with a 20-line traceback (``AssertionError: Unexpected type for root:
    NoneType``, or an AttributeError; probe round 18, a08). A search (hparams_search=, hydra/sweeper=) takes them."""
    if any(a.lstrip("+").startswith(("hparams_search=", "hydra/sweeper=")) for a in argv):
        return []
    return [f"{arg}: Hydra's basic sweeper does not take hydra.sweeper.params from the command line; sweep the keys "
            "themselves (-m seed=1,2 task=rte,mrpc), or choose a search sweeper (hparams_search=optuna)"
            for arg in argv if arg.lstrip("+").startswith("hydra.sweeper.params")]


def unreadable_override_errors(argv: list[str]) -> list[str]:
    """Overrides Hydra's grammar cannot read, each with its cure (Hydra's "mismatched input '=' expecting <EOF>" named
    neither: a sweep job's folder as dense.checkpoint=, round 24's u01); a list's elements are quoted each (round 30)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser, errors = OverridesParser.create(), []
    for arg in argv:
        if arg.startswith("-") or "=" not in arg:
            continue
        try:
            parser.parse_overrides([arg])
        except Exception as exc:  # noqa: BLE001 - Hydra's OverrideParseException (its grammar's words)
            key, _, value = arg.partition("=")
            said = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            whole = (f"[{','.join(repr(v.strip()) for v in value[1:-1].split(','))}]" if value[:1] + value[-1:] == "[]"
                     else hydra_quoted(value))  # quoted as a whole, [rés] is a string, which a list key refuses (round 30)
            errors.append(f"{arg!r} is not an override Hydra can read ({said}); a value holding '=', ',', spaces, "
                          f"brackets or letters outside ASCII (Cyrillic, accented, CJK) is quoted as a whole (a list's "
                          f"elements each): {key}={whole}")  # the letters: probe round 37, noticed
    return errors


# What sdp-eval reads of sdp-run's config (cli/eval.py, sdp/evaluation.py; debug=smoke for its max_eval_samples,
# task.max_seq_length and train.eval_batch_size). Every other key was composed, taken and never read: sdp-eval scored
# model_dir's own model and tokenizer under model.tokenizer=<anything> (a missing path too), model=minilm,
# model.pretrained=..., prune.lr=5, without a word (probe round 54, ev_tkign).
EVAL_READS = ("task", "task.*", "data_dir", "cache_dir", "max_eval_samples", "max_train_samples (a carve's)",
              "train.eval_batch_size", "prune.include", "prune.exclude", "output_root", "output_dir", "cpu",
              "verbose", "debug")


def eval_unread_errors(argv: list[str]) -> list[str]:
    """sdp-eval's overrides of a config key (or group) it does not read, each named with why, and then what it reads;
    before anything is read. A key the config lacks is left to misspelt_key_errors (its 'did you mean')."""
    import dataclasses

    reads = {k.split(" ")[0] for k in EVAL_READS}
    keys = {f.name for f in dataclasses.fields(Config)} | conf_groups() | {"hydra"}
    errors = []
    for arg in argv:
        if arg.startswith("-") or ("=" not in arg and not arg.startswith("~")):
            continue  # not an override: Hydra's grammar check says so
        key = arg.lstrip("+~").partition("=")[0]
        head = key.replace("/", ".").split(".")[0]
        if key in reads or head == "task" or head not in keys or misspelt_key_errors([arg], conf_groups()):
            continue
        why = ("sdp-eval scores model_dir with its own model and tokenizer" if head == "model" else
               "sdp-eval makes no Hydra run or sweep folder" if head == "hydra" else
               "sdp-eval trains and prunes nothing, and scores model_dir as saved")
        errors.append(f"{arg}: {why}; {key} is not read")
    if errors:
        errors.append(f"sdp-eval reads only {', '.join(EVAL_READS)} (and model_dir)")
    return errors
