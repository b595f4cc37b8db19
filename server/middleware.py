"""Request id on every request and response; the text rule on every URL (pure ASGI: request bodies stay
streamed, never buffered)."""

from __future__ import annotations

import re
import uuid
from urllib.parse import unquote_to_bytes

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import error_response, invalid_request
from server.validation import text_issue

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(REQUEST_ID_HEADER.lower().encode(), b"").decode("latin-1")
        request_id = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)


class UrlTextMiddleware:
    """Refuses a path or query string that breaks the app's text rule (``server.validation``: no control
    characters, no lone surrogates) or is not UTF-8 once percent-decoded, before any route runs: the
    HTTP server would otherwise replace invalid bytes silently, and a NUL would reach PostgreSQL or the
    workspace. Answers 400 INVALID_REQUEST in the envelope, naming the query parameter (or "path")."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            issue = url_text_issue(scope)
            if issue is not None:
                response = error_response(Request(scope), invalid_request([issue]))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _decoded_issue(raw: bytes) -> str | None:
    try:
        text = unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return "is not valid UTF-8 once percent-decoded"
    return text_issue(text)


def url_text_issue(scope: Scope) -> dict[str, str] | None:
    """The first field of the URL that breaks the text rule, as a field-level detail, or None."""
    raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogatepass")
    issue = _decoded_issue(raw_path)
    if issue is not None:
        return {"field": "path", "issue": issue}
    for pair in scope.get("query_string", b"").split(b"&"):
        raw_name, _, raw_value = pair.replace(b"+", b" ").partition(b"=")
        issue = _decoded_issue(raw_name)
        if issue is not None:
            return {"field": "query", "issue": f"has a parameter name that {issue}"}
        issue = _decoded_issue(raw_value)
        if issue is not None:
            return {"field": f"query.{unquote_to_bytes(raw_name).decode()[:100]}", "issue": issue}
    return None
