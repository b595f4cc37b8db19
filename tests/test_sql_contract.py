"""The fake SQL warehouse, judged by the real SDK: statements, parameters, chunks, failures, grants."""

from __future__ import annotations

import uuid

import httpx
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.service.catalog import PermissionsChange, Privilege
from databricks.sdk.service.sql import (
    StatementParameterListItem,
    StatementState,
    WarehouseAccessControlRequest,
    WarehousePermissionLevel,
)

from fixtures.workspace.sql import WAREHOUSE_ID
from fixtures.workspace.sql.results import INLINE_CHUNK_BYTES


@pytest.fixture(scope="module")
def catalog(admin) -> str:
    w, _ = admin
    name = f"sql_{uuid.uuid4().hex[:6]}"
    w.catalogs.create(name)
    w.schemas.create("data", name)
    sql = (
        f"CREATE TABLE {name}.data.numbers AS SELECT id, id % 7 AS bucket, CAST(id AS STRING) AS label, "
        "id % 2 = 0 AS even, CAST(id / 4 AS DECIMAL(10,2)) AS quarter, "
        "TIMESTAMP'2024-03-01 12:00:00' AS at FROM range(0, 25000) AS r(id)"
    )
    done = w.statement_execution.execute_statement(sql, WAREHOUSE_ID)
    assert done.status.state == StatementState.SUCCEEDED, done.status
    return name


def test_statement_response_survives_sdk_parsing(fake, admin, catalog) -> None:
    w, token = admin
    response = w.statement_execution.execute_statement(
        f"SELECT id, label, even, quarter, at FROM {catalog}.data.numbers "
        "WHERE bucket = :bucket ORDER BY id LIMIT 3",
        WAREHOUSE_ID,
        parameters=[StatementParameterListItem(name="bucket", value="3", type="INT")],
    )
    assert response.status.state == StatementState.SUCCEEDED
    assert response.result.data_array == [
        ["3", "3", "false", "0.75", "2024-03-01T12:00:00.000Z"],
        ["10", "10", "true", "2.50", "2024-03-01T12:00:00.000Z"],
        ["17", "17", "false", "4.25", "2024-03-01T12:00:00.000Z"],
    ]
    assert [c.type_name.value for c in response.manifest.schema.columns] == [
        "LONG", "STRING", "BOOLEAN", "DECIMAL", "TIMESTAMP"
    ]  # fmt: skip
    assert response.manifest.total_row_count == 3 and response.manifest.format.value == "JSON_ARRAY"
    again = httpx.get(
        f"{fake.host}/api/2.0/sql/statements/{response.statement_id}",
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert w.statement_execution.get_statement(response.statement_id).as_dict() == again


def test_large_results_come_in_chunks(admin, catalog) -> None:
    w, _ = admin
    response = w.statement_execution.execute_statement(
        f"SELECT id FROM {catalog}.data.numbers ORDER BY id", WAREHOUSE_ID
    )
    manifest = response.manifest
    assert manifest.total_row_count == 25000
    # Cut by size: 8 bytes per BIGINT (the internal representation databricks-sdk's byte_limit speaks of).
    assert manifest.total_chunk_count == len(manifest.chunks) == -(-25000 * 8 // INLINE_CHUNK_BYTES)
    rows = list(response.result.data_array)
    index = response.result.next_chunk_index
    while index is not None:
        chunk = w.statement_execution.get_statement_result_chunk_n(response.statement_id, index)
        assert chunk.row_offset == len(rows)
        rows += chunk.data_array
        index = chunk.next_chunk_index
    assert [int(r[0]) for r in rows] == list(range(25000))


def test_sql_errors_fail_the_statement_with_a_code(admin, catalog) -> None:
    w, _ = admin
    cases = {
        "SELEC nonsense": "42601",
        f"SELECT * FROM {catalog}.data.missing": "42P01",
        f"SELECT no_such_column FROM {catalog}.data.numbers": "42703",
        f"SELECT * FROM {catalog}.data.numbers WHERE id = :unbound": "42P02",
    }
    for sql, sql_state in cases.items():
        response = w.statement_execution.execute_statement(sql, WAREHOUSE_ID)
        assert response.status.state == StatementState.FAILED, sql
        assert response.status.error.error_code is not None and response.status.error.message
        assert response.status.sql_state == sql_state, (sql, response.status)


def test_select_checks_grants_and_sql_tables_appear_in_unity_catalog(fake, admin, catalog) -> None:
    w, _ = admin
    user = fake.control.create_user(f"sql.{uuid.uuid4().hex[:6]}@example.com", "Sql User", [])
    ben = WorkspaceClient(host=fake.host, token=user["token"], auth_type="pat")
    w.warehouses.update_permissions(WAREHOUSE_ID, access_control_list=[WarehouseAccessControlRequest(
        user_name=user["user_name"], permission_level=WarehousePermissionLevel.CAN_USE)])  # fmt: skip
    denied = ben.statement_execution.execute_statement(f"SELECT 1 FROM {catalog}.data.numbers", WAREHOUSE_ID)
    assert denied.status.state == StatementState.FAILED and denied.status.sql_state == "42501"
    w.grants.update("catalog", catalog, changes=[
        PermissionsChange(add=[Privilege.USE_CATALOG, Privilege.USE_SCHEMA, Privilege.SELECT],
                          principal=user["user_name"])
    ])  # fmt: skip
    allowed = ben.statement_execution.execute_statement(
        "SELECT count(*) AS n FROM numbers", WAREHOUSE_ID, catalog=catalog, schema="data"
    )
    assert allowed.result.data_array == [["25000"]]
    assert "numbers" in [t.name for t in ben.tables.list(catalog, "data")]
    created = ben.statement_execution.execute_statement(
        f"CREATE TABLE {catalog}.data.mine (x INT)", WAREHOUSE_ID
    )
    assert created.status.sql_state == "42501"


def test_warehouses_are_listed(admin) -> None:
    w, _ = admin
    (warehouse,) = list(w.warehouses.list())
    assert warehouse.id == WAREHOUSE_ID and warehouse.state.value == "RUNNING"
    assert warehouse.warehouse_type is not None and warehouse.health.status is not None
    assert w.warehouses.get(WAREHOUSE_ID).name == warehouse.name
