"""Unity Catalog browsing and table data: arranged by the workspace admin (SDK), read through the app.

Catalog names in features are the reference data's (``sales``); the admin maps them to this session's
names. Expected rows are computed from the same reference definitions that loaded them.
"""

from __future__ import annotations

import json
import re
import uuid

import allure
import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from fixtures.data import catalog as data
from fixtures.drivers.catalog import (
    LargeData,
    all_pages,
    check_table_detail,
    comparable_rows,
    expected_rows,
    filters_of,
    item_names,
    matches,
)
from fixtures.drivers.concurrency import in_parallel
from fixtures.drivers.workspace_admin import Grants, WorkspaceAdmin
from fixtures.stack.plugin import Cast
from steps.common import OTHER, PERSON, quoted

NAME = r'"(?P<{}>[^"]+)"'
TABLE = NAME.format("table")


def privileges(*names: str) -> list:
    """Unity Catalog privileges by name (the SDK is imported on use: it takes seconds to import)."""
    from databricks.sdk.service.catalog import Privilege

    return [Privilege[name] for name in names]


READ = ("USE_CATALOG", "USE_SCHEMA", "SELECT")


def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, f"expected 200, got {response.status_code}: {response.text}"
    return response.json()


# Givens --------------------------------------------------------------------------------------------------
@given(parsers.re(r"the reference catalogs (?P<names>.+)"))
def reference(reference_catalogs: list[str], names: str) -> None:
    """The reference catalogs (fixtures/data/catalog.py) exist, loaded once per worker by the admin."""
    missing = set(quoted(names)) - set(reference_catalogs)
    assert not missing, f"not in the reference data (fixtures/data/catalog.py): {missing}"


@given(
    parsers.re(
        rf'(?:{PERSON}|the group "(?P<group>[^"]+)") may read the (?P<kind>catalog|table) "(?P<name>[^"]+)"'
    )
)
def may_read(people: Cast, grants: Grants, who: str | None, group: str | None, kind: str, name: str) -> None:
    """Grants the person (or the group) USE CATALOG, USE SCHEMA and SELECT on a whole catalog; or just enough
    to read one table: USE CATALOG and USE SCHEMA on its parents, SELECT on it."""
    principal = people.subject(who).user_name if who else group
    if kind == "catalog":
        grants.grant("catalog", name, principal, privileges(*READ))
        return
    catalog, schema, _ = name.split(".")
    grants.grant("catalog", catalog, principal, privileges("USE_CATALOG"))
    grants.grant("schema", f"{catalog}.{schema}", principal, privileges("USE_SCHEMA"))
    grants.grant("table", name, principal, privileges("SELECT"))


@given(
    parsers.re(
        rf'{PERSON} may use the (?P<kind>catalog|schema) "(?P<name>[^"]+)" but none of its (?:schemas|tables)'
    )
)
def may_use_only(people: Cast, grants: Grants, who: str, kind: str, name: str) -> None:
    """Grants USE CATALOG only (the catalog is visible, nothing inside it is); or USE CATALOG and USE SCHEMA
    (the schema is usable, none of its tables readable)."""
    principal = people.subject(who).user_name
    grants.grant("catalog", name.split(".")[0], principal, privileges("USE_CATALOG"))
    if kind == "schema":
        grants.grant("schema", name, principal, privileges("USE_SCHEMA"))


@given(
    parsers.re(
        r'the (?P<kind>schema|table) "(?P<name>[^"]+)" holds (?P<count>[\d,]+) '
        r"(?:tables|sensor readings(?P<waveforms> with waveforms)?)"
    )
)
def large(
    large_data: LargeData,
    request: pytest.FixtureRequest,
    kind: str,
    name: str,
    count: str,
    waveforms: str | None,
) -> None:
    """A schema of that many tables (registered through the fake's control API: mock only), or a table of
    that many sensor readings, with a long waveform each if said (one SQL statement); each built once per
    worker."""
    if kind == "schema":
        large_data.catalog(request.getfixturevalue("control"), name, int(count.replace(",", "")))
    else:
        large_data.table(name, int(count.replace(",", "")), waveforms=bool(waveforms))


@given(
    parsers.re(r"(?P<count>\d+) analysts who may read the catalog " + NAME.format("catalog")),
    target_fixture="analysts",
)
def many_analysts(people: Cast, grants: Grants, control, count: str, catalog: str) -> list:
    """Creates that many users (the fake's control API: mock only) in a new group that may read it."""
    group = f"analysts-{uuid.uuid4().hex[:6]}"
    crowd = [people.add(f"Analyst{i}", [group], subject=False) for i in range(int(count))]
    grants.grant("catalog", catalog, group, privileges(*READ))
    return crowd


