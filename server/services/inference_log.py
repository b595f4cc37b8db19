"""The inference log in Lakebase: every call to a serving endpoint, and each user's history of their calls.

Rows are bound to their user twice: every query filters on the user, and row-level security checks
``app.user`` (set per transaction by ``Database.connection(user=...)``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from server.db import Database
from server.errors import AppError, lakebase_not_configured
from server.models.serving import InferenceHistory, InferenceRecord

log = logging.getLogger(__name__)

_COLUMNS = (
    "id, endpoint, served_entity, model_name, model_version, request_id, batch_id::text, chunk_index, "
    "record_count, inputs, outputs, status, error_code, error_message, latency_ms, started_at, finished_at"
)


# jsonb cannot hold U+0000 in strings; the log keeps U+FFFD in its place (an escaped backslash before
# "u0000" is text, not a NUL, and stays as it is).
_NUL_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def _dumps_without_nul(value: Any) -> str:
    return _NUL_ESCAPE.sub(r"\1\\ufffd", json.dumps(value))


def storable_json(value: Any) -> Jsonb:
    return Jsonb(value, dumps=_dumps_without_nul)


@dataclass
class InferenceCall:
    user_name: str
    endpoint: str
    inputs: list[dict[str, Any]]
    started_at: dt.datetime
    finished_at: dt.datetime
    latency_ms: float
    status: str  # "success" | "error"
    outputs: list[Any] | None = None
    served_entity: str | None = None
    model_name: str | None = None
    model_version: str | None = None
    request_id: str | None = None
    batch_id: str | None = None
    chunk_index: int | None = None
    error_code: str | None = None
    error_message: str | None = None


class InferenceLog:
    def __init__(self, database: Database | None) -> None:
        self._db = database

    def _database(self) -> Database:
        if self._db is None:
            raise lakebase_not_configured()
        return self._db

    def record(self, call: InferenceCall) -> int | None:
        """Write one call; the id of its row, or None when it could not be written (logged as a warning:
        a prediction the model already made is still returned)."""
        if self._db is None:
            return None
        try:
            with self._db.connection(user=call.user_name) as conn:
                row = conn.execute(
                    "INSERT INTO inference_log (user_name, endpoint, served_entity, model_name,"
                    " model_version,"
                    " request_id, batch_id, chunk_index, record_count, inputs, outputs, status, error_code,"
                    " error_message, latency_ms, started_at, finished_at)"
                    f" VALUES ({', '.join(['%s'] * 17)}) RETURNING id",
                    [
                        call.user_name,
                        call.endpoint,
                        call.served_entity,
                        call.model_name,
                        call.model_version,
                        call.request_id,
                        call.batch_id,
                        call.chunk_index,
                        len(call.inputs),
                        storable_json(call.inputs),
                        None if call.outputs is None else storable_json(call.outputs),
                        call.status,
                        call.error_code,
                        call.error_message,
                        call.latency_ms,
                        call.started_at,
                        call.finished_at,
                    ],
                ).fetchone()
            return int(row[0]) if row else None
        except AppError as error:
            log.warning("inference on %s not logged: %s", call.endpoint, error.code)
            return None
        except psycopg.DataError as error:  # a value Postgres cannot hold must not fail the user's call
            log.warning("inference on %s not logged: %s", call.endpoint, error.__class__.__name__)
            return None

    def history(self, user: str, limit: int, offset: int, endpoint: str | None = None) -> InferenceHistory:
        database = self._database()
        where, params = "user_name = %s", [user]
        if endpoint:
            where, params = where + " AND endpoint = %s", [*params, endpoint]
        with database.connection(user=user) as conn:
            total = conn.execute(f"SELECT count(*) FROM inference_log WHERE {where}", params).fetchone()
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM inference_log WHERE {where} ORDER BY id DESC LIMIT %s OFFSET %s",
                [*params, limit, offset],
            ).fetchall()
        items = [
            InferenceRecord(
                **dict(zip(InferenceRecord.model_fields, row, strict=True)),
            )
            for row in rows
        ]
        return InferenceHistory(items=items, total=int(total[0]) if total else 0, limit=limit, offset=offset)
