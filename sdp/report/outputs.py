"""The files sdp-tables writes into its out_dir, and the mark that says it wrote them (standard library only: the
CLI checks a given out_dir before pandas loads)."""

from __future__ import annotations

from pathlib import Path

# Written into out_dir beside the tables: a folder without it was not written by sdp-tables, so files there with
# the tables' names (summary.md, plots/*.png) are the user's own, not stale tables to clear.
MARKER = ".sdp-tables"
STEMS = ("glue", "xglue", "deltas")


def output_files(out_dir: Path) -> list[Path]:
    """The files of out_dir that a report writes (and clears before writing anew), those present now."""
    names = [out_dir / f"{s}.{e}" for s in STEMS for e in ("md", "tex", "csv")] + [
        out_dir / n for n in ("summary.md", "claims.md", "costs.md")]
    pngs = sorted((out_dir / "plots").glob("*.png")) if (out_dir / "plots").is_dir() else []
    return [p for p in names if p.is_file()] + pngs


def foreign_outputs(out_dir: Path) -> list[Path]:
    """Files a report would replace or delete in a folder it never wrote (no MARKER): they are someone else's."""
    if not out_dir.is_dir() or (out_dir / MARKER).exists():
        return []
    return output_files(out_dir)
