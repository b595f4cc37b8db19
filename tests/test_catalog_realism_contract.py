"""What a real workspace's catalog shows that a bare fake would not, judged by the real SDK.

Sources, beside each test: the Databricks SQL reference "Information schema"
(docs.databricks.com/sql/language-manual/sql-ref-information-schema.html), "Set up and manage Unity Catalog"
(the workspace catalog), databricks-sdk ``CatalogsAPI.list``/``TablesAPI.list`` ("There is no guarantee of a
specific ordering"), and the workspace's error envelope as users report it (databricks-cli issues 383, 615).
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound, PermissionDenied
from databricks.sdk.service.catalog import CatalogType, PermissionsChange, Privilege
from databricks.sdk.service.sql import StatementState

from fixtures.workspace.sql import WAREHOUSE_ID


@pytest.fixture(scope="module")
def shop(admin) -> str:
    """A catalog with two schemas: ``open`` (readable by the reader below) and ``closed``."""
    w, _ = admin
    name = f"real_{uuid.uuid4().hex[:6]}"
    w.catalogs.create(name)
    for schema in ("open", "closed"):
        w.schemas.create(schema, name)
        w.statement_execution.execute_statement(
            f"CREATE TABLE {name}.{schema}.items (id BIGINT COMMENT 'Item', price DECIMAL(8,2))", WAREHOUSE_ID
        )
    return name


@pytest.fixture(scope="module")
def reader(fake, admin, shop, may_use_warehouse) -> WorkspaceClient:
    w, _ = admin
    user = fake.control.create_user(f"reader.{uuid.uuid4().hex[:6]}@example.com", "Reader", [])
    may_use_warehouse(user["user_name"])
    w.grants.update("catalog", shop, changes=[
        PermissionsChange(add=[Privilege.USE_CATALOG], principal=user["user_name"])
    ])  # fmt: skip
    w.grants.update("schema", f"{shop}.open", changes=[
        PermissionsChange(add=[Privilege.USE_SCHEMA, Privilege.SELECT], principal=user["user_name"])
    ])  # fmt: skip
    return WorkspaceClient(host=fake.host, token=user["token"], auth_type="pat")


def rows(w: WorkspaceClient, sql: str) -> list[list[str | None]]:
    response = w.statement_execution.execute_statement(sql, WAREHOUSE_ID)
    assert response.status.state == StatementState.SUCCEEDED, response.status
    return response.result.data_array if response.result and response.result.data_array else []


def test_a_new_catalog_has_default_and_information_schema(admin, shop) -> None:
    """Per the reference, "each catalog created in Unity Catalog also automatically includes an
    information_schema"; a new catalog also comes with ``default`` (what a workspace shows after CREATE
    CATALOG)."""
    w, _ = admin
    schemas = {s.name: s for s in w.schemas.list(shop)}
    assert {"default", "information_schema", "open", "closed"} == set(schemas)
    assert schemas["information_schema"].owner == "System user"
    views = {t.name: t for t in w.tables.list(shop, "information_schema")}
    assert {"schemata", "tables", "columns"} <= set(views)
    assert views["tables"].table_type.value == "VIEW"
    with pytest.raises(PermissionDenied):
        w.schemas.delete(f"{shop}.information_schema")


def test_information_schema_shows_only_what_the_caller_may_see(admin, reader, shop) -> None:
    """Privileges: "Both types of information schemas automatically filter results to include only the objects
    you have Unity Catalog privileges to access"; "The information schema of the SYSTEM catalog returns
    information about objects across all catalogs"."""
    w, _ = admin
    everything = rows(w, f"SELECT table_schema, table_name FROM {shop}.information_schema.tables "
                         "WHERE table_schema <> 'information_schema' ORDER BY 1")  # fmt: skip
    assert everything == [["closed", "items"], ["open", "items"]]
    mine = rows(reader, f"SELECT table_schema, table_name FROM {shop}.information_schema.tables "
                        "WHERE table_schema <> 'information_schema'")  # fmt: skip
    assert mine == [["open", "items"]]
    wanted = "column_name, data_type, full_data_type, ordinal_position, comment"
    where = "WHERE table_name = 'items' ORDER BY 4"
    columns = rows(reader, f"SELECT {wanted} FROM {shop}.information_schema.columns {where}")
    assert columns == [["id", "LONG", "bigint", "0", "Item"], ["price", "DECIMAL", "decimal(8,2)", "1", None]]
    schemata = rows(reader, f"SELECT schema_name FROM {shop}.information_schema.schemata ORDER BY 1")
    assert schemata == [["information_schema"], ["open"]]
    across = rows(w, "SELECT DISTINCT table_catalog FROM system.information_schema.tables")
    assert [shop] in across and ["samples"] in across
    refused = w.statement_execution.execute_statement(
        f"CREATE TABLE {shop}.information_schema.mine (x INT)", WAREHOUSE_ID
    )
    assert refused.status.state == StatementState.FAILED and refused.status.sql_state == "42501"


