"""HTTP details that several routers share: path and query types, entity tags and If-Match."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path, Query

from server.models.paging import MAX_OFFSET
from server.services.preferences import Precondition

# Serving endpoint names as the app accepts them in paths and filters (the fake workspace creates names of
# 1-63 letters, digits, '-' and '_'). In a path, any other name is refused (400) before the workspace is
# asked: "An endpoint name can consist of alphanumeric characters, dashes, and underscores" (databricks-sdk,
# ServingEndpointsAPI.create), and the SDK writes the name into its request path unescaped, so a "#", "?"
# or "/" would ask the workspace something else.
MAX_ENDPOINT_NAME_LENGTH = 63
ENDPOINT_NAME_PATTERN = r"^[A-Za-z0-9_-]+$"
EndpointName = Annotated[
    str,
    Path(
        min_length=1,
        max_length=MAX_ENDPOINT_NAME_LENGTH,
        pattern=ENDPOINT_NAME_PATTERN,
        description="The serving endpoint's name: letters, digits, '-' and '_'",
    ),
]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip; past the end: an empty page")]

_ENTITY_TAG = re.compile(r'^"(\d{1,19})"$')


def etag(version: int) -> str:
    """The ETag header of a stored version."""
    return f'"{version}"'


def precondition(if_match: str | None) -> Precondition | None:
    """An If-Match header: ``*`` (any current version) or the versions the client has seen; None without."""
    if if_match is None:
        return None
    tags = [tag.strip() for tag in if_match.split(",") if tag.strip()]
    if "*" in tags:
        return Precondition(True, ())
    # If-Match compares strongly (RFC 9110): weak or malformed tags match nothing.
    return Precondition(False, tuple(int(m[1]) for tag in tags if (m := _ENTITY_TAG.match(tag))))
