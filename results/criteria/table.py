"""The criteria comparison table (docs/method.md) from results/criteria/*/metrics.json: python results/criteria/table.py"""
import json
from pathlib import Path

root = Path("results/criteria")
print("| criterion | method (as recorded) | dense dev acc | pruned dev acc | Δ (points) | achieved prunable sparsity | prune events | wall (s) |")
print("|---|---|---|---|---|---|---|---|")
for c in ("magnitude", "movement", "taylor"):
    m = json.loads((root / c / "metrics.json").read_text())
    trace = [json.loads(x) for x in (root / c / "trace.jsonl").read_text().splitlines()]
    events = sum(1 for r in trace if r.get("event") == "prune")
    d, f = 100 * m["dense"]["main"], 100 * m["final"]["main"]
    print(f"| `{c}` | {m['method']} | {d:.2f} | {f:.2f} | {f - d:+.2f} | {m['achieved_sparsity']['prunable']:.4f} | {events} | {m['wall_seconds']:.0f} |")
