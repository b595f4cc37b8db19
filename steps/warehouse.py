"""The SQL warehouse as table readers meet it: stopped, starting or busy; results too large to come inline.

How long the warehouse takes is set through the fake's control API (milliseconds on its clock), so those
Givens are for ``@fault_injection`` scenarios; stopping it and reading its state go through the SDK. The app
variants that wait less for it are in ``steps/common.py`` (``APP_VARIANTS``).
"""

from __future__ import annotations

import re

import httpx
from pytest_bdd import given, parsers, then

from fixtures.drivers.control import FakeControl
from fixtures.drivers.workspace_admin import WorkspaceAdmin

# "Statements with disposition=INLINE are limited to 25 MiB" (databricks-sdk StatementExecutionAPI).
INLINE_LIMIT_BYTES = 25 * 1024 * 1024


@given(parsers.re(r"the SQL warehouse is stopped and takes (?P<seconds>[\d.]+) seconds? to start"))
def warehouse_stopped(catalog_admin: WorkspaceAdmin, control: FakeControl, seconds: str) -> None:
    """The admin stops the warehouse (SDK); starting it again takes that long (the fake's clock)."""
    control.warehouse_timing(catalog_admin.warehouse_id, startup_ms=round(float(seconds) * 1000))
    catalog_admin.stop_warehouse()


@given(
    parsers.re(
        r'the SQL warehouse takes (?P<seconds>[\d.]+) seconds? to answer queries on "(?P<table>[^"]+)"'
    )
)
def warehouse_slow(catalog_admin: WorkspaceAdmin, control: FakeControl, seconds: str, table: str) -> None:
    """Every statement that reads the table runs that long on the warehouse (the fake's clock)."""
    control.statement_duration(_reading(catalog_admin, table), round(float(seconds) * 1000))


@given(parsers.re(r'the SQL warehouse fails every statement on "(?P<table>[^"]+)" with an error quoting it'))
def warehouse_fails(catalog_admin: WorkspaceAdmin, control: FakeControl, table: str) -> None:
    """Every statement that reads the table ends FAILED with a parse error that quotes the statement, as
    Spark's parse errors do ("== SQL ==" and the text)."""
    message = "Syntax error at or near 'FROM'.\n\n== SQL ==\n{statement}"
    control.statement_failure(_reading(catalog_admin, table), "PARSE_SYNTAX_ERROR", message, "42601")


def _reading(catalog_admin: WorkspaceAdmin, table: str) -> str:
    """A regular expression for statement text naming the table (however it quotes the parts)."""
    return r"\W+".join(re.escape(part) for part in catalog_admin.real(table).split("."))


@then(parsers.re(r"the SQL warehouse is running"))
def warehouse_running(catalog_admin: WorkspaceAdmin) -> None:
    """The warehouse reports RUNNING (a statement started it)."""
    assert catalog_admin.warehouse_state() == "RUNNING"


@then(parsers.re(r"each page is larger than the SQL warehouse's inline limit"))
def pages_beyond_inline(row_pages: dict[int, httpx.Response]) -> None:
    """Each page read carries more than 25 MiB of values: no warehouse could have answered it inline."""
    for offset, response in row_pages.items():
        assert response.status_code == 200, response.text
        values = sum(len(str(v).encode()) for row in response.json()["rows"] for v in row.values())
        assert values > INLINE_LIMIT_BYTES, f"the page at offset {offset} holds only {values} bytes"
