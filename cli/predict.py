"""sdp-predict: label texts with a saved model; one line per input row (the class name, or the score for regression).

    sdp-predict model_dir=outputs/runs/<run>/model input=test.tsv text_fields=sentence1,sentence2 output=labels.txt
    printf 'a great film\\nawful\\n' | sdp-predict model_dir=<run>/model

Arguments are ``key=value`` (argparse, as sdp-tables; ``--help`` lists them). ``input=-`` (the default) reads
stdin: one text, or a tab-separated pair, per line.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

OPTIONS = {  # key -> (default, help)
    "model_dir": (None, "the model: a run's model/ folder (safetensors, config.json, tokenizer); required"),
    "input": ("-", "a .csv or .tsv file with a header, a .jsonl or .json file (an array of objects), or - for stdin "
                   "(one text, or a TAB pair, per line)"),
    "text_fields": (None, "the file's text column(s), comma-separated: one, or two for a pair; default: the model's own "
                          "(config.json sdp_text_fields, the columns sdp-run trained it on)"),
    "output": ("-", "where the labels go, one line per input row; - is stdout"),
    "batch_size": ("64", "texts per forward pass"),
    "max_seq_length": (None, "tokens per text (pair) after truncation; default: the model's own (config.json "
                       "sdp_max_seq_length, the length sdp-run trained it at), else 128"),
    "cpu": ("false", "true: never use a GPU"),
    "overwrite": ("false", "true: replace an existing output= file (else it is refused)"),
}
INTS = ("batch_size", "max_seq_length")
BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def _override(arg: str) -> tuple[str, str]:
    key, sep, value = arg.lstrip("+").partition("=")
    if not sep or key not in OPTIONS:
        raise argparse.ArgumentTypeError(f"unknown argument {arg!r}; allowed keys: {', '.join(OPTIONS)}")
    if key in INTS and not (value.isdigit() and int(value) >= 1):
        raise argparse.ArgumentTypeError(f"{key}={value!r} must be a whole number >= 1")
    if key in ("cpu", "overwrite") and value.lower() not in BOOLS:
        raise argparse.ArgumentTypeError(f"{key}={value!r} is not one of true, false")
    return key, value


def parse_args(argv: list[str]) -> dict[str, str | None]:
    shown = "\n".join(f"  {k + '=' + (d if d is not None else '<' + k + '>'):<28} {h}" for k, (d, h) in OPTIONS.items())
    parser = argparse.ArgumentParser(
        prog="sdp-predict", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Label each row of a file, or each line of stdin, with a saved model: the class name "
        "(config.json id2label), or the score of a regression model, one line per row.",
        epilog=f"arguments (key=value):\n{shown}\n\nexamples:\n"
        "  sdp-predict model_dir=outputs/runs/<run>/model input=dev.tsv text_fields=sentence output=labels.txt\n"
        "  echo 'a gripping, funny film' | sdp-predict model_dir=outputs/runs/<run>/model")
    parser.add_argument("overrides", nargs="*", type=_override, metavar="key=value")
    opts = {k: d for k, (d, _) in OPTIONS.items()}
    opts.update(dict(parser.parse_args(argv).overrides))
    if not opts["model_dir"]:
        parser.error("model_dir=<folder> is required (a run's model/ folder)")
    return opts


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        from sdp.data.locations import local_argv_or_exit

        # file:// values as their paths: output= too (probe round 48, fw_od)
        opts = parse_args(local_argv_or_exit(argv, "sdp-predict", frozenset({"model_dir", "input", "output"})))
    except SystemExit as exc:
        return int(exc.code or 0)
    from sdp.errors import user_errors

    try:
        with user_errors(prog="sdp-predict"):
            from sdp.data.locations import local_path

            # a file:// URL is its file (sdp-eval reads one), not "does not exist" (probe round 47, fu2's fix)
            opts["input"] = str(local_path(str(opts["input"]), "input"))
            from sdp.prediction import (
                check_arity,
                check_length,
                check_output,
                file_texts,
                is_stream,
                line_texts,
                std_stream,
            )
            from sdp.saved_model import check_saved_model, trained_length

            path, config = check_saved_model(opts["model_dir"])  # before reading stdin: a typo'd folder must not wait
            # the length the model was trained at unless told another: 128 for a model trained at 32 changed labels
            length = int(opts["max_seq_length"] or trained_length(path, config) or 128)
            check_length(str(opts["model_dir"]), config, length)
            # never the input file nor a file of the model: output=input replaced the texts with their labels
            model_files = [str(f) for f in path.iterdir()]
            overwrite = BOOLS[str(opts["overwrite"]).lower()]
            check_output(str(opts["output"]), [str(opts["input"])] * (opts["input"] != "-") + model_files,
                         overwrite=overwrite)
            if opts["input"] == "-":
                # UTF-8 whatever the locale, with bad bytes kept as escapes so that line_texts names their line; lines
                # end at \n only (a carriage return inside one is refused there)
                stdin = (io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="surrogateescape", newline="\n")
                         if hasattr(sys.stdin, "buffer") else sys.stdin)
                texts = line_texts(stdin)
            else:
                from sdp.data.tasks import DataError
                from sdp.saved_model import text_order_error

                fields = [f.strip() for f in str(opts["text_fields"] or "").split(",") if f.strip()]
                if not fields:  # the columns the model was trained on, where sdp-run recorded them (round 30, noticed)
                    fields = [str(f) for f in config.get("sdp_text_fields") or []]
                    if not fields:
                        raise DataError(f"text_fields=<column>[,<column>] is required with input={opts['input']} (the "
                                        "text column(s)): the model records none (config.json sdp_text_fields)")
                    print(f"sdp-predict: text_fields={','.join(fields)} (the model's own)", file=sys.stderr)
                if (error := text_order_error(opts["model_dir"], config, fields, "text_fields",
                                                  count=False)) is not None:
                    raise DataError(error)
                texts = file_texts(opts["input"], fields)
                from sdp.prediction import label_field_problem, rows_over_lines

                why, refused = label_field_problem(config, fields, texts)
                if refused:
                    raise DataError(why)
                if why:
                    print(f"sdp-predict: warning: {why}", file=sys.stderr)
                if (warning := rows_over_lines(opts["input"])) is not None:
                    print(f"sdp-predict: warning: {warning}", file=sys.stderr)
            check_arity(str(opts["model_dir"]), config, texts, "stdin" if opts["input"] == "-" else "input")
            # torch and transformers: only once the input is read
            from sdp.prediction import no_text_rows, predict_labels
            from sdp.saved_model import load_saved_model

            saved = load_saved_model(opts["model_dir"], cpu=BOOLS[str(opts["cpu"]).lower()])
            # the rows its own tokenizer reads nothing in (probe round 49, pzwj, xl_pacc): said before any is labelled
            where = "stdin line" if opts["input"] == "-" else "input row"
            if (warning := no_text_rows(texts, where, saved.tokenizer)) is not None:
                print(f"sdp-predict: warning: {warning}", file=sys.stderr)
            reached: list[int] = []
            labels = predict_labels(saved, texts, int(opts["batch_size"]), length, reached)
            stream = {1: sys.stdout, 2: sys.stderr}.get(std_stream(str(opts["output"])))  # not opened anew
            if stream is not None:
                stream.write("".join(f"{label}\n" for label in labels))
                stream.flush()
            elif is_stream(str(opts["output"])):  # a device or a pipe: written into, never renamed over (round 31)
                with open(Path(opts["output"]).expanduser(), "a") as fh:
                    fh.write("".join(f"{label}\n" for label in labels))
                print(f"sdp-predict: {len(texts)} rows labelled -> {opts['output']}", file=sys.stderr)
            else:
                from sdp.io import atomic_write

                text = "".join(f"{label}\n" for label in labels)  # written whole (its folder made), or not at all
                try:  # never over a file another process wrote there while this one labelled (probe round 30, pr1)
                    atomic_write(Path(opts["output"]), lambda tmp: tmp.write_text(text), replace=overwrite)
                except FileExistsError:
                    from sdp.data.tasks import DataError

                    raise DataError(f"output={opts['output']!r} was written by another process while this one "
                                    "labelled its rows; the labels are not written: give another file, or add "
                                    "overwrite=true") from None
                print(f"sdp-predict: {len(texts)} rows labelled -> {opts['output']}", file=sys.stderr)
            trained = trained_length(path, config)
            if opts["max_seq_length"] is not None and length != trained and reached and reached[0]:
                # cut otherwise than in training, with no word where sdp-eval says it (probe round 44, noticed)
                print(f"sdp-predict: warning: {reached[0]} of {len(texts)} rows reach max_seq_length={length} tokens "
                      f"(cut to it, or exactly that long); the model was trained at "
                      f"{trained if trained is not None else 'a length not recorded'}", file=sys.stderr)
    except SystemExit as exc:  # a user error, printed as one line
        return int(exc.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
