"""App factory. ``create_app()`` reads Settings from the environment; tests pass explicit Settings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from server import __version__
from server.config import Settings
from server.container import Container
from server.dependencies import current_user
from server.errors import install_error_handlers
from server.middleware import RequestIdMiddleware
from server.routers import health, preferences, serving, user

log = logging.getLogger(__name__)

# Every router here requires a signed-in user; health is added separately, without.
USER_ROUTERS = [user.router, preferences.router, serving.router]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    services = Container.build(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if services.database is not None:
            if settings.db_migrate_on_start:
                log.info("database schema at revision %s", services.database.migrate())
            services.database.open()
        try:
            yield
        finally:
            if services.database is not None:
                services.database.close()

    app = FastAPI(title="Databricks App", version=__version__, lifespan=lifespan)
    app.state.container = services
    install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health.router)
    for router in USER_ROUTERS:
        app.include_router(router, dependencies=[Depends(current_user)])
    return app
