"""Cross-service flows (US4): browse Unity Catalog, read rows, score them, find the calls in the history.

The customers to score live in a Unity Catalog table created through the SDK and SQL (works live too):
``crm.churn.customers`` (``fixtures/drivers/catalog.py``), the same rows in every run and worker.
"""

from __future__ import annotations

import json

from pytest_bdd import given, parsers, then, when

from fixtures.drivers.catalog import CRM_TABLE, browse_to, crm_rows, features_of
from fixtures.drivers.concurrency import in_parallel
from fixtures.drivers.serving import Serving, Traffic
from fixtures.drivers.workspace_admin import WorkspaceAdmin
from fixtures.reporting.attachments import attach_table
from fixtures.stack.mock import Person
from fixtures.stack.plugin import Cast
from steps.common import ENDPOINT, OTHER, PERSON, POSSESSIVE


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


@when(parsers.re(rf'{PERSON} browses from {POSSESSIVE} catalogs down to the table "(?P<table>[^"]+)"'))
def browses_down(people: Cast, catalog_admin: WorkspaceAdmin, who: str, table: str) -> None:
    """Lists catalogs, schemas and table names as the user, each hop showing the next name."""
    browse_to(people.subject(who).app, catalog_admin, table)


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
    results = in_parallel(
        [
            lambda i=i, p=p: run_flow(p, catalog_admin, serving, endpoint, offset=5 * i)
            for i, p in enumerate(analysts)
        ]
    )
    attach_table(
        "flows run at once",
        [{"user": r["person"].user_name, "rows read": len(r["rows"]),
          "predictions": len(r["scored"]["predictions"]), "history calls": r["history"]["total"]}
         for r in results],
    )  # fmt: skip
    return results


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
        assert items[0]["inputs"] == features_of(rows), "someone else's call appears in this history"


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


def canonical(record: dict) -> str:
    return json.dumps(record, sort_keys=True)


@then(
    parsers.re(
        rf"{OTHER}'s (?:whole )?inference history holds (?:each of {POSSESSIVE} (?P<count>\d+) calls once"
        r"|(?P<calls>\d+) calls with (?P<customers>\d+) customers)"
    )
)
def history_holds(serving: Serving, people: Cast, sent: Traffic, other: str, count, calls, customers) -> None:
    """Paging through the person's history: exactly the customers she sent, one call each, newest first (in
    the order the app logged them: calls sent several at a time arrive in any order); or exactly N successful
    calls covering that many customers."""
    person = people[other]
    items, total = serving.whole_history(person.app.quiet())
    if calls:
        assert len(items) == total == int(calls), (total, len(items))
        assert sum(i["record_count"] for i in items) == int(customers), items
        assert all(i["status"] == "success" for i in items), items
        return
    assert total == len(items) == int(count), (total, len(items))
    ids = [item["id"] for item in items]
    assert len(set(ids)) == len(ids) and ids == sorted(ids, reverse=True)
    assert sorted(map(canonical, (item["inputs"][0] for item in items))) == sorted(
        map(canonical, sent.of(person))
    ), "the history is not exactly my calls"
