"""Cross-service flows (US4): browse Unity Catalog, read rows, score them, find the calls in the history.

The customers to score live in a Unity Catalog table created through the SDK and SQL (works live too):
``crm.churn.customers``, the reference model's features plus a ``customer_id``, from seeded synthetic
traffic, so every run and worker holds the same rows.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from fixtures.data import traffic
from fixtures.data.catalog import ident, literal
from fixtures.drivers.workspace_admin import WorkspaceAdmin
from fixtures.reporting.attachments import attach_table
from fixtures.stack.mock import Person
from fixtures.stack.plugin import Cast

WHO = r"(?P<who>[A-Z]\w+|she|he|they)"
ENDPOINT = r'the endpoint "(?P<endpoint>[^"]+)"'
CRM_TABLE = "crm.churn.customers"
CRM_ROWS = 60
SQL_TYPES = {"age": "INT", "tenure_months": "INT", "support_tickets": "INT", "monthly_charges": "DOUBLE",
             "total_charges": "DOUBLE"}  # fmt: skip
_lock = threading.Lock()


def crm_rows() -> list[dict]:
    return [{"customer_id": f"C{i + 1:05d}", **r} for i, r in enumerate(traffic.generate(CRM_ROWS, seed=11))]


@pytest.fixture(scope="session")
def crm_catalog(catalog_admin: WorkspaceAdmin) -> str:
    """Created once per worker (and live run); dropped with the session's other shared objects."""
    admin = catalog_admin
    catalog = admin.real("crm")
    admin.create_catalog("crm", "Customer relationship data")
    admin.create_schema("crm.churn", comment="Customers whose churn risk is scored")
    target = f"{ident(catalog)}.{ident('churn')}.{ident('customers')}"
    columns = ["customer_id STRING"] + [f"{ident(f)} {SQL_TYPES.get(f, 'STRING')}" for f in traffic.FEATURES]
    admin.create_table(CRM_TABLE, ", ".join(columns), "Customers to score")
    rows = crm_rows()
    names = ["customer_id", *traffic.FEATURES]
    values = ", ".join("(" + ", ".join(literal(r[n]) for n in names) + ")" for r in rows)
    admin.sql(f"INSERT INTO {target} VALUES {values}")
    return "crm"


@given(parsers.re(r'the catalog "crm" holds customers to score'))
def crm_holds_customers(crm_catalog: str) -> None:
    """A Unity Catalog table crm.churn.customers holds 60 seeded customers with the model's features."""
    assert crm_catalog == "crm"


def _path(admin: WorkspaceAdmin, logical_table: str) -> str:
    catalog, schema, table = admin.real(logical_table).split(".")
    parts = [quote(part, safe="") for part in (catalog, schema, table)]
    return f"/api/catalogs/{parts[0]}/schemas/{parts[1]}/tables/{parts[2]}"


def browse(client, admin: WorkspaceAdmin, logical_table: str) -> None:
    """Catalogs -> schemas -> table names, each hop must show the next name."""
    catalog, schema, table = admin.real(logical_table).split(".")
    hops = [
        ("/api/catalogs", catalog),
        (f"/api/catalogs/{quote(catalog, safe='')}/schemas", schema),
        (f"/api/catalogs/{quote(catalog, safe='')}/schemas/{quote(schema, safe='')}/table-names", table),
    ]
    for path, expected in hops:
        names, token = [], None
        while True:
            response = client.get(path, params={"page_token": token} if token else {})
            assert response.status_code == 200, response.text
            page = response.json()
            names += [i if isinstance(i, str) else i["name"] for i in page["items"]]
            token = page.get("next_page_token")
            if not token:
                break
        assert expected in names, f"{expected} not among {names}"


def score(client, serving, endpoint: str, rows: list[dict]) -> httpx.Response:
    records = [{k: v for k, v in row.items() if k != "customer_id"} for row in rows]
    return client.post(
        f"/api/serving/endpoints/{serving.name(endpoint)}/invocations", json={"records": records}
    )


