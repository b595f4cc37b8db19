"""FastAPI dependencies: the wired container, the calling user, their workspace client, the database."""

from __future__ import annotations

from typing import Annotated

from databricks.sdk import WorkspaceClient
from fastapi import Depends, Request

from server.container import Container
from server.db import Database
from server.errors import AppError
from server.services.identity import CurrentUser
from server.services.inference_log import InferenceLog
from server.services.preferences import PreferenceService
from server.services.serving import ServingService

USER_TOKEN_HEADER = "X-Forwarded-Access-Token"


def container(request: Request) -> Container:
    return request.app.state.container


def user_token(request: Request) -> str | None:
    return request.headers.get(USER_TOKEN_HEADER)


def current_user(request: Request, services: Annotated[Container, Depends(container)]) -> CurrentUser:
    user = services.identity.resolve(user_token(request))
    request.state.user_name = user.user_name
    return user


def user_workspace(
    request: Request,
    services: Annotated[Container, Depends(container)],
    _: Annotated[CurrentUser, Depends(current_user)],
) -> WorkspaceClient:
    """The workspace as the calling user sees it (on-behalf-of): their grants, their identity."""
    return services.workspace.for_user(user_token(request) or "")


def database(services: Annotated[Container, Depends(container)]) -> Database:
    if services.database is None:
        raise AppError(
            503,
            "LAKEBASE_NOT_CONFIGURED",
            "Lakebase is not configured for this app: set PGHOST, PGDATABASE and PGUSER.",
        )
    return services.database


User = Annotated[CurrentUser, Depends(current_user)]
UserWorkspace = Annotated[WorkspaceClient, Depends(user_workspace)]
Db = Annotated[Database, Depends(database)]
Services = Annotated[Container, Depends(container)]


def preference_service(db: Db) -> PreferenceService:
    return PreferenceService(db)


Preferences = Annotated[PreferenceService, Depends(preference_service)]


def serving_service(services: Services) -> ServingService:
    return services.serving


def inference_log(services: Services) -> InferenceLog:
    return services.inference_log


Serving = Annotated[ServingService, Depends(serving_service)]
InferenceHistoryLog = Annotated[InferenceLog, Depends(inference_log)]
