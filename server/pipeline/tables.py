"""The customers table in Unity Catalog, loaded from files in a volume and read back as Arrow.

Writing (US8.1, US8.6): the prepared customers become Parquet files (pyarrow) uploaded to a Unity Catalog
volume through the Files API (``w.files``), then the table is (re)created with
``delta.enableChangeDataFeed = true`` (so downstream consumers can follow row changes) and loaded with
``COPY INTO``: the warehouse reads the files itself, nothing goes row by row through SQL. The staged files
stay in the volume, under one directory per load, as the landing record of what was loaded.

Reading: ``EXTERNAL_LINKS`` with ``ARROW_STREAM``: the warehouse answers with presigned links to Arrow IPC
chunks, fetched without the workspace's credentials (the Statement Execution API requires that), so a
million rows never pass through inline JSON. Every workspace call goes through ``databricks-sdk``; the
warehouse is whichever ``warehouse_id`` the caller names.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator

import httpx
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.sql import (
    Disposition,
    ExecuteStatementRequestOnWaitTimeout,
    ExternalLink,
    Format,
    StatementResponse,
    StatementState,
)

from server.pipeline import data
from server.pipeline.columns import MIN_ROWS, SCHEMA

CHANGE_DATA_FEED = "delta.enableChangeDataFeed"
TERMINAL = {StatementState.SUCCEEDED, StatementState.FAILED, StatementState.CANCELED, StatementState.CLOSED}
COMMENT = "Customers for churn modelling: synthetic, cleaned and typed, with their train/test split."
# Rows per staged Parquet file: 250k customers make ~6 MB, one plain PUT each (the SDK switches to
# multipart uploads at 50 MiB), and a million rows become four files the warehouse reads in parallel.
PART_ROWS = 250_000
# The Parquet types that COPY INTO matches to the table's columns without a cast.
ARROW_TYPES = {"STRING": pa.string(), "INT": pa.int32(), "BIGINT": pa.int64(), "DOUBLE": pa.float64()}
ARROW_SCHEMA = pa.schema([pa.field(name, ARROW_TYPES[sql_type]) for name, (sql_type, _) in SCHEMA.items()])
LINK_TIMEOUT_SECONDS = 120


class StatementError(RuntimeError):
    """A SQL statement did not succeed; the message is the warehouse's own."""


def quote_name(full_name: str) -> str:
    parts = full_name.split(".")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"'{full_name}' is not a three-part Unity Catalog name (catalog.schema.table)")
    return ".".join("`" + part.replace("`", "``") + "`" for part in parts)


def volume_path(volume: str) -> str:
    """``catalog.schema.volume`` (or its ``/Volumes/catalog/schema/volume`` path) as the volume's path."""
    parts = volume.removeprefix("/Volumes/").strip("/").replace("/", ".").split(".")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"'{volume}' is not a Unity Catalog volume (catalog.schema.volume)")
    return "/Volumes/" + "/".join(parts)