def run_flow(
    person: Person, admin: WorkspaceAdmin, serving, endpoint: str, limit: int | None, offset: int
) -> dict:
    client = person.app.quiet()
    browse(client, admin, CRM_TABLE)
    params = {"offset": offset, **({"limit": limit} if limit else {})}
    read = client.get(f"{_path(admin, CRM_TABLE)}/rows", params=params)
    assert read.status_code == 200, read.text
    rows = read.json()["rows"]
    scored = score(client, serving, endpoint, rows)
    assert scored.status_code == 200, scored.text
    history = serving.history(client, limit=100)
    assert history.status_code == 200, history.text
    return {"person": person, "rows": rows, "scored": scored.json(), "history": history.json()}


# Whens ----------------------------------------------------------------------------------------------------
@when(parsers.re(rf'{WHO} browses from (?:her|his|their) catalogs down to the table "(?P<table>[^"]+)"'))
def browses_down(people: Cast, catalog_admin: WorkspaceAdmin, who: str, table: str) -> None:
    """Lists catalogs, schemas and table names as the user, each hop showing the next name."""
    browse(people[who].app, catalog_admin, table)


@when(parsers.re(rf"{WHO} scores those rows with {ENDPOINT}"), target_fixture="scored")
def scores_those_rows(people: Cast, serving, response: httpx.Response, who: str, endpoint: str) -> dict:
    """Scores the rows of the last table read with the endpoint (customer_id left out)."""
    assert response.status_code == 200, response.text
    rows = response.json()["rows"]
    answer = score(people[who].app, serving, endpoint, rows)
    assert answer.status_code == 200, answer.text
    return {"rows": rows, "answer": answer.json()}


@when(
    parsers.re(
        rf"they all run the whole flow at once on {ENDPOINT}, each with (?:a )?page size of their own"
    ),
    target_fixture="flows",
)
def crowd_runs_flow(
    analysts: list[Person], catalog_admin: WorkspaceAdmin, serving, endpoint: str
) -> list[dict]:
    """Each analyst saves their own page size, then all browse, read, score and read history at once."""
    for i, person in enumerate(analysts):
        saved = person.app.quiet().put("/api/preferences/catalog.page_size", json={"value": 3 + i})
        assert saved.status_code in (200, 201), saved.text
    start = threading.Barrier(len(analysts))

    def flow(item: tuple[int, Person]) -> dict:
        i, person = item
        start.wait(timeout=60)
        return run_flow(person, catalog_admin, serving, endpoint, None, offset=5 * i)

    with ThreadPoolExecutor(max_workers=len(analysts)) as pool:
        results = list(pool.map(flow, enumerate(analysts)))
    attach_table(
        "flows run at once",
        [
            {
                "user": r["person"].user_name,
                "rows read": len(r["rows"]),
                "predictions": len(r["scored"]["predictions"]),
                "history calls": r["history"]["total"],
            }
            for r in results
        ],
    )
    return results


# Thens ----------------------------------------------------------------------------------------------------
@then(parsers.re(r"(?:she|he|they) gets a churn prediction for each of those customers, in order"))
def prediction_per_row(scored: dict) -> None:
    """One churn prediction (label 0/1, probability 0..1) per row scored."""
    predictions = scored["answer"]["predictions"]
    assert len(predictions) == len(scored["rows"]) > 0, scored
    for prediction in predictions:
        assert prediction["label"] in (0, 1) and 0.0 <= prediction["probability"] <= 1.0, prediction


