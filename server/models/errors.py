"""The error envelope, documented in the OpenAPI schema for every route."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class FieldIssue(BaseModel):
    field: str = Field(description="Dotted path of the offending field, or 'body'")
    issue: str


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. MISSING_TOKEN, TABLE_NOT_FOUND")
    message: str
    request_id: str = Field(description="Also in the X-Request-ID response header")
    details: list[FieldIssue] | None = None
    retry_after: int | None = Field(None, description="Seconds; also in the Retry-After header")


class ErrorEnvelope(BaseModel):
    error: ErrorBody


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        400: "Invalid request (field-level details)",
        401: "No valid user token (MISSING_TOKEN, INVALID_TOKEN)",
        403: "The user lacks a permission",
        404: "Not found",
        409: "Conflict",
        412: "Precondition failed (stale If-Match)",
        413: "Request body larger than the operation's x-max-body-bytes",
        415: "The body is not sent as application/json (UNSUPPORTED_MEDIA_TYPE)",
        502: "The workspace failed",
        503: "A dependency is unavailable; retry after Retry-After",
    }
    return {status: {"model": ErrorEnvelope, "description": descriptions[status]} for status in statuses}


# What any route behind sign-in may answer, whatever it does.
USER_ROUTE_ERRORS = error_responses(400, 401, 502, 503)
