"""Preferences of the signed-in user: list, read, save (upsert), delete. Thin: the service holds the logic."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from server.dependencies import Preferences, User
from server.errors import value_too_large
from server.models.errors import ErrorEnvelope
from server.models.preferences import (
    DEFAULT_PAGE_SIZE,
    KEY_PATTERN,
    KEY_RULES,
    MAX_BODY_BYTES,
    MAX_PAGE_SIZE,
    MAX_STORED_KEY_LENGTH,
    MAX_VALUE_BYTES,
    Preference,
    PreferencePage,
    PreferenceWrite,
)
from server.request_body import JsonBody
from server.routers.common import etag, precondition
from server.services.preferences import storable_value
from server.validation import TEXT_PATTERN

router = APIRouter(prefix="/api/preferences", tags=["preferences"])


def error(description: str) -> dict:
    """A documented error answer: the app's envelope, with what it means for this route."""
    return {"model": ErrorEnvelope, "description": description}


ERRORS = {
    400: error("Invalid key, value or limit (field-level details)"),
    401: error("Not signed in"),
    503: error("LAKEBASE_NOT_CONFIGURED, or DATABASE_UNAVAILABLE with Retry-After"),
}
ETAG_HEADER = {
    "ETag": {"description": "The version of the value, for If-Match", "schema": {"type": "string"}}
}
# OpenAPI links: what a client (and stateful fuzzing) can do next with a preference it saved or read.
_OPERATIONS = {  # FastAPI's generated operation ids of this router's routes
    "read": "read_preference_api_preferences__key__get",
    "save": "save_preference_api_preferences__key__put",
    "delete": "delete_preference_api_preferences__key__delete",
    "list": "list_preferences_api_preferences_get",
}
SAME_KEY = {"path.key": "$request.path.key"}
FROM_VERSION = {**SAME_KEY, "header.If-Match": "$response.header.ETag"}
KEY_LINKS = {
    "ReadIt": {"operationId": _OPERATIONS["read"], "parameters": SAME_KEY},
    "ChangeItFromThisVersion": {"operationId": _OPERATIONS["save"], "parameters": FROM_VERSION},
    "DeleteItFromThisVersion": {"operationId": _OPERATIONS["delete"], "parameters": FROM_VERSION},
    "DeleteIt": {"operationId": _OPERATIONS["delete"], "parameters": SAME_KEY},
}
NEXT_PAGE_LINK = {
    "NextPage": {
        "operationId": _OPERATIONS["list"],
        "parameters": {"query.page_token": "$response.body#/next_page_token"},
    }
}
SavedKey = Annotated[str, Path(pattern=KEY_PATTERN, description=KEY_RULES)]
# Reads and deletes also reach keys saved before the current key rules, within the app's text rule
# (server.validation: no control characters, which PostgreSQL text, NUL aside, would hold).
StoredKey = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_STORED_KEY_LENGTH,
        pattern=TEXT_PATTERN,
        description="The preference's name.",
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="An ETag from a previous read or save, or *: the change happens only if it still matches "
        "(else 412 PRECONDITION_FAILED). Without it, the last write wins.",
    ),
]


@router.get(
    "",
    response_model=PreferencePage,
    summary="List my preferences, in key order",
    responses={**ERRORS, 200: {"links": NEXT_PAGE_LINK}},
)
def list_preferences(
    user: User,
    service: Preferences,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Page size")] = DEFAULT_PAGE_SIZE,
    page_token: Annotated[
        str | None,
        Query(
            max_length=MAX_STORED_KEY_LENGTH,
            pattern=TEXT_PATTERN,
            description="next_page_token of the previous page",
        ),
    ] = None,
) -> PreferencePage:
    return service.list(user.user_name, limit, page_token)


@router.get(
    "/{key}",
    response_model=Preference,
    summary="Read one of my preferences",
    responses={
        **ERRORS,
        200: {"headers": ETAG_HEADER, "links": KEY_LINKS},
        404: error("PREFERENCE_NOT_FOUND (also for keys of other users)"),
        409: error("PREFERENCE_UNREADABLE: a stored value not saved through this app"),
    },
)
def read_preference(key: StoredKey, user: User, service: Preferences, response: Response) -> Preference:
    preference = service.get(user.user_name, key)
    response.headers["ETag"] = etag(preference.version)
    return preference


PREFERENCE_BODY = JsonBody(
    PreferenceWrite,
    MAX_BODY_BYTES,
    lambda _: value_too_large(MAX_VALUE_BYTES),
    # The body has one member, and only the value can nest: a body too deep to parse is its fault.
    nesting_field="value",
)


@router.put(
    "/{key}",
    response_model=Preference,
    summary="Save one of my preferences (create or replace)",
    description=(
        f'The body is `{{"value": <any JSON>}}`; the value may be at most {MAX_VALUE_BYTES} bytes of compact '
        f"UTF-8 JSON. Bodies larger than {MAX_BODY_BYTES} bytes are refused with 413 before they are read."
    ),
    status_code=status.HTTP_200_OK,
    openapi_extra=PREFERENCE_BODY.openapi,
    responses={
        **ERRORS,
        **PREFERENCE_BODY.responses,
        200: {"description": "Replaced", "headers": ETAG_HEADER, "links": KEY_LINKS},
        201: {"description": "Created", "model": Preference, "headers": ETAG_HEADER, "links": KEY_LINKS},
        412: error("PRECONDITION_FAILED: If-Match does not match the current version"),
        413: error("VALUE_TOO_LARGE"),
    },
)
async def save_preference(
    key: SavedKey,
    body: Annotated[PreferenceWrite, Depends(PREFERENCE_BODY)],
    user: User,
    service: Preferences,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> Preference:
    value_json = storable_value(body)
    preference, created = await run_in_threadpool(
        service.save, user.user_name, key, value_json, precondition(if_match)
    )
    response.headers["ETag"] = etag(preference.version)
    if created:
        response.status_code = status.HTTP_201_CREATED
        response.headers["Location"] = str(request.url_for("read_preference", key=key))
    return preference


@router.delete(
    "/{key}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete one of my preferences",
    responses={
        **ERRORS,
        404: error("PREFERENCE_NOT_FOUND (also for keys of other users)"),
        412: error("PRECONDITION_FAILED: If-Match does not match the current version"),
    },
)
def delete_preference(key: StoredKey, user: User, service: Preferences, if_match: IfMatch = None) -> Response:
    service.delete(user.user_name, key, precondition(if_match))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
