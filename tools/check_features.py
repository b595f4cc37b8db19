"""Fast check of every feature file, without starting anything: run it before the suite.

    python -m tools.check_features            # all of features/
    python -m tools.check_features features/identity.feature

Reports, each with file:line, and exits 1 if any is found:
- a step no step definition matches (undefined), with the closest existing phrases;
- a step two or more definitions match (ambiguous), naming them;
- Gherkin that does not parse;
- tags: a feature without its story tag (@US1), a scenario without a requirement ID (@US1_3), an ID that
  docs/requirements.md does not list, an unregistered tag (pytest would refuse it), two severities;
- formatting: tabs, trailing spaces, no final newline, steps of one scenario not aligned, a scenario with
  no Then, a duplicated scenario name (pytest-bdd would keep only one), an outline placeholder without an
  Examples column;
- a step module in steps/ that the root conftest.py does not register;
- a step definition no feature uses (when every feature is checked): a phrase nobody can find an example
  of, and dead code.
Warnings (printed, not failing): phrases that read like code (URLs, JSON) and step functions without a
docstring (the step catalogue shows that line as the phrase's meaning).
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from fixtures.reporting import stories
from tools.gherkin_index import (
    FEATURES_DIR,
    ROOT,
    ParsedFeature,
    StepDef,
    UsedStep,
    load_step_definitions,
    parse_feature,
    rel,
    unregistered_step_modules,
    used_steps,
)

SCENARIO_LINE = re.compile(r"^\s*(Scenario(?: Outline| Template)?|Example):\s*(.*?)\s*$")
STEP_KEYWORD = re.compile(r"^\s*(Given|When|Then|And|But|\*)\s")
CODE_LIKE = re.compile(r"https?://|/api/|[{}]|\b(GET|POST|PUT|DELETE|PATCH)\b")
PLACEHOLDER = re.compile(r"<([^<>\s]+)>")


@dataclass
class Problem:
    where: str
    kind: str
    message: str
    hint: list[str]
    fatal: bool = True

    def render(self) -> str:
        lines = [f"{self.where}: {self.kind}: {self.message}"]
        lines += [f"    {h}" for h in self.hint]
        return "\n".join(lines)


def registered_tags() -> set[str]:
    tags = {line.split(":")[0] for line in stories.marker_lines()}
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for line in config.get("tool", {}).get("pytest", {}).get("ini_options", {}).get("markers", []):
        tags.add(line.split(":")[0].split("(")[0].strip())
    return tags


def known_ids() -> set[str]:
    return {stories.tag_for(i) for i in stories.scenario_ids()}


def phrase_variants(phrase: str, limit: int = 64) -> list[str]:
    """The sentences a catalogue phrase stands for, its choices '(a | b)' and optional '[words]' spelt out
    (up to ``limit``): a misspelt step is compared with each, so a phrase with many choices still comes up."""
    match = re.search(r"\(([^()\[\]]*\|[^()\[\]]*)\)|\[([^()\[\]]*)\]", phrase)
    if not match:
        return [phrase]
    if match[1] is not None:
        options = [o.strip() for o in match[1].split("|")]
    else:
        options = ["", *(o.strip() if "|" in match[2] else o for o in match[2].split("|"))]
    variants: list[str] = []
    for option in options:
        variants += phrase_variants(phrase[: match.start()] + option + phrase[match.end() :], limit)
        if len(variants) >= limit:
            break
    return list(dict.fromkeys(" ".join(v.split()) for v in variants[:limit]))


def candidates_of(definition: StepDef) -> list[str]:
    """Strings a written step is compared with: the phrase spelt out, and the ways features already use it."""
    return [*phrase_variants(definition.phrase), *dict.fromkeys(u.step.name for u in definition.uses)]


def closest(step: UsedStep, defs: list[StepDef], count: int = 3) -> list[tuple[float, StepDef]]:
    text = step.step.name.lower()
    scored = []
    for definition in defs:
        ratio = max(
            difflib.SequenceMatcher(None, text, candidate.lower()).ratio()
            for candidate in candidates_of(definition)
        )
        scored.append((ratio + (0.05 if definition.type in (None, step.step.type) else 0), definition))
    scored.sort(key=lambda pair: -pair[0])
    return scored[:count]


def describe(definition: StepDef) -> str:
    example = next((u.step.name for u in definition.uses), None)
    usage = f'   e.g. "{example}"' if example and example != definition.phrase else ""
    return f"{definition.keyword} {definition.phrase}{usage}   ({definition.where})"


def check_steps(parsed: ParsedFeature, defs: list[StepDef], problems: list[Problem]) -> list[UsedStep]:
    undefined = []
    for used in used_steps(parsed):
        matching = [d for d in defs if d.matches(used.step)]
        if len(matching) == 1:
            matching[0].uses.append(used)
        elif len(matching) > 1:
            problems.append(
                Problem(
                    used.where,
                    "ambiguous step",
                    f"{used.text!r} matches {len(matching)} step definitions (pytest-bdd would pick one "
                    "silently); reword one of the phrases",
                    [describe(d) for d in matching],
                )
            )
        else:
            undefined.append(used)
    return undefined


def report_undefined(undefined: list[UsedStep], defs: list[StepDef], problems: list[Problem]) -> None:
    for used in undefined:
        other_type = [d for d in defs if d.parser_matches_text(used.step.name)] if defs else []
        hint = []
        if other_type:
            kinds = " or ".join(sorted({d.keyword for d in other_type}))
            hint.append(
                f"this phrase exists as a {kinds} step, not a {used.step.type.capitalize()} step: "
                "change the keyword, or reorder the steps"
            )
        hint.append("closest existing phrases:")
        hint += [f"  {describe(d)}" for _, d in closest(used, defs)]
        hint.append("see docs/steps.md for every phrase; a new phrase needs a step in steps/")
        problems.append(Problem(used.where, "undefined step", used.text, hint))


def check_text(path: Path, problems: list[Problem]) -> None:
    """Formatting and structure checks that work on the raw text (even when the parser gives up)."""
    text = path.read_text(encoding="utf-8")
    name = rel(path)
    lines = text.split("\n")
    if text and not text.endswith("\n"):
        problems.append(Problem(f"{name}:{len(lines)}", "format", "no newline at the end of the file", []))
    seen_names: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        where = f"{name}:{number}"
        if "\t" in line[: len(line) - len(line.lstrip())]:
            problems.append(Problem(where, "format", "tab in indentation: indent with spaces", []))
        if line.rstrip("\r") != line.rstrip():
            problems.append(Problem(where, "format", "trailing whitespace", []))
        if line.endswith("\r"):
            problems.append(Problem(where, "format", "Windows line ending (CRLF)", []))
        match = SCENARIO_LINE.match(line)
        if match:
            title = match[2]
            if title in seen_names:
                problems.append(
                    Problem(
                        where,
                        "duplicate scenario",
                        f"{title!r} is already the name of the scenario at line {seen_names[title]}: "
                        "pytest-bdd runs only one of them; rename one",
                        [],
                    )
                )
            seen_names.setdefault(title, number)


def check_structure(parsed: ParsedFeature, tags_ok: set[str], ids_ok: set[str], problems: list[Problem]):
    feature = parsed.feature
    assert feature is not None
    where = f"{parsed.path}:{feature.line_number}"
    story_tags = [t for t in feature.tags if t in stories.STORIES]
    if not story_tags:
        problems.append(
            Problem(where, "tags", "the feature has no story tag: put e.g. @US1 above 'Feature:'", [])
        )
    for tag in sorted(feature.tags - tags_ok):
        problems.append(Problem(where, "tags", f"unknown tag @{tag} on the feature", _tag_hint(tag)))
    if not parsed.templates:
        problems.append(Problem(where, "structure", "the feature has no scenarios", []))
    for template in parsed.templates:
        here = f"{parsed.path}:{template.line_number}"
        rule_tags = template.rule.tags if template.rule else set()
        tags = set(template.tags) | rule_tags | {t for ex in template.examples for t in ex.tags}
        ids = {t for t in tags | feature.tags if stories.ID_TAG.match(t)}
        if not ids:
            problems.append(
                Problem(
                    here,
                    "tags",
                    f"scenario {template.name!r} names no requirement ID: tag it like @US1_3 (for 1.3)",
                    [],
                )
            )
        for tag in sorted(ids - ids_ok):
            problems.append(Problem(here, "tags", f"@{tag} is not an ID in docs/requirements.md", []))
        for tag in sorted(tags - tags_ok - ids):
            problems.append(Problem(here, "tags", f"unknown tag @{tag}", _tag_hint(tag)))
        severities = [s for s in stories.SEVERITIES if s in tags]
        if len(severities) > 1:
            problems.append(
                Problem(here, "tags", f"more than one severity: {', '.join('@' + s for s in severities)}", [])
            )
        own_steps = template._steps
        if not own_steps:
            problems.append(Problem(here, "structure", f"scenario {template.name!r} has no steps", []))
        elif not any(s.type == "then" for s in own_steps):
            problems.append(
                Problem(
                    here,
                    "structure",
                    f"scenario {template.name!r} has no Then: it would pass without checking anything",
                    [],
                )
            )
        indents = {s.indent for s in own_steps}
        if len(indents) > 1:
            problems.append(
                Problem(here, "format", f"steps of {template.name!r} are not aligned (indents {indents})", [])
            )
        columns = {c for ex in template.examples for c in ex.example_params}
        for step in own_steps:
            for placeholder in PLACEHOLDER.findall(step.name):
                if template.templated and placeholder not in columns:
                    problems.append(
                        Problem(
                            f"{parsed.path}:{step.line_number}",
                            "outline",
                            f"<{placeholder}> has no column in the Examples table",
                            [],
                        )
                    )
            if CODE_LIKE.search(step.name):
                problems.append(
                    Problem(
                        f"{parsed.path}:{step.line_number}",
                        "style",
                        f"{step.name!r} reads like code (URL, JSON or HTTP verb): say it in business words",
                        [],
                        fatal=False,
                    )
                )


def _tag_hint(tag: str) -> list[str]:
    close = difflib.get_close_matches(tag, sorted(registered_tags()), n=2)
    hint = [f"did you mean {', '.join('@' + c for c in close)}?"] if close else []
    return [*hint, "tags are stories (@US1), IDs (@US1_3), severities, @fault_injection"]


def check(paths: list[Path], every_feature: bool = False) -> tuple[list[Problem], dict[str, int]]:
    defs = load_step_definitions()
    problems: list[Problem] = []
    tags_ok, ids_ok = registered_tags(), known_ids()
    undefined: list[UsedStep] = []
    if not every_feature:  # the other features' uses of each phrase make better hints for a misspelt step
        for other in sorted(set(FEATURES_DIR.rglob("*.feature")) - {p.resolve() for p in paths}):
            parsed = parse_feature(other, FEATURES_DIR)
            if parsed.feature is not None:
                check_steps(parsed, defs, [])
    stats = {"features": 0, "scenarios": 0, "steps": 0, "definitions": len(defs), "used_once": 0}
    for path in paths:
        check_text(path, problems)
        parsed = parse_feature(path, FEATURES_DIR)
        if parsed.feature is None:
            problems.append(
                Problem(f"{parsed.path}:{parsed.error_line}", "Gherkin parse error", parsed.error or "", [])
            )
            continue
        stats["features"] += 1
        stats["scenarios"] += len(parsed.templates)
        check_structure(parsed, tags_ok, ids_ok, problems)
        before = sum(len(d.uses) for d in defs)
        undefined += check_steps(parsed, defs, problems)
        stats["steps"] += sum(len(d.uses) for d in defs) - before
    # Undefined steps last: their hints can then quote how the features already use each phrase.
    report_undefined(undefined, defs, problems)
    stats["steps"] += len(undefined)
    for module in unregistered_step_modules():
        problems.append(
            Problem(
                f"{module}:1",
                "unregistered step module",
                "its phrases are invisible to pytest: add it to pytest_plugins in conftest.py",
                [],
            )
        )
    stats["used_once"] = sum(len(d.uses) == 1 for d in defs)
    for definition in defs if every_feature else []:
        if not definition.uses:
            problems.append(
                Problem(
                    definition.where,
                    "unused step definition",
                    f"{definition.keyword} {definition.phrase!r} is used by no feature: use it, or delete it",
                    [],
                )
            )
    by_phrase: dict[tuple[str | None, str], StepDef] = {}
    for definition in defs:
        first = by_phrase.setdefault((definition.type, definition.parser.name), definition)
        if first is not definition:
            problems.append(
                Problem(
                    definition.where,
                    "duplicate step definition",
                    f"{definition.keyword} {definition.phrase!r} is already defined at {first.where}",
                    [],
                )
            )
        if not definition.doc:
            problems.append(
                Problem(
                    definition.where,
                    "no docstring",
                    f"{definition.keyword} {definition.phrase!r}: add a one-line docstring (the step "
                    "catalogue shows it as the phrase's meaning)",
                    [],
                    fatal=False,
                )
            )
    problems.sort(key=lambda p: (not p.fatal, _sort_key(p.where)))
    return problems, stats


def _sort_key(where: str) -> tuple[str, int]:
    path, _, line = where.rpartition(":")
    return path, int(line) if line.isdigit() else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="feature files (default: every one)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    paths = [p.resolve() for p in args.paths] or sorted(FEATURES_DIR.rglob("*.feature"))
    problems, stats = check(paths, every_feature=not args.paths)
    for problem in problems:
        print(problem.render())
    errors = sum(p.fatal for p in problems)
    once = (
        f" ({stats['used_once']} used once, {100 * stats['used_once'] // max(stats['definitions'], 1)}%)"
        if not args.paths
        else ""
    )
    print(
        f"check_features: {stats['features']} features, {stats['scenarios']} scenarios, {stats['steps']} "
        f"steps, {stats['definitions']} step definitions{once}: {errors} problem(s), "
        f"{len(problems) - errors} warning(s) in {time.perf_counter() - started:.1f} s"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
