"""``python -m server.db upgrade``: apply migrations to the configured database (PG* / Lakebase env)."""

from __future__ import annotations

import sys

from server.config import Settings
from server.container import build_database
from server.db import LakebaseConfigurationError


def main() -> None:
    if sys.argv[1:] not in (["upgrade"], []):
        sys.exit("usage: python -m server.db upgrade")
    settings = Settings()
    database = build_database(settings)
    if database is None:
        sys.exit("Lakebase is not configured: set PGHOST, PGDATABASE, PGUSER (and LAKEBASE_INSTANCE_NAME).")
    try:
        print(f"database at revision {database.migrate()}")
    except LakebaseConfigurationError as error:
        sys.exit(f"The database command cannot run: {error}")


if __name__ == "__main__":
    main()
