"""sdp-eval: score a saved model folder on a task, without training, and write a metrics.json record.

    sdp-eval model_dir=outputs/runs/<run>/model task=rte
    sdp-eval model_dir=<run>/model task=custom task.validation_file=dev.tsv task.text_fields=[review] output_dir=ev

Arguments are ``key=value``: ``model_dir`` (required: a run's model/ folder, or any save_pretrained folder with
safetensors and a tokenizer), ``task`` (required), and the sdp-run overrides that concern evaluation (task.*,
data_dir, max_eval_samples, train.eval_batch_size, cache_dir, output_root, output_dir, cpu: sdp/command_line.py
EVAL_READS), composed from the same config tree as sdp-run (argparse in front: an evaluation is one job with no run
folder of Hydra's). Any other key (model.*, dense.*, prune.lr, ...) is refused: nothing would read it.
The record goes to ``output_dir``, default ``<output_root>/evals/<time>_<task>_<model>``; sdp-tables lists it
as an evaluation, apart from the training runs.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

EXAMPLE = "sdp-eval model_dir=outputs/runs/<run>/model task=rte data_dir=../shared/data"


def build_parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog="sdp-eval",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Score a saved model folder on a GLUE/XGLUE task or your own file (task=custom) and write "
        "metrics.json (\"kind\": \"eval\") into output_dir. Nothing is trained.",
        epilog="arguments (key=value):\n"
        "  model_dir=<folder>     the model: a run's model/ folder (safetensors, config.json, tokenizer)\n"
        "  task=<name>            the task to score on (conf/task: rte, mrpc, sst2, ..., xnli, custom)\n"
        "  output_dir=<folder>    where metrics.json goes (default <output_root>/evals/<time>_<task>_<model>)\n"
        "  evaluation overrides   task.validation_file=..., data_dir=..., max_eval_samples=..., "
        "train.eval_batch_size=..., cpu=true\n\n"
        f"example:\n  {EXAMPLE}",
    )


def parse_args(argv: list[str]) -> tuple[str, list[str]]:
    """(model_dir, the Hydra overrides); argparse exits 2 with its own message on a malformed argument."""
    parser = build_parser()
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    overrides = parser.parse_args(argv).overrides
    model_dirs = [a.partition("=")[2] for a in overrides if a.startswith("model_dir=")]
    rest = [a for a in overrides if not a.startswith("model_dir=")]
    if not model_dirs or not model_dirs[-1]:
        parser.error(f"model_dir=<folder> is required (the model to score); e.g. {EXAMPLE}")
    if not any(a.lstrip("+").startswith("task=") for a in rest):
        parser.error(f"task=<name> is required (the task to score on); e.g. {EXAMPLE}")
    model_dir = model_dirs[-1]
    if len(model_dir) > 2 and model_dir[0] == model_dir[-1] and model_dir[0] in "'\"":
        # quoted as the other arguments must be (output_dir='a b': Hydra's grammar): the path inside, not a
        # folder named with its quotes ("does not exist", probe round 11)
        model_dir = model_dir[1:-1]
    return model_dir, rest


def compose_config(overrides: list[str]):
    """sdp-run's config (the same tree, schema and task files) with ``overrides``; a bad override is a ConfigError."""
    from hydra import compose, initialize_config_dir, initialize_config_module
    from hydra.errors import HydraException

    import sdp.config  # noqa: F401  (registers the structured schema)
    from sdp.command_line import conf_groups, misspelt_key_errors
    from sdp.errors import ConfigError

    if misspelt := misspelt_key_errors(overrides, conf_groups()):  # Hydra would suggest '+'
        raise ConfigError("; ".join(misspelt))
    # (before the initialize_* below: building one sets Hydra's global state, which only its `with` block undoes)
    init = (initialize_config_module("sdp.conf", version_base="1.3") if __package__ == "sdp.cli" else
            initialize_config_dir(str(Path(__file__).resolve().parents[1] / "conf"), version_base="1.3"))
    try:
        with init:
            cfg = compose(config_name="config", overrides=overrides)
    except HydraException as exc:  # an unknown key or group option, a malformed override
        hint = (" (a value with non-ASCII or other special characters is quoted: output_dir='évals/rte')"
                if "LexerNoViableAltException" in str(exc) else "")
        # the reason is the cause's (OmegaConf's first line: "Value 'True' of type 'bool' could not be converted to
        # Integer"): the error alone said "Error merging override max_eval_samples=true" (probe round 41, ov1)
        reason = str(exc.__cause__).strip().splitlines()[0] if exc.__cause__ is not None and str(exc.__cause__) else ""
        raise ConfigError(" ".join(str(exc).split()) + (f": {reason}" if reason else "") + hint) from None
    # A key added with '+' (Hydra's own hint for a mistyped one: +max_eval_sample=5, +output=m.json) was taken and
    # never read: sdp-eval scored every row, or wrote elsewhere, unsaid, where sdp-run refuses it (probe round 21)
    unknown = sdp.config.unknown_key_errors(cfg)
    if unknown:
        raise ConfigError("; ".join(unknown))
    return cfg