@then(parsers.re(rf"{WHO}'s inference history shows that call with exactly those customers"))
def history_shows_call(serving, people: Cast, scored: dict, who: str) -> None:
    """The newest history entry is that call: same log id, inputs, outputs, success."""
    history = serving.history(people[who].app, limit=10).json()
    newest = history["items"][0]
    assert newest["id"] == scored["answer"]["log_id"], newest
    sent = [{k: v for k, v in r.items() if k != "customer_id"} for r in scored["rows"]]
    assert newest["inputs"] == sent and newest["outputs"] == scored["answer"]["predictions"], newest
    assert newest["status"] == "success" and newest["record_count"] == len(sent), newest


@then("each of them read a page of their own size, scored it and finds only that call in their history")
def each_isolated(flows: list[dict]) -> None:
    """Each analyst got their page size's rows from their offset and sees only their own call."""
    expected_rows = crm_rows()
    for i, result in enumerate(flows):
        rows = result["rows"]
        assert len(rows) == 3 + i, (result["person"].user_name, len(rows))
        assert [r["customer_id"] for r in rows] == [
            r["customer_id"] for r in expected_rows[5 * i : 5 * i + 3 + i]
        ]
        assert len(result["scored"]["predictions"]) == len(rows)
        items = result["history"]["items"]
        assert result["history"]["total"] == 1 and len(items) == 1, result["history"]
        sent = [{k: v for k, v in r.items() if k != "customer_id"} for r in rows]
        assert items[0]["inputs"] == sent, "someone else's call appears in this history"


@then("the same customers get the same predictions whoever scores them")
def consistent_predictions(flows: list[dict]) -> None:
    """A customer scored by two analysts got the same prediction both times."""
    seen: dict[str, object] = {}
    for result in flows:
        for row, prediction in zip(result["rows"], result["scored"]["predictions"], strict=True):
            previous = seen.setdefault(row["customer_id"], prediction)
            assert previous == prediction, (row["customer_id"], previous, prediction)
    # Pages of 3 + i rows from offset 5 * i overlap from the fourth person on: shared customers exist.
    assert len(seen) < sum(len(r["rows"]) for r in flows), "no customer was scored by two people"


@then(
    parsers.re(rf"{WHO}'s whole inference history holds each of (?:her|his|their) (?P<count>\d+) calls once")
)
def whole_history(serving, people: Cast, sent, who: str, count: str) -> None:
    """Pages through the history; the calls are exactly the customers this person sent, newest first."""
    person = people[who]
    client, items, offset = person.app.quiet(), [], 0
    while True:
        page = serving.history(client, limit=100, offset=offset)
        assert page.status_code == 200, page.text
        batch = page.json()["items"]
        if not batch:
            break
        items += batch
        offset += len(batch)
    assert page.json()["total"] == len(items) == int(count), (page.json()["total"], len(items))
    ids = [item["id"] for item in items]
    assert len(set(ids)) == len(ids) and ids == sorted(ids, reverse=True)
    mine = [r for r, a in zip(sent.records, sent.answers, strict=True) if a.request.headers.get(
        "X-Forwarded-Access-Token") == person.token]  # fmt: skip
    assert [item["inputs"][0] for item in reversed(items)] == mine, "the history is not exactly my calls"


@when(parsers.re(rf"{WHO} sends a customer to {ENDPOINT}"), target_fixture="response")
def sends_customer(people: Cast, serving, who: str, endpoint: str) -> httpx.Response:
    """Scores one customer of the CRM table with the endpoint."""
    return score(people[who].app, serving, endpoint, crm_rows()[:1])


@then(parsers.re(rf"{WHO}'s inference history shows that call as failed, with no predictions"))
def history_shows_failure(serving, people: Cast, response: httpx.Response, who: str) -> None:
    """The history records the failed call completely: inputs, error code, no outputs."""
    items = serving.history(people[who].app, limit=10).json()["items"]
    assert len(items) == 1, items
    call = items[0]
    assert call["status"] == "error" and call["outputs"] is None, call
    assert call["error_code"] == response.json()["error"]["code"], (call, response.text)
    assert call["inputs"] == [{k: v for k, v in crm_rows()[0].items() if k != "customer_id"}], call
