"""What the suite's Gherkin uses and what the step modules define, read without starting the stack.

Features are parsed with pytest-bdd's own parser (so And/But get the type pytest-bdd gives them and outline
steps are rendered per example row exactly as at run time); step definitions are the ones pytest-bdd's
decorators register when the modules named in the root ``conftest.py`` ``pytest_plugins`` are imported.
Shared by ``tools.check_features``, ``tools.step_catalogue`` and ``tools.traceability``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_bdd import exceptions as bdd_exceptions
from pytest_bdd import parsers
from pytest_bdd.parser import Feature, FeatureParser, ScenarioTemplate, Step
from pytest_bdd.steps import step_function_context_registry

ROOT = Path(__file__).resolve().parent.parent
FEATURES_DIR = ROOT / "features"
STEPS_DIR = ROOT / "steps"
PERSON_PARAMS = {"who", "other", "person"}


@dataclass
class StepDef:
    """One phrase a step module defines."""

    type: str | None  # given / when / then, None = any
    parser: Any
    func: Any
    module: str
    path: str
    line: int
    uses: list[UsedStep] = field(default_factory=list)

    @property
    def keyword(self) -> str:
        return (self.type or "step").capitalize()

    @property
    def phrase(self) -> str:
        """The phrase as a person reads it: parameters in braces, regex syntax removed."""
        return human_phrase(self.parser)

    @property
    def params(self) -> list[tuple[str, str]]:
        """(name, kind) of each parameter the phrase carries."""
        hints = getattr(self.func, "__annotations__", {})
        kinds = {"int": "whole number", "float": "number", "str": "text", "bool": "yes/no"}
        out = []
        fixed = literal_groups(self.parser.name) if isinstance(self.parser, parsers.re) else set()
        for name, spec in parameter_specs(self.parser):
            if name in fixed:  # shown as its words in the phrase: not a value to choose
                continue
            hint = hints.get(name)
            hint_name = hint if isinstance(hint, str) else getattr(hint, "__name__", "")
            kind = {"d": "whole number", "f": "number", "g": "number"}.get(spec) or kinds.get(
                hint_name, "text"
            )
            out.append((name, kind))
        return out

    @property
    def doc(self) -> str:
        """First line of the step function's docstring ('' when it has none)."""
        text = inspect.getdoc(self.func) or ""
        return text.strip().splitlines()[0] if text.strip() else ""

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    def parser_matches_text(self, text: str) -> bool:
        """Whether the phrase matches ``text``, whatever the keyword."""
        try:
            return bool(self.parser.is_matching(text))
        except Exception:
            return False

    def matches(self, step: Step) -> bool:
        """Whether pytest-bdd would use this definition for ``step`` (same keyword type, phrase matches)."""
        return (self.type is None or self.type == step.type) and self.parser_matches_text(step.name)


@dataclass
class UsedStep:
    """A step as written in a feature (outline steps rendered with one example row)."""

    step: Step
    path: str  # relative to the repository
    scenario: str
    template_text: str  # as written (with <placeholders> in outlines)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.step.line_number}"

    @property
    def text(self) -> str:
        return f"{self.step.keyword} {self.step.name}"


@dataclass
class ParsedFeature:
    path: str
    feature: Feature | None
    error: str | None = None
    error_line: int = 0
    # Every scenario in file order, duplicates included (Feature.scenarios is keyed by name).
    templates: list[ScenarioTemplate] = field(default_factory=list)


