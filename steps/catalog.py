"""Unity Catalog browsing and table data: arranged by the workspace admin (SDK), read through the app.

Catalog names in features are the reference data's (``sales``); the admin maps them to this session's
names. Expected rows are computed from the same reference definitions that loaded them.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import operator
import re
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import allure
import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from fixtures.data import catalog as data
from fixtures.drivers.clients import AppClient, FakeControl
from fixtures.drivers.workspace_admin import Grants, WorkspaceAdmin
from fixtures.stack.mock import Stack
from fixtures.stack.plugin import Cast

NAME = r'"(?P<{}>[^"]+)"'


def privilege(name: str) -> Any:
    from databricks.sdk.service.catalog import Privilege

    return Privilege[name]


def read_privileges() -> list:
    """USE CATALOG, USE SCHEMA and SELECT (the SDK is imported on use: it takes seconds to import)."""
    from databricks.sdk.service.catalog import Privilege

    return [Privilege.USE_CATALOG, Privilege.USE_SCHEMA, Privilege.SELECT]


def names_in(text: str) -> list[str]:
    return re.findall(r'"([^"]*)"', text)


# Session data: loaded once per worker (and per live run), dropped at the end --------------------------------
@pytest.fixture(scope="session")
def reference_catalogs(catalog_admin: WorkspaceAdmin) -> list[str]:
    """The reference catalogs, loaded once per worker; dropped with the session's other shared objects."""
    catalogs = list(data.REFERENCE)
    data.load_reference(catalog_admin, catalogs)
    return catalogs


class LargeData:
    """Large catalogs and tables, each built the first time a scenario asks for it, then shared."""

    def __init__(self, admin: WorkspaceAdmin) -> None:
        self.admin = admin
        self.built: dict[str, int] = {}
        self.lock = threading.Lock()

    def _once(self, name: str, size: int) -> bool:
        """True if ``name`` must be built now; refuses a second, different size under the same name."""
        if name in self.built:
            assert self.built[name] == size, f"{name} was already built with {self.built[name]}, not {size}"
            return False
        self.built[name] = size
        return True

    def table(self, logical_table: str, rows: int, waveforms: bool = False) -> None:
        with self.lock:
            if self._once(logical_table, rows):
                data.load_large_table(self.admin, logical_table, rows, waveforms)

    def catalog(self, control: FakeControl, logical_schema: str, tables: int) -> None:
        with self.lock:
            if self._once(logical_schema, tables):
                data.load_large_catalog(self.admin, control, logical_schema, tables)


@pytest.fixture(scope="session")
def large_data(catalog_admin: WorkspaceAdmin) -> LargeData:
    return LargeData(catalog_admin)


@pytest.fixture(scope="session")
def app_without_warehouse(stack: Stack) -> Iterator[str]:
    """URL of a second app instance, same workspace and database, with no SQL warehouse configured."""
    from fixtures.workspace.server import BackgroundServer
    from server.app import create_app

    if stack.app_settings is None:
        pytest.fail("a second app instance can only be started in mock mode (tag @fault_injection)")
    settings = stack.app_settings.model_copy(update={"databricks_warehouse_id": None})  # type: ignore[attr-defined]
    server = BackgroundServer(create_app(settings), "app-without-warehouse").start()
    yield server.url
    server.stop()


def table_path(catalog_admin: WorkspaceAdmin, logical_table: str) -> str:
    catalog, schema, table = [*catalog_admin.real(logical_table).split(".", 2), "", ""][:3]
    parts = [quote(p, safe="") for p in (catalog, schema, table)]
    return f"/api/catalogs/{parts[0]}/schemas/{parts[1]}/tables/{parts[2]}"


def schema_path(catalog_admin: WorkspaceAdmin, logical_schema: str) -> str:
    catalog, schema = catalog_admin.real(logical_schema).split(".", 1)
    return f"/api/catalogs/{quote(catalog, safe='')}/schemas/{quote(schema, safe='')}"


