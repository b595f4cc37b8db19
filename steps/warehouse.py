"""The SQL warehouse as table readers meet it: stopped, starting or busy, large results, the app's patience.

How long the warehouse takes is set through the fake's control API (milliseconds on its clock), so these
Givens are for ``@fault_injection`` scenarios; stopping it and reading its state go through the SDK.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import httpx
import pytest
from pytest_bdd import given, parsers, then

from fixtures.drivers.app import AppClient
from fixtures.drivers.control import FakeControl
from fixtures.drivers.workspace_admin import WorkspaceAdmin
from fixtures.stack.mock import Stack
from fixtures.stack.plugin import Cast

WHO = r"(?P<who>[A-Z]\w+|she|he|they)"
# "Statements with disposition=INLINE are limited to 25 MiB" (databricks-sdk StatementExecutionAPI).
INLINE_LIMIT_BYTES = 25 * 1024 * 1024


@pytest.fixture(scope="session")
def patient_apps(stack: Stack) -> Iterator[Callable[[float], str]]:
    """URLs of second app instances (same workspace and database), one per patience with the warehouse."""
    from fixtures.workspace.server import BackgroundServer
    from server.app import create_app

    started: dict[float, BackgroundServer] = {}

    def url(patience: float) -> str:
        if stack.app_settings is None:
            pytest.fail("a second app instance can only be started in mock mode (tag @fault_injection)")
        if patience not in started:
            settings = stack.app_settings.model_copy(update={"warehouse_patience_seconds": patience})  # type: ignore[attr-defined]
            started[patience] = BackgroundServer(create_app(settings), f"app-patience-{patience:g}s").start()
        return started[patience].url

    yield url
    for server in started.values():
        server.stop()


@given(
    parsers.re(WHO + r" uses an app that waits at most (?P<seconds>[\d.]+) seconds? for the SQL warehouse")
)
def uses_patient_app(people: Cast, patient_apps: Callable[[float], str], who: str, seconds: str) -> None:
    """Points the person at an app instance whose patience with the SQL warehouse is that long."""
    person = people.subject(who)
    person.app = AppClient(patient_apps(float(seconds)), person.token)


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
    pattern = r"\W+".join(re.escape(part) for part in catalog_admin.real(table).split("."))
    control.statement_duration(pattern, round(float(seconds) * 1000))


@then(parsers.re(r"the SQL warehouse is running"))
def warehouse_running(catalog_admin: WorkspaceAdmin) -> None:
    """The warehouse reports RUNNING (a statement started it)."""
    assert catalog_admin.warehouse_state() == "RUNNING"


@then(parsers.re(r"each page is larger than the SQL warehouse's inline limit"))
def pages_beyond_inline(row_pages: dict) -> None:
    """Each page read carries more than 25 MiB of values: no warehouse could have answered it inline."""
    for offset, response in row_pages.items():
        assert isinstance(response, httpx.Response) and response.status_code == 200, response.text
        values = sum(len(str(v).encode()) for row in response.json()["rows"] for v in row.values())
        assert values > INLINE_LIMIT_BYTES, f"the page at offset {offset} holds only {values} bytes"
