"""Phrases every feature shares: outcomes of the last request (refusals, error codes)."""

from __future__ import annotations

import httpx
from pytest_bdd import parsers, then


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert "error" in body, f"expected the error envelope, got {body}"
    return body["error"]


@then(parsers.parse('the request is refused with status {status:d} as "{code}"'))
def refused_as(response: httpx.Response, status: int, code: str) -> None:
    """The last request was refused with this HTTP status and error code, in the app's error envelope."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    error = error_of(response)
    assert error["code"] == code, error
    assert error["message"], error
    assert error["request_id"] == response.headers["X-Request-ID"], error


@then(parsers.parse('the request is refused as "{code}"'))
def refused_with_code(response: httpx.Response, code: str) -> None:
    """The last request was refused (any 4xx/5xx) with this error code."""
    assert response.status_code >= 400, f"expected a refusal, got {response.status_code}: {response.text}"
    error = error_of(response)
    assert error["code"] == code, error