# Givens --------------------------------------------------------------------------------------------------
@given(parsers.re(r"the reference catalogs (?P<names>.+)"))
def reference(reference_catalogs: list[str], names: str) -> None:
    """The reference catalogs (fixtures/data/catalog.py) exist, loaded once per worker by the admin."""
    missing = set(names_in(names)) - set(reference_catalogs)
    assert not missing, f"not in the reference data (fixtures/data/catalog.py): {missing}"


@given(parsers.re(r"(?P<who>[A-Z]\w+) may read the catalog " + NAME.format("catalog")))
def may_read_catalog(people: Cast, grants: Grants, who: str, catalog: str) -> None:
    """Grants the person USE CATALOG, USE SCHEMA and SELECT on a whole catalog."""
    grants.grant("catalog", catalog, people[who].user_name, read_privileges())


@given(parsers.re(r"the group " + NAME.format("group") + " may read the catalog " + NAME.format("catalog")))
def group_may_read_catalog(grants: Grants, group: str, catalog: str) -> None:
    """Grants a group USE CATALOG, USE SCHEMA and SELECT on a whole catalog."""
    grants.grant("catalog", catalog, group, read_privileges())


@given(
    parsers.re(
        r"(?P<who>[A-Z]\w+) may use the catalog " + NAME.format("catalog") + " but none of its schemas"
    )
)
def may_use_catalog_only(people: Cast, grants: Grants, who: str, catalog: str) -> None:
    """Grants USE CATALOG only: the catalog is visible, nothing inside it is."""
    grants.grant("catalog", catalog, people[who].user_name, [privilege("USE_CATALOG")])


@given(
    parsers.re(r"(?P<who>[A-Z]\w+) may use the schema " + NAME.format("schema") + " but none of its tables")
)
def may_use_schema_only(people: Cast, grants: Grants, who: str, schema: str) -> None:
    """Grants USE CATALOG and USE SCHEMA: the schema is usable, none of its tables readable."""
    person = people[who]
    grants.grant("catalog", schema.split(".")[0], person.user_name, [privilege("USE_CATALOG")])
    grants.grant("schema", schema, person.user_name, [privilege("USE_SCHEMA")])


@given(parsers.re(r"(?P<who>[A-Z]\w+) may read the table " + NAME.format("table") + "$"))
def may_read_table(people: Cast, grants: Grants, who: str, table: str) -> None:
    """Grants just enough to read one table: USE CATALOG, USE SCHEMA and SELECT on it."""
    person = people[who]
    catalog, schema, _ = table.split(".")
    grants.grant("catalog", catalog, person.user_name, [privilege("USE_CATALOG")])
    grants.grant("schema", f"{catalog}.{schema}", person.user_name, [privilege("USE_SCHEMA")])
    grants.grant("table", table, person.user_name, [privilege("SELECT")])


@given(parsers.re(r"(?P<who>[A-Z]\w+) uses an app that has no SQL warehouse configured"))
def uses_app_without_warehouse(people: Cast, app_without_warehouse: str, who: str) -> None:
    """Points the person at a second instance of the app that has no SQL warehouse set."""
    person = people[who]
    person.app = AppClient(app_without_warehouse, person.token)


@given(parsers.re(r"the schema " + NAME.format("schema") + r" holds (?P<count>[\d,]+) tables"))
def schema_with_many_tables(large_data: LargeData, control: FakeControl, schema: str, count: str) -> None:
    """Registers that many tables in a schema through the fake's control API (mock only)."""
    large_data.catalog(control, schema, int(count.replace(",", "")))


@given(
    parsers.re(
        r"the table "
        + NAME.format("table")
        + r" holds (?P<count>[\d,]+) sensor readings(?P<waveforms> with waveforms)?"
    )
)
def table_with_many_rows(large_data: LargeData, table: str, count: str, waveforms: str | None) -> None:
    """Builds a table of that many sensor readings (with a long waveform each) with one SQL statement."""
    large_data.table(table, int(count.replace(",", "")), waveforms=bool(waveforms))


