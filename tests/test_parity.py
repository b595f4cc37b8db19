"""The parity record: what the recorder keeps, how two runs are compared, the ledger, and a run that made a
call the fake does not serve failing with the call named (PRODUCT.md 10.2, 10.3)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from fixtures.reporting import calls
from tools import parity

ROOT = Path(__file__).resolve().parent.parent


def call(path: str = "/api/2.1/unity-catalog/tables/{full_name}", status: int = 200, **extra) -> dict:
    return {
        "method": "GET",
        "path": path,
        "query": [],
        "request": None,
        "status": status,
        "error_code": extra.pop("error_code", None),
        "response": extra.pop("response", {"name": "str"}),
        **extra,
    }


def run(folder: Path, scenarios: dict[str, list[dict]], outcome: str = "passed") -> Path:
    for scenario, recorded in scenarios.items():
        calls.write(folder, scenario, outcome, recorded)
    return folder


def test_shapes_keep_keys_and_types_never_values() -> None:
    secret = "dapi0123456789abcdef0123456789abcdef"
    shaped = calls.shape({"token": secret, "rows": [[1, "a"], [2.5, None]], "ok": True, "items": []})
    assert secret not in str(shaped)
    assert shaped == {"items": [], "ok": "bool", "rows": [["float|int|null|str"]], "token": "str"}


def test_identical_runs_have_no_difference_whatever_the_order(tmp_path: Path) -> None:
    a = run(tmp_path / "a", {"s1": [call(), call("/api/2.0/sql/statements", 200)]})
    b = run(tmp_path / "b", {"s1": [call("/api/2.0/sql/statements", 200), call(), call()]})
    assert parity.compare(a, b) == ([], [])


def test_a_different_answer_a_missing_call_and_a_missing_field_are_each_named(tmp_path: Path) -> None:
    a = run(tmp_path / "a", {"s1": [call(), call("/api/2.0/sql/statements")]})
    b = run(
        tmp_path / "b",
        {"s1": [call(status=403, error_code="PERMISSION_DENIED", response={"error_code": "str"})]},
    )
    differences, _ = parity.compare(a, b)
    found = {(d.operation, d.what, d.a, d.b) for d in differences}
    table = "GET /api/2.1/unity-catalog/tables/{full_name}"
    assert (table, "status / error_code", "200", "403 PERMISSION_DENIED") in found
    assert (table, "response fields", "name", "error_code") in found
    assert ("GET /api/2.0/sql/statements", "called only in A", "200", "") in found
    assert parity.main([str(a), str(b), "--markdown", str(tmp_path / "p.md")]) == 1
    assert "403 PERMISSION_DENIED" in (tmp_path / "p.md").read_text()


def test_a_read_the_app_kept_from_an_earlier_scenario_on_the_same_worker_is_a_note(tmp_path: Path) -> None:
    profile = call("/api/2.0/mlflow/runs/get")
    a, b = tmp_path / "a", tmp_path / "b"
    calls.write(a, "drift", "passed", [profile], worker="gw0", order=1)
    calls.write(a, "handful", "passed", [], worker="gw0", order=2)
    calls.write(b, "handful", "passed", [profile], worker="gw0", order=1)
    calls.write(b, "drift", "passed", [profile], worker="gw0", order=2)
    differences, notes = parity.compare(a, b)
    assert differences == []
    assert notes == ["handful: GET /api/2.0/mlflow/runs/get only in B; A read it earlier in drift"]
    # Not on the same worker, not earlier, or not a read: a difference.
    for worker, order, method in (("gw1", 1, "GET"), ("gw0", 3, "GET"), ("gw0", 1, "DELETE")):
        calls.write(a, "drift", "passed", [{**profile, "method": method}], worker=worker, order=order)
        calls.write(b, "drift", "passed", [{**profile, "method": method}], worker="gw0", order=2)
        calls.write(b, "handful", "passed", [{**profile, "method": method}], worker="gw0", order=1)
        differences, _ = parity.compare(a, b)
        assert [(d.scenario, d.what) for d in differences] == [("handful", "called only in B")]


def test_a_skipped_scenario_is_not_compared_but_a_missing_one_is_a_difference(tmp_path: Path) -> None:
    a = run(tmp_path / "a", {"s1": [call()], "s2": [call()]})
    run(tmp_path / "b", {"s1": []}, outcome="skipped")
    differences, notes = parity.compare(a, tmp_path / "b")
    assert notes == ["s1: skipped in B"]
    assert [(d.scenario, d.what) for d in differences] == [("s2", "scenario ran only in A")]


def test_the_ledger_lists_every_served_operation_and_dates_what_a_live_run_matched(tmp_path: Path) -> None:
    from fixtures.workspace.app import served_operations

    mock = run(tmp_path / "mock", {"s1": [call()]})
    live = run(tmp_path / "live", {"s1": [call()]})
    ledger = tmp_path / "fake-parity.md"
    served = [op for op in served_operations() if not op.template.startswith(calls.EXCLUDED_PREFIXES)]
    assert parity.write_ledger(ledger, mock) == len(served)
    text = ledger.read_text()
    assert "| `GET /api/2.1/unity-catalog/tables/{full_name}` | `w.tables.get` |" in text
    confirmed = parity.update_ledger(ledger, live, mock)
    assert confirmed == ["GET /api/2.1/unity-catalog/tables/{full_name}"]
    row = next(
        line
        for line in ledger.read_text().splitlines()
        if "`GET /api/2.1/unity-catalog/tables/{full_name}`" in line
    )
    assert not row.endswith("| never |")


def test_a_run_that_made_a_call_the_fake_does_not_serve_fails_and_names_it(tmp_path: Path) -> None:
    """A real pytest run, in its own process: one test calls the fake's (absent) Jobs API."""
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["fixtures.reporting.calls_plugin"]\n')
    (tmp_path / "test_unserved.py").write_text(
        textwrap.dedent("""
        import requests
        from fixtures.reporting import calls
        from fixtures.workspace.app import create_workspace_app
        from fixtures.workspace.server import BackgroundServer

        def test_lists_jobs():
            server = BackgroundServer(create_workspace_app(), "fake").start()
            calls.RECORDER.watch(server.url)
            try:
                assert requests.get(server.url + "/api/2.2/jobs/list").status_code == 501
            finally:
                server.stop()
    """)
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "--no-cov",
            f"--calls-dir={tmp_path / 'calls'}",
            "--alluredir",
            str(tmp_path / "allure"),
            "--rootdir",
            str(tmp_path),
            "-c",
            "/dev/null",
            str(tmp_path),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed" in result.stdout  # the test itself passed: the run fails for the unserved call
    assert "GET /api/2.2/jobs/list (w.jobs.list)" in result.stdout, result.stdout
