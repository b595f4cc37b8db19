"""Cross-service flows (US4): browse Unity Catalog, read rows, score them, find the calls in the history.

The customers to score live in a Unity Catalog table created through the SDK and SQL (works live too):
``crm.churn.customers``, the reference model's features plus a ``customer_id``, from seeded synthetic
traffic, so every run and worker holds the same rows.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from pytest_bdd import given, parsers, then, when

from fixtures.drivers.catalog import CRM_TABLE, browse_to, crm_rows, features_of
from fixtures.drivers.serving import Serving, Traffic
from fixtures.drivers.workspace_admin import WorkspaceAdmin
from fixtures.reporting.attachments import attach_table
from fixtures.stack.mock import Person
from fixtures.stack.plugin import Cast

WHO = r"(?P<who>[A-Z]\w+|she|he|they)"
ENDPOINT = r'the endpoint "(?P<endpoint>[^"]+)"'


@given(parsers.re(r'the catalog "crm" holds customers to score'))
def crm_holds_customers(crm_catalog: str) -> None:
    """A Unity Catalog table crm.churn.customers holds 60 seeded customers with the model's features."""
    assert crm_catalog == "crm"


def run_flow(person: Person, admin: WorkspaceAdmin, serving: Serving, endpoint: str, offset: int) -> dict:
    """Browse down to the customers, read a page (of the person's saved size) from the offset, score it,
    read the history."""
    client = person.app.quiet()
    browse_to(client, admin, CRM_TABLE)
    read = client.table_rows(*admin.parts(CRM_TABLE), offset=offset)
    assert read.status_code == 200, read.text
    rows = read.json()["rows"]
    scored = serving.score(client, endpoint, features_of(rows))
    assert scored.status_code == 200, scored.text
    history = serving.history(client, limit=100)
    assert history.status_code == 200, history.text
    return {"person": person, "rows": rows, "scored": scored.json(), "history": history.json()}


# Whens ----------------------------------------------------------------------------------------------------
@when(parsers.re(rf'{WHO} browses from (?:her|his|their) catalogs down to the table "(?P<table>[^"]+)"'))
def browses_down(people: Cast, catalog_admin: WorkspaceAdmin, who: str, table: str) -> None:
    """Lists catalogs, schemas and table names as the user, each hop showing the next name."""
    browse_to(people[who].app, catalog_admin, table)


@when(parsers.re(rf"{WHO} scores those rows with {ENDPOINT}"), target_fixture="scored")
def scores_those_rows(
    people: Cast, serving: Serving, response: httpx.Response, who: str, endpoint: str
) -> dict:
    """Scores the rows of the last table read with the endpoint (customer_id left out)."""
    assert response.status_code == 200, response.text
    rows = response.json()["rows"]
    answer = serving.score(people[who].app, endpoint, features_of(rows))
    assert answer.status_code == 200, answer.text
    return {"rows": rows, "answer": answer.json()}


@when(
    parsers.re(
        rf"they all run the whole flow at once on {ENDPOINT}, each with (?:a )?page size of their own"
    ),
    target_fixture="flows",
)
def crowd_runs_flow(
    analysts: list[Person], catalog_admin: WorkspaceAdmin, serving: Serving, endpoint: str
) -> list[dict]:
    """Each analyst saves their own page size, then all browse, read, score and read history at once."""
    for i, person in enumerate(analysts):
        saved = person.app.quiet().save_preference("catalog.page_size", 3 + i)
        assert saved.status_code in (200, 201), saved.text
    start = threading.Barrier(len(analysts))

    def flow(item: tuple[int, Person]) -> dict:
        i, person = item
        start.wait(timeout=60)
        return run_flow(person, catalog_admin, serving, endpoint, offset=5 * i)

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
def history_shows_call(serving: Serving, people: Cast, scored: dict, who: str) -> None:
    """The newest history entry is that call: same log id, inputs, outputs, success."""
    history = serving.history(people[who].app, limit=10).json()
    newest = history["items"][0]
    assert newest["id"] == scored["answer"]["log_id"], newest
    sent = features_of(scored["rows"])
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
        sent = features_of(rows)
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
def whole_history(serving: Serving, people: Cast, sent: Traffic, who: str, count: str) -> None:
    """Pages through the history; the calls are exactly the customers this person sent, newest first."""
    person = people[who]
    items, total = serving.whole_history(person.app.quiet())
    assert total == len(items) == int(count), (total, len(items))
    ids = [item["id"] for item in items]
    assert len(set(ids)) == len(ids) and ids == sorted(ids, reverse=True)
    assert [item["inputs"][0] for item in reversed(items)] == sent.of(person), (
        "the history is not exactly my calls"
    )


@when(parsers.re(rf"{WHO} sends a customer to {ENDPOINT}"), target_fixture="response")
def sends_customer(people: Cast, serving: Serving, who: str, endpoint: str) -> httpx.Response:
    """Scores one customer of the CRM table with the endpoint."""
    return serving.score(people[who].app, endpoint, features_of(crm_rows()[:1]))


@then(parsers.re(rf"{WHO}'s inference history shows that call as failed, with no predictions"))
def history_shows_failure(serving: Serving, people: Cast, response: httpx.Response, who: str) -> None:
    """The history records the failed call completely: inputs, error code, no outputs."""
    items = serving.history(people[who].app, limit=10).json()["items"]
    assert len(items) == 1, items
    call = items[0]
    assert call["status"] == "error" and call["outputs"] is None, call
    assert call["error_code"] == response.json()["error"]["code"], (call, response.text)
    assert call["inputs"] == features_of(crm_rows()[:1]), call