@given(
    parsers.re(r"(?P<count>\d+) analysts who may read the catalog " + NAME.format("catalog")),
    target_fixture="analysts",
)
def many_analysts(people: Cast, grants: Grants, control: FakeControl, count: str, catalog: str) -> list:
    """Creates that many users (the fake's control API: mock only) in a new group that may read it."""
    group = f"analysts-{uuid.uuid4().hex[:6]}"
    crowd = [people.add(f"Analyst{i}", [group]) for i in range(int(count))]
    grants.grant("catalog", catalog, group, read_privileges())
    return crowd


# Whens ---------------------------------------------------------------------------------------------------
@when(parsers.re(r"(?P<who>\w+) lists the catalogs"), target_fixture="response")
def list_catalogs(people: Cast, who: str) -> httpx.Response:
    """Lists the catalogs through the app, as the person."""
    return people[who].app.get("/api/catalogs", params={"page_size": 1000})


@when(parsers.re(r"(?P<who>\w+) lists the schemas of " + NAME.format("catalog")), target_fixture="response")
def list_schemas(people: Cast, catalog_admin: WorkspaceAdmin, who: str, catalog: str) -> httpx.Response:
    """Lists the schemas of a catalog through the app."""
    return people[who].app.get(f"/api/catalogs/{quote(catalog_admin.real(catalog), safe='')}/schemas")


@when(
    parsers.re(r"(?P<who>\w+) lists the table names of " + NAME.format("schema")), target_fixture="response"
)
def list_table_names(people: Cast, catalog_admin: WorkspaceAdmin, who: str, schema: str) -> httpx.Response:
    """Lists the table names of a schema through the app."""
    return people[who].app.get(
        f"{schema_path(catalog_admin, schema)}/table-names", params={"page_size": 1000}
    )


@when(
    parsers.re(r"(?P<who>\w+) lists the tables of " + NAME.format("schema") + " with their details"),
    target_fixture="response",
)
def list_tables(people: Cast, catalog_admin: WorkspaceAdmin, who: str, schema: str) -> httpx.Response:
    """Lists the tables of a schema with columns, owner and description."""
    return people[who].app.get(f"{schema_path(catalog_admin, schema)}/tables", params={"page_size": 1000})


@when(parsers.re(r"(?P<who>\w+) opens the table " + NAME.format("table")), target_fixture="response")
def open_table(people: Cast, catalog_admin: WorkspaceAdmin, who: str, table: str) -> httpx.Response:
    """Opens one table's metadata through the app."""
    return people[who].app.get(table_path(catalog_admin, table))


@when(parsers.re(r"(?P<who>\w+) reads the table " + NAME.format("table") + "$"), target_fixture="response")
def read_table(people: Cast, catalog_admin: WorkspaceAdmin, who: str, table: str) -> httpx.Response:
    """Reads the first page (100 rows) of a table through the app."""
    return people[who].app.get(f"{table_path(catalog_admin, table)}/rows")


@when(
    parsers.re(
        r"(?P<who>\w+) reads (?P<limit>\d+) rows? of "
        + NAME.format("table")
        + r" from offset (?P<offset>\d+)"
    ),
    target_fixture="response",
)
def read_page(
    people: Cast, catalog_admin: WorkspaceAdmin, who: str, table: str, limit: str, offset: str
) -> httpx.Response:
    """Reads one page of a table with a given limit and offset."""
    return people[who].app.get(
        f"{table_path(catalog_admin, table)}/rows", params={"limit": limit, "offset": offset}
    )