# Whens ---------------------------------------------------------------------------------------------------
LISTS = (
    r'(?P<what>catalogs|serving endpoints|schemas of "(?P<of_catalog>[^"]+)"|table names of'
    r' "(?P<names_of>[^"]+)"'
    r'|tables of "(?P<tables_of>[^"]+)" with their details)'
)


@when(
    parsers.re(rf"{PERSON} lists the {LISTS}(?P<bad_token> from a page token the app never issued)?$"),
    target_fixture="response",
)
def lists(
    people: Cast,
    request: pytest.FixtureRequest,
    who: str,
    what: str,
    of_catalog,
    names_of,
    tables_of,
    bad_token,
):
    """Lists, through the app: the catalogs, the serving endpoints, a catalog's schemas, a schema's table
    names, or its tables with their details (columns, owner, description); catalogs from a made-up page
    token, if said."""
    app = people.subject(who).app
    if bad_token:
        return app.catalogs(page_token="bm90LWEtdG9rZW4")
    if what in ("catalogs", "serving endpoints"):
        return app.catalogs(page_size=1000) if what == "catalogs" else app.serving_endpoints()
    catalog_admin: WorkspaceAdmin = request.getfixturevalue("catalog_admin")
    if of_catalog:
        return app.schemas(catalog_admin.real(of_catalog))
    if names_of:
        return app.table_names(*catalog_admin.parts(names_of)[:2], page_size=1000)
    return app.tables(*catalog_admin.parts(tables_of)[:2], page_size=1000)


@when(
    parsers.re(
        rf'{PERSON} pages through the (?:catalogs|table names of "(?P<schema>[^"]+)") (?P<size>\d+) at a time'
    ),
    target_fixture="pages",
)
def pages_through(
    people: Cast, catalog_admin: WorkspaceAdmin, who: str, schema: str | None, size: str
) -> list:
    """Follows the page tokens of the catalog list, or of a schema's table names, to the end."""
    client = people.subject(who).app.quiet()
    if schema is None:
        pages = all_pages(lambda token: client.catalogs(page_size=int(size), page_token=token))
    else:
        catalog, schema_name, _ = catalog_admin.parts(schema)
        pages = all_pages(
            lambda token: client.table_names(catalog, schema_name, page_size=int(size), page_token=token)
        )
    pages = [item_names(page) for page in pages]
    allure.attach(
        json.dumps(pages[:20], indent=1),
        name=f"{len(pages)} pages (first 20)",
        attachment_type=allure.attachment_type.JSON,
    )
    return pages


@when(parsers.re(rf"{PERSON} opens the table {TABLE}"), target_fixture="response")
def open_table(people: Cast, catalog_admin: WorkspaceAdmin, who: str, table: str) -> httpx.Response:
    """Opens one table's metadata through the app."""
    return people.subject(who).app.table(*catalog_admin.parts(table))


@when(parsers.re(rf"{PERSON} reads the table {TABLE}$"), target_fixture="response")
def read_table(people: Cast, catalog_admin: WorkspaceAdmin, who: str, table: str) -> httpx.Response:
    """Reads the first page of a table through the app (her saved catalog.page_size, else 100 rows)."""
    return people.subject(who).app.table_rows(*catalog_admin.parts(table))


@when(
    parsers.re(rf"{PERSON} reads (?P<limit>\d+) rows? of {TABLE} from offset (?P<offset>\d+)"),
    target_fixture="response",
)
def read_page(people: Cast, catalog_admin: WorkspaceAdmin, who: str, table: str, limit: str, offset: str):
    """Reads one page of a table with a given limit and offset."""
    return people.subject(who).app.table_rows(
        *catalog_admin.parts(table), limit=int(limit), offset=int(offset)
    )


@when(
    parsers.re(rf'{PERSON} reads {TABLE} with limit "(?P<limit>[^"]*)" and offset "(?P<offset>[^"]*)"'),
    target_fixture="response",
)
def read_page_raw(people: Cast, catalog_admin: WorkspaceAdmin, who: str, table: str, limit: str, offset: str):
    """Reads a table with limit and offset exactly as typed (for invalid input)."""
    return people.subject(who).app.table_rows(*catalog_admin.parts(table), limit=limit, offset=offset)