def execute(
    w: WorkspaceClient,
    warehouse_id: str,
    statement: str,
    *,
    timeout_seconds: float = 120,
    disposition: Disposition = Disposition.INLINE,
    result_format: Format = Format.JSON_ARRAY,
) -> StatementResponse:
    """Runs one statement, waiting for it within a deadline; StatementError unless it succeeds."""
    response = w.statement_execution.execute_statement(
        statement=statement,
        warehouse_id=warehouse_id,
        wait_timeout="30s",
        on_wait_timeout=ExecuteStatementRequestOnWaitTimeout.CONTINUE,
        disposition=disposition,
        format=result_format,
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


def parquet_parts(customers: pd.DataFrame, part_rows: int = PART_ROWS) -> Iterator[bytes]:
    """The customers as Parquet files of at most ``part_rows`` rows, typed as the table's columns."""
    table = pa.Table.from_pandas(customers[list(SCHEMA)], schema=ARROW_SCHEMA, preserve_index=False)
    for offset in range(0, max(len(customers), 1), part_rows):
        buffer = io.BytesIO()
        pq.write_table(table.slice(offset, part_rows), buffer, compression="snappy")
        yield buffer.getvalue()


def stage_customers(w: WorkspaceClient, volume: str, full_name: str, customers: pd.DataFrame) -> str:
    """Uploads the customers as Parquet files to a new directory of the volume; returns the directory."""
    directory = f"{volume_path(volume)}/{full_name.split('.')[-1]}/{time.strftime('%Y%m%dT%H%M%S')}-"
    directory += uuid.uuid4().hex[:8]
    for number, part in enumerate(parquet_parts(customers)):
        w.files.upload(f"{directory}/part-{number:05d}.parquet", io.BytesIO(part), overwrite=False)
    return directory


def load_sql(full_name: str, directory: str) -> str:
    """COPY INTO from the staged directory: columns matched by name, each file loaded once."""
    return f"COPY INTO {quote_name(full_name)}\nFROM '{directory}'\nFILEFORMAT = PARQUET"


def write_customers(
    w: WorkspaceClient, warehouse_id: str, full_name: str, customers: pd.DataFrame, volume: str
) -> int:
    """Validates, stages the customers as Parquet files in ``volume``, (re)creates the table with change
    data feed on and loads the files into it with COPY INTO; returns the rows the warehouse inserted."""
    quote_name(full_name)
    volume_path(volume)
    data.validate(customers)
    directory = stage_customers(w, volume, full_name, customers)
    execute(w, warehouse_id, create_table_sql(full_name))
    loaded = execute(w, warehouse_id, load_sql(full_name, directory), timeout_seconds=600)
    names = (
        [c.name for c in loaded.manifest.schema.columns] if loaded.manifest and loaded.manifest.schema else []
    )
    counts = dict(zip(names, rows_of(w, loaded)[0], strict=True))
    inserted = int(counts.get("num_inserted_rows") or 0)
    if inserted != len(customers):
        raise StatementError(
            f"COPY INTO loaded {inserted} rows from {directory}, {len(customers)} were staged"
        )
    return inserted


def arrow_result(w: WorkspaceClient, response: StatementResponse) -> tuple[pa.Table, int]:
    """Every chunk of an ``EXTERNAL_LINKS`` + ``ARROW_STREAM`` result, and how many links it took."""
    batches: list[pa.RecordBatch] = []
    links = list(response.result.external_links or []) if response.result else []
    fetched = 0
    with httpx.Client(timeout=LINK_TIMEOUT_SECONDS) as storage:
        while links:
            link = links.pop(0)
            batches += _fetch_chunk(w, storage, response.statement_id, link)
            fetched += 1
            if not links and link.next_chunk_index is not None:
                chunk = w.statement_execution.get_statement_result_chunk_n(
                    response.statement_id, link.next_chunk_index
                )
                links = list(chunk.external_links or [])
    if batches:
        return pa.Table.from_batches(batches), fetched
    return ARROW_SCHEMA.empty_table(), fetched


def _fetch_chunk(
    w: WorkspaceClient, storage: httpx.Client, statement_id: str, link: ExternalLink
) -> list[pa.RecordBatch]:
    """One chunk from its presigned link, sent without the workspace's credentials; a link that expired
    meanwhile is asked for again once (links last minutes; a chunk can be fetched anew any time)."""
    response = storage.get(link.external_link)
    if response.status_code == 403:
        fresh = w.statement_execution.get_statement_result_chunk_n(statement_id, link.chunk_index)
        response = storage.get((fresh.external_links or [link])[0].external_link)
    response.raise_for_status()
    return list(pa.ipc.open_stream(response.content))


def read_arrow(w: WorkspaceClient, warehouse_id: str, full_name: str) -> tuple[pa.Table, int]:
    """The table's rows ordered by customer id, as Arrow, and how many external links carried them."""
    names = ", ".join(f"`{c}`" for c in SCHEMA)
    response = execute(
        w, warehouse_id, f"SELECT {names} FROM {quote_name(full_name)} ORDER BY customer_id",
        timeout_seconds=600, disposition=Disposition.EXTERNAL_LINKS, result_format=Format.ARROW_STREAM,
    )  # fmt: skip
    return arrow_result(w, response)


def read_customers(w: WorkspaceClient, warehouse_id: str, full_name: str) -> pd.DataFrame:
    """The table's rows, typed as ``SCHEMA`` says, ordered by customer id."""
    table, _ = read_arrow(w, warehouse_id, full_name)
    frame = table.to_pandas()
    return frame.astype(
        {column: dtype for column, (sql_type, dtype) in SCHEMA.items() if sql_type != "STRING"}
    )


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