@when(
    parsers.re(
        r"(?P<who>\w+) reads "
        + NAME.format("table")
        + r' with limit "(?P<limit>[^"]*)" and offset "(?P<offset>[^"]*)"'
    ),
    target_fixture="response",
)
def read_page_raw(
    people: Cast, catalog_admin: WorkspaceAdmin, who: str, table: str, limit: str, offset: str
) -> httpx.Response:
    """Reads a table with limit and offset exactly as typed (for invalid input)."""
    return people[who].app.get(
        f"{table_path(catalog_admin, table)}/rows", params={"limit": limit, "offset": offset}
    )


def _filtered(
    people: Cast, catalog_admin: WorkspaceAdmin, who: str, table: str, filters: list[dict]
) -> httpx.Response:
    body = {"filters": filters, "limit": 1000}
    return people[who].app.post(f"{table_path(catalog_admin, table)}/rows", json=body)


@when(
    parsers.re(
        r"(?P<who>\w+) reads the rows of "
        + NAME.format("table")
        + ' where "(?P<column>[^"]+)" is "(?P<value>[^"]*)"$'
    ),
    target_fixture="response",
)
def read_where_equal(
    people: Cast, catalog_admin: WorkspaceAdmin, who: str, table: str, column: str, value: str
):
    """Reads the rows whose column equals a value."""
    return _filtered(people, catalog_admin, who, table, [{"column": column, "op": "eq", "value": value}])


@when(
    parsers.re(
        r"(?P<who>\w+) reads the rows of "
        + NAME.format("table")
        + ' where "(?P<column>[^"]+)" is (?P<phrase>the number -?[\\d.]+|true|false)$'
    ),
    target_fixture="response",
)
def read_where_typed(
    people: Cast, catalog_admin: WorkspaceAdmin, who: str, table: str, column: str, phrase: str
):
    """Reads the rows whose column equals a number or true/false, sent as such (not as text)."""
    value = json.loads(phrase.removeprefix("the number "))
    return _filtered(people, catalog_admin, who, table, [{"column": column, "op": "eq", "value": value}])


@when(
    parsers.re(
        r"(?P<who>\w+) reads the rows of "
        + NAME.format("table")
        + ' where "(?P<column>[^"]+)" has (?P<amount>no|a) value$'
    ),
    target_fixture="response",
)
def read_where_null(
    people: Cast, catalog_admin: WorkspaceAdmin, who: str, table: str, column: str, amount: str
):
    """Reads the rows whose column is empty (no value), or holds any value (a value)."""
    op = "eq" if amount == "no" else "ne"
    return _filtered(people, catalog_admin, who, table, [{"column": column, "op": op, "value": None}])


@when(
    parsers.re(
        r"(?P<who>\w+) reads the rows of "
        + NAME.format("table")
        + ' where "(?P<column>[^"]+)" is one of (?P<values>.+)'
    ),
    target_fixture="response",
)
def read_where_in(
    people: Cast, catalog_admin: WorkspaceAdmin, who: str, table: str, column: str, values: str
):
    """Reads the rows whose column is one of the quoted values."""
    return _filtered(
        people, catalog_admin, who, table, [{"column": column, "op": "in", "values": names_in(values)}]
    )


@when(
    parsers.re(
        r"(?P<who>\w+) reads the rows of "
        + NAME.format("table")
        + r' where "(?P<column>[^"]+)" is between (?P<low>\S+) and (?P<high>\S+)'
    ),
    target_fixture="response",
)
def read_where_between(
    people: Cast, catalog_admin: WorkspaceAdmin, who: str, table: str, column: str, low: str, high: str
):
    """Reads the rows whose column is between two values, both included."""
    filters = [{"column": column, "op": "gte", "value": low}, {"column": column, "op": "lte", "value": high}]
    return _filtered(people, catalog_admin, who, table, filters)


