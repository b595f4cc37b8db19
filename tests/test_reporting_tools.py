"""Allure labels from tags, compact attachments and traceability: what QA and product owners read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.reporting.allure_labels import labels_for
from fixtures.reporting.attachments import distributions_png, table_csv
from tools import traceability
from tools.single_file_report import MARK, UnexpectedReport, declare_data_first


def test_labels_come_from_the_feature_story_the_rule_and_the_severity_tag() -> None:
    labels, links = labels_for("Preferences", {"US1"}, {"US1_3", "US1_4", "critical"}, "Saving")
    assert ("epic", "US1 Preferences in Lakebase") in labels
    assert ("feature", "Preferences") in labels
    assert ("story", "Saving") in labels and ("subSuite", "Saving") in labels
    assert ("severity", "critical") in labels
    assert [name for _, name in links] == ["Requirement 1.3", "Requirement 1.4"]
    assert all(url.endswith(("docs/requirements.md#US1_3", "docs/requirements.md#US1_4")) for url, _ in links)


def test_without_a_rule_or_story_tag_the_ids_name_the_story_and_epic_and_severity_defaults() -> None:
    labels, _ = labels_for("Flows", set(), {"US4_1", "US2_5"}, None)
    assert [v for k, v in labels if k == "epic"] == [
        "US2 Unity Catalog browsing and table data",
        "US4 Cross-service flows",
    ]
    assert ("story", "Requirements 2.5, 4.1") in labels
    assert ("severity", "normal") in labels


def test_tables_are_compact_redacted_and_cut() -> None:
    token = "dapi" + "1" * 32
    rows = [{"key": f"k{i}", "value": {"token": token}} for i in range(5)]
    text = table_csv(rows, max_rows=3)
    lines = text.splitlines()
    assert lines[0] == "key,value"
    assert len(lines) == 5 and "2 more rows not shown" in lines[-1]
    assert token not in text and "«redacted»" in text
    assert table_csv({"v1": {"p50": 12}}).splitlines() == ["name,p50", "v1,12"]


def test_distribution_charts_are_png() -> None:
    png = distributions_png("amount", {"baseline": [1, 2, 2, 3], "recent": [3, 4, 4, 5]}, note="PSI 0.9")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ValueError, match="empty"):
        distributions_png("nothing", {"baseline": []})


def _result(tmp: Path, name: str, status: str, feature: str = "features/identity.feature") -> None:
    body = {"fullName": f"{feature}:{name}", "status": status}
    (tmp / f"{abs(hash((name, status)))}-result.json").write_text(json.dumps(body), encoding="utf-8")


def test_traceability_reports_each_id_and_fails_unless_every_id_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _result(tmp_path, "A signed-in user sees her own profile", "passed")
    _result(tmp_path, "A request without a token is refused", "failed")
    by_id = traceability.scenarios_by_id(traceability.load_results(tmp_path))
    assert traceability.verdict(by_id["0.1"]) == "ok"
    assert traceability.verdict([]) == "UNCOVERED"
    assert traceability.verdict(by_id["9.4"]) == "NOT RUN"
    assert {r.status for r in by_id["0.2"]} >= {"failed", "not run"}
    assert traceability.main(["--results", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "  9.4  NOT RUN" in out and "failed   features/identity.feature" in out


def test_traceability_matches_outline_results_by_their_example_values(tmp_path: Path) -> None:
    outline = 'Limit "<limit>" with offset "<offset>" is refused'
    _result(tmp_path, 'Limit "10" with offset "1.5" is refused', "passed", "features/table_data.feature")
    _result(tmp_path, 'Limit "0" with offset "0" is refused', "failed", "features/table_data.feature")
    by_id = traceability.scenarios_by_id(traceability.load_results(tmp_path))
    row = next(r for r in by_id["2.9"] if r.name == outline)
    assert sorted(row.statuses) == ["failed", "passed"]
    assert traceability.main(["--results", str(tmp_path), "--report-only"]) == 0


APP = '<script   src="data:text/javascript;base64,AAAA"></script>'
DATA = "<script async>\n window.allureReportData = window.allureReportData || {};"


def test_the_single_file_report_declares_its_data_before_its_app_once() -> None:
    html = f"<body><div id=app></div>\n<script>window.allure = {{}};</script>\n{APP}\n{DATA}</script>"
    fixed = declare_data_first(html)
    assert fixed.index(MARK) < fixed.index(APP) and fixed.count(MARK) == 1
    assert fixed.index("window.allureReportData = window.allureReportData || {}") < fixed.index(APP)
    assert declare_data_first(fixed) == fixed
    already_first = f"<body>{DATA}</script>{APP}"
    assert declare_data_first(already_first) == already_first
    with pytest.raises(UnexpectedReport):
        declare_data_first("<html>not a report</html>")
