"""The feature check a product owner relies on: a misspelt step is named with the nearest phrase, fast."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tools import check_features

ROOT = Path(__file__).resolve().parent.parent

MISSPELT = """\
@US0
Feature: Identity, edited by a product owner

  @US0_1 @critical
  Scenario: A signed-in user sees her own profile
    Given Ana is a workspace user in the group "analysts"
    When Ana opnes her profile
    Then she sees her own email and display name
"""


def test_a_misspelt_step_is_reported_with_the_nearest_phrase(tmp_path: Path) -> None:
    feature = tmp_path / "identity_edited.feature"
    feature.write_text(MISSPELT, encoding="utf-8")
    # How long the check takes is measured in benchmarks (feature_check_s), never asserted here.
    result = subprocess.run(
        [sys.executable, "-m", "tools.check_features", str(feature)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if "undefined step" in line)
    assert lines[header].startswith(f"{feature}:7: undefined step: When Ana opnes her profile"), lines
    nearest = lines[header + 2].strip()
    assert nearest.startswith("When {who} (opens her/his/their profile | "), lines
    assert "steps/identity.py" in nearest, nearest
    assert sum("undefined step" in line for line in lines) == 1, result.stdout


def test_a_step_with_the_wrong_keyword_says_which_keyword_it_has(tmp_path: Path) -> None:
    feature = tmp_path / "wrong_keyword.feature"
    feature.write_text(MISSPELT.replace("When Ana opnes", "Given Ana opens"), encoding="utf-8")
    problems, _ = check_features.check([feature])
    undefined = [p for p in problems if p.kind == "undefined step"]
    assert [p.where for p in undefined] == [f"{feature}:7"], problems
    assert "exists as a When step, not a Given step" in undefined[0].hint[0]


def test_two_definitions_matching_one_step_are_reported_as_ambiguous(tmp_path: Path) -> None:
    feature = tmp_path / "ambiguous.feature"
    feature.write_text(MISSPELT.replace("When Ana opnes", "When Ana opens"), encoding="utf-8")
    defs = check_features.load_step_definitions()
    profile = next(d for d in defs if d.phrase.startswith("{who} (opens her/his/their profile"))
    twin = check_features.StepDef(
        profile.type, profile.parser, profile.func, "steps.twin", "steps/twin.py", 1
    )
    problems: list[check_features.Problem] = []
    parsed = check_features.parse_feature(feature)
    check_features.check_steps(parsed, [*defs, twin], problems)
    assert [(p.where, p.kind) for p in problems] == [(f"{feature}:7", "ambiguous step")], problems
    assert any("steps/twin.py:1" in line for line in problems[0].hint), problems[0].hint


def test_tags_and_formatting_are_checked(tmp_path: Path) -> None:
    feature = tmp_path / "untidy.feature"
    text = MISSPELT.replace("@US0_1 @critical", "@US0_77 @crtical").replace("opnes", "opens")
    feature.write_text(text.replace("    Then she", "\tThen she").rstrip("\n"), encoding="utf-8")
    problems, _ = check_features.check([feature])
    found = {(p.where.rsplit(":", 1)[1], p.kind) for p in problems if p.fatal}
    assert found == {("5", "tags"), ("5", "format"), ("8", "format")}, problems
    messages = " ".join(p.message + " ".join(p.hint) for p in problems)
    assert "@US0_77 is not an ID" in messages and "did you mean @critical?" in messages, messages


def test_every_feature_in_the_repository_passes_the_check() -> None:
    problems, stats = check_features.check(sorted((ROOT / "features").rglob("*.feature")), every_feature=True)
    assert stats["features"] >= 1
    assert [p.render() for p in problems if p.fatal] == []


def test_a_step_definition_no_feature_uses_is_reported(tmp_path: Path) -> None:
    feature = tmp_path / "identity_only.feature"
    feature.write_text(MISSPELT.replace("opnes", "opens"), encoding="utf-8")
    problems, _ = check_features.check([feature], every_feature=True)
    unused = [p for p in problems if p.kind == "unused step definition"]
    assert unused and all(p.fatal for p in unused), problems
    assert not any("opens her/his/their profile" in p.message for p in unused), unused
    assert any("the preference is created/updated/deleted" in p.message for p in unused), unused
