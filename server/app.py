"""App factory. ``create_app()`` reads Settings from the environment; tests pass explicit Settings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from server import __version__
from server.config import Settings
from server.container import Container
from server.db import Database, LakebaseConfigurationError
from server.dependencies import current_user
from server.errors import document_validation_refusals, install_error_handlers
from server.metrics import MetricsMiddleware
from server.middleware import RequestIdMiddleware, UrlTextMiddleware
from server.models.errors import USER_ROUTE_ERRORS
from server.request_body import document_json_bodies
from server.routers import catalog, health, metrics, monitoring, preferences, serving, user

log = logging.getLogger(__name__)

# Every router here requires a signed-in user; health is added separately, without.
USER_ROUTERS = [
    user.router,
    metrics.router,
    preferences.router,
    catalog.router,
    serving.router,
    monitoring.router,
]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    services = Container.build(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if services.database is not None:
            check_lakebase(services.database)
            if settings.db_migrate_on_start:
                log.info("database schema at revision %s", services.database.migrate())
            services.database.open()
        try:
            yield
        finally:
            services.close()

    # Only health answers without identity: the API description is served to signed-in users only.
    app = FastAPI(
        title="Databricks App",
        version=__version__,
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.container = services
    install_error_handlers(app)
    app.add_middleware(UrlTextMiddleware)  # inside RequestIdMiddleware: its refusals carry the request id
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=services.metrics)
    app.include_router(health.router)
    for router in USER_ROUTERS:
        app.include_router(router, dependencies=[Depends(current_user)], responses=USER_ROUTE_ERRORS)
    app.include_router(api_docs_router(app), dependencies=[Depends(current_user)])
    document_json_bodies(app)
    document_validation_refusals(app)
    return app


def check_lakebase(database: Database) -> None:
    """A Lakebase instance the app cannot get a credential for stops it at start-up, saying why."""
    try:
        database.check_credentials()
    except LakebaseConfigurationError as error:
        log.critical("%s", error)
        raise


def api_docs_router(app: FastAPI) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["docs"], include_in_schema=False)

    @router.get("/openapi.json")
    def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @router.get("/docs")
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/api/openapi.json", title=f"{app.title} API")

    return router
