"""Fails when a token or password shows up in reports, Allure results or logs after a run.

``python -m tools.secret_sweep [paths...]`` (default: reports/). Matches the shapes of every credential the
suite handles (workspace PATs, OAuth client secrets and access tokens, Lakebase credentials, JWTs, bearer
headers): redaction must have replaced all of them before anything was written.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

SECRET_SHAPES = {
    "personal access token": re.compile(r"\bdapi[0-9a-f]{32}\b"),
    "OAuth client secret": re.compile(r"\bdose[0-9a-f]{32}\b"),
    "fake OAuth access token": re.compile(r"eyJfake\.[0-9a-f]{16,}"),
    "Lakebase credential": re.compile(r"\blakebase-[0-9a-f]{32,}\b"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    "bearer header": re.compile(r"(?i)\bbearer\s+(?!«redacted»)[A-Za-z0-9._~+/=-]{16,}"),
}
TEXT_SUFFIXES = {".json", ".txt", ".log", ".properties", ".html", ".csv", ".jsonl", ".xml", ".md", ""}


def sweep(paths: list[Path]) -> list[str]:
    findings = []
    for root in paths:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for path in files:
            if path.suffix not in TEXT_SUFFIXES or path.stat().st_size > 50_000_000:
                continue
            text = path.read_text(encoding="utf-8", errors="ignore")
            for kind, shape in SECRET_SHAPES.items():
                for match in shape.finditer(text):
                    line = text.count("\n", 0, match.start()) + 1
                    findings.append(f"{path}:{line}: {kind} ({match.group()[:8]}…)")
    return findings


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or [Path("reports")]
    findings = sweep([p for p in paths if p.exists()])
    for finding in findings:
        print(finding)
    print(f"secret sweep: {len(findings)} finding(s) in {', '.join(map(str, paths))}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
