"""Lakebase (PostgreSQL) access: a psycopg 3 pool, short-lived credentials, versioned migrations."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from databricks.sdk import WorkspaceClient
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

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
    """The app's Lakebase connections: a psycopg pool that heals itself after an outage.

    Outages are answered fast: a pooled connection that fails its first statement, or a pool that cannot
    open any connection, marks the database down; while it is down, one request at a time makes a direct
    connection attempt and the requests arriving meanwhile wait for its verdict (a few seconds at most)
    instead of queueing on the pool. The first attempt that succeeds replaces the pool with a fresh one, so
    recovery never waits for the pool's exponential reconnect backoff. A pool that is merely busy (every
    connection in use) answers 503 for that request only: saturation is not an outage.
    """

    PROBE_CONNECT_TIMEOUT_SECONDS = 1

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
        self._lock = threading.Lock()
        self._probe_lock = threading.Lock()
        self._down_since: float | None = None
        self._probe_verdict = False  # the last direct attempt's answer, read by requests that waited for it
        self._opened = False
        self.pool = self._new_pool()

    def _new_pool(self) -> ConnectionPool:
        return ConnectionPool(
            self.conninfo,
            kwargs=self._connect_kwargs,
            min_size=1,
            max_size=self._settings.db_pool_max_size,
            open=False,
            timeout=self._settings.db_connect_timeout_seconds,
            # Keep trying in the background; connection() also replaces the pool once the database is back.
            reconnect_timeout=365 * 24 * 3600,
            name="lakebase",
        )

    def _connect_kwargs(self) -> dict:
        return {"password": self._password(), "autocommit": False}

    def open(self) -> None:
        self._opened = True
        self.pool.open(wait=False)

    def close(self) -> None:
        self._opened = False
        self.pool.close()

    def _mark_down(self) -> None:
        with self._lock:
            if self._down_since is None:
                self._down_since = time.monotonic()
                log.warning("database marked unavailable")

    def _probe(self) -> bool:
        """True if the database answers: one direct connection attempt at a time; a request arriving during
        another's attempt waits for it and takes its verdict."""
        if not self._probe_lock.acquire(blocking=False):
            if not self._probe_lock.acquire(timeout=self.PROBE_CONNECT_TIMEOUT_SECONDS + 2):
                return False
            self._probe_lock.release()
            return self._probe_verdict
        try:
            kwargs = {**self._connect_kwargs(), "connect_timeout": self.PROBE_CONNECT_TIMEOUT_SECONDS}
            with psycopg.connect(self.conninfo, **kwargs) as conn:
                conn.execute("SELECT 1")
            self._probe_verdict = True
        except psycopg.Error:
            self._probe_verdict = False
        finally:
            self._probe_lock.release()
        return self._probe_verdict

    def _renew(self, stale: ConnectionPool) -> ConnectionPool:
        """Replace a pool whose connections died with a fresh one (once, whoever gets here first)."""
        with self._lock:
            if self.pool is stale:
                self.pool = self._new_pool()
                if self._opened:
                    self.pool.open(wait=False)
                threading.Thread(target=stale.close, name="lakebase-old-pool", daemon=True).start()
                log.info("database is back: connection pool renewed")
            self._down_since = None
            return self.pool

    def _checkout(self, user: str | None) -> tuple[ConnectionPool, psycopg.Connection]:
        pool = self.pool
        if self._down_since is not None:
            if not self._probe():
                raise database_unavailable()
            pool = self._renew(pool)
        for _ in range(3):
            try:
                conn = pool.getconn()
            except PoolClosed:  # another request renewed the pool after an outage while this one waited
                pool = self.pool
                continue
            except PoolTimeout as error:
                if pool.get_stats().get("pool_size", 0) == 0:  # not one connection could be opened
                    self._mark_down()
                raise database_unavailable() from error
            try:
                # The first statement doubles as the liveness check of a pooled connection.
                if user is None:
                    conn.execute("SELECT 1")
                else:
                    conn.execute("SELECT set_config('app.user', %s, true)", [user])
                return pool, conn
            except psycopg.OperationalError:
                pool.putconn(conn)
                if not self._probe():
                    self._mark_down()
                    raise database_unavailable() from None
                # The database answers, so this pool's connections predate a restart: start afresh.
                pool = self._renew(pool)
        raise database_unavailable()

    @contextmanager
    def connection(self, user: str | None = None) -> Iterator[psycopg.Connection]:
        """A pooled connection in a transaction; any outage becomes 503 DATABASE_UNAVAILABLE.

        With ``user``, the transaction is bound to that user for row-level security (``app.user``).
        """
        pool, conn = self._checkout(user)
        try:
            with conn:
                yield conn
        except psycopg.OperationalError as error:
            self._mark_down()
            log.warning("database unavailable: %s", error.__class__.__name__)
            raise database_unavailable() from error
        finally:
            pool.putconn(conn)

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