@when(
    parsers.re(
        rf'{PERSON} reads the rows of {TABLE} where "(?P<column>[^"]+)" (?P<condition>is .+|has'
        r" (?:no|a) value)$"
    ),
    target_fixture="response",
)
def read_where(
    people: Cast, catalog_admin: WorkspaceAdmin, who: str, table: str, column: str, condition: str
):
    """Reads the rows whose column is "text", the number N, true or false (sent as such), one of "a" and
    "b", between two values (both included), or has no value / a value."""
    filters = filters_of(column, condition)
    return people.subject(who).app.matching_rows(*catalog_admin.parts(table), filters, limit=1000)


@when(
    parsers.re(
        rf"{PERSON} reads (?:a page|pages) of (?P<size>\d+) rows of {TABLE} at offsets? (?P<offsets>.+)"
    ),
    target_fixture="row_pages",
)
def read_pages_at(
    people: Cast, catalog_admin: WorkspaceAdmin, who: str, size: str, table: str, offsets: str
) -> dict:
    """Reads pages of a table at each of the offsets."""
    client, parts = people.subject(who).app.quiet(), catalog_admin.parts(table)
    found = {
        o: client.table_rows(*parts, limit=int(size), offset=o) for o in map(int, re.findall(r"\d+", offsets))
    }
    allure.attach("\n".join(f"offset {o}: HTTP {r.status_code}" for o, r in found.items()), name="pages read",
                  attachment_type=allure.attachment_type.TEXT)  # fmt: skip
    return found


@when(parsers.re(rf"the workspace admin revokes {OTHER}'s access to the catalog " + NAME.format("catalog")))
def revoke_catalog(people: Cast, grants: Grants, other: str, catalog: str) -> None:
    """The admin takes back the person's read access to a catalog."""
    grants.revoke("catalog", catalog, people[other].user_name, privileges(*READ))


@when(
    parsers.re(rf"they all read the first (?P<limit>\d+) rows of {TABLE} at the same time"),
    target_fixture="crowd_responses",
)
def crowd_reads(
    analysts: list, catalog_admin: WorkspaceAdmin, limit: str, table: str
) -> list[httpx.Response]:
    """Every analyst of the scenario reads the same page at the same moment."""
    clients, parts = [person.app.quiet() for person in analysts], catalog_admin.parts(table)
    responses = in_parallel([lambda c=c: c.table_rows(*parts, limit=int(limit)) for c in clients])
    statuses: dict[int, int] = {}
    for response in responses:
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    allure.attach(f"{len(responses)} concurrent reads; statuses: {statuses}", name="concurrent reads",
                  attachment_type=allure.attachment_type.TEXT)  # fmt: skip
    return responses


# Thens ---------------------------------------------------------------------------------------------------
def listed(catalog_admin: WorkspaceAdmin, response: httpx.Response, kind: str) -> set[str]:
    """Names in a listing; catalogs as features name them, only this session's."""
    items = ok(response)["items"]
    if kind.startswith("catalog"):
        return {catalog_admin.logical(i["name"]) for i in items if catalog_admin.owns(i["name"])}
    return set(item_names(items))


@then(
    parsers.re(
        rf"{PERSON} (?:(?P<verb>sees only|sees|does not see) "
        r"the (?P<kind>catalogs?|schemas?|tables?) (?P<names>\".+)"
        r"|sees no (?P<none>catalogs|schemas|tables) of the reference data)"
    )
)
def sees(catalog_admin: WorkspaceAdmin, response: httpx.Response, verb, kind, names, none) -> None:
    """The listing shows these names ('only': exactly these, among the session's catalogs); does not show
    them; or shows none of the reference data's catalogs, schemas or tables at all."""
    if none:
        assert listed(catalog_admin, response, none) == set(), ok(response)
        return
    shown, expected = listed(catalog_admin, response, kind), set(quoted(names))
    if verb == "sees only":
        assert shown == expected, f"listed {sorted(shown)}, expected exactly {sorted(expected)}"
    elif verb == "sees":
        assert expected <= shown, f"listed {sorted(shown)}, missing {sorted(expected - shown)}"
    else:
        assert not shown & expected, f"should not be listed: {sorted(shown & expected)}"


@then(
    parsers.re(
        rf"(?:every table shows|{PERSON} sees) its columns with their types, its owner and its description"
    )
)
def described(catalog_admin: WorkspaceAdmin, response: httpx.Response) -> None:
    """The opened table, or each listed one, carries the columns, types, owner and description it was made
    with."""
    answer = ok(response)
    tables = answer.get("items", [answer])
    assert tables, "no tables listed"
    for table in tables:
        check_table_detail(catalog_admin, table)


