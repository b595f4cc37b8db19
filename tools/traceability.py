"""Traceability: requirement IDs (docs/requirements.md) -> the scenarios tagged with them -> last results.

    python -m tools.traceability                     # after a run; exits 1 if an ID has no passing scenario
    python -m tools.traceability --report-only       # same table, exits 0
    python -m tools.traceability --markdown reports/traceability.md

IDs come from docs/requirements.md; scenarios from features/ (so an ID that no scenario names shows up as
uncovered even when nothing ran); results from the Allure results of the last run (default
reports/allure-results). An ID is covered when at least one of its scenarios passed (for an outline: every
example row passed). An ID marked (planned) in the document is listed as PLANNED and never fails the check;
once it has a passing scenario the check says its mark can go.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from fixtures.reporting import stories
from fixtures.reporting.allure_labels import scenario_ids
from tools.gherkin_index import ROOT, parse_all, rel

RESULTS = ROOT / "reports" / "allure-results"


@dataclass
class ScenarioRow:
    feature: str  # path, e.g. features/identity.feature
    name: str
    line: int
    statuses: list[str] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.feature}:{self.name}"

    @property
    def status(self) -> str:
        if not self.statuses:
            return "not run"
        for worst in ("broken", "failed", "skipped", "unknown"):
            if worst in self.statuses:
                return worst
        return "passed"


def load_results(*results_dirs: Path) -> dict[str, list[str]]:
    """Allure fullName -> statuses of the last run (one per example row / rerun), over every folder given
    (the default run's, and the large-data scenarios' run apart)."""
    statuses: dict[str, list[str]] = defaultdict(list)
    paths = [path for folder in results_dirs if folder.is_dir() for path in folder.glob("*-result.json")]
    for path in paths:
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        statuses[result.get("fullName", "")].append(result.get("status", "unknown"))
    return statuses


def statuses_of(row: ScenarioRow, results: dict[str, list[str]]) -> list[str]:
    """Results of a scenario; an outline's results carry example values where its name has <placeholders>."""
    if "<" not in row.name:
        return results.get(row.full_name, [])
    pattern = re.compile(".*?".join(map(re.escape, re.split(r"<[^>]+>", row.full_name))) + "$")
    return [status for name, statuses in results.items() if pattern.match(name) for status in statuses]


def scenarios_by_id(
    results: dict[str, list[str]], requirements: Path = stories.REQUIREMENTS
) -> dict[str, list[ScenarioRow]]:
    by_id: dict[str, list[ScenarioRow]] = {i: [] for i in stories.scenario_ids(requirements)}
    for parsed in parse_all():
        if parsed.feature is None:
            continue
        feature_tags = set(parsed.feature.tags)
        for template in parsed.templates:
            tags = feature_tags | set(template.tags) | (template.rule.tags if template.rule else set())
            row = ScenarioRow(parsed.path, template.name, template.line_number)
            row.statuses = statuses_of(row, results)
            for scenario_id in scenario_ids(tags):
                by_id.setdefault(scenario_id, []).append(row)
    return by_id


def verdict(rows: list[ScenarioRow], planned: bool = False) -> str:
    if any(r.status == "passed" for r in rows):
        return "ok"
    if planned:
        return "PLANNED"
    if not rows:
        return "UNCOVERED"
    if all(r.status == "not run" for r in rows):
        return "NOT RUN"
    return "FAILING"


def render_markdown(by_id: dict[str, list[ScenarioRow]], verdicts: dict[str, str], requirements: Path) -> str:
    lines = ["# Traceability: requirement IDs -> scenarios -> last result", ""]
    for story in stories.load(requirements).values():
        lines += [f"## {story.key} {story.name}", "", "| ID | Verdict | Scenario | Last result |"]
        lines.append("|---|---|---|---|")
        for requirement in story.requirements:
            scenario_id = requirement.id
            rows = by_id.get(scenario_id, [])
            if not rows:
                lines.append(f"| {scenario_id} | {verdicts[scenario_id]} | - | - |")
            for row in rows:
                where = f"{row.name} ({row.feature}:{row.line})".replace("|", "\\|")
                lines.append(f"| {scenario_id} | {verdicts[scenario_id]} | {where} | {row.status} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, action="append", help="Allure results directory (repeatable)")
    parser.add_argument("--requirements", type=Path, default=stories.REQUIREMENTS, help=argparse.SUPPRESS)
    parser.add_argument("--report-only", action="store_true", help="print, but always exit 0")
    parser.add_argument("--markdown", type=Path, help="also write the full table as Markdown here")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every ID, not only problems")
    args = parser.parse_args(argv)

    requirements = stories.requirements(args.requirements)
    folders = args.results or [RESULTS]
    results = load_results(*folders)
    by_id = scenarios_by_id(results, args.requirements)
    verdicts = {i: verdict(rows, i in requirements and requirements[i].planned) for i, rows in by_id.items()}
    for scenario_id in requirements:
        if verdicts[scenario_id] == "ok" and not args.verbose:
            continue
        print(f"{scenario_id:>5}  {verdicts[scenario_id]}")
        for row in by_id[scenario_id]:
            print(f"         {row.status:<8} {row.feature}:{row.line} {row.name}")
    counts: dict[str, int] = defaultdict(int)
    for scenario_id in requirements:
        counts[verdicts[scenario_id]] += 1
    required = [i for i, r in requirements.items() if not r.planned]
    passing = sum(verdicts[i] == "ok" for i in required)
    planned = [i for i, r in requirements.items() if r.planned]
    print(
        f"traceability: {passing}/{len(required)} requirement IDs have a passing scenario; "
        f"{counts['UNCOVERED']} uncovered, {counts['FAILING']} failing, {counts['NOT RUN']} not run; "
        f"{len(planned)} planned ({', '.join(planned) or 'none'}) "
        f"({sum(len(v) for v in results.values())} results read from {', '.join(rel(f) for f in folders)})"
    )
    for scenario_id in planned:
        if verdicts[scenario_id] == "ok":
            print(
                f"note: {scenario_id} has a passing scenario: remove its (planned) mark in "
                f"{rel(args.requirements)}, so that the check guards it"
            )
    for scenario_id in sorted(set(by_id) - set(requirements)):
        print(
            f"warning: a scenario is tagged with {stories.tag_for(scenario_id)}, "
            f"which is not an ID in {rel(args.requirements)}"
        )
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(render_markdown(by_id, verdicts, args.requirements), encoding="utf-8")
        print(f"wrote {args.markdown}")
    missing = len(required) - passing
    if missing and args.report_only:
        print("(report only: not failing, see README 'Traceability')")
        return 0
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
