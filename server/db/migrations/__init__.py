"""Alembic migrations, applied programmatically at start-up and by ``python -m server.db upgrade``."""

from __future__ import annotations

from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.pool import StaticPool

HERE = Path(__file__).parent
# Held for the migration's transaction: app instances starting together on one database (replicas, or
# test workers sharing a live Lakebase) migrate one after the other instead of racing.
MIGRATION_LOCK_KEY = 0x6D696772  # "migr"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    return config


def head() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head() or ""


def upgrade(conn: psycopg.Connection, target: str = "head") -> str:
    """Upgrade the database behind an open psycopg connection; returns the revision reached."""
    engine = create_engine("postgresql+psycopg://", creator=lambda: conn, poolclass=StaticPool)
    config = alembic_config()
    with engine.begin() as connection:
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        config.attributes["connection"] = connection
        command.upgrade(config, target)
    return head() if target == "head" else target
