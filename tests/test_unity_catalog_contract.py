"""Unity Catalog in the fake, judged by the real SDK: every field and enum it sends survives parsing.

``as_dict()`` of what the SDK parsed must equal the JSON the fake sent: a field the SDK does not know, or an
enum spelling it turns into None, would make them differ.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound, PermissionDenied
from databricks.sdk.service.catalog import PermissionsChange, Privilege
from databricks.sdk.service.sql import StatementState

from fixtures.workspace.sql import WAREHOUSE_ID


def raw(fake, token: str, path: str, **params) -> dict:
    response = httpx.get(f"{fake.host}{path}", params=params, headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    return response.json()


@pytest.fixture(scope="module")
def catalog(admin) -> str:
    w, _ = admin
    name = f"contract_{uuid.uuid4().hex[:6]}"
    w.catalogs.create(name, comment="Contract catalog", properties={"purpose": "contract"})
    w.schemas.create("retail", name, comment="Shops")
    statement = (
        f"CREATE TABLE {name}.retail.orders (order_id BIGINT NOT NULL COMMENT 'Order number', "
        "region STRING, amount DECIMAL(10,2), ordered_at TIMESTAMP, day DATE, paid BOOLEAN, ratio DOUBLE, "
        "qty INT, tags ARRAY<STRING>) COMMENT 'Orders of the shops'"
    )
    result = w.statement_execution.execute_statement(statement, WAREHOUSE_ID)
    assert result.status.state == StatementState.SUCCEEDED, result.status
    return name


def test_catalog_schema_and_table_survive_sdk_parsing(fake, admin, catalog) -> None:
    w, token = admin
    parsed = w.catalogs.get(catalog)
    assert parsed.as_dict() == raw(fake, token, f"/api/2.1/unity-catalog/catalogs/{catalog}")
    assert parsed.catalog_type is not None and parsed.isolation_mode is not None
    schema = w.schemas.get(f"{catalog}.retail")
    assert schema.as_dict() == raw(fake, token, f"/api/2.1/unity-catalog/schemas/{catalog}.retail")
    table = w.tables.get(f"{catalog}.retail.orders")
    assert table.as_dict() == raw(fake, token, f"/api/2.1/unity-catalog/tables/{catalog}.retail.orders")
    assert table.table_type is not None and table.data_source_format is not None
    assert all(c.type_name is not None for c in table.columns)
    by_name = {c.name: c for c in table.columns}
    assert by_name["order_id"].type_name.value == "LONG" and not by_name["order_id"].nullable
    assert by_name["order_id"].comment == "Order number"
    assert by_name["amount"].type_text == "decimal(10,2)" and by_name["amount"].type_precision == 10
    assert by_name["ordered_at"].type_name.value == "TIMESTAMP"
    assert by_name["tags"].type_name.value == "ARRAY"
    assert table.comment == "Orders of the shops"
    assert table.owner == w.current_user.me().user_name


def test_lists_page_through_everything_with_server_default_and_small_pages(fake, admin, catalog) -> None:
    w, token = admin
    # A schema of its own: other tests in this module add tables to "retail", in any order.
    w.schemas.create("paging", catalog)
    for i in range(7):
        w.statement_execution.execute_statement(
            f"CREATE TABLE {catalog}.paging.t{i} (id BIGINT)", WAREHOUSE_ID, catalog=catalog
        )
    names = [t.name for t in w.tables.list(catalog, "paging")]
    # "There is no guarantee of a specific ordering" (databricks-sdk TablesAPI.list): every table once,
    # in the same order whatever the page size.
    assert sorted(names) == [f"t{i}" for i in range(7)]
    paged = [t.name for t in w.tables.list(catalog, "paging", max_results=3)]
    assert paged == names
    first = raw(fake, token, "/api/2.1/unity-catalog/tables", catalog_name=catalog, schema_name="paging",
                max_results=3)  # fmt: skip
    assert len(first["tables"]) == 3 and first["next_page_token"]
    last = raw(fake, token, "/api/2.1/unity-catalog/tables", catalog_name=catalog, schema_name="paging",
               max_results=100)  # fmt: skip
    assert "next_page_token" not in last
    listed = next(t for t in w.tables.list(catalog, "retail") if t.name == "orders")
    assert listed.as_dict() == w.tables.get(f"{catalog}.retail.orders").as_dict()
    assert catalog in [c.name for c in w.catalogs.list()]
    # A new catalog comes with "default" and "information_schema" (what Databricks gives every catalog).
    assert sorted(s.name for s in w.schemas.list(catalog)) == [
        "default",
        "information_schema",
        "paging",
        "retail",
    ]
    with pytest.raises(Exception, match="max_results"):
        list(w.tables.list(catalog, "paging", max_results=-1))


def test_grants_decide_what_a_user_sees(fake, admin, catalog) -> None:
    w, _ = admin
    user = fake.control.create_user(f"uc.{uuid.uuid4().hex[:6]}@example.com", "Uc User", ["readers"])
    ana = WorkspaceClient(host=fake.host, token=user["token"], auth_type="pat")
    assert catalog not in [c.name for c in ana.catalogs.list()]
    with pytest.raises(PermissionDenied):
        ana.tables.get(f"{catalog}.retail.orders")
    w.grants.update("catalog", catalog, changes=[
        PermissionsChange(add=[Privilege.USE_CATALOG, Privilege.USE_SCHEMA], principal=user["user_name"])
    ])  # fmt: skip
    assert catalog in [c.name for c in ana.catalogs.list()]
    assert [t.name for t in ana.tables.list(catalog, "retail")] == []
    w.grants.update("TABLE", f"{catalog}.retail.orders", changes=[
        PermissionsChange(add=[Privilege.SELECT], principal="readers")
    ])  # fmt: skip
    assert [t.name for t in ana.tables.list(catalog, "retail")] == ["orders"]
    grants = w.grants.get("table", f"{catalog}.retail.orders")
    assert [(a.principal, a.privileges) for a in grants.privilege_assignments] == [
        ("readers", [Privilege.SELECT])
    ]
    w.grants.update("catalog", catalog, changes=[
        PermissionsChange(remove=[Privilege.USE_SCHEMA], principal=user["user_name"])
    ])  # fmt: skip
    with pytest.raises(PermissionDenied, match="USE SCHEMA"):
        ana.tables.get(f"{catalog}.retail.orders")


def test_missing_objects_answer_with_uc_codes(admin, catalog) -> None:
    w, _ = admin
    for call, code in [
        (lambda: w.catalogs.get("nope_catalog"), "CATALOG_DOES_NOT_EXIST"),
        (lambda: w.schemas.get(f"{catalog}.nope"), "SCHEMA_DOES_NOT_EXIST"),
        (lambda: w.tables.get(f"{catalog}.retail.nope"), "TABLE_DOES_NOT_EXIST"),
        (lambda: w.tables.get("nope_catalog.retail.nope"), "CATALOG_DOES_NOT_EXIST"),
    ]:
        with pytest.raises(NotFound) as caught:
            call()
        assert caught.value.error_code == code
    assert w.tables.exists(f"{catalog}.retail.nope").table_exists is False


def test_delete_removes_objects_from_catalog_and_warehouse(admin) -> None:
    w, _ = admin
    name = f"gone_{uuid.uuid4().hex[:6]}"
    w.catalogs.create(name)
    w.schemas.create("s", name)
    w.statement_execution.execute_statement(f"CREATE TABLE {name}.s.t (id INT)", WAREHOUSE_ID)
    w.tables.delete(f"{name}.s.t")
    gone = w.statement_execution.execute_statement(f"SELECT * FROM {name}.s.t", WAREHOUSE_ID)
    assert gone.status.state == StatementState.FAILED
    w.catalogs.delete(name, force=True)
    assert name not in [c.name for c in w.catalogs.list()]


def test_table_summaries_filter_by_like_patterns(admin, catalog) -> None:
    w, _ = admin
    w.statement_execution.execute_statement(f"CREATE TABLE {catalog}.retail.acc_x_1 (id INT)", WAREHOUSE_ID)
    names = [s.full_name for s in w.tables.list_summaries(catalog, table_name_pattern="acc\\_x%")]
    assert names == [f"{catalog}.retail.acc_x_1"]
    everything = list(w.tables.list_summaries(catalog, max_results=2))
    every_schema = [schema.name for schema in w.schemas.list(catalog)]
    assert len(everything) == sum(len(list(w.tables.list(catalog, schema))) for schema in every_schema)
    assert all(s.table_type is not None for s in everything)
