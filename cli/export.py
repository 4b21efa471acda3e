"""sdp-export: any run's model/ as an ONNX graph, with heads and FFN neurons that add nothing cut out first.

    sdp-export outputs/.../model                 # writes outputs/.../model/model.onnx
    sdp-export outputs/.../model --out m.onnx

A structured run already wrote model/model.onnx; this re-exports it, or exports an unstructured run's model
(whose zeros rarely form whole heads or neurons, so its graph keeps the dense shapes). Needs the export extra:
pip install 'sdp[export]'. Only the standard library is imported before the arguments are valid.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sdp-export", description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", help="a run's model/ folder (or any sequence-classification model folder)")
    parser.add_argument("--out", default=None, help="the ONNX file (default: <model_dir>/model.onnx)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file (else refused)")
    from sdp.data.locations import local_argv_or_exit

    # file:// values as their paths (probe round 48, fw_od: --out file:///x wrote ./file:/x)
    args = parser.parse_args(local_argv_or_exit(sys.argv[1:] if argv is None else argv, "sdp-export"))
    model_dir = Path(args.model_dir)
    if args.model_dir.startswith("model_dir=") and not model_dir.exists():  # sdp-eval's and sdp-predict's form
        parser.error(f"{args.model_dir!r}: sdp-export takes the folder itself, not model_dir=<folder>: sdp-export "
                     f"{args.model_dir.partition('=')[2]}")
    if not (model_dir / "config.json").is_file():
        parser.error(f"{str(model_dir)!r} is not a model folder (no config.json); a finished run has one at <run>/model")
    from sdp.class_names import check_class_names  # no torch
    from sdp.models.inspect import (  # standard library only
        ModelLoadError,
        check_model_dir,
        read_config,
    )

    try:  # safetensors only (a pickled pytorch_model.bin is never loaded), and whole (a cut file was a traceback)
        check_model_dir(model_dir, "model_dir")
        check_class_names(read_config(model_dir), f"model_dir {str(model_dir)!r}")  # a ValueError traceback in transformers
    except ModelLoadError as err:
        parser.error(str(err))
    if args.out and Path(args.out).is_dir():
        parser.error(f"--out {args.out!r} is a folder; give the ONNX file's name (e.g. {args.out}/model.onnx)")
    if args.out and Path(args.out).exists() and not Path(args.out).is_file():  # a device, pipe or socket (round 31)
        parser.error(f"--out {args.out!r} is not a regular file (a device, pipe or socket): the graph would replace "
                     "it; give a file name for the ONNX graph")
    out = Path(args.out) if args.out else model_dir / "model.onnx"
    # The file the graph lands in, a symlink followed: --out m.onnx linked to <model_dir>/model.safetensors wrote the
    # graph over the model's weights, exit 0, as the name alone ended in .onnx (probe round 15, o05).
    if out.resolve().is_file() and out.resolve() != (model_dir / "model.onnx").resolve():  # not its own graph
        shown = repr(str(out)) + (f" (a link to {str(out.resolve())!r})" if out.is_symlink() else "")
        # --out <model_dir>/model.safetensors left a model folder whose weights were an ONNX graph; --out another
        # model's graph lost it
        if out.resolve().suffix.lower() != ".onnx":
            parser.error(f"--out {shown} is an existing file that is not an .onnx graph; the export would replace "
                         "it: give a new file")
        if not args.overwrite:
            parser.error(f"--out {shown} exists (an ONNX graph, perhaps of another model); give a new file, or add "
                         "--overwrite to replace it")
    from sdp.pruning.export import export_model_dir, missing_export_packages

    missing = missing_export_packages()
    if missing:
        parser.error(f"ONNX export needs {missing}: pip install 'sdp[export]'")
    from sdp.models.inspect import check_finite, mismatch_error

    own = out.resolve() == (model_dir / "model.onnx").resolve()  # its own graph is replaced, as before
    try:  # a NaN weight: a graph of NaN outputs, exit 0 (probe round 40, noticed; its review)
        path, record = export_model_dir(model_dir, args.out, replace=args.overwrite or own,
                                        check=lambda model: check_finite("model_dir", model_dir, model))
    except ModelLoadError as err:
        parser.error(str(err))
    except FileExistsError:  # another export wrote --out while this one ran (probe round 30, ex1c)
        parser.error(f"--out {str(out)!r} was written by another process while this export ran; the graph is not "
                     "written: give a new file, or add --overwrite to replace it")
    except RuntimeError as err:  # a config.json that does not describe the weights: one line, not a traceback
        error = mismatch_error("model_dir", model_dir, err)
        if error is None:
            raise
        parser.error(str(error))
    print(json.dumps({**record, "onnx": str(path)}))  # the file written (the record's own "onnx" is its name in model/)
    return 0


if __name__ == "__main__":
    sys.exit(main())
