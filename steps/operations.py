"""Running the app and its command lines: the database command (``python -m server.db``), and what any
command line (the database's, the pipeline's) reports or refuses.

The database command runs in-process (its ``main()``, with the environment and arguments an operator
would give it), against the worker's embedded PostgreSQL: mock mode only (@fault_injection).
"""

from __future__ import annotations

import pytest
from pytest_bdd import given, parsers, then, when

from fixtures.drivers.command import Command
from fixtures.drivers.lakebase import Lakebase


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


@when(
    parsers.re(
        r'an operator runs the database command "(?P<arguments>[^"]*)" (?P<settings>with|without) '
        r"the app's database settings"
    ),
    target_fixture="command",
)
def runs_database_command(lakebase: Lakebase, arguments: str, settings: str) -> Command:
    """Runs ``python -m server.db <arguments>`` (its main(), in-process) with the app's database settings
    in the environment (its service principal gets the Lakebase credential), or with none at all."""
    return lakebase.run_command(arguments.split(), with_settings=settings == "with")


@then("the command reports the latest schema revision")
def command_reports_head(command: Command) -> None:
    """The database command printed the revision it brought the database to: the latest migration."""
    from server.db.migrations import head

    assert command.status == 0, command.errors
    assert command.output.strip() == f"database at revision {head()}", command.output


@then(parsers.re(r'the command (?:fails with|stops with a message saying) "(?P<message>[^"]+)"'))
def command_fails(command: Command, message: str) -> None:
    """The command exits with status 1 and says why on its error output; it prints no result."""
    assert command.status == 1, f"exit status {command.status}: {command.output or command.errors}"
    assert message in command.errors, command.errors
    assert not command.output.strip(), command.output
