"""Lakebase (PostgreSQL) access: a psycopg 3 pool, short-lived credentials, versioned migrations."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from databricks.sdk import WorkspaceClient
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from server.config import Settings
from server.errors import AppError

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
RETRY_AFTER_SECONDS = 2


def database_unavailable() -> AppError:
    return AppError(
        503,
        "DATABASE_UNAVAILABLE",
        "The database is unavailable; try again shortly.",
        retry_after=RETRY_AFTER_SECONDS,
    )


class LakebaseCredentials:
    """A Lakebase OAuth credential used as the Postgres password, renewed before it expires."""

    RENEW_BEFORE = dt.timedelta(minutes=5)

    def __init__(self, workspace: Callable[[], WorkspaceClient], instance_name: str) -> None:
        self._workspace = workspace
        self._instance_name = instance_name
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires: dt.datetime = dt.datetime.min.replace(tzinfo=dt.UTC)

    def password(self) -> str:
        with self._lock:
            if self._token is None or dt.datetime.now(dt.UTC) >= self._expires - self.RENEW_BEFORE:
                credential = self._workspace().database.generate_database_credential(
                    request_id=str(uuid.uuid4()), instance_names=[self._instance_name]
                )
                self._token = credential.token
                expires = credential.expiration_time
                self._expires = (
                    dt.datetime.fromisoformat(expires.replace("Z", "+00:00"))
                    if expires
                    else dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15)
                )
            return self._token or ""


class Database:
    def __init__(self, settings: Settings, password: Callable[[], str]) -> None:
        self._settings = settings
        self._password = password
        self.conninfo = make_conninfo(
            host=settings.pghost,
            port=settings.pgport,
            dbname=settings.pgdatabase,
            user=settings.pguser,
            sslmode=settings.pgsslmode,
            connect_timeout=max(1, int(settings.db_connect_timeout_seconds)),
            application_name="databricks-app",
            # Every timestamp the app reads or writes is UTC, whatever the server's default.
            options="-c TimeZone=UTC",
        )
        self.pool = ConnectionPool(
            self.conninfo,
            kwargs=self._connect_kwargs,
            min_size=1,
            max_size=settings.db_pool_max_size,
            open=False,
            timeout=settings.db_connect_timeout_seconds,
            check=ConnectionPool.check_connection,
            # Keep trying in the background for as long as the app lives: the pool heals on its own.
            reconnect_timeout=365 * 24 * 3600,
            name="lakebase",
        )

    def _connect_kwargs(self) -> dict:
        return {"password": self._password(), "autocommit": False}

    def open(self) -> None:
        self.pool.open(wait=False)

    def close(self) -> None:
        self.pool.close()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection in a transaction; any outage becomes 503 DATABASE_UNAVAILABLE."""
        try:
            with self.pool.connection() as conn:
                yield conn
        except (PoolTimeout, psycopg.OperationalError) as error:
            log.warning("database unavailable: %s", error.__class__.__name__)
            raise database_unavailable() from error

    def connect_direct(self) -> psycopg.Connection:
        return psycopg.connect(self.conninfo, **self._connect_kwargs())

    def migrate(self) -> str:
        """Apply pending migrations (Alembic, the same call in every environment); return the revision."""
        from server.db import migrations

        with self.connect_direct() as conn:
            return migrations.upgrade(conn)

    def schema_revision(self) -> str | None:
        with self.connection() as conn:
            row = conn.execute(
                "SELECT version_num FROM alembic_version"
                " WHERE to_regclass('alembic_version') IS NOT NULL LIMIT 1"
            ).fetchone()
            return row[0] if row else None
