"""Fails when coverage of server/ from the last ``pytest features/`` run is under the gate.

``python -m tools.coverage_gate [--lines 90] [--branches 85]``: reads ``.coverage`` (written by pytest-cov,
combined across xdist workers) and checks line and branch coverage separately, since one combined figure
can hide untested branches behind well-covered lines.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import coverage


def measured(data_file: Path) -> tuple[float, float]:
    """(line %, branch %) from coverage's JSON report (the text report only gives them combined)."""
    cov = coverage.Coverage(data_file=str(data_file))
    cov.load()
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "coverage.json"
        cov.json_report(outfile=str(report), include=["server/*"])
        totals = json.loads(report.read_text())["totals"]
    lines = 100 * totals["covered_lines"] / max(totals["num_statements"], 1)
    branches = 100 * totals["covered_branches"] / max(totals["num_branches"], 1)
    return lines, branches


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=float, default=90)
    parser.add_argument("--branches", type=float, default=85)
    parser.add_argument("--data-file", type=Path, default=Path(".coverage"))
    args = parser.parse_args(argv)
    if not args.data_file.exists():
        print(f"coverage gate: no {args.data_file}; run `pytest features/` first")
        return 1
    lines, branches = measured(args.data_file)
    ok = lines >= args.lines and branches >= args.branches
    print(
        f"coverage gate: server/ lines {lines:.1f}% (gate {args.lines:g}%), "
        f"branches {branches:.1f}% (gate {args.branches:g}%): {'ok' if ok else 'FAILED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
