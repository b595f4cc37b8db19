"""Readiness checks of the app's dependencies."""

from __future__ import annotations

import logging

from server.clients import WorkspaceClients
from server.db import Database, migrations

log = logging.getLogger(__name__)


def _check(name: str, probe) -> dict:
    try:
        return {"name": name, "status": "ok", **(probe() or {})}
    except Exception as error:  # a failing dependency is a finding here, not a crash
        log.warning("readiness check %s failed: %s", name, error.__class__.__name__)
        return {"name": name, "status": "failing", "reason": error.__class__.__name__}


class HealthService:
    def __init__(self, workspace: WorkspaceClients, database: Database | None) -> None:
        self._workspace = workspace
        self._database = database

    def readiness(self) -> dict:
        def workspace() -> dict:
            self._workspace.service_principal.current_user.me()
            return {}

        def database() -> dict:
            if self._database is None:
                return {"status": "not_configured"}
            revision, expected = self._database.schema_revision(), migrations.head()
            if revision != expected:
                raise RuntimeError(f"schema at {revision}, expected {expected}")
            return {"schema_revision": revision}

        checks = [_check("workspace", workspace), _check("database", database)]
        status = "ready" if all(c["status"] in ("ok", "not_configured") for c in checks) else "not_ready"
        return {"status": status, "checks": checks}
