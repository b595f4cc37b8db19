"""Model Serving for the signed-in user: endpoints, input schemas, real-time and batch inference, history.

Thin: parsing and limits here, logic in ``server.services.serving``; every workspace call is on behalf of
the user, so they see and query only what the workspace lets them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from server.dependencies import InferenceHistoryLog, Serving, User, UserWorkspace
from server.errors import request_id
from server.models.serving import (
    DEFAULT_HISTORY_PAGE,
    MAX_BODY_BYTES,
    MAX_HISTORY_PAGE,
    BatchPrediction,
    Endpoint,
    EndpointList,
    InferenceHistory,
    InputSchema,
    InvokeRequest,
    Prediction,
)
from server.request_body import JsonBody
from server.routers.common import ENDPOINT_NAME_PATTERN, MAX_ENDPOINT_NAME_LENGTH, EndpointName, Offset

router = APIRouter(prefix="/api/serving", tags=["serving"])
RECORDS_BODY = JsonBody(InvokeRequest, MAX_BODY_BYTES)
Records = Annotated[InvokeRequest, Depends(RECORDS_BODY)]
# OpenAPI links (FastAPI's generated operation ids): an endpoint's example request can be scored as it is,
# and a call just made is in the caller's history of that endpoint.
SAME_ENDPOINT = {"path.name": "$request.path.name"}
EXAMPLE_LINKS = {
    "ScoreTheExample": {
        "operationId": "invoke_api_serving_endpoints__name__invocations_post",
        "parameters": SAME_ENDPOINT,
        "requestBody": "$response.body#/example_request",
    },
    "ScoreTheExampleInABatch": {
        "operationId": "batch_api_serving_endpoints__name__batch_post",
        "parameters": SAME_ENDPOINT,
        "requestBody": "$response.body#/example_request",
    },
}
HISTORY_LINK = {
    "FindTheCallInMyHistory": {
        "operationId": "history_api_serving_history_get",
        "parameters": {"query.endpoint": "$request.path.name"},
    }
}
ERRORS = {
    400: {"description": "INVALID_REQUEST, or INVALID_INPUT naming missing/unexpected columns"},
    403: {"description": "MISSING_SCOPE: the app's user authorization lacks a scope this needs"},
    404: {"description": "ENDPOINT_NOT_FOUND: no such endpoint, or one the user may not see (alike)"},
    413: {"description": "PAYLOAD_TOO_LARGE"},
    503: {"description": "MODEL_TIMEOUT with Retry-After"},
}
SCORING_ERRORS = {
    **ERRORS,
    403: {"description": "PERMISSION_DENIED: the user may see the endpoint but not query it; MISSING_SCOPE"},
}


@router.get(
    "/endpoints",
    response_model=EndpointList,
    summary="Serving endpoints the user may see, with state and served models",
    responses={403: ERRORS[403]},
)
async def list_endpoints(ws: UserWorkspace, service: Serving) -> EndpointList:
    return await run_in_threadpool(service.list_endpoints, ws)


@router.get(
    "/endpoints/{name}",
    response_model=Endpoint,
    summary="One endpoint: state, versions, traffic split",
    responses=ERRORS,
)
async def get_endpoint(name: EndpointName, ws: UserWorkspace, service: Serving) -> Endpoint:
    return await run_in_threadpool(service.get_endpoint, ws, name)


@router.get(
    "/endpoints/{name}/schema",
    response_model=InputSchema,
    summary="Input schema and an example request",
    responses={**ERRORS, 200: {"links": EXAMPLE_LINKS}},
)
async def input_schema(name: EndpointName, ws: UserWorkspace, service: Serving) -> InputSchema:
    return await run_in_threadpool(service.input_schema, ws, name)


@router.post(
    "/endpoints/{name}/invocations",
    response_model=Prediction,
    summary="Real-time inference",
    openapi_extra=RECORDS_BODY.openapi,
    responses={**RECORDS_BODY.responses, **SCORING_ERRORS, 200: {"links": HISTORY_LINK}},
)
async def invoke(
    name: EndpointName, body: Records, request: Request, user: User, ws: UserWorkspace, service: Serving
) -> Prediction:
    return await service.invoke(ws, user.user_name, name, body.records, request_id(request))


@router.post(
    "/endpoints/{name}/batch",
    response_model=BatchPrediction,
    summary="Batch inference, in chunks",
    openapi_extra=RECORDS_BODY.openapi,
    responses={**RECORDS_BODY.responses, **SCORING_ERRORS, 200: {"links": HISTORY_LINK}},
)
async def batch(
    name: EndpointName, body: Records, request: Request, user: User, ws: UserWorkspace, service: Serving
) -> BatchPrediction:
    return await service.batch(ws, user.user_name, name, body.records, request_id(request))


@router.get(
    "/history",
    response_model=InferenceHistory,
    summary="My inference calls, newest first",
    responses={403: ERRORS[403], 404: ERRORS[404]},
)
async def history(
    user: User,
    log: InferenceHistoryLog,
    ws: UserWorkspace,
    service: Serving,
    limit: Annotated[int, Query(ge=1, le=MAX_HISTORY_PAGE)] = DEFAULT_HISTORY_PAGE,
    offset: Offset = 0,
    endpoint: Annotated[
        str | None,
        Query(min_length=1, max_length=MAX_ENDPOINT_NAME_LENGTH, pattern=ENDPOINT_NAME_PATTERN),
    ] = None,
) -> InferenceHistory:
    if endpoint is not None:  # one endpoint's history: only while the user may still see it
        await run_in_threadpool(service.get_endpoint, ws, endpoint)
    return await run_in_threadpool(log.history, user.user_name, limit, offset, endpoint)
