"""SQL over volume files in the fake warehouse: ``read_files(...)`` and ``COPY INTO``, judged through the SDK.

Sources: Databricks SQL reference "read_files table-valued function" and "COPY INTO" (idempotent loads,
``force``, ``PATTERN``, ``FILES``, columns by name), "Unity Catalog volume privileges" (READ VOLUME to read
files), Delta's ``delta.enableChangeDataFeed`` table property kept as UC shows it (``TableInfo.properties``).
"""

from __future__ import annotations

import io
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.catalog import PermissionsChange, Privilege, VolumeType
from databricks.sdk.service.sql import StatementState

from fixtures.workspace.sql import WAREHOUSE_ID


def parquet(rows: range) -> io.BytesIO:
    buffer = io.BytesIO()
    table = pa.table({"id": pa.array(list(rows), pa.int64()), "name": [f"n{i}" for i in rows]})
    pq.write_table(table, buffer)
    buffer.seek(0)
    return buffer


def run(w: WorkspaceClient, sql: str):
    response = w.statement_execution.execute_statement(sql, WAREHOUSE_ID, wait_timeout="30s")
    return response


@pytest.fixture(scope="module")
def landing(admin) -> tuple[str, str]:
    """(schema full name, volume path) with three Parquet parts and a CSV file in the volume."""
    w, _ = admin
    catalog = f"vsql_{uuid.uuid4().hex[:6]}"
    w.catalogs.create(catalog)
    w.schemas.create("bronze", catalog)
    w.volumes.create(catalog, "bronze", "landing", VolumeType.MANAGED)
    volume = f"/Volumes/{catalog}/bronze/landing"
    for part, rows in enumerate([range(0, 40), range(40, 70), range(70, 100)]):
        w.files.upload(f"{volume}/customers/part-{part}.parquet", parquet(rows))
    w.files.upload(f"{volume}/customers/_SUCCESS", io.BytesIO(b""))  # Spark skips "_" files
    w.files.upload(f"{volume}/csv/people.csv", io.BytesIO(b"id,name\n1,ana\n2,bo\n"))
    return f"{catalog}.bronze", volume


def test_read_files_reads_a_directory_a_file_and_csv_with_header(admin, landing) -> None:
    w, _ = admin
    _, volume = landing
    counted = run(w, f"SELECT count(*), sum(id) FROM read_files('{volume}/customers', format => 'parquet')")
    assert counted.status.state == StatementState.SUCCEEDED, counted.status
    assert counted.result.data_array == [["100", "4950"]]
    one = run(w, f"SELECT count(*) FROM read_files('{volume}/customers/part-1.parquet')")
    assert one.result.data_array == [["30"]]
    globbed = run(w, f"SELECT count(*) FROM read_files('{volume}/customers/part-[02].parquet')")
    assert globbed.result.data_array == [["70"]]
    people = run(
        w, f"SELECT name FROM read_files('{volume}/csv', format => 'csv', header => true) ORDER BY id"
    )
    assert people.result.data_array == [["ana"], ["bo"]]
    missing = run(w, f"SELECT * FROM read_files('{volume}/nowhere', format => 'parquet')")
    assert missing.status.state == StatementState.FAILED
    assert "PATH_NOT_FOUND" in missing.status.error.message


def test_ctas_from_read_files_keeps_change_data_feed_on(admin, landing) -> None:
    w, _ = admin
    schema, volume = landing
    created = run(w, f"CREATE TABLE {schema}.customers TBLPROPERTIES (delta.enableChangeDataFeed = true) "
                     f"AS SELECT * FROM read_files('{volume}/customers', format => 'parquet')")  # fmt: skip
    assert created.status.state == StatementState.SUCCEEDED, created.status
    table = w.tables.get(f"{schema}.customers")
    assert table.properties == {"delta.enableChangeDataFeed": "true"}
    assert [(c.name, c.type_name.value) for c in table.columns] == [("id", "LONG"), ("name", "STRING")]
    assert run(w, f"SELECT count(*) FROM {schema}.customers").result.data_array == [["100"]]


def test_copy_into_loads_each_file_once_unless_forced(admin, landing) -> None:
    w, _ = admin
    schema, volume = landing
    run(w, f"CREATE TABLE {schema}.loaded (id BIGINT, name STRING, note STRING)")
    first = run(w, f"COPY INTO {schema}.loaded FROM '{volume}/customers' FILEFORMAT = PARQUET")
    assert first.status.state == StatementState.SUCCEEDED, first.status
    assert [c.name for c in first.manifest.schema.columns] == [
        "num_affected_rows", "num_inserted_rows", "num_skipped_corrupt_files"
    ]  # fmt: skip
    assert first.result.data_array == [["100", "100", "0"]]
    again = run(w, f"COPY INTO {schema}.loaded FROM '{volume}/customers' FILEFORMAT = PARQUET")
    assert again.result.data_array == [["0", "0", "0"]]
    forced = run(w, f"COPY INTO {schema}.loaded FROM '{volume}/customers' FILEFORMAT = PARQUET "
                    "PATTERN = 'part-0*' COPY_OPTIONS ('force' = 'true')")  # fmt: skip
    assert forced.result.data_array == [["40", "40", "0"]]
    listed = run(w, f"COPY INTO {schema}.loaded FROM '{volume}/customers' FILEFORMAT = PARQUET "
                    "FILES = ('part-1.parquet') COPY_OPTIONS ('force' = 'true')")  # fmt: skip
    assert listed.result.data_array == [["30", "30", "0"]]
    rows = run(w, f"SELECT count(*), count(note) FROM {schema}.loaded").result.data_array
    assert rows == [["170", "0"]]  # columns matched by name; a column the files lack stays NULL


def test_reading_volume_files_needs_read_volume(fake, admin, landing, may_use_warehouse) -> None:
    w, _ = admin
    schema, volume = landing
    catalog = schema.split(".")[0]
    user = fake.control.create_user(f"vsql.{uuid.uuid4().hex[:6]}@example.com", "Vsql User", [])
    may_use_warehouse(user["user_name"])
    ana = WorkspaceClient(host=fake.host, token=user["token"], auth_type="pat")
    w.grants.update("catalog", catalog, changes=[
        PermissionsChange(add=[Privilege.USE_CATALOG, Privilege.USE_SCHEMA], principal=user["user_name"])
    ])  # fmt: skip
    denied = run(ana, f"SELECT count(*) FROM read_files('{volume}/customers', format => 'parquet')")
    assert denied.status.state == StatementState.FAILED
    assert "READ VOLUME" in denied.status.error.message
    w.grants.update("volume", volume.removeprefix("/Volumes/").replace("/", "."), changes=[
        PermissionsChange(add=[Privilege.READ_VOLUME], principal=user["user_name"])
    ])  # fmt: skip
    allowed = run(ana, f"SELECT count(*) FROM read_files('{volume}/customers', format => 'parquet')")
    assert allowed.result.data_array == [["100"]]
