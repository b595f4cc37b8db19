"""Monitoring of serving endpoints: call metrics and drift over a time window (members of the monitoring
group who may see the endpoint). Thin: the service holds the logic."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from server.dependencies import Monitoring, User, UserWorkspace
from server.models.monitoring import EndpointDrift, EndpointMetrics
from server.routers.common import EndpointName
from server.services.monitoring import resolve_window
from server.validation import DATE_RANGE, SupportedDatetime

router = APIRouter(prefix="/api/monitoring", tags=["monitoring"])
Start = Annotated[
    SupportedDatetime | None,
    Query(description=f"Window start, ISO 8601 with time zone, {DATE_RANGE}; default: end - 24 h"),
]
End = Annotated[
    SupportedDatetime | None,
    Query(description=f"Window end (exclusive), ISO 8601 with time zone, {DATE_RANGE}; default: now"),
]
ERRORS = {
    400: {"description": "INVALID_WINDOW, or INVALID_REQUEST for a time outside the supported range"},
    403: {"description": "MONITORING_NOT_ALLOWED: not in the monitoring group; MISSING_SCOPE"},
    404: {"description": "ENDPOINT_NOT_FOUND: no such endpoint, or one the user may not see (alike)"},
    503: {"description": "LAKEBASE_NOT_CONFIGURED, or DATABASE_UNAVAILABLE with Retry-After"},
}


@router.get(
    "/endpoints/{name}/metrics",
    response_model=EndpointMetrics,
    summary="Requests, error rate and latency p50/p95 of an endpoint, in total and per served version",
    responses=ERRORS,
)
async def endpoint_metrics(
    name: EndpointName,
    user: User,
    ws: UserWorkspace,
    service: Monitoring,
    start: Start = None,
    end: End = None,
) -> EndpointMetrics:
    window = resolve_window(start, end)
    await run_in_threadpool(service.authorize, ws, user, name)
    return await run_in_threadpool(service.metrics, name, window)


@router.get(
    "/endpoints/{name}/drift",
    response_model=EndpointDrift,
    summary="Feature and prediction drift (PSI) of recent calls against each served version's training data",
    responses=ERRORS,
)
async def endpoint_drift(
    name: EndpointName,
    user: User,
    ws: UserWorkspace,
    service: Monitoring,
    start: Start = None,
    end: End = None,
) -> EndpointDrift:
    window = resolve_window(start, end)
    await run_in_threadpool(service.authorize, ws, user, name)
    return await run_in_threadpool(service.drift, name, window)
