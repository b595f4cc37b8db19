"""One JSON error envelope for every non-2xx response.

``{"error": {"code", "message", "request_id", "details"?, "retry_after"?}}``; never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import requests
from databricks.sdk.errors import DatabricksError
from databricks.sdk.errors import platform as sdk_errors
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException

from server.validation import MAX_DETAILS

log = logging.getLogger(__name__)


class AppError(Exception):
    """An error the app answers on purpose, with a stable machine code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.retry_after = retry_after


def lakebase_not_configured() -> AppError:
    """Whatever needs Lakebase (preferences, the inference history, monitoring) when the app has none."""
    return AppError(
        503,
        "LAKEBASE_NOT_CONFIGURED",
        "Lakebase is not configured for this app, so preferences, inference history and monitoring are "
        "not available.",
    )


def value_too_large(limit: int) -> AppError:
    """A preference value over its documented size."""
    return AppError(
        413,
        "VALUE_TOO_LARGE",
        f"A preference value may be at most {limit} bytes of JSON.",
        details=[{"field": "value", "issue": f"larger than {limit} bytes"}],
    )


def payload_too_large(message: str) -> AppError:
    """A scoring request over one of its caps (bytes or records); the message names the cap."""
    return AppError(413, "PAYLOAD_TOO_LARGE", message)


def request_id(request: Request) -> str:
    return getattr(request.state, "request_id", "-")


def error_response(request: Request, error: AppError) -> JSONResponse:
    body: dict[str, Any] = {"code": error.code, "message": error.message, "request_id": request_id(request)}
    headers = {}
    if error.details:
        body["details"] = error.details
    if error.retry_after is not None:
        body["retry_after"] = error.retry_after
        headers["Retry-After"] = str(error.retry_after)
    return JSONResponse({"error": body}, status_code=error.status, headers=headers)


def from_workspace_error(error: DatabricksError) -> AppError:
    """Map an upstream (workspace) error onto what the app's user should see."""
    message = str(error) or "The workspace refused the request."
    if isinstance(error, sdk_errors.PermissionDenied):
        return AppError(403, "PERMISSION_DENIED", message)
    if isinstance(error, sdk_errors.Unauthenticated):
        return AppError(401, "INVALID_TOKEN", "The access token is invalid or expired.")
    if isinstance(error, sdk_errors.NotFound):
        return AppError(404, error.error_code or "NOT_FOUND", message)
    if isinstance(error, sdk_errors.BadRequest):
        return AppError(400, error.error_code or "BAD_REQUEST", message)
    if isinstance(error, sdk_errors.TooManyRequests | sdk_errors.TemporarilyUnavailable):
        return AppError(
            503, "UPSTREAM_UNAVAILABLE", "The workspace is busy; try again shortly.", retry_after=5
        )
    return AppError(502, "UPSTREAM_ERROR", f"The workspace failed: {message}")


def from_unreachable_upstream(error: Exception) -> AppError:
    """The workspace did not answer at all: retries ran out (the SDK raises TimeoutError once its retry
    deadline passes on 429/503), or no connection / no response within the HTTP timeout."""
    if isinstance(error, TimeoutError):
        message = (
            "The workspace kept refusing (busy or unavailable) until the app gave up; try again shortly."
        )
    else:
        message = "The workspace could not be reached; try again shortly."
    return AppError(503, "UPSTREAM_UNAVAILABLE", message, retry_after=10)


def validation_details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """pydantic's errors as field-level details (``loc`` dotted, without the leading "body")."""
    details = []
    for item in errors[:MAX_DETAILS]:
        location = [str(part) for part in item.get("loc", ()) if part != "body"]
        issue = str(item.get("msg", "invalid")).removeprefix("Value error, ")  # a validator's own words
        details.append({"field": ".".join(location) or "body", "issue": issue})
    return details


def invalid_request(details: list[dict[str, Any]]) -> AppError:
    return AppError(400, "INVALID_REQUEST", "The request is invalid.", details=details[:MAX_DETAILS])


def allowed_methods(request: Request) -> list[str]:
    path = request.scope["path"]
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, error: AppError) -> JSONResponse:
        return error_response(request, error)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(request, invalid_request(validation_details(error.errors())))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(error.status_code, "HTTP_ERROR")
        response = error_response(request, AppError(error.status_code, code, str(error.detail)))
        response.headers.update(error.headers or {})
        if error.status_code == 405:
            # RFC 9110: every method the resource has. The router names only the first route it matched.
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    @app.exception_handler(DatabricksError)
    async def _workspace(request: Request, error: DatabricksError) -> JSONResponse:
        log.warning("workspace error on %s: %s", request.url.path, error)
        return error_response(request, from_workspace_error(error))

    @app.exception_handler(TimeoutError)
    @app.exception_handler(requests.ConnectionError)
    @app.exception_handler(requests.Timeout)
    async def _unreachable(request: Request, error: Exception) -> JSONResponse:
        log.warning("workspace unreachable on %s: %s", request.url.path, error.__class__.__name__)
        return error_response(request, from_unreachable_upstream(error))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return error_response(request, AppError(500, "INTERNAL_ERROR", "An unexpected error occurred."))
