"""Preferences as the API shows them, and the documented limits of what can be saved."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from server.validation import JsonValue

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
KEY_RULES = (
    "1-128 characters: letters, digits, '.', '_', ':' or '-', starting with a letter or digit "
    f"(pattern {KEY_PATTERN})"
)
MAX_VALUE_BYTES = 64 * 1024
MAX_VALUE_DEPTH = 32
# The request body is the value plus a small envelope; anything larger is refused before it is read.
MAX_BODY_BYTES = MAX_VALUE_BYTES + 1024
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
# Keys that predate the current pattern can still be read and deleted; they are at most this long.
MAX_STORED_KEY_LENGTH = 1024


class PreferenceWrite(BaseModel):
    """What a save sends: the value, any JSON."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"value": "dark"}, {"value": {"catalog": "sales", "page_size": 50}}]},
    )

    value: JsonValue = Field(
        ...,
        description=(
            f"Any JSON value (object, array, string, number, boolean or null), at most {MAX_VALUE_BYTES} "
            f"bytes as compact UTF-8 JSON and at most {MAX_VALUE_DEPTH} levels deep; numbers must be finite."
        ),
    )


class Preference(BaseModel):
    key: str = Field(..., description=f"The preference's name: {KEY_RULES}.")
    value: Any = Field(..., description="The saved JSON value, exactly as saved.")
    version: int = Field(
        ..., description="Changes on every save and is never reused; the ETag header carries it."
    )
    created_at: dt.datetime = Field(..., description="When the key was first saved (UTC).")
    updated_at: dt.datetime = Field(..., description="When the value last changed (UTC).")


class PreferencePage(BaseModel):
    items: list[Preference] = Field(..., description="Preferences in key order (bytewise).")
    next_page_token: str | None = Field(
        None, description="Pass as page_token for the next page; absent on the last page."
    )
    unreadable: int = Field(
        0,
        description=(
            "Stored rows on this page that could not be shown (written by something other than this app, "
            "with values this API cannot represent). They are skipped, never fatal."
        ),
    )