@when(
    parsers.re(
        r"(?P<who>\w+) pages through the table names of "
        + NAME.format("schema")
        + r" (?P<size>\d+) at a time"
    ),
    target_fixture="pages",
)
def page_table_names(
    people: Cast, catalog_admin: WorkspaceAdmin, who: str, schema: str, size: str
) -> list[list[str]]:
    """Follows the page tokens of a schema's table names to the end."""
    client, pages, token = people[who].app.quiet(), [], None
    started = time.perf_counter()
    while True:
        params = {"page_size": size, **({"page_token": token} if token else {})}
        response = client.get(f"{schema_path(catalog_admin, schema)}/table-names", params=params)
        assert response.status_code == 200, response.text
        pages.append(response.json()["items"])
        token = response.json().get("next_page_token")
        if not token:
            break
    summary = f"{len(pages)} pages, {sum(map(len, pages))} names in {time.perf_counter() - started:.2f}s"
    allure.attach(summary, name="paging summary", attachment_type=allure.attachment_type.TEXT)
    return pages


@when(parsers.re(r"(?P<who>\w+) pages through the catalogs (?P<size>\d+) at a time"), target_fixture="pages")
def page_catalogs(people: Cast, who: str, size: str) -> list[list[str]]:
    """Follows the page tokens of the catalog list to the end."""
    client, pages, token = people[who].app.quiet(), [], None
    while True:
        response = client.get(
            "/api/catalogs", params={"page_size": size, **({"page_token": token} if token else {})}
        )
        assert response.status_code == 200, response.text
        pages.append([c["name"] for c in response.json()["items"]])
        token = response.json().get("next_page_token")
        if not token:
            break
    allure.attach(json.dumps(pages, indent=1), name="pages", attachment_type=allure.attachment_type.JSON)
    return pages


@when(
    parsers.re(r"(?P<who>\w+) lists the catalogs from a page token the app never issued"),
    target_fixture="response",
)
def list_catalogs_bad_token(people: Cast, who: str) -> httpx.Response:
    """Lists the catalogs from a made-up page token."""
    return people[who].app.get("/api/catalogs", params={"page_token": "bm90LWEtdG9rZW4"})


@when(
    parsers.re(
        r"(?P<who>\w+) reads (?:a page|pages) of (?P<size>\d+) rows of "
        + NAME.format("table")
        + r" at offsets? (?P<offsets>.+)"
    ),
    target_fixture="row_pages",
)
def read_pages_at(
    people: Cast, catalog_admin: WorkspaceAdmin, who: str, size: str, table: str, offsets: str
) -> dict:
    """Reads pages of a table at each of the offsets, timing each."""
    client, found = people[who].app.quiet(), {}
    for offset in (int(o) for o in re.findall(r"\d+", offsets)):
        started = time.perf_counter()
        response = client.get(
            f"{table_path(catalog_admin, table)}/rows", params={"limit": size, "offset": offset}
        )
        found[offset] = (response, time.perf_counter() - started)
    summary = "\n".join(f"offset {o}: HTTP {r.status_code} in {s:.3f}s" for o, (r, s) in found.items())
    allure.attach(summary, name="pages read", attachment_type=allure.attachment_type.TEXT)
    return found


@when(
    parsers.re(r"the workspace admin revokes (?P<who>\w+)'s access to the catalog " + NAME.format("catalog"))
)
def revoke_catalog(people: Cast, grants: Grants, who: str, catalog: str) -> None:
    """The admin takes back the person's read access to a catalog."""
    grants.revoke("catalog", catalog, people[who].user_name, read_privileges())


@when(
    parsers.re(
        r"they all read the first (?P<limit>\d+) rows of " + NAME.format("table") + " at the same time"
    ),
    target_fixture="crowd_responses",
)
def crowd_reads(
    analysts: list, catalog_admin: WorkspaceAdmin, limit: str, table: str
) -> list[httpx.Response]:
    """Every analyst of the scenario reads the same page at the same moment."""
    clients = [person.app.quiet() for person in analysts]
    start = threading.Barrier(len(clients))
    path = f"{table_path(catalog_admin, table)}/rows"

    def read(client) -> httpx.Response:
        start.wait(timeout=60)
        return client.get(path, params={"limit": limit})

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        responses = list(pool.map(read, clients))
    elapsed = time.perf_counter() - started
    statuses: dict[int, int] = {}
    for response in responses:
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    summary = f"{len(responses)} concurrent reads in {elapsed:.2f}s; statuses: {statuses}"
    allure.attach(summary, name="concurrent reads", attachment_type=allure.attachment_type.TEXT)
    return responses


