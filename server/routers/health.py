"""Liveness and readiness: the only routes that answer without a signed-in user."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from server import __version__
from server.dependencies import Health

router = APIRouter(prefix="/api/health", tags=["health"])


@router.get("", summary="Liveness: the process answers")
def health() -> dict:
    return {"status": "ok", "version": __version__}


@router.get(
    "/ready",
    summary="Readiness: the workspace and the database answer",
    responses={503: {"description": "Not ready: the failing checks are listed"}},
)
def ready(health: Health) -> JSONResponse:
    report = health.readiness()
    return JSONResponse(report, status_code=200 if report["status"] == "ready" else 503)
