"""Running the app: readiness as an operator sees it, and the database command (``python -m server.db``).

The database command runs in-process (its ``main()``, with the environment and arguments an operator
would give it), against the worker's embedded PostgreSQL: mock mode only (@fault_injection).
"""

from __future__ import annotations

import contextlib
import io
import sys
from dataclasses import dataclass

import httpx
import psycopg
import pytest
from pytest_bdd import given, parsers, then, when

from fixtures.stack.mock import Stack
from fixtures.stack.plugin import Cast

# Everything the database command reads from the environment (Settings, by their env names).
DATABASE_ENV = (
    "PGHOST",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGSSLMODE",
    "PGPASSWORD",
    "LAKEBASE_INSTANCE_NAME",
    "DATABRICKS_HOST",
    "DATABRICKS_CLIENT_ID",
    "DATABRICKS_CLIENT_SECRET",
)


@dataclass
class CommandRun:
    arguments: list[str]
    output: str
    exit_message: str | None  # what sys.exit carried; None when the command ended normally


def _postgres(stack: Stack):  # -> fixtures.postgres.EmbeddedPostgres
    if stack.postgres is None:
        pytest.fail("the database command runs against the embedded PostgreSQL: tag it @fault_injection")
    return stack.postgres


def _migrate(conninfo: str, target: str, down: bool) -> None:
    """Moves the schema to ``target`` with the app's own Alembic scripts (as the app's role)."""
    from alembic import command
    from sqlalchemy import create_engine
    from sqlalchemy.pool import StaticPool

    from server.db import migrations

    with psycopg.connect(conninfo) as conn:
        engine = create_engine("postgresql+psycopg://", creator=lambda: conn, poolclass=StaticPool)
        config = migrations.alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            (command.downgrade if down else command.upgrade)(config, target)


def _revision(conninfo: str) -> str | None:
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return row[0] if row else None


# Given ------------------------------------------------------------------------------------------------------
@given("the database schema is one version behind the app")
def schema_behind(stack: Stack, request: pytest.FixtureRequest) -> None:
    """Takes the worker's database back one migration (the last one's downgrade); the latest schema is
    restored after the scenario whatever happens."""
    from alembic.script import ScriptDirectory

    from server.db import migrations

    postgres = _postgres(stack)
    head = migrations.head()
    previous = ScriptDirectory.from_config(migrations.alembic_config()).get_revision(head).down_revision
    assert isinstance(previous, str), f"the latest migration {head} has no single predecessor"
    conninfo = postgres.app_conninfo()

    def restore() -> None:
        if _revision(conninfo) != head:
            _migrate(conninfo, "head", down=False)

    request.addfinalizer(restore)
    _migrate(conninfo, previous, down=True)
    assert _revision(conninfo) == previous


# When -------------------------------------------------------------------------------------------------------
@when(parsers.re(r"(?P<who>[A-Z]\w+) checks whether the app is ready"), target_fixture="response")
def person_checks_readiness(people: Cast, who: str) -> httpx.Response:
    """The person checks the readiness of the app they use."""
    return people[who].app.get("/api/health/ready")


@when(
    parsers.re(r'an operator runs the database command "(?P<arguments>[^"]*)" (?P<settings>with|without) '
               r"the app's database settings"),
    target_fixture="command_run",
)  # fmt: skip
def runs_database_command(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, arguments: str, settings: str
) -> CommandRun:
    """Runs ``python -m server.db <arguments>`` (its main(), in-process) with the app's database settings
    in the environment (as the app has them: its service principal gets a Lakebase credential), or with
    none at all."""
    from server.db.__main__ import main

    _postgres(stack)
    app = stack.app_settings
    for name in DATABASE_ENV:
        monkeypatch.delenv(name, raising=False)
    if settings == "with":
        env = {
            "PGHOST": app.pghost,
            "PGPORT": str(app.pgport),
            "PGDATABASE": app.pgdatabase,
            "PGUSER": app.pguser,
            "PGSSLMODE": app.pgsslmode,
            "LAKEBASE_INSTANCE_NAME": app.lakebase_instance_name,
            "DATABRICKS_HOST": app.databricks_host,
            "DATABRICKS_CLIENT_ID": app.databricks_client_id,
            "DATABRICKS_CLIENT_SECRET": app.databricks_client_secret.get_secret_value(),
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "argv", ["python -m server.db", *arguments.split()])
    output, exit_message = io.StringIO(), None
    with contextlib.redirect_stdout(output):
        try:
            main()
        except SystemExit as stop:
            exit_message = str(stop.code)
    return CommandRun(arguments.split(), output.getvalue(), exit_message)


@when("an operator applies the database migrations from the command line", target_fixture="command_run")
def applies_migrations(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> CommandRun:
    """``python -m server.db upgrade`` with the app's database settings."""
    run = runs_database_command(stack, monkeypatch, "upgrade", "with")
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
