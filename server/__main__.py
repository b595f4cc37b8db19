"""Run the app as Databricks Apps does: ``python -m server`` listens on DATABRICKS_APP_PORT."""

from __future__ import annotations

import logging

import uvicorn

from server.app import create_app
from server.config import Settings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs each request's URL at INFO; the SQL warehouse's presigned result links carry a credential.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = Settings()
    uvicorn.run(create_app(settings), host="0.0.0.0", port=settings.databricks_app_port)


if __name__ == "__main__":
    main()