# Thens ---------------------------------------------------------------------------------------------------
def _ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, f"expected 200, got {response.status_code}: {response.text}"
    return response.json()


def _listed(catalog_admin: WorkspaceAdmin, response: httpx.Response, kind: str) -> set[str]:
    items = _ok(response)["items"]
    if kind == "catalogs":
        return {catalog_admin.logical(i["name"]) for i in items if catalog_admin.owns(i["name"])}
    return {i if isinstance(i, str) else i["name"] for i in items}


@then(parsers.re(r"(?P<who>\w+) sees (?P<only>only )?the (?P<kind>catalogs?|schemas?|tables?) (?P<names>.+)"))
def sees(
    catalog_admin: WorkspaceAdmin, response: httpx.Response, kind: str, names: str, only: str | None
) -> None:
    """The listing shows these names (with 'only': exactly these, among the scenario's catalogs)."""
    kind = kind if kind.endswith("s") else kind + "s"
    listed, expected = _listed(catalog_admin, response, kind), set(names_in(names))
    if only:
        assert listed == expected, f"listed {sorted(listed)}, expected exactly {sorted(expected)}"
    else:
        assert expected <= listed, f"listed {sorted(listed)}, missing {sorted(expected - listed)}"


@then(parsers.re(r"(?P<who>\w+) does not see the (?P<kind>catalogs?|schemas?|tables?) (?P<names>.+)"))
def does_not_see(catalog_admin: WorkspaceAdmin, response: httpx.Response, kind: str, names: str) -> None:
    """The listing does not show these names."""
    kind = kind if kind.endswith("s") else kind + "s"
    shown = _listed(catalog_admin, response, kind) & set(names_in(names))
    assert not shown, f"should not be listed: {sorted(shown)}"


@then(parsers.re(r"(?P<who>\w+) sees no (?P<kind>catalogs|schemas|tables) of the reference data"))
def sees_none(catalog_admin: WorkspaceAdmin, response: httpx.Response, kind: str) -> None:
    """The listing shows none of the reference data's catalogs, schemas or tables."""
    assert _listed(catalog_admin, response, kind) == set()


def _check_table(catalog_admin: WorkspaceAdmin, table: dict, logical_table: str) -> None:
    spec = data.spec_of(logical_table)
    assert table["comment"] == spec.comment, table
    assert table["owner"] == catalog_admin.user_name, table
    assert table["table_type"] and table["data_source_format"], table
    shown = [(c["name"], c["type"], c["comment"]) for c in table["columns"]]
    expected = [(n, t.lower().replace(" ", ""), c) for n, t, c in spec.columns]
    assert shown == [(n, t.replace(" ", ""), c) for n, t, c in expected], shown
    created = dt.datetime.fromisoformat(table["created_at"])
    assert created.utcoffset() == dt.timedelta(0), table["created_at"]


@then(parsers.re(r"every table shows its columns with their types, its owner and its description"))
def every_table_described(catalog_admin: WorkspaceAdmin, response: httpx.Response) -> None:
    """Each listed table carries the columns, types, owner and description it was made with."""
    tables = _ok(response)["items"]
    assert tables, "no tables listed"
    for table in tables:
        _check_table(catalog_admin, table, catalog_admin.logical(table["full_name"]))


@then(parsers.re(r"(?P<who>\w+) sees its columns with their types, its owner and its description"))
def table_described(catalog_admin: WorkspaceAdmin, response: httpx.Response) -> None:
    """The opened table carries the columns, types, owner and description it was made with."""
    table = _ok(response)
    _check_table(catalog_admin, table, catalog_admin.logical(table["full_name"]))