def rel(path: str | Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------- step definitions


def plugin_modules(conftest: Path = ROOT / "conftest.py") -> list[str]:
    """Module names in the root conftest's ``pytest_plugins`` (read, not executed)."""
    tree = ast.parse(conftest.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in node.targets
        ):
            return [str(v) for v in ast.literal_eval(node.value)]
    return []


def load_step_definitions(modules: list[str] | None = None) -> list[StepDef]:
    """Import the step modules and return every phrase they define, in source order."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    names = plugin_modules() if modules is None else modules
    for name in names:
        importlib.import_module(name)
    defs = []
    for context in list(step_function_context_registry.values()):
        func = inspect.unwrap(context.step_func)
        module = getattr(func, "__module__", "?")
        if module not in names:  # pytest sees only the registered modules' phrases
            continue
        try:
            path, line = inspect.getsourcefile(func) or "?", inspect.getsourcelines(func)[1]
        except (OSError, TypeError):
            path, line = "?", 0
        defs.append(StepDef(context.type, context.parser, func, module, rel(path), line))
    defs.sort(key=lambda d: (d.path, d.line))
    return defs


def unregistered_step_modules() -> list[str]:
    """Modules in steps/ that the root conftest does not register (their phrases would be unknown)."""
    registered = set(plugin_modules())
    return [
        rel(p)
        for p in sorted(STEPS_DIR.glob("*.py"))
        if p.stem != "__init__" and f"steps.{p.stem}" not in registered
    ]


def human_phrase(parser: Any) -> str:
    if isinstance(parser, parsers.re):
        return regex_to_phrase(parser.name)
    if isinstance(parser, parsers.parse):  # also cfparse
        return re.sub(r"\{(\w+)(?:[:!][^}]*)?\}", r"{\1}", parser.name)
    return str(parser.name)


def parameter_specs(parser: Any) -> list[tuple[str, str]]:
    """(name, format spec) of a phrase's parameters, in order."""
    if isinstance(parser, parsers.re):
        return [(name, "") for name in sorted(parser.regex.groupindex, key=parser.regex.groupindex.get)]
    if isinstance(parser, parsers.parse):
        return [(m[1], m[2] or "") for m in re.finditer(r"\{(\w+)(?::([^}]*))?\}", parser.name)]
    return []


# What makes a group a value to fill in rather than words to choose from: wildcards, classes, repeats.
WILDCARD = re.compile(r"\\[dDwWsS]|(?<!\\)[.\[*+]|(?<![\\)])\?(?![:P])")


def _literal(inner: str) -> bool:
    """Whether a group's pattern (nested named groups aside) is words to choose from, not a value."""
    outer, i = [], 0
    while i < len(inner):
        if inner.startswith("(?P<", i):
            i = _group_end(inner, i)
            continue
        outer.append(inner[i])
        i += 1
    return not WILDCARD.search("".join(outer))


def literal_groups(pattern: str) -> set[str]:
    """Named groups of a phrase that the catalogue shows as their words (see ``regex_to_phrase``)."""
    found, i = set(), 0
    while (i := pattern.find("(?P<", i)) >= 0:
        end = _group_end(pattern, i)
        if _literal(pattern[pattern.index(">", i) + 1 : end - 1]):
            found.add(pattern[i + 4 : pattern.index(">", i)])
        i += 4
    return found


def _top_level_alternatives(pattern: str) -> list[str]:
    parts, depth, start, i, in_class = [], 0, 0, 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    return [*parts, pattern[start:]]


def _choice(inner: str, optional: bool) -> str:
    """A group as words: one-word choices as 'her/his/their', longer ones as '(a | b)'; optional in []."""
    options = [regex_to_phrase(part) for part in _top_level_alternatives(inner)]
    if len(options) == 1:
        return f"[{options[0]}]" if optional else options[0]
    # Words every choice starts with a space after: the space goes before the choice, not inside it.
    lead = " " if all(o.startswith(" ") for o in options) else ""
    options = [o.strip() for o in options]
    if all(" " not in option for option in options):
        text = "/".join(options)
        return lead + (f"[{text}]" if optional else text)
    text = " | ".join(options)
    return lead + (f"[{text}]" if optional else f"({text})")


def regex_to_phrase(pattern: str) -> str:
    """'(?P<who>\\w+) opens (?:her|his) profile$' -> '{who} opens her/his profile'. A named group whose
    pattern is words (no wildcard) shows its words, like an unnamed one: '(?P<how>announcing|without
    announcing)' -> '(announcing | without announcing)'."""
    out: list[str] = []
    i = 0
    pattern = pattern.removeprefix("^").removesuffix("$")
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(pattern[i + 1] if not pattern[i + 1].isalnum() else "")
            i += 2
        elif pattern.startswith("(?P=", i):  # a back-reference: the same value again
            end = pattern.index(")", i)
            out.append("{" + pattern[i + 4 : end] + "}")
            i = end + 1
        elif pattern.startswith("(?P<", i) or pattern.startswith("(?:", i):
            end = _group_end(pattern, i)
            named = pattern.startswith("(?P<", i)
            inner = pattern[pattern.index(">", i) + 1 if named else i + 3 : end - 1]
            optional = end < len(pattern) and pattern[end] == "?"
            if named and not _literal(inner):
                out.append("{" + pattern[i + 4 : pattern.index(">", i)] + "}")
            else:
                out.append(_choice(inner, optional))
            i = end + (1 if optional else 0)
        elif char in "()" or (char in "?*+" and out):
            i += 1
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _group_end(pattern: str, start: int) -> int:
    """Index just past the group opening at ``start`` (balanced parentheses, escapes and classes skipped)."""
    depth, i, in_class = 0, start, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(pattern)


# ---------------------------------------------------------------- features


def feature_files(base: Path = FEATURES_DIR) -> list[Path]:
    return sorted(base.rglob("*.feature"))


def parse_feature(path: Path, base: Path = FEATURES_DIR) -> ParsedFeature:
    if not path.resolve().is_relative_to(base.resolve()):
        base = path.resolve().parent
    try:
        parser = FeatureParser(str(base), str(path.resolve().relative_to(base.resolve())))
        feature = parser.parse()
        return ParsedFeature(rel(path), feature, templates=_all_templates(parser, feature))
    except bdd_exceptions.GherkinParseError as error:
        content = (error.line_content or "").strip()
        message = f"{error.message} (line reads: {content!r})" if content else error.message
        return ParsedFeature(rel(path), None, message, error.line or 0)
    except Exception as error:  # the gherkin parser's own errors carry "(line:col)" in the message
        match = re.search(r"\((\d+):\d+\)", str(error))
        return ParsedFeature(rel(path), None, str(error).strip(), int(match[1]) if match else 0)


def _all_templates(parser: FeatureParser, feature: Feature) -> list[ScenarioTemplate]:
    document = parser._parse_feature_file()
    templates = []
    for child in document.feature.children:
        if child.scenario:
            templates.append(parser.parse_scenario(child.scenario, feature))
        elif child.rule:
            rule = next(
                (t.rule for t in feature.scenarios.values() if t.rule and t.rule.name == child.rule.name),
                None,
            )
            for scenario_data in (c.scenario for c in child.rule.children if c.scenario):
                templates.append(parser.parse_scenario(scenario_data, feature, rule))
    return templates


def example_contexts(template: ScenarioTemplate) -> list[dict[str, str]]:
    contexts = [ctx for examples in template.examples for ctx in examples.as_contexts()]
    return contexts or [{}]


def used_steps(parsed: ParsedFeature) -> Iterator[UsedStep]:
    """Every step of every scenario, background steps once per file, outlines once per example row."""
    if parsed.feature is None:
        return
    seen: set[tuple[int, str]] = set()
    for template in parsed.templates:
        written = {s.line_number: s.name for s in template.steps}
        for context in example_contexts(template):
            for step in template.render(context).steps:
                key = (step.line_number, step.name)
                if key in seen:
                    continue
                seen.add(key)
                yield UsedStep(step, parsed.path, template.name, written.get(step.line_number, step.name))


def parse_all(base: Path = FEATURES_DIR) -> list[ParsedFeature]:
    return [parse_feature(p, base) for p in feature_files(base)]
