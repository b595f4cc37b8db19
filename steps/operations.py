"""Running the app: readiness as an operator sees it, and the database command (``python -m server.db``).

The database command runs in-process (its ``main()``, with the environment and arguments an operator
would give it), against the worker's embedded PostgreSQL: mock mode only (@fault_injection).
"""

from __future__ import annotations

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from fixtures.drivers.lakebase import CommandRun, Lakebase
from fixtures.stack.plugin import Cast


# Given ------------------------------------------------------------------------------------------------------
@given("the database schema is one version behind the app")
def schema_behind(lakebase: Lakebase, request: pytest.FixtureRequest) -> None:
    """Takes the worker's database back one migration (the last one's downgrade); the latest schema is
    restored after the scenario whatever happens."""
    from alembic.script import ScriptDirectory

    from server.db import migrations

    head = migrations.head()
    previous = ScriptDirectory.from_config(migrations.alembic_config()).get_revision(head).down_revision
    assert isinstance(previous, str), f"the latest migration {head} has no single predecessor"

    def restore() -> None:
        if lakebase.revision() != head:
            lakebase.migrate("head")

    request.addfinalizer(restore)
    lakebase.migrate(previous, down=True)
    assert lakebase.revision() == previous


# When -------------------------------------------------------------------------------------------------------
@when(parsers.re(r"(?P<who>[A-Z]\w+) checks whether the app is ready"), target_fixture="response")
def person_checks_readiness(people: Cast, who: str) -> httpx.Response:
    """The person checks the readiness of the app they use."""
    return people[who].app.readiness()


@when(
    parsers.re(r'an operator runs the database command "(?P<arguments>[^"]*)" (?P<settings>with|without) '
               r"the app's database settings"),
    target_fixture="command_run",
)  # fmt: skip
def runs_database_command(lakebase: Lakebase, arguments: str, settings: str) -> CommandRun:
    """Runs ``python -m server.db <arguments>`` (its main(), in-process) with the app's database settings
    in the environment (PGPASSWORD instead of a Lakebase credential), or with none at all."""
    return lakebase.run_command(arguments.split(), with_settings=settings == "with")


@when("an operator applies the database migrations from the command line", target_fixture="command_run")
def applies_migrations(lakebase: Lakebase) -> CommandRun:
    """``python -m server.db upgrade`` with the app's database settings."""
    run = lakebase.run_command(["upgrade"], with_settings=True)
    assert run.exit_message is None, f"the command stopped: {run.exit_message}"
    return run


# Then -------------------------------------------------------------------------------------------------------
def _report(response: httpx.Response) -> tuple[dict, dict]:
    report = response.json()
    return report, {check["name"]: check for check in report["checks"]}


@then("the app reports it is not ready because of its database")
def not_ready_database(response: httpx.Response) -> None:
    """Readiness answers 503 'not_ready' with the database check failing and the workspace still fine."""
    assert response.status_code == 503, response.text
    report, checks = _report(response)
    assert report["status"] == "not_ready", report
    assert checks["database"]["status"] == "failing" and checks["database"]["reason"], report
    assert checks["workspace"]["status"] == "ok", report


@then("the app reports it is ready, with no database configured")
def ready_without_database(response: httpx.Response) -> None:
    """Readiness answers 200 'ready': the workspace answers and the database is reported as not configured."""
    assert response.status_code == 200, response.text
    report, checks = _report(response)
    assert report["status"] == "ready", report
    assert checks["database"]["status"] == "not_configured" and checks["workspace"]["status"] == "ok", report


@then("the command reports the latest schema revision")
def command_reports_head(command_run: CommandRun) -> None:
    """The command printed the revision it brought the database to: the latest migration."""
    from server.db.migrations import head

    assert command_run.output.strip() == f"database at revision {head()}", command_run.output


@then(parsers.re(r'the command stops with a message saying "(?P<message>[^"]+)"'))
def command_stops(command_run: CommandRun, message: str) -> None:
    """The command ended with an error message (a non-zero exit) that says what to do, and did nothing."""
    assert command_run.exit_message is not None, f"the command did not stop: {command_run.output}"
    assert message in command_run.exit_message, command_run.exit_message
    assert "database at revision" not in command_run.output, command_run.output