def test_built_in_catalogs_are_visible_to_everyone(fake, may_use_warehouse) -> None:
    """What every workspace shows: ``system``, ``samples`` (readable by all) and the workspace catalog,
    where "All users in your workspace can create assets in the default schema"."""
    user = fake.control.create_user(f"new.{uuid.uuid4().hex[:6]}@example.com", "Newcomer", [])
    may_use_warehouse(user["user_name"])
    newcomer = WorkspaceClient(host=fake.host, token=user["token"], auth_type="pat")
    catalogs = {c.name: c for c in newcomer.catalogs.list()}
    assert {"system", "samples", "workspace"} <= set(catalogs)
    assert catalogs["system"].catalog_type == CatalogType.SYSTEM_CATALOG
    assert {"nyctaxi", "tpch"} <= {s.name for s in newcomer.schemas.list("samples")}
    table = f"workspace.default.mine_{uuid.uuid4().hex[:6]}"
    made = newcomer.statement_execution.execute_statement(f"CREATE TABLE {table} (x INT)", WAREHOUSE_ID)
    assert made.status.state == StatementState.SUCCEEDED, made.status
    assert newcomer.tables.get(table).owner == user["user_name"]


def test_listings_are_not_in_name_order(admin) -> None:
    """Listings: "There is no guarantee of a specific ordering of the elements in the array" (TablesAPI.list);
    pages are stable, and clients that sort by name must do it themselves."""
    w, _ = admin
    catalog = f"many_{uuid.uuid4().hex[:6]}"  # its own: the other tests look at the module's catalog whole
    w.catalogs.create(catalog)
    w.schemas.create("many", catalog)
    for i in range(20):
        w.statement_execution.execute_statement(f"CREATE TABLE {catalog}.many.t{i:02d} (x INT)", WAREHOUSE_ID)
    listed = [t.name for t in w.tables.list(catalog, "many")]
    assert sorted(listed) == [f"t{i:02d}" for i in range(20)]
    assert listed != sorted(listed)
    assert [t.name for t in w.tables.list(catalog, "many", max_results=6)] == listed


def test_unknown_routes_and_malformed_bodies_answer_in_the_envelope(fake, admin) -> None:
    """404 ``ENDPOINT_NOT_FOUND`` "No API found for 'GET /repos'" (databricks-cli#383); 400
    ``MALFORMED_REQUEST`` "Invalid JSON given in the body of the request - expected a map" (#615)."""
    w, token = admin
    with pytest.raises(NotFound) as unknown:
        w.api_client.do("GET", "/api/2.0/no-such/api/at-all")  # no SDK operation has this path either
    assert unknown.value.error_code == "ENDPOINT_NOT_FOUND"
    assert "No API found for 'GET /no-such/api/at-all'" in str(unknown.value)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for body, message in ((b"{not json", "failed to parse"), (b"[1, 2]", "expected a map")):
        answer = httpx.post(f"{fake.host}/api/2.1/unity-catalog/catalogs", content=body, headers=headers)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error_code"] == "MALFORMED_REQUEST" and message in answer.json()["message"]
    missing = httpx.post(f"{fake.host}/api/2.1/unity-catalog/schemas", json={"name": "x"}, headers=headers)
    assert missing.status_code == 400 and missing.json() == {
        "error_code": "INVALID_PARAMETER_VALUE", "message": "Missing required field: catalog_name"
    }  # fmt: skip
