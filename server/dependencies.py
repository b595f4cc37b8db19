"""FastAPI dependencies: the calling user, their workspace client, and one alias per service.

Every service is built once, in ``server.container``; each alias here hands a route the one it needs, so
no route reaches into the container itself.
"""

from __future__ import annotations

from typing import Annotated

from databricks.sdk import WorkspaceClient
from fastapi import Depends, Request

from server.container import Container
from server.errors import lakebase_not_configured
from server.metrics import AppMetrics
from server.services.browsing import BrowsingPreferences
from server.services.catalog import CatalogService
from server.services.health import HealthService
from server.services.identity import CurrentUser
from server.services.inference_log import InferenceLog
from server.services.monitoring import MonitoringService
from server.services.preferences import PreferenceService
from server.services.serving import ServingService

USER_TOKEN_HEADER = "X-Forwarded-Access-Token"


def container(request: Request) -> Container:
    return request.app.state.container


Wired = Annotated[Container, Depends(container)]


def user_token(request: Request) -> str | None:
    return request.headers.get(USER_TOKEN_HEADER)


def current_user(request: Request, services: Wired) -> CurrentUser:
    user = services.identity.resolve(user_token(request))
    request.state.user_name = user.user_name
    return user


def user_workspace(
    request: Request, services: Wired, _: Annotated[CurrentUser, Depends(current_user)]
) -> WorkspaceClient:
    """The workspace as the calling user sees it (on-behalf-of): their grants, their identity."""
    return services.workspace.for_user(user_token(request) or "")


def preference_service(services: Wired) -> PreferenceService:
    if services.preferences is None:
        raise lakebase_not_configured()
    return services.preferences


def catalog_service(services: Wired) -> CatalogService:
    return services.catalog


def browsing_preferences(services: Wired) -> BrowsingPreferences:
    return services.browsing


def serving_service(services: Wired) -> ServingService:
    return services.serving


def inference_log(services: Wired) -> InferenceLog:
    return services.inference_log


def monitoring_service(services: Wired) -> MonitoringService:
    return services.monitoring


def app_metrics(services: Wired) -> AppMetrics:
    return services.metrics


def health_service(services: Wired) -> HealthService:
    return services.health


User = Annotated[CurrentUser, Depends(current_user)]
UserWorkspace = Annotated[WorkspaceClient, Depends(user_workspace)]
Preferences = Annotated[PreferenceService, Depends(preference_service)]
Catalogs = Annotated[CatalogService, Depends(catalog_service)]
Browsing = Annotated[BrowsingPreferences, Depends(browsing_preferences)]
Serving = Annotated[ServingService, Depends(serving_service)]
InferenceHistoryLog = Annotated[InferenceLog, Depends(inference_log)]
Monitoring = Annotated[MonitoringService, Depends(monitoring_service)]
Metrics = Annotated[AppMetrics, Depends(app_metrics)]
Health = Annotated[HealthService, Depends(health_service)]
