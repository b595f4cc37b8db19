"""Run the app as Databricks Apps does: ``python -m server`` listens on DATABRICKS_APP_PORT."""

from __future__ import annotations

import logging
import sys

import uvicorn

from server.app import check_lakebase, create_app
from server.config import Settings
from server.db import LakebaseConfigurationError


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs each request's URL at INFO; the SQL warehouse's presigned result links carry a credential.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = Settings()
    app = create_app(settings)
    database = app.state.container.database
    if database is not None:
        try:  # before uvicorn, so a wrong Lakebase instance ends the process with one clear line
            check_lakebase(database)
        except LakebaseConfigurationError as error:
            sys.exit(f"The app cannot start: {error}")
    uvicorn.run(app, host="0.0.0.0", port=settings.databricks_app_port)


if __name__ == "__main__":
    main()
