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
from databricks.sdk.errors import NotFound
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from server.config import Settings
from server.errors import AppError, workspace_message

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


class LakebaseConfigurationError(RuntimeError):
    """The app cannot get a Lakebase credential at all: its configuration names no usable instance."""


class LakebaseCredentials:
    """A Lakebase OAuth credential used as the Postgres password: renewed before it expires (a quarter of
    its lifetime before, at most five minutes), and at once when Postgres refuses it (``renew``)."""

    RENEW_BEFORE = dt.timedelta(minutes=5)

    def __init__(self, workspace: Callable[[], WorkspaceClient], instance_name: str) -> None:
        self._workspace = workspace
        self._instance_name = instance_name
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at: dt.datetime = dt.datetime.min.replace(tzinfo=dt.UTC)

    def password(self) -> str:
        with self._lock:
            if self._token is None or dt.datetime.now(dt.UTC) >= self._renew_at:
                self._generate()
            return self._token or ""

    def renew(self, refused: str) -> str:
        """Postgres refused ``refused``: a new credential, unless another connection already got one."""
        with self._lock:
            if self._token == refused:
                self._generate()
            return self._token or ""

    def _generate(self) -> None:
        try:
            credential = self._workspace().database.generate_database_credential(
                request_id=str(uuid.uuid4()), instance_names=[self._instance_name]
            )
        except NotFound as error:
            raise LakebaseConfigurationError(
                f"The Lakebase instance '{self._instance_name}' (LAKEBASE_INSTANCE_NAME) does not exist, or "
                f"the app's service principal may not use it: {workspace_message(error)}"
            ) from None
        now = dt.datetime.now(dt.UTC)
        expires = (
            dt.datetime.fromisoformat(credential.expiration_time.replace("Z", "+00:00"))
            if credential.expiration_time
            else now + dt.timedelta(minutes=15)
        )
        self._token = credential.token
        self._renew_at = expires - min(self.RENEW_BEFORE, (expires - now) / 4)
        log.info("Lakebase credential renewed")


def is_authentication_failure(error: psycopg.OperationalError) -> bool:
    """Postgres refused the password (SQLSTATE 28P01/28000, or libpq's message before a session exists)."""
    if getattr(error, "sqlstate", None) in ("28P01", "28000"):
        return True
    return "password authentication failed" in str(error)


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

    def __init__(
        self,
        settings: Settings,
        password: Callable[[], str],
        renew_password: Callable[[str], str] | None = None,
    ) -> None:
        self._settings = settings
        self._password = password
        self._renew_password = renew_password
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
        database = self

        class LakebaseConnection(psycopg.Connection):
            """Pool connections renew a refused credential and try once more, like every other connect."""

            @classmethod
            def connect(cls, conninfo: str = "", **kwargs):  # type: ignore[override]
                return database._connect(
                    lambda **kw: super(LakebaseConnection, cls).connect(conninfo, **kw), kwargs
                )

        return ConnectionPool(
            self.conninfo,
            connection_class=LakebaseConnection,
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

    def _connect(self, connect: Callable[..., psycopg.Connection], kwargs: dict) -> psycopg.Connection:
        """Connect; if Postgres refuses the credential (expired, replaced early), once more with a new one."""
        try:
            return connect(**kwargs)
        except psycopg.OperationalError as error:
            if self._renew_password is None or not is_authentication_failure(error):
                raise
            log.info("the database refused the credential: renewing it")
            return connect(**{**kwargs, "password": self._renew_password(kwargs.get("password", ""))})

    def check_credentials(self) -> None:
        """Get a credential now (at start-up): a wrong instance stops the app here, with a clear message."""
        self._password()

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
            with self._connect(lambda **kw: psycopg.connect(self.conninfo, **kw), kwargs) as conn:
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
        return self._connect(lambda **kw: psycopg.connect(self.conninfo, **kw), self._connect_kwargs())

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
