"""Prometheus exposition of the app's own metrics (see ``server.metrics`` for why it needs an identity)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from server.dependencies import Metrics
from server.metrics import CONTENT_TYPE

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    summary="Prometheus metrics: requests, latency, upstream calls",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
)
def metrics(recorded: Metrics) -> Response:
    return Response(recorded.exposition(), media_type=CONTENT_TYPE)
