"""docs/requirements.md as the suite reads it: stories, IDs, planned marks, and traceability's verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.reporting import stories
from fixtures.reporting.stories import RequirementsError, parse
from tools import traceability

DOC = """# Requirements

Prose, and a list that is not an ID:
- <a id="x"></a> never read: no story heading above it

## US0 Identity

Applies to every endpoint.

- <a id="US0_1"></a>**0.1** A signed-in user sees their own profile.
- <a id="US0_2"></a>**0.2** (planned) No token: 401 with a clear code;
  invalid or expired token: 401.

A paragraph after the list.

## US10 Running live safely

- <a id="US10_1"></a>**10.1** (planned) Every object carries the run's prefix.

## Edge cases that every story respects

- **not an ID**: lists outside a story are prose.
"""


def test_stories_ids_planned_marks_and_continuation_lines_are_read() -> None:
    parsed = parse(DOC)
    assert list(parsed) == ["US0", "US10"]
    assert parsed["US0"].name == "Identity"
    first, second = parsed["US0"].requirements
    assert (first.id, first.planned, first.line) == ("0.1", False, 10)
    assert first.text == "A signed-in user sees their own profile."
    assert (second.id, second.planned, second.tag) == ("0.2", True, "US0_2")
    assert second.text == "No token: 401 with a clear code; invalid or expired token: 401."
    assert [(r.id, r.planned) for r in parsed["US10"].requirements] == [("10.1", True)]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("- **0.3** no anchor", "write an ID as"),
        ('- <a id="US0_3"></a>**0.3**(planned) no space', "write an ID as"),
        ('- <a id="US0_4"></a>**0.3** text', 'the anchor of 0.3 must be id="US0_3"'),
        ('- <a id="US1_3"></a>**1.3** text', "ID 1.3 is under US0"),
        ('- <a id="US0_1"></a>**0.1** again', "ID 0.1 appears twice"),
    ],
)
def test_a_line_that_looks_like_an_id_but_is_not_written_as_one_is_named(line: str, problem: str) -> None:
    text = f'## US0 Identity\n\n- <a id="US0_1"></a>**0.1** first\n{line}\n'
    with pytest.raises(RequirementsError, match=problem) as error:
        parse(text, "docs/requirements.md")
    assert str(error.value).startswith("docs/requirements.md:4: ")


def test_a_story_heading_twice_is_refused() -> None:
    with pytest.raises(RequirementsError, match=r"x.md:3: story US0 appears twice"):
        parse("## US0 Identity\n\n## US0 Again\n", "x.md")


def test_the_repository_document_gives_every_story_and_id_and_registers_planned_ids_as_markers() -> None:
    every = stories.requirements()
    assert set(stories.STORIES) == {stories.story_of(i) for i in every}
    assert set(stories.planned_ids()) <= set(every)
    markers = {line.split(":")[0] for line in stories.marker_lines()}
    assert {stories.tag_for(i) for i in every} <= markers
    assert {stories.tag_for(i) for i in stories.planned_ids()} <= markers


def _doc(tmp_path: Path, *, one_planned: bool) -> Path:
    """Three identity IDs: 0.1 (planned or not), 0.2 planned with scenarios, 0.9 planned with none."""
    mark = " (planned)" if one_planned else ""
    path = tmp_path / "requirements.md"
    path.write_text(
        "## US0 Identity\n\n"
        f'- <a id="US0_1"></a>**0.1**{mark} A signed-in user sees their own profile.\n'
        '- <a id="US0_2"></a>**0.2** (planned) No token: 401.\n'
        '- <a id="US0_9"></a>**0.9** (planned) Not written yet.\n',
        encoding="utf-8",
    )
    return path


def _results(tmp_path: Path, status_of_profile_scenario: str) -> Path:
    """The last run's results: only 0.1's scenario ran, with this status."""
    results = tmp_path / "results"
    results.mkdir()
    body = {"fullName": "features/identity.feature:A signed-in user sees her own profile"}
    body["status"] = status_of_profile_scenario
    (results / "1-result.json").write_text(json.dumps(body), encoding="utf-8")
    return results


def test_planned_ids_are_listed_as_planned_and_never_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _doc(tmp_path, one_planned=False)
    results = _results(tmp_path, "passed")
    assert traceability.main(["--results", str(results), "--requirements", str(doc)]) == 0
    out = capsys.readouterr().out
    assert "  0.2  PLANNED" in out and "  0.9  PLANNED" in out
    assert "1/1 requirement IDs have a passing scenario" in out and "2 planned (0.2, 0.9)" in out


def test_an_id_that_is_not_planned_fails_without_a_passing_scenario(tmp_path: Path) -> None:
    doc = _doc(tmp_path, one_planned=False)
    failed = _results(tmp_path, "failed")
    assert traceability.main(["--results", str(failed), "--requirements", str(doc)]) == 1
    by_id = traceability.scenarios_by_id(traceability.load_results(failed), doc)
    assert traceability.verdict(by_id["0.1"]) == "FAILING"
    assert traceability.verdict(by_id["0.1"], planned=True) == "PLANNED"
    assert traceability.verdict([], planned=False) == "UNCOVERED"


def test_a_planned_id_with_a_passing_scenario_is_ok_and_its_mark_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = _doc(tmp_path, one_planned=True)
    results = _results(tmp_path, "passed")
    assert traceability.main(["--results", str(results), "--requirements", str(doc)]) == 0
    out = capsys.readouterr().out
    assert "note: 0.1 has a passing scenario: remove its (planned) mark" in out


def test_the_markdown_table_shows_planned_ids(tmp_path: Path) -> None:
    doc = _doc(tmp_path, one_planned=False)
    table = tmp_path / "traceability.md"
    traceability.main(["--results", str(tmp_path), "--requirements", str(doc), "--markdown", str(table)])
    text = table.read_text(encoding="utf-8")
    assert "## US0 Identity" in text and "| 0.9 | PLANNED | - | - |" in text