@then(parsers.parse("the columns are:"))
def columns_are(response: httpx.Response, datatable: list[list[str]]) -> None:
    """The opened table's columns, in order, with the given properties."""
    header, *rows = datatable
    shown = [{k: str(c[k if k != "column" else "name"]) for k in header} for c in _ok(response)["columns"]]
    assert shown == [dict(zip(header, row, strict=True)) for row in rows], shown


def _normal(value: Any) -> Any:
    """Values from the reference data and from the app, made comparable."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, int | float | decimal.Decimal):
        return decimal.Decimal(str(value))
    if isinstance(value, str):
        if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", value):
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if re.fullmatch(r"-?\d+\.\d+", value):
            return decimal.Decimal(value)
    return value


def _rows(rows: list[dict]) -> list[dict]:
    return [{k: _normal(v) for k, v in row.items()} for row in rows]


def _expected(logical_table: str) -> list[dict]:
    """Reference rows in the app's order (every reference table's first column is unique)."""
    rows = data.rows_of(logical_table)
    first = data.spec_of(logical_table).columns[0][0]
    return _rows(sorted(rows, key=lambda r: r[first]))


@then(
    parsers.re(
        r"(?P<who>\w+) gets rows (?P<first>\d+) to (?P<last>\d+) of "
        + NAME.format("table")
        + r" and a total of (?P<total>\d+)"
    )
)
def gets_rows(
    catalog_admin: WorkspaceAdmin, response: httpx.Response, first: str, last: str, table: str, total: str
) -> None:
    """The page holds exactly these rows (in the app's stable order) and the total."""
    page = _ok(response)
    expected = _expected(table)
    assert len(expected) == int(total), f"the reference data holds {len(expected)} rows, not {total}"
    assert page["total"] == int(total), page["total"]
    assert _rows(page["rows"]) == expected[int(first) - 1 : int(last)]
    following = page["next_offset"]
    assert following == (int(last) if int(last) < int(total) else None), following


@then(parsers.re(r"(?P<who>\w+) gets no rows and a total of (?P<total>\d+)"))
def gets_no_rows(response: httpx.Response, total: str) -> None:
    """The page is empty, yet still reports the total."""
    page = _ok(response)
    assert page["rows"] == [] and page["total"] == int(total) and page["next_offset"] is None, page


def _matches(row: dict, f: dict) -> bool:
    value = row[f["column"]]

    def like_value(raw: Any) -> Any:
        if isinstance(value, bool):
            return str(raw).lower() == "true"
        if isinstance(value, decimal.Decimal):
            return decimal.Decimal(str(raw))
        return _normal(raw)

    if f["op"] == "in":
        return value in {like_value(v) for v in f["values"]}
    compare = {"eq": operator.eq, "ne": operator.ne, "gt": operator.gt, "gte": operator.ge,
               "lt": operator.lt, "lte": operator.le}[f["op"]]  # fmt: skip
    return compare(value, like_value(f["value"]))


@then(parsers.re(r"(?P<who>\w+) gets exactly the matching rows of " + NAME.format("table")))
def gets_matching_rows(response: httpx.Response, table: str) -> None:
    """The answer holds exactly the reference rows that satisfy the request's filters."""
    page = _ok(response)
    filters = json.loads(response.request.content)["filters"]
    expected = [r for r in _expected(table) if all(_matches(r, f) for f in filters)]
    assert expected, "the reference data has no matching row: the scenario proves nothing"
    assert len(expected) < len(data.rows_of(table)), "every row matches: the filter proves nothing"
    assert page["total"] == len(expected), (page["total"], len(expected))
    assert _rows(page["rows"]) == expected


@then(parsers.re(r"(?P<who>\w+) gets no matching rows"))
def gets_no_matching_rows(response: httpx.Response) -> None:
    """Nothing matched: no rows and a total of 0."""
    page = _ok(response)
    assert page["rows"] == [] and page["total"] == 0, page


@then(parsers.re(r'the refusal names the (?:field|column) "(?P<name>[^"]+)"'))
def refusal_names(response: httpx.Response, name: str) -> None:
    """The refusal's details name this field or column."""
    error = response.json()["error"]
    details = error.get("details") or []
    named = [d for d in details if name in d.get("field", "") or name in d.get("issue", "")]
    assert named, f"no detail names {name}: {error}"


@then(parsers.re(r"the table " + NAME.format("table") + " still holds all its rows"))
def still_holds_rows(catalog_admin: WorkspaceAdmin, table: str) -> None:
    """The table still holds every reference row (nothing was dropped or deleted)."""
    catalog, schema, name = catalog_admin.real(table).split(".")
    counted = catalog_admin.sql(
        f"SELECT COUNT(*) FROM {data.ident(catalog)}.{data.ident(schema)}.{data.ident(name)}"
    )
    assert int(counted.result.data_array[0][0]) == len(data.rows_of(table))


@then(
    parsers.re(r"(?P<who>\w+) receives (?P<count>[\d,]+) distinct table names in (?P<page_count>\d+) pages")
)
def receives_names(pages: list[list[str]], count: str, page_count: str) -> None:
    """Paging returned every table name exactly once, in that many pages (in no promised order)."""
    names = [n for page in pages for n in page]
    total = int(count.replace(",", ""))
    assert len(names) == total, len(names)
    assert len(set(names)) == total, "a table name appeared twice"
    assert len(pages) == int(page_count), len(pages)


@then(parsers.re(r"(?P<who>\w+) receives the catalogs (?P<names>.+), each once"))
def receives_catalogs(catalog_admin: WorkspaceAdmin, pages: list[list[str]], names: str) -> None:
    """Paging returned exactly these catalogs, each once, one per page."""
    ours = [catalog_admin.logical(n) for page in pages for n in page if catalog_admin.owns(n)]
    assert sorted(ours) == sorted(names_in(names)), ours
    assert len(ours) == len(set(ours)), f"a catalog came twice: {ours}"
    assert max(len(p) for p in pages) == 1 and len(pages) >= len(ours), pages


@then(parsers.re(r"every page holds the right readings, with a total of (?P<total>[\d,]+)"))
def right_readings(row_pages: dict, total: str) -> None:
    """Every page read holds exactly the expected readings, and the total."""
    for offset, (response, _) in row_pages.items():
        page = _ok(response)
        assert page["total"] == int(total.replace(",", "")), page["total"]
        end = min(offset + page["limit"], page["total"])
        waveforms = "waveform" in [c["name"] for c in page["columns"]]
        expected = [data.reading(i, waveforms) for i in range(offset, end)]
        assert page["rows"] == expected, f"wrong rows at offset {offset}"


@then(parsers.re(r"each page arrived within (?P<seconds>[\d.]+) seconds?"))
def pages_fast(row_pages: dict, seconds: str) -> None:
    """No page took longer than that."""
    slow = {o: round(s, 3) for o, (_, s) in row_pages.items() if s > float(seconds)}
    assert not slow, f"slow pages: {slow}"


@then(parsers.re(r"all of them get rows 1 to (?P<last>\d+) of " + NAME.format("table")))
def crowd_correct(crowd_responses: list[httpx.Response], last: str, table: str) -> None:
    """Every concurrent reader got the same correct rows and total."""
    expected = _expected(table)[: int(last)]
    wrong = [
        i
        for i, r in enumerate(crowd_responses)
        if r.status_code != 200 or _rows(r.json()["rows"]) != expected
    ]
    assert not wrong, (
        f"{len(wrong)} of {len(crowd_responses)} readers got a wrong answer, "
        f"e.g. {crowd_responses[wrong[0]].text[:300]}"
    )
    assert all(r.json()["total"] == len(data.rows_of(table)) for r in crowd_responses)
