"""``python -m benchmarks.pipeline_scale``: preparing the customers table and reading it back, at scale.

Three ways to put the same prepared customers into a table and read them back, in the same run:
- ``volume_copy_into``: the pipeline as it is (``server/pipeline/tables.py``): Parquet files uploaded to a
  volume through the SDK's Files API, ``COPY INTO`` the table, read back through ``EXTERNAL_LINKS`` with
  ``ARROW_STREAM``;
- ``insert_batches``: the pipeline as it was: ``INSERT ... VALUES`` of 500 rows per statement, read back
  inline as JSON (``INLINE`` + ``JSON_ARRAY``, following chunks). Its statements cost the same whatever the
  table holds, so its write rate is measured on the first ``--insert-sample-rows`` customers (a million
  rows would take the better part of an hour); its read is of the whole table (the one loaded by the first
  path: the same rows). Inline results stop at 25 MiB: where the table is larger the read fails, and says
  so in the figures;
- ``duckdb_direct``: the floor: DuckDB in this process creating the table from the same Parquet files on
  local disk and reading it back as Arrow, no HTTP, no SDK.

Figures (``reports/benchmarks/pipeline_scale.json``), per row count: seconds to write, to read, in all,
and rows per second for the whole (rows / (write + read)), min/median/max over ``--repeats``; ratios of
medians from the same run. The fake workspace runs in this process, as in a test worker; generating the
customers is timed apart (it is the same for all three).
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
import uuid
from pathlib import Path

import duckdb
import pandas as pd
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.catalog import VolumeType

from benchmarks import spread
from fixtures.drivers.control import FakeControl
from fixtures.workspace.app import create_workspace_app
from fixtures.workspace.server import BackgroundServer
from fixtures.workspace.sql import WAREHOUSE_ID
from server.pipeline import columns, data, tables

OUT = Path(__file__).resolve().parent.parent / "reports" / "benchmarks" / "pipeline_scale.json"
INSERT_BATCH_ROWS = 500  # the old pipeline's batch


# The old path, kept here only to be measured ---------------------------------------------------------------
def sql_literal(value: object, sql_type: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NULL"
    if sql_type == "STRING":
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(float(value)) if sql_type == "DOUBLE" else str(int(value))


def insert_batches(w: WorkspaceClient, full_name: str, customers: pd.DataFrame) -> None:
    tables.execute(w, WAREHOUSE_ID, tables.create_table_sql(full_name))
    names = ", ".join(f"`{c}`" for c in columns.SCHEMA)
    types = [sql_type for sql_type, _ in columns.SCHEMA.values()]
    for start in range(0, len(customers), INSERT_BATCH_ROWS):
        batch = customers.iloc[start : start + INSERT_BATCH_ROWS][list(columns.SCHEMA)]
        values = ",\n".join(
            "(" + ", ".join(sql_literal(v, t) for v, t in zip(row, types, strict=True)) + ")"
            for row in batch.itertuples(index=False, name=None)
        )
        tables.execute(
            w, WAREHOUSE_ID, f"INSERT INTO {tables.quote_name(full_name)} ({names}) VALUES\n{values}"
        )


def read_inline(w: WorkspaceClient, full_name: str) -> pd.DataFrame:
    names = ", ".join(f"`{c}`" for c in columns.SCHEMA)
    sql = f"SELECT {names} FROM {tables.quote_name(full_name)} ORDER BY customer_id"
    frame = pd.DataFrame(
        tables.rows_of(w, tables.execute(w, WAREHOUSE_ID, sql)), columns=list(columns.SCHEMA)
    )
    for column, (sql_type, dtype) in columns.SCHEMA.items():
        if sql_type != "STRING":
            frame[column] = pd.to_numeric(frame[column]).astype(dtype)
    return frame


# The floor --------------------------------------------------------------------------------------------------
def duckdb_direct(customers: pd.DataFrame, scratch: Path) -> tuple[float, float, int]:
    files = []
    for number, part in enumerate(tables.parquet_parts(customers)):
        path = scratch / f"part-{number:05d}.parquet"
        path.write_bytes(part)
        files.append(str(path))
    connection = duckdb.connect()
    started = time.perf_counter()
    connection.execute(f"CREATE TABLE customers AS SELECT * FROM read_parquet({files!r})")
    written = time.perf_counter()
    names = ", ".join(f'"{c}"' for c in columns.SCHEMA)
    frame = connection.sql(f"SELECT {names} FROM customers ORDER BY customer_id").to_arrow_table().to_pandas()
    read = time.perf_counter()
    connection.close()
    return written - started, read - written, len(frame)


def measure(write: list[float], read: list[float], rows: int) -> dict:
    totals = [w + r for w, r in zip(write, read, strict=True)]
    return {
        "write_s": spread(write),
        "read_s": spread(read),
        "total_s": spread(totals),
        "rows_per_s": spread([rows / t for t in totals], 0),
    }


def size_figures(w: WorkspaceClient, catalog: str, volume: str, rows: int, args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    customers, _ = data.prepare(rows, 7)
    figures: dict = {
        "customers": len(customers),
        "generate_customers_s": round(time.perf_counter() - started, 3),
    }
    sample = customers.iloc[: args.insert_sample_rows]
    ours: dict[str, list[float]] = {"write": [], "read": []}
    floor: dict[str, list[float]] = {"write": [], "read": []}
    old_write_rate, old_read, old_read_failure = [], [], None
    for repeat in range(args.repeats):
        target = f"{catalog}.churn.customers_{rows}_{repeat}"
        started = time.perf_counter()
        tables.write_customers(w, WAREHOUSE_ID, target, customers, volume)
        written = time.perf_counter()
        back = tables.read_customers(w, WAREHOUSE_ID, target)
        ours["write"].append(written - started)
        ours["read"].append(time.perf_counter() - written)
        assert len(back) == len(customers), (len(back), len(customers))

        started = time.perf_counter()
        try:
            assert len(read_inline(w, target)) == len(customers)
            old_read.append(time.perf_counter() - started)
        except tables.StatementError as error:  # beyond the 25 MiB inline limit
            old_read_failure = str(error).split(" (statement")[0]
        old = f"{catalog}.churn.inserted_{rows}_{repeat}"
        started = time.perf_counter()
        insert_batches(w, old, sample)
        old_write_rate.append(len(sample) / (time.perf_counter() - started))

        with tempfile.TemporaryDirectory() as scratch:
            write_s, read_s, count = duckdb_direct(customers, Path(scratch))
        assert count == len(customers)
        floor["write"].append(write_s)
        floor["read"].append(read_s)
        for name in (target, old):
            w.tables.delete(name)

    figures["volume_copy_into"] = measure(ours["write"], ours["read"], len(customers))
    figures["duckdb_direct"] = measure(floor["write"], floor["read"], len(customers))
    old_write = [len(customers) / rate for rate in old_write_rate]  # the whole table at the sampled rate
    figures["insert_batches"] = {
        "sampled_rows": len(sample),
        "write_rows_per_s": spread(old_write_rate, 0),
        "write_s": spread(old_write),
        **(
            measure(old_write, old_read, len(customers))
            if old_read
            else {"read": f"fails: {old_read_failure}"}
        ),
    }
    ours_rate = figures["volume_copy_into"]["rows_per_s"]["median"]
    ratios = {
        "volume_vs_duckdb_direct": round(ours_rate / figures["duckdb_direct"]["rows_per_s"]["median"], 3),
        "write_volume_vs_insert_batches": round(
            figures["insert_batches"]["write_s"]["median"] / figures["volume_copy_into"]["write_s"]["median"],
            1,
        ),
    }
    if old_read:
        ratios["volume_vs_insert_batches"] = round(
            ours_rate / figures["insert_batches"]["rows_per_s"]["median"], 1
        )
    figures["ratios_of_medians"] = ratios
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--insert-sample-rows", type=int, default=20_000)
    args = parser.parse_args()

    app = create_workspace_app()
    server = BackgroundServer(app, "fake-workspace-benchmark").start()
    report: dict = {"repeats": args.repeats, "sizes": {}}
    try:
        admin = FakeControl(server.url).create_user("bench@example.com", "Bench", ["admins"])
        w = WorkspaceClient(host=server.url, token=admin["token"], auth_type="pat")
        catalog = f"bench_{uuid.uuid4().hex[:6]}"
        w.catalogs.create(catalog)
        w.schemas.create("churn", catalog)
        w.volumes.create(catalog, "churn", "landing", VolumeType.MANAGED)
        for rows in args.rows:
            report["sizes"][str(rows)] = size_figures(w, catalog, f"{catalog}.churn.landing", rows, args)
            print(json.dumps({str(rows): report["sizes"][str(rows)]}, indent=2), flush=True)
    finally:
        server.stop()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2))
    print(f"written: {OUT}")


if __name__ == "__main__":
    main()
