"""Hostile input, one parametrised test per class (issue 19 and PRODUCT.md's edge cases).

Every request here is refused with a 4xx in the app's error envelope, names what is wrong where it can,
leaks nothing (no SQL, traceback, host or path), and stores nothing: the caller's rows in Postgres
(preferences, inference log) and the app's own count of calls to the database and to the workspace's data
APIs (SQL statements, serving, Unity Catalog) are the same after as before. The targets are real: a
serving endpoint the caller may score, a table the caller may read, so a request that slipped through
would be stored or reach the workspace. ``test_the_ledger_sees_what_a_well_formed_request_stores`` proves
the ledger does see it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fixtures.data.catalog import ident
from fixtures.drivers.app import AppClient
from fixtures.drivers.factories import Makers
from fixtures.drivers.permissions import Permissions
from fixtures.drivers.serving_models import ServedModels
from fixtures.drivers.wire import send_body
from fixtures.stack.mock import Person, Stack
from server.models.catalog import MAX_ROWS_QUERY_BYTES
from server.models.preferences import MAX_BODY_BYTES as PREFERENCE_MAX_BODY_BYTES
from server.models.serving import MAX_BODY_BYTES as SCORING_MAX_BODY_BYTES

# Upstream calls that would mean a request reached a database or the workspace's data (identity
# look-ups, cached per token, are not part of a request's effect).
DATA_APIS = {("workspace", "sql"), ("workspace", "serving-endpoints"), ("workspace", "unity-catalog")}
LEAKS = re.compile(
    r"select |insert |traceback|psycopg|duckdb|sqlstate|file \"|127\.0\.0\.1|localhost|/tmp/|\.py\b",
    re.IGNORECASE,
)
JSON = "application/json"
RECORD = '{"tenure_months": 12, "monthly_charges": %s, "support_tickets": 1}'


@dataclass
class Route:
    """A route that takes a JSON body; ``%s`` in each template is where the hostile JSON text goes."""

    method: str
    path: str
    documented_as: str  # the path in the OpenAPI
    value_at: str  # the body with a hostile value
    value_field: str  # where the refusal should point
    key_at: str  # the body with a hostile object key
    key_field: str
    valid: str  # a well-formed body
    max_bytes: int
    too_large_code: str


ROUTES = {
    "preference": Route(
        "PUT",
        "/api/preferences/hostile.key",
        "/api/preferences/{key}",
        '{"value": {"n": %s}}',
        "value.n",
        '{"value": {%s: 1}}',
        "value",
        '{"value": {"n": 1}}',
        PREFERENCE_MAX_BODY_BYTES,
        "VALUE_TOO_LARGE",
    ),
    "scoring": Route(
        "POST",
        "/api/serving/endpoints/{endpoint}/invocations",
        "/api/serving/endpoints/{name}/invocations",
        '{"records": [' + RECORD + "]}",
        "records.0.monthly_charges",
        '{"records": [{%s: 1}]}',
        "records.0",
        '{"records": [' + RECORD % "70.5" + "]}",
        SCORING_MAX_BODY_BYTES,
        "PAYLOAD_TOO_LARGE",
    ),
    "batch": Route(
        "POST",
        "/api/serving/endpoints/{endpoint}/batch",
        "/api/serving/endpoints/{name}/batch",
        '{"records": [' + RECORD % "1" + ", " + RECORD + "]}",
        "records.1.monthly_charges",
        '{"records": [{%s: 1}]}',
        "records.0",
        '{"records": [' + RECORD % "70.5" + "]}",
        SCORING_MAX_BODY_BYTES,
        "PAYLOAD_TOO_LARGE",
    ),
    "rows filter": Route(
        "POST",
        "{table}/rows",
        "/api/catalogs/{catalog}/schemas/{schema}/tables/{table}/rows",
        '{"filters": [{"column": "name", "value": %s}]}',
        "filters.0.value",
        '{"filters": [], %s: 1}',
        "body",
        '{"filters": [{"column": "name", "value": "ada"}]}',
        MAX_ROWS_QUERY_BYTES,
        "PAYLOAD_TOO_LARGE",
    ),
}


@dataclass
class Target:
    stack: Stack
    person: Person
    client: AppClient
    endpoint: str
    table: str  # the app path of a table the person may read
    database: psycopg.Connection  # as the database's administrator: sees every user's rows

    def path(self, template: str) -> str:
        return template.format(endpoint=self.endpoint, table=self.table)

    def send(self, route: Route, body: bytes, content_type: str | None = JSON) -> httpx.Response:
        headers = {"Content-Type": content_type} if content_type else {}
        return self.client.call(route.method, self.path(route.path), content=body, headers=headers)

    def stored(self) -> tuple[int, int, int]:
        """(the person's preferences, their inference-log rows, the app's calls to data APIs so far)."""
        row = self.database.execute(
            "SELECT (SELECT count(*) FROM preferences WHERE user_name = %(user)s),"
            " (SELECT count(*) FROM inference_log WHERE user_name = %(user)s)",
            {"user": self.person.user_name},
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1]), self.upstream_data_calls()

    def upstream_data_calls(self) -> int:
        exposition = self.client.metrics().text
        total = 0
        for family in text_string_to_metric_families(exposition):
            for sample in family.samples:
                if sample.name != "app_upstream_calls_total":
                    continue
                service, api = sample.labels["service"], sample.labels["api"]
                if service == "database" or (service, api) in DATA_APIS:
                    total += int(sample.value)
        return total


@pytest.fixture(scope="module")
def target(
    stack: Stack, served_models: ServedModels, module_makers: Makers, module_permissions: Permissions
) -> Iterator[Target]:
    from databricks.sdk.service.catalog import Privilege
    from databricks.sdk.service.serving import ServedEntityInput

    person = stack.create_person("Mallory", ["model-monitors"])
    entity = ServedEntityInput(
        entity_name=served_models.churn,
        entity_version=served_models.churn_versions[1],
        workload_size="Small",
        scale_to_zero_enabled=True,
    )
    endpoint = module_makers.serving_endpoint(served_entities=[entity]).name
    catalog = module_makers.catalog(comment="Targets of the hostile-input corpus").name
    module_makers.schema(catalog, "people")
    module_makers.table(catalog, "people", "names", columns="id INT, name STRING")
    module_makers.sql(f"INSERT INTO {ident(catalog)}.people.names VALUES (1, 'ada'), (2, 'grace')")
    privileges = [Privilege.USE_CATALOG, Privilege.USE_SCHEMA, Privilege.SELECT]
    module_makers.grant("catalog", catalog, person.user_name, privileges)
    module_permissions.on_endpoint(endpoint, "CAN_QUERY", user_name=person.user_name)
    module_permissions.on_warehouse("CAN_USE", user_name=person.user_name)
    client = person.app.quiet()
    postgres: Any = stack.postgres
    database = psycopg.connect(postgres.admin_conninfo(postgres.database), autocommit=True)
    table_path = f"/api/catalogs/{catalog}/schemas/people/tables/names"
    yield Target(stack, person, client, endpoint, table_path, database)
    database.close()
    client.close()


def assert_refused(
    target: Target,
    before: tuple[int, int, int],
    response: httpx.Response,
    status: int,
    code: str,
    field: str | None = None,
) -> None:
    assert response.status_code == status, response.text
    envelope = response.json()
    assert set(envelope) == {"error"}, envelope
    error = envelope["error"]
    assert error["code"] == code, error
    assert error["request_id"] == response.headers["X-Request-ID"], error
    said = " ".join([error["message"], *(d["issue"] for d in error.get("details") or [])])
    assert not LEAKS.search(said), said
    assert target.stack.workspace_host not in said and target.stack.app_url not in said, said
    if field is not None:
        assert field in [d["field"] for d in error.get("details") or []], error
    assert target.stored() == before, "the refused request stored something or reached the workspace"


def json_string(text: str) -> str:
    """``text`` as a JSON string literal, every character outside printable ASCII escaped (lone
    surrogates included, which no encoder would write)."""
    return '"' + "".join(c if " " <= c <= "~" and c not in '"\\' else f"\\u{ord(c):04x}" for c in text) + '"'


# Numbers: JSON has no NaN or Infinity; Python's parser reads them, and 1e999 overflows to infinity.
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1E400", "123456789" * 40 + ".5"]


@pytest.mark.parametrize("literal", NON_FINITE, ids=lambda lit: lit[:12])
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_non_finite_numbers_are_refused_naming_the_field(target: Target, route: str, literal: str) -> None:
    spec, before = ROUTES[route], target.stored()
    response = target.send(spec, (spec.value_at % literal).encode())
    assert_refused(target, before, response, 400, "INVALID_REQUEST", spec.value_field)


# Text: control characters (C0, DEL, C1) and lone UTF-16 surrogates; TAB, LF and CR only in values.
BAD_TEXT = {
    "NUL": "two\x00years",
    "BEL": "ring\x07",
    "ESC": "\x1b[31mred",
    "DEL": "del\x7f",
    "C1 NEL": "next\x85line",
    "high surrogate": "\ud800",
    "low surrogate": "x\udfff",
    "half an emoji": "\ud83d smile",
}
BAD_KEYS = {**BAD_TEXT, "TAB": "a\tb", "LF": "a\nb"}


@pytest.mark.parametrize("text", BAD_TEXT, ids=str)
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_control_characters_and_lone_surrogates_in_body_text_are_refused(
    target: Target, route: str, text: str
) -> None:
    spec, before = ROUTES[route], target.stored()
    response = target.send(spec, (spec.value_at % json_string(BAD_TEXT[text])).encode())
    assert_refused(target, before, response, 400, "INVALID_REQUEST", spec.value_field)


@pytest.mark.parametrize("key", BAD_KEYS, ids=str)
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_control_characters_and_lone_surrogates_in_object_keys_are_refused(
    target: Target, route: str, key: str
) -> None:
    spec, before = ROUTES[route], target.stored()
    response = target.send(spec, (spec.key_at % json_string(BAD_KEYS[key])).encode())
    assert_refused(target, before, response, 400, "INVALID_REQUEST", spec.key_field)


# The same rule on the URL, percent-encoded; plus bytes that are not UTF-8 at all.
BAD_URL_TEXT = {
    "NUL": "a%00b",
    "SOH": "a%01b",
    "LF": "a%0Ab",
    "ESC": "%1B",
    "DEL": "a%7F",
    "C1 NEL": "a%C2%85",
    "encoded surrogate": "%ED%A0%80",
    "invalid UTF-8": "a%FFb",
    "overlong NUL": "%C0%80",
}
QUERIES = {
    "history endpoint": ("/api/serving/history?endpoint={}", "query.endpoint"),
    "preferences page token": ("/api/preferences?page_token={}", "query.page_token"),
    "catalogs page token": ("/api/catalogs?page_token={}", "query.page_token"),
    "a parameter's name": ("/api/preferences?{}=1", "query"),
}
PATHS = {
    "preference key": ("GET", "/api/preferences/{}"),
    "preference delete": ("DELETE", "/api/preferences/{}"),
    "endpoint": ("GET", "/api/serving/endpoints/{}"),
    "endpoint schema": ("GET", "/api/serving/endpoints/{}/schema"),
    "scoring": ("POST", "/api/serving/endpoints/{}/invocations"),
    "monitoring": ("GET", "/api/monitoring/endpoints/{}/metrics"),
    "catalog": ("GET", "/api/catalogs/{}/schemas"),
    "table rows": ("GET", "/api/catalogs/main/schemas/{}/tables/names/rows"),
}


@pytest.mark.parametrize("text", BAD_URL_TEXT, ids=str)
@pytest.mark.parametrize("query", QUERIES, ids=str)
def test_control_characters_and_invalid_unicode_in_a_query_are_refused(
    target: Target, query: str, text: str
) -> None:
    template, field = QUERIES[query]
    before = target.stored()
    response = target.client.call("GET", template.format(BAD_URL_TEXT[text]))
    assert_refused(target, before, response, 400, "INVALID_REQUEST", field)


@pytest.mark.parametrize("text", BAD_URL_TEXT, ids=str)
@pytest.mark.parametrize("path", PATHS, ids=str)
def test_control_characters_and_invalid_unicode_in_a_path_are_refused(
    target: Target, path: str, text: str
) -> None:
    method, template = PATHS[path]
    before = target.stored()
    body = {"json": {"records": [json.loads(RECORD % "1")]}} if method == "POST" else {}
    response = target.client.call(method, template.format(BAD_URL_TEXT[text]), **body)
    assert_refused(target, before, response, 400, "INVALID_REQUEST", "path")


# Dates: the supported range is 1970-01-01 (inclusive) to 9999-01-01 (exclusive), UTC.
OUT_OF_RANGE = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",
    "1969-12-31T23:59:59Z",
    "1970-01-01T00:59:59+01:00",
    "9999-01-01T00:00:00Z",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59.999999Z",
]


@pytest.mark.parametrize("value", OUT_OF_RANGE, ids=str)
@pytest.mark.parametrize("bound", ["start", "end"])
@pytest.mark.parametrize("view", ["metrics", "drift"])
def test_dates_outside_the_supported_range_are_refused(
    target: Target, view: str, bound: str, value: str
) -> None:
    before = target.stored()
    read = target.client.endpoint_metrics if view == "metrics" else target.client.endpoint_drift
    response = read(target.endpoint, **{bound: value})
    assert_refused(target, before, response, 400, "INVALID_REQUEST", f"query.{bound}")


# Only JSON is read as JSON: what a browser sends cross-site without a preflight is refused first.
NOT_JSON = [
    "text/plain",
    "text/plain; charset=utf-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=hostile",
    "application/json-patch+json",
    "application/jsonx",
    "text/json",
    "application/json; charset=latin-1",
    None,
]


@pytest.mark.parametrize("content_type", NOT_JSON, ids=lambda t: t or "no content type")
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_bodies_not_sent_as_json_are_refused(target: Target, route: str, content_type: str | None) -> None:
    spec, before = ROUTES[route], target.stored()
    response = target.send(spec, spec.valid.encode(), content_type)
    assert_refused(target, before, response, 415, "UNSUPPORTED_MEDIA_TYPE")


# Duplicate keys: parsers disagree on which one wins, so the app refuses the ambiguity.
DUPLICATES = {  # route: (top-level body, its field, nested body, its field)
    "preference": ('{"value": 1, "value": 2}', "value", '{"value": {"b": {"c": 1, "c": 2}}}', "value.b.c"),
    "scoring": (
        '{"records": [], "records": []}',
        "records",
        '{"records": [{"x": 1, "x": 2}]}',
        "records.0.x",
    ),
    "batch": ('{"records": [], "records": []}', "records", '{"records": [{"y": 1, "y": 2}]}', "records.0.y"),
    "rows filter": (
        '{"limit": 1, "limit": 1000}',
        "limit",
        '{"filters": [{"column": "name", "column": "id", "value": 1}]}',
        "filters.0.column",
    ),
}


@pytest.mark.parametrize("where", ["top level", "nested"])
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_duplicate_keys_are_refused(target: Target, route: str, where: str) -> None:
    top, top_field, nested, nested_field = DUPLICATES[route]
    body, field = (top, top_field) if where == "top level" else (nested, nested_field)
    before = target.stored()
    response = target.send(ROUTES[route], body.encode())
    assert_refused(target, before, response, 400, "INVALID_REQUEST", field)


# Not JSON as RFC 8259 has it, or not something Python reads: the body field says why.
MALFORMED = {
    "empty": b"",
    "not JSON": b"{value: 1}",
    "truncated": b'{"value": [1, 2',
    "trailing data": b'{"value": 1} {"value": 2}',
    "invalid UTF-8": b'{"value": "\xff\xfe"}',
    "UTF-16": '{"value": 1}'.encode("utf-16"),
    "UTF-8 byte order mark": b'\xef\xbb\xbf{"value": 1}',
    "an integer 5000 digits long": b'{"value": ' + b"9" * 5000 + b"}",
    "nested 10,000 levels": b'{"value": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
}


@pytest.mark.parametrize("body", MALFORMED, ids=str)
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_malformed_json_is_refused(target: Target, route: str, body: str) -> None:
    before = target.stored()
    response = target.send(ROUTES[route], MALFORMED[body])
    assert_refused(target, before, response, 400, "INVALID_REQUEST")


@pytest.mark.parametrize("announced", [True, False], ids=["announced", "streamed"])
@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_bodies_over_the_cap_are_refused_early(target: Target, route: str, announced: bool) -> None:
    spec, before = ROUTES[route], target.stored()
    headers = {"X-Forwarded-Access-Token": target.person.token}
    size = spec.max_bytes + 1
    exchange = send_body(
        target.stack.app_url,
        spec.method,
        target.path(spec.path),
        headers,
        size,
        announce=announced,
        answer_wait=0,  # the app answers at once; waiting between chunks only slows the 32 MiB ones
    )
    assert exchange.status == 413, exchange.summary(spec.method, spec.path)
    assert exchange.body["error"]["code"] == spec.too_large_code, exchange.body
    assert exchange.body["error"]["request_id"] == exchange.headers["x-request-id"], exchange.body
    assert exchange.sent_bytes <= spec.max_bytes + 2 * 64 * 1024, exchange.summary(spec.method, spec.path)
    assert target.stored() == before


def test_every_capped_body_is_documented_with_its_cap(target: Target) -> None:
    document = target.client.openapi().json()
    for route in ROUTES.values():
        path = route.documented_as
        operation = document["paths"][path][route.method.lower()]
        assert operation["x-max-body-bytes"] == route.max_bytes, path
        assert list(operation["requestBody"]["content"]) == ["application/json"], path
        assert {"400", "413", "415"} <= set(operation["responses"]), path
    bodies = [
        (path, method)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    ]
    assert len(bodies) == len(ROUTES), bodies


def test_invalid_input_is_documented_as_the_400_it_gets_never_as_a_422(target: Target) -> None:
    """The app answers what FastAPI would refuse with 422 as 400 INVALID_REQUEST, in its envelope."""
    document = target.client.openapi().json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            reads_input = operation.get("parameters") or "requestBody" in operation
            assert "422" not in operation["responses"], (method, path)
            assert not reads_input or "400" in operation["responses"], (method, path)
    assert "HTTPValidationError" not in str(document)


def test_the_ledger_sees_what_a_well_formed_request_stores(target: Target) -> None:
    """The oracle of every test above: the same routes with well-formed bodies do store or reach data."""
    for name, route in ROUTES.items():
        before = target.stored()
        response = target.send(route, route.valid.encode())
        assert response.status_code in (200, 201), (name, response.text)
        assert target.stored() != before, name
    assert target.client.delete_preference("hostile.key").status_code == 204


# Names no serving endpoint can have (letters, digits, '-' and '_' only): the SDK would write them into its
# request path unescaped, asking the workspace something else ("#" ends the path, "?" starts a query).
NOT_ENDPOINT_NAMES = ["%23frag", "a%3Fb%3Dc", "a%2Fb", "..", "a.b", "a%20b", "%C3%A9t%C3%A9", "x" * 64]
ENDPOINT_ROUTES = {
    "details": ("GET", "/api/serving/endpoints/{}"),
    "schema": ("GET", "/api/serving/endpoints/{}/schema"),
    "scoring": ("POST", "/api/serving/endpoints/{}/invocations"),
    "batch": ("POST", "/api/serving/endpoints/{}/batch"),
    "metrics": ("GET", "/api/monitoring/endpoints/{}/metrics"),
}


@pytest.mark.parametrize("name", NOT_ENDPOINT_NAMES, ids=lambda name: name[:12])
@pytest.mark.parametrize("route", ENDPOINT_ROUTES, ids=str)
def test_names_no_endpoint_can_have_are_refused(target: Target, route: str, name: str) -> None:
    method, template = ENDPOINT_ROUTES[route]
    before = target.stored()
    body = {"json": {"records": [json.loads(RECORD % "1")]}} if method == "POST" else {}
    response = target.client.call(method, template.format(name), **body)
    if name in ("..", "a%2Fb"):  # they change the path itself: no route is named, as for any unknown path
        assert_refused(target, before, response, 404, "NOT_FOUND")
    else:
        assert_refused(target, before, response, 400, "INVALID_REQUEST", "path.name")