@then(parsers.parse("the columns are:"))
def columns_are(response: httpx.Response, datatable: list[list[str]]) -> None:
    """The opened table's columns, in order, with the given properties."""
    header, *rows = datatable
    shown = [{k: str(c[k if k != "column" else "name"]) for k in header} for c in ok(response)["columns"]]
    assert shown == [dict(zip(header, row, strict=True)) for row in rows], shown


@then(
    parsers.re(
        rf"(?:{PERSON} gets|(?P<crowd>all of them) get) (?:rows (?P<first>\d+) to (?P<last>\d+) of"
        rf" {TABLE}|no rows)"
        r"(?: and a total of (?P<total>\d+))?$"
    )
)
def gets_rows(request: pytest.FixtureRequest, crowd, first, last, table, total) -> None:
    """The page holds exactly these rows (in the app's stable order), or none, and the total; for all of a
    crowd of readers, each got them."""
    answers = request.getfixturevalue("crowd_responses") if crowd else [request.getfixturevalue("response")]
    for answer in answers:
        page = ok(answer)
        if first is None:
            assert page["rows"] == [] and page["next_offset"] is None, page
        else:
            expected = expected_rows(table)
            assert total is None or len(expected) == int(total), (
                f"the reference data holds {len(expected)} rows"
            )
            assert comparable_rows(page["rows"]) == expected[int(first) - 1 : int(last)]
            following = int(last) if int(last) < page["total"] else None
            assert page["next_offset"] == following, page["next_offset"]
        assert page["total"] == (int(total) if total else len(data.rows_of(table))), page["total"]


@then(parsers.re(rf"{PERSON} gets (?:exactly the matching rows of {TABLE}|no matching rows)"))
def gets_matching_rows(response: httpx.Response, table: str | None) -> None:
    """The answer holds exactly the reference rows that satisfy the request's filters (some, not all); or
    nothing matched: no rows and a total of 0."""
    page = ok(response)
    if table is None:
        assert page["rows"] == [] and page["total"] == 0, page
        return
    filters = json.loads(response.request.content)["filters"]
    expected = [r for r in expected_rows(table) if all(matches(r, f) for f in filters)]
    assert expected, "the reference data has no matching row: the scenario proves nothing"
    assert len(expected) < len(data.rows_of(table)), "every row matches: the filter proves nothing"
    assert page["total"] == len(expected), (page["total"], len(expected))
    assert comparable_rows(page["rows"]) == expected


@then(parsers.re(rf"the table {TABLE} still holds all its rows"))
def still_holds_rows(catalog_admin: WorkspaceAdmin, table: str) -> None:
    """The table still holds every reference row (nothing was dropped or deleted)."""
    catalog, schema, name = catalog_admin.parts(table)
    counted = catalog_admin.sql(
        f"SELECT COUNT(*) FROM {data.ident(catalog)}.{data.ident(schema)}.{data.ident(name)}"
    )
    assert int(counted.result.data_array[0][0]) == len(data.rows_of(table))


@then(
    parsers.re(
        rf"{PERSON} receives (?:(?P<count>[\d,]+) distinct table names in (?P<page_count>\d+) pages"
        r"|the catalogs (?P<names>.+), each once)"
    )
)
def receives(catalog_admin: WorkspaceAdmin, pages: list[list[str]], count, page_count, names) -> None:
    """Paging returned every table name exactly once (in no promised order), in that many pages; or exactly
    these catalogs, each once, one per page."""
    if names:
        ours = [catalog_admin.logical(n) for page in pages for n in page if catalog_admin.owns(n)]
        assert sorted(ours) == sorted(quoted(names)), ours
        assert len(ours) == len(set(ours)), f"a catalog came twice: {ours}"
        assert max(len(p) for p in pages) == 1 and len(pages) >= len(ours), pages
        return
    found = [n for page in pages for n in page]
    total = int(count.replace(",", ""))
    assert len(found) == total and len(set(found)) == total, f"{len(found)} names, {len(set(found))} distinct"
    assert len(pages) == int(page_count), len(pages)


@then(parsers.re(r"every page holds the right readings, with a total of (?P<total>[\d,]+)"))
def right_readings(row_pages: dict[int, httpx.Response], total: str) -> None:
    """Every page read holds exactly the expected readings, and the total."""
    for offset, response in row_pages.items():
        page = ok(response)
        assert page["total"] == int(total.replace(",", "")), page["total"]
        end = min(offset + page["limit"], page["total"])
        waveforms = "waveform" in [c["name"] for c in page["columns"]]
        expected = [data.reading(i, waveforms) for i in range(offset, end)]
        assert page["rows"] == expected, f"wrong rows at offset {offset}"
