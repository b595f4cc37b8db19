"""One JSON error envelope for every non-2xx response.

``{"error": {"code", "message", "request_id", "details"?, "retry_after"?}}``; never a traceback.
"""

from __future__ import annotations

import logging
import re
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


# The SDK appends its configuration to 401/403 messages ("... . Config: host=..., client_id=..., Env: ...",
# databricks/sdk/config.py ``wrap_debug_info``), and to an answer it cannot parse the whole request, body
# and all ("unable to parse response. This is likely a bug in the Databricks SDK ... Request log:```...```",
# databricks/sdk/errors/parser.py ``_unknown_error``): users get the service's own sentence only.
_SDK_DEBUG_INFO = re.compile(r"\.? (?:Config: |Env: |This is likely a bug in the Databricks SDK).*$", re.S)
# How the workspace refuses a token it does not accept (fixtures/workspace/auth.py names the sources): a 403
# whose error_code is the number 403, or a 401.
_TOKEN_REFUSALS = re.compile(r"invalid access token|jwt has expired|token is expired|token expired", re.I)
# "Provided OAuth token does not have required scopes: sql" (fixtures/workspace/scopes.py names the source)
_MISSING_SCOPES = re.compile(r"does not have required scopes?: (?P<scopes>[\w.:, -]+)", re.I)


def workspace_message(error: DatabricksError) -> str:
    """The service's own sentence, without what the SDK appends (configuration, environment names)."""
    message = _SDK_DEBUG_INFO.sub("", str(error)).strip()
    if message and not message.endswith((".", "!", "?")):
        message += "."
    return message or "The workspace refused the request."


def is_token_refusal(error: DatabricksError) -> bool:
    if isinstance(error, sdk_errors.Unauthenticated):
        return True
    if not isinstance(error, sdk_errors.PermissionDenied):
        return False
    return error.error_code in (403, "403") or bool(_TOKEN_REFUSALS.search(str(error)))


def missing_scopes(error: DatabricksError) -> list[str]:
    """The OAuth scopes the workspace says the user's token lacks (empty if that is not the refusal)."""
    if not isinstance(error, sdk_errors.PermissionDenied):
        return []
    match = _MISSING_SCOPES.search(workspace_message(error))
    if not match:
        return []
    return [scope.strip() for scope in match["scopes"].rstrip(".").split(",") if scope.strip()]


def invalid_token() -> AppError:
    return AppError(401, "INVALID_TOKEN", "The access token is invalid or expired.")


def missing_scope(scopes: list[str]) -> AppError:
    names = ", ".join(scopes)
    return AppError(
        403,
        "MISSING_SCOPE",
        f"The app may not do this on your behalf: its access to the workspace lacks the scope {names}. "
        "Ask the app's owner to add it to the app's user authorization scopes.",
        details=[{"field": "scope", "issue": scope} for scope in scopes],
    )


def from_workspace_error(error: DatabricksError) -> AppError:
    """The one mapping of a workspace error onto what the app's user sees (the service's sentence only)."""
    if is_token_refusal(error):
        return invalid_token()
    scopes = missing_scopes(error)
    if scopes:
        return missing_scope(scopes)
    message = workspace_message(error)
    if isinstance(error, sdk_errors.PermissionDenied):
        return AppError(403, "PERMISSION_DENIED", message)
    code = error.error_code if isinstance(error.error_code, str) else None
    if isinstance(error, sdk_errors.NotFound):
        return AppError(404, code or "NOT_FOUND", message)
    if isinstance(error, sdk_errors.BadRequest):
        return AppError(400, code or "BAD_REQUEST", message)
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


def _forget_refused_token(request: Request, error: AppError) -> None:
    """A token the workspace refused is not trusted again from the app's identity cache."""
    container = getattr(request.app.state, "container", None)
    token = request.headers.get("X-Forwarded-Access-Token")
    if error.code == "INVALID_TOKEN" and container is not None and token:
        container.identity.forget(token)


def document_validation_refusals(app: FastAPI) -> None:
    """FastAPI documents a 422 ``HTTPValidationError`` on every route that reads parameters; the app answers
    those refusals 400 INVALID_REQUEST in its envelope (``install_error_handlers``), which every such route
    documents already: the 422 and its schemas are taken out of the document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()  # cached by FastAPI after the first call: taking out again changes nothing
        for path in document.get("paths", {}).values():
            for operation in path.values():
                operation.get("responses", {}).pop("422", None)
        schemas = document.get("components", {}).get("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, error: AppError) -> JSONResponse:
        _forget_refused_token(request, error)
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
        mapped = from_workspace_error(error)
        log.warning("workspace error on %s: %s %s", request.url.path, mapped.code, workspace_message(error))
        _forget_refused_token(request, mapped)
        return error_response(request, mapped)

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
