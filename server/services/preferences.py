"""A user's preferences in Lakebase: one JSON value per key, versioned, visible only to its owner.

Every statement runs in a transaction bound to the caller (``Database.connection(user=...)`` sets
``app.user`` for row-level security) *and* filters on the caller itself. A key of another user is
indistinguishable from a missing key: same status, same message, nothing about who owns what.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

from server.db import Database
from server.errors import AppError, value_too_large
from server.models.preferences import (
    MAX_VALUE_BYTES,
    MAX_VALUE_DEPTH,
    Preference,
    PreferencePage,
    PreferenceWrite,
)
from server.validation import nested_deeper_than

_COLUMNS = "key, value::text, version, created_at, updated_at"


class UnreadableValue(ValueError):
    """A stored value this API cannot represent (not written by this app)."""


@dataclass(frozen=True)
class Precondition:
    """A change only if the stored version is one the client has seen (or any version, for ``*``)."""

    any_version: bool
    versions: tuple[int, ...]


def invalid(field: str, issue: str) -> AppError:
    return AppError(
        400, "INVALID_REQUEST", "The request is invalid.", details=[{"field": field, "issue": issue}]
    )


def not_found(key: str) -> AppError:
    return AppError(404, "PREFERENCE_NOT_FOUND", f"There is no preference named {key!r}.")


def precondition_failed(key: str) -> AppError:
    return AppError(
        412,
        "PRECONDITION_FAILED",
        f"The preference {key!r} has changed since you read it (or no longer exists); "
        "read it again and retry with its current ETag.",
    )


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number out of range: {text[:20]}")
    return number


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_VALUE_DEPTH:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def load_json(text: str | bytes) -> Any:
    """A stored value: finite numbers only, at most MAX_VALUE_DEPTH levels deep; ValueError otherwise.
    (A row the app did not write may hold numbers that overflow a float, or nesting Python cannot parse.)"""
    if nested_deeper_than(text if isinstance(text, str) else text.decode("utf-8"), MAX_VALUE_DEPTH):
        raise ValueError(f"nested more than {MAX_VALUE_DEPTH} levels deep")  # not parsed: see NESTING_LIMIT
    return json.loads(text, parse_float=_finite)


def storable_value(request: PreferenceWrite) -> str:
    """A save's value (the body already read and checked by the app's body reader) -> compact JSON text,
    or a clear 400 (too deep) or 413 (too large)."""
    if _depth(request.value) > MAX_VALUE_DEPTH:
        raise invalid("value", f"nested more than {MAX_VALUE_DEPTH} levels deep")
    try:
        text = json.dumps(request.value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError as error:  # the body reader lets no non-finite number through; kept as a guard
        raise invalid("value", "cannot be stored as JSON") from error
    if len(text.encode("utf-8")) > MAX_VALUE_BYTES:
        raise value_too_large(MAX_VALUE_BYTES)
    return text


def _to_preference(row: tuple) -> Preference:
    key, text, version, created_at, updated_at = row[:5]
    try:
        value = load_json(text)
    except ValueError as error:
        raise UnreadableValue(str(error)) from error
    return Preference(
        key=key,
        value=value,
        version=version,
        created_at=created_at.astimezone(dt.UTC),
        updated_at=updated_at.astimezone(dt.UTC),
    )


class PreferenceService:
    def __init__(self, database: Database) -> None:
        self._db = database

    def list(self, user: str, limit: int, page_token: str | None) -> PreferencePage:
        after = page_token or ""  # the last key of the previous page: every string is a valid position
        with self._db.connection(user=user) as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM preferences WHERE user_name = %s AND key > %s ORDER BY key LIMIT %s",
                [user, after, limit + 1],
            ).fetchall()
        page, more = rows[:limit], len(rows) > limit
        items, unreadable = [], 0
        for row in page:
            try:
                items.append(_to_preference(row))
            except UnreadableValue:
                unreadable += 1
        next_token = page[-1][0] if more else None
        return PreferencePage(items=items, next_page_token=next_token, unreadable=unreadable)

    def get(self, user: str, key: str) -> Preference:
        with self._db.connection(user=user) as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM preferences WHERE user_name = %s AND key = %s", [user, key]
            ).fetchone()
        if row is None:
            raise not_found(key)
        try:
            return _to_preference(row)
        except UnreadableValue as error:
            raise AppError(
                409,
                "PREFERENCE_UNREADABLE",
                f"The stored value of {key!r} cannot be read (it was not saved through this app): {error}. "
                "Save a new value to replace it, or delete it.",
            ) from error

    def save(
        self, user: str, key: str, value_json: str, if_match: Precondition | None
    ) -> tuple[Preference, bool]:
        """Upsert (last write wins), or with If-Match update only the version the client has seen."""
        with self._db.connection(user=user) as conn:
            if if_match is None:
                row = conn.execute(
                    "INSERT INTO preferences (user_name, key, value) VALUES (%s, %s, %s::json)"
                    " ON CONFLICT (user_name, key) DO UPDATE SET value = EXCLUDED.value,"
                    " version = nextval('preference_versions'), updated_at = clock_timestamp()"
                    f" RETURNING {_COLUMNS}, (xmax = 0) AS created",
                    [user, key, value_json],
                ).fetchone()
            else:
                row = conn.execute(
                    "UPDATE preferences SET value = %s::json, version = nextval('preference_versions'),"
                    " updated_at = clock_timestamp()"
                    " WHERE user_name = %s AND key = %s AND (%s OR version = ANY(%s))"
                    f" RETURNING {_COLUMNS}, false AS created",
                    [value_json, user, key, if_match.any_version, list(if_match.versions)],
                ).fetchone()
        if row is None:
            raise precondition_failed(key)
        return _to_preference(row), bool(row[5])

    def delete(self, user: str, key: str, if_match: Precondition | None) -> None:
        condition = "" if if_match is None else " AND (%s OR version = ANY(%s))"
        params: list[Any] = [user, key]
        if if_match is not None:
            params += [if_match.any_version, list(if_match.versions)]
        with self._db.connection(user=user) as conn:
            row = conn.execute(
                f"DELETE FROM preferences WHERE user_name = %s AND key = %s{condition} RETURNING version",
                params,
            ).fetchone()
        if row is None:
            raise not_found(key) if if_match is None else precondition_failed(key)