def default_out_dir(cfg, model_dir: str) -> Path:
    """``<output_root>/evals/<time>_<task>_<model>``, made here so that it is this evaluation's alone: two sdp-eval
    started in the same second (a loop of background jobs) both wrote that one folder, and one record was lost while
    both printed its path (probe round 26, ep1). A folder already there gets a suffix, -2, -3, ..."""
    from sdp.config import model_name_from

    name = model_name_from(model_dir)  # a run's model/: the run folder's name (dense_model/: <run>-dense), as sdp-run
    base = Path(cfg.output_root) / "evals" / f"{time.strftime('%Y-%m-%d_%H-%M-%S')}_{cfg.task.name}_{name}"
    for n in range(1, 1000):
        path = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
        except OSError:  # not writable: evaluate_saved says so when it writes
            return path
    return base


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        model_dir, overrides = parse_args(argv)
    except SystemExit as exc:  # argparse: 0 after --help, 2 after an error it has printed
        return int(exc.code or 0)
    from sdp.errors import user_errors

    verbose = any(a in ("verbose=true", "verbose=True") for a in overrides)
    try:
        with user_errors(verbose=verbose, prog="sdp-eval"):
            from sdp.command_line import unreadable_override_errors
            from sdp.errors import ConfigError

            if unreadable := unreadable_override_errors(overrides):  # Hydra's bare grammar error (round 48, ev_eq)
                raise ConfigError("; ".join(unreadable))
            from sdp.command_line import eval_unread_errors

            if unread := eval_unread_errors(overrides):  # taken and never read (probe round 54, ev_tkign)
                raise ConfigError("; ".join(unread))
            cfg = compose_config(overrides)
            from sdp.data.locations import home_path, local_config, local_path

            local_config(cfg)  # file:// values as their paths, once Hydra has read them (round 48, fw_od; round 49)
            model_dir = str(local_path(model_dir, "model_dir"))  # read apart from the config (review of round 49's)
            model_dir = home_path(model_dir, "model_dir")  # `~user` of no user: one line (probe round 52, ev_nouser_md)
            given = any(a.lstrip("+").startswith("task.max_seq_length=") for a in overrides)
            from sdp.run.preemption import terminal_signals

            # SIGTERM (timeout, a scheduler) ends it as Ctrl-C does, through the finally below: it left the empty
            # default folder behind, which sdp-tables then listed (probe round 27); from before the folder is made.
            # So do a closed terminal and Ctrl-\ (SIGHUP, SIGQUIT; not when ignored, as under nohup).
            before = {sig: signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))
                      for sig in (signal.SIGTERM, *terminal_signals())}
            out_dir = None
            try:
                out_dir = Path(cfg.output_dir) if cfg.output_dir else default_out_dir(cfg, model_dir)
                from sdp.evaluation import (
                    evaluate_saved,  # torch and transformers: once the arguments are sound
                )

                record = evaluate_saved(cfg, model_dir, out_dir, length_given=given)
            finally:  # the folder made for it stays only with its record
                for sig, handler in before.items():
                    signal.signal(sig, handler)
                if out_dir is not None and not cfg.output_dir and out_dir.is_dir() and not any(out_dir.iterdir()):
                    out_dir.rmdir()
    except SystemExit as exc:  # a user error, printed as one line
        return int(exc.code or 0)
    scores = ", ".join(f"{k}={100 * v:.2f}" for k, v in record["final"].items() if "/" not in k)
    counts = record["eval_examples"]  # per split: a sum over a dev and a test file read as the score's count (round 23)
    rows = (f"{sum(counts.values())}" if len(counts) == 1
            else ", ".join(f"{n} {split.replace('validation.', '')}" for split, n in counts.items()))
    queries = "; ".join(f"{split.replace('validation.', '')}: {q['scored']} queries scored"
                        + (f", {q['left_out']} with nothing to rank left out" if q["left_out"] else "")
                        for split, q in record.get("eval_queries", {}).items())
    detail = f"{rows} examples" + (f"; {queries}" if queries else "")
    print(f"sdp-eval: {record['task']} {scores} ({detail}) -> {out_dir / 'metrics.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
