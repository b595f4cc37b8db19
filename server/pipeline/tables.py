"""The customers table in Unity Catalog, written and read through a SQL warehouse (Statement Execution API).

Written with ``delta.enableChangeDataFeed = true`` so downstream consumers (monitoring, feature refresh)
can follow row changes. Every call goes through ``databricks-sdk`` (``w.statement_execution``,
``w.tables``); the warehouse is whichever ``warehouse_id`` the caller names.
"""

from __future__ import annotations

import math
import time

import pandas as pd
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.sql import (
    Disposition,
    ExecuteStatementRequestOnWaitTimeout,
    Format,
    StatementResponse,
    StatementState,
)

from server.pipeline import data
from server.pipeline.columns import MIN_ROWS, SCHEMA

CHANGE_DATA_FEED = "delta.enableChangeDataFeed"
INSERT_BATCH_ROWS = 500
TERMINAL = {StatementState.SUCCEEDED, StatementState.FAILED, StatementState.CANCELED, StatementState.CLOSED}
COMMENT = "Customers for churn modelling: synthetic, cleaned and typed, with their train/test split."


class StatementError(RuntimeError):
    """A SQL statement did not succeed; the message is the warehouse's own."""


def quote_name(full_name: str) -> str:
    parts = full_name.split(".")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"'{full_name}' is not a three-part Unity Catalog name (catalog.schema.table)")
    return ".".join("`" + part.replace("`", "``") + "`" for part in parts)


def sql_literal(value: object, sql_type: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "NULL"
    if sql_type == "STRING":
        text = str(value).replace("\\", "\\\\").replace("'", "\\'")
        return f"'{text}'"
    if sql_type == "DOUBLE":
        return repr(float(value))
    return str(int(value))


def execute(
    w: WorkspaceClient, warehouse_id: str, statement: str, *, timeout_seconds: float = 120
) -> StatementResponse:
    """Runs one statement, waiting for it within a deadline; StatementError unless it succeeds."""
    response = w.statement_execution.execute_statement(
        statement=statement,
        warehouse_id=warehouse_id,
        wait_timeout="30s",
        on_wait_timeout=ExecuteStatementRequestOnWaitTimeout.CONTINUE,
        disposition=Disposition.INLINE,
        format=Format.JSON_ARRAY,
    )
    deadline = time.monotonic() + timeout_seconds
    pause = 0.05
    while response.status is None or response.status.state not in TERMINAL:
        if time.monotonic() > deadline:
            w.statement_execution.cancel_execution(response.statement_id)
            raise StatementError(f"statement {response.statement_id} did not finish in {timeout_seconds:g} s")
        # The warehouse already waited 30 s server-side; now poll its state with backoff, within the deadline.
        time.sleep(pause)
        pause = min(pause * 2, 1.0)
        response = w.statement_execution.get_statement(response.statement_id)
    if response.status.state != StatementState.SUCCEEDED:
        error = response.status.error
        raise StatementError(
            f"{response.status.state.value}: {error.message if error else 'no message'} (statement: "
            f"{statement[:120]}{'...' if len(statement) > 120 else ''})"
        )
    return response


def rows_of(w: WorkspaceClient, response: StatementResponse) -> list[list[str | None]]:
    """Every row of a succeeded statement, following result chunks."""
    rows = list(response.result.data_array or []) if response.result else []
    next_chunk = response.result.next_chunk_index if response.result else None
    while next_chunk is not None:
        chunk = w.statement_execution.get_statement_result_chunk_n(response.statement_id, next_chunk)
        rows += chunk.data_array or []
        next_chunk = chunk.next_chunk_index
    return rows


def create_table_sql(full_name: str) -> str:
    columns = ",\n  ".join(f"`{name}` {sql_type}" for name, (sql_type, _) in SCHEMA.items())
    return (
        f"CREATE OR REPLACE TABLE {quote_name(full_name)} (\n  {columns}\n) USING DELTA\n"
        f"COMMENT '{COMMENT}'\nTBLPROPERTIES ('{CHANGE_DATA_FEED}' = 'true')"
    )


def write_customers(w: WorkspaceClient, warehouse_id: str, full_name: str, customers: pd.DataFrame) -> int:
    """Validates, then (re)creates the table with change data feed on and inserts every row."""
    data.validate(customers)
    execute(w, warehouse_id, create_table_sql(full_name))
    columns = list(SCHEMA)
    types = [SCHEMA[c][0] for c in columns]
    names = ", ".join(f"`{c}`" for c in columns)
    for start in range(0, len(customers), INSERT_BATCH_ROWS):
        batch = customers.iloc[start : start + INSERT_BATCH_ROWS][columns]
        values = ",\n".join(
            "(" + ", ".join(sql_literal(v, t) for v, t in zip(row, types, strict=True)) + ")"
            for row in batch.itertuples(index=False, name=None)
        )
        execute(w, warehouse_id, f"INSERT INTO {quote_name(full_name)} ({names}) VALUES\n{values}")
    return len(customers)


def read_customers(w: WorkspaceClient, warehouse_id: str, full_name: str) -> pd.DataFrame:
    """The table's rows, typed as ``SCHEMA`` says, ordered by customer id."""
    names = ", ".join(f"`{c}`" for c in SCHEMA)
    response = execute(w, warehouse_id, f"SELECT {names} FROM {quote_name(full_name)} ORDER BY customer_id")
    frame = pd.DataFrame(rows_of(w, response), columns=list(SCHEMA))
    for column, (sql_type, dtype) in SCHEMA.items():
        if sql_type != "STRING":
            frame[column] = pd.to_numeric(frame[column]).astype(dtype)
    return frame


def validate_table(w: WorkspaceClient, warehouse_id: str, full_name: str, min_rows: int = MIN_ROWS) -> int:
    """Schema and properties from Unity Catalog, row count and nulls from the warehouse: every problem."""
    problems: list[str] = []
    table = w.tables.get(full_name)
    found = {
        c.name: (c.type_name.value if c.type_name else c.type_text or "").upper() for c in table.columns or []
    }
    for column, (sql_type, _) in SCHEMA.items():
        if column not in found:
            problems.append(f"missing column '{column}'")
        elif found[column] not in (sql_type, {"INT": "INTEGER"}.get(sql_type, sql_type)):
            problems.append(f"column '{column}' is {found[column]}, expected {sql_type}")
    problems += [f"unexpected column '{c}'" for c in found if c not in SCHEMA]
    if (table.properties or {}).get(CHANGE_DATA_FEED, "").lower() != "true":
        problems.append(f"table property {CHANGE_DATA_FEED} is not true")
    counts = ", ".join(f"COUNT_IF(`{c}` IS NULL)" for c in SCHEMA if c in found)
    response = execute(w, warehouse_id, f"SELECT COUNT(*), {counts} FROM {quote_name(full_name)}")
    first = rows_of(w, response)[0]
    rows = int(first[0])
    if rows < min_rows:
        problems.append(f"{rows} rows, at least {min_rows} expected")
    for column, nulls in zip([c for c in SCHEMA if c in found], first[1:], strict=True):
        if int(nulls):
            problems.append(f"column '{column}': {nulls} null values")
    if problems:
        raise data.DataValidationError(f"table {full_name}", problems)
    return rows
