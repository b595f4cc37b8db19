"""Model Serving: endpoints arranged through the SDK, predictions asked of the app, checked against the model.

Givens create endpoints through the serving driver (``fixtures/drivers/serving.py``: ``databricks-sdk`` as a
workspace admin, the same calls a real workspace takes); Whens call the app as the user; Thens compare
predictions with the model's own answer for the same rows (the same registry version loaded in-process).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import allure
import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from fixtures.drivers.control import FakeControl, invocations
from fixtures.drivers.serving import CALLS_AT_A_TIME, Serving, personal_records
from fixtures.drivers.serving_models import sample_records
from fixtures.stack.plugin import Cast
from steps.common import ENDPOINT, OTHER, PERSON, POSSESSIVE, error_of


def attach(name: str, value: object) -> None:
    allure.attach(json.dumps(value, indent=2, default=str)[:50_000], name, allure.attachment_type.JSON)


def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, f"{response.status_code}: {response.text[:2000]}"
    return response.json()


# Givens -----------------------------------------------------------------------------------------------------
@given(
    parsers.re(
        rf"{ENDPOINT} (?:serves (?:version (?P<number>\d) of the churn model|(?P<model>a model without"
        r" named input columns|"
        r"the reference churn model))|sends (?P<first>\d+)% of its traffic to version (?P<a>\d) and "
        r"(?P<second>\d+)% to version (?P<b>\d) of the churn model)$"
    )
)
def endpoint_serves(
    serving: Serving, request: pytest.FixtureRequest, endpoint: str, number, model, first, a, second, b
):
    """Creates the endpoint and waits until it is ready, serving: a version of the churn model; a model
    whose signature names no columns (a tensor); the reference churn model (whose run carries a training
    profile); or two versions of the churn model, the traffic split between them as given."""
    if number:
        serving.create(endpoint, serving.models.churn, [serving.version(int(number))])
    elif model == "a model without named input columns":
        serving.create(endpoint, serving.models.unnamed, [serving.models.unnamed_version])
    elif model:
        reference = request.getfixturevalue("monitored_model")
        serving.create(endpoint, reference.name, [reference.version])
    else:
        versions = [serving.version(int(a)), serving.version(int(b))]
        serving.create(endpoint, serving.models.churn, versions, [int(first), int(second)])


@given(parsers.re(rf"{ENDPOINT} is still being created"))
def endpoint_being_created(serving: Serving, control: FakeControl, endpoint: str) -> None:
    """Creates the endpoint (version 1 of the churn model) without waiting; its rollout stays in progress."""
    serving.create_still_deploying(endpoint, control)


@given(
    parsers.re(
        rf"{ENDPOINT} answers (?:its next (?P<count>\d+) calls|every call) (?P<amount>\d+)"
        r" (?P<unit>seconds|milliseconds) late"
    )
)
def endpoint_late(
    serving: Serving, control: FakeControl, endpoint: str, count: str | None, amount: str, unit: str
):
    """The model answers every call (or its next N) that late: injected latency (the fake's control API)."""
    delay_ms = int(amount) * (1000 if unit == "seconds" else 1)
    control.add_fault(
        invocations(serving.name(endpoint)), delay_ms=delay_ms, times=int(count) if count else None
    )


@given(parsers.re(rf"{ENDPOINT} fails (?P<times>\d+) of its next calls?"))
def endpoint_fails(serving: Serving, control: FakeControl, endpoint: str, times: str) -> None:
    """Makes the endpoint's next calls fail, its model crashing (the fake's control API: mock only)."""
    control.add_fault(
        invocations(serving.name(endpoint)),
        status=500,
        error_code="INTERNAL_ERROR",
        message="The model container crashed.",
        times=int(times),
    )


@given(parsers.re(rf"{PERSON} has scored customers (?P<times>\d+) times with {ENDPOINT}"))
def has_scored(people: Cast, serving: Serving, who: str, times: str, endpoint: str) -> None:
    """The person has already scored customers that many times, 2 of their own each call, all succeeding."""
    person = people.subject(who)
    for i in range(int(times)):
        response = serving.score(person.app.quiet(), endpoint, personal_records(person.name, i))
        assert response.status_code == 200, response.text


@given(
    parsers.re(rf"{PERSON} has made (?P<count>\d+) inference calls with {ENDPOINT}"),
    target_fixture="made_calls",
)
def has_made_calls(people: Cast, serving: Serving, who: str, count: str, endpoint: str) -> list[int]:
    """The person has already made that many one-customer calls, several at a time, every call succeeding."""
    client = people.subject(who).app.quiet()

    def one(record: dict) -> int:
        response = serving.score(client, endpoint, [record])
        assert response.status_code == 200, response.text
        return response.json()["log_id"]

    with ThreadPoolExecutor(max_workers=CALLS_AT_A_TIME) as pool:
        ids = list(pool.map(one, sample_records(int(count), seed=21)))
    attach(f"{count} calls made", {"log ids": [min(ids), max(ids)], "distinct": len(set(ids))})
    return ids


@given(parsers.re(r"version (?P<number>\d) of the churn model is the champion"))
def champion_is(serving: Serving, number: str) -> None:
    """Gives that version of the churn model the champion alias in the model registry."""
    serving.set_champion(int(number))


# Whens ------------------------------------------------------------------------------------------------------
@when(parsers.re(rf"{PERSON} opens {ENDPOINT}"), target_fixture="response")
def opens_endpoint(people: Cast, serving: Serving, who: str, endpoint: str) -> httpx.Response:
    """Opens one endpoint's details through the app, as the person."""
    return people.subject(who).app.serving_endpoint(serving.name(endpoint))


@when(parsers.re(rf"{PERSON} asks for the input schema of {ENDPOINT}"), target_fixture="response")
def asks_schema(people: Cast, serving: Serving, who: str, endpoint: str) -> httpx.Response:
    """Asks the app, as the person, which columns the endpoint's model expects, with an example request."""
    return people.subject(who).app.input_schema(serving.name(endpoint))


CUSTOMERS = (
    r"(?:(?P<count>\d+) customers?|those rows"
    r'|customers(?: missing "(?P<missing>[^"]+)" and)? with an extra "(?P<extra>[^"]+)"'
    r'|a customer whose "(?P<column>[^"]+)" (?:is "(?P<value>[^"]+)"|holds (?P<nul>a NUL character)))'
)


@when(parsers.re(rf"{PERSON} scores {CUSTOMERS} with {ENDPOINT}$"), target_fixture="response")
def scores(
    people: Cast,
    serving: Serving,
    request: pytest.FixtureRequest,
    who: str,
    endpoint: str,
    count: str | None,
    missing: str | None,
    extra: str | None,
    column: str | None,
    value: str | None,
    nul: str | None,
) -> httpx.Response:
    """Scores customers with the endpoint through the app, as the person: N sample customers; the rows of
    the table just read (without their customer_id); 3 customers lacking one column of the model's signature
    and carrying one it does not know; or one customer whose column holds text (or text with U+0000, which
    Postgres jsonb rejects) where the model expects a number."""
    if count is not None:
        records = serving.customers(endpoint, int(count), seed=int(count))
    elif extra is not None:
        records = [
            {**{k: v for k, v in r.items() if k != missing}, extra: "teal"} for r in sample_records(3, seed=9)
        ]
    elif column is not None:
        records = [{**sample_records(1, seed=5)[0], column: "two\x00years" if nul else value}]
    else:
        from fixtures.drivers.catalog import features_of

        records = features_of(ok(request.getfixturevalue("response"))["rows"])
    serving.sent = records
    app = people.subject(who).app
    return serving.score(app if len(records) <= 50 else app.quiet(), endpoint, records)


@when(
    parsers.re(rf"{PERSON} scores (?P<count>\d+) customers in one batch with {ENDPOINT}"),
    target_fixture="response",
)
def scores_batch(people: Cast, serving: Serving, who: str, count: str, endpoint: str) -> httpx.Response:
    """Sends that many customers to the app as one batch, which scores them in chunks."""
    serving.sent = sample_records(int(count), seed=int(count))
    response = people.subject(who).app.quiet().batch(serving.name(endpoint), serving.sent)
    attach(
        "batch answer (without predictions)", {k: v for k, v in response.json().items() if k != "predictions"}
    )
    return response


@when(
    parsers.re(rf"{PERSON} scores one customer (?P<times>\d+) times with {ENDPOINT}"),
    target_fixture="answers",
)
def scores_repeatedly(people: Cast, serving: Serving, who: str, times: str, endpoint: str) -> list[dict]:
    """Scores the same customer that many times, several calls at a time, every call succeeding."""
    serving.sent = sample_records(1, seed=77)
    client = people.subject(who).app.quiet()

    def one(_: int) -> dict:
        return ok(serving.score(client, endpoint, serving.sent))

    with ThreadPoolExecutor(max_workers=CALLS_AT_A_TIME) as pool:
        answers = list(pool.map(one, range(int(times))))
    attach("versions that answered", Counter(a["model_version"] for a in answers))
    return answers


@when(
    parsers.re(
        r"(?P<count>\d+) inferences run at once for (?P<names>[A-Z]\w+(?:(?:, | and )[A-Z]\w+)*) on"
        rf" {ENDPOINT}"
    ),
    target_fixture="concurrent",
)
def concurrent_inferences(
    people: Cast, serving: Serving, count: str, names: str, endpoint: str
) -> list[tuple]:
    """Makes that many calls at once, shared in turn among the people named, each with its own customers."""
    cast = [people[n.strip()] for n in names.replace(" and ", ", ").split(", ")]
    jobs = [(cast[i % len(cast)], sample_records(3, seed=1000 + i)) for i in range(int(count))]

    def one(job: tuple) -> tuple:
        person, records = job
        return person, records, serving.score(person.app.quiet(), endpoint, records)

    with ThreadPoolExecutor(max_workers=int(count)) as pool:
        results = list(pool.map(one, jobs))
    attach(
        "concurrent calls", {"calls": len(results), "statuses": Counter(r[2].status_code for r in results)}
    )
    return results


@when(
    parsers.re(
        rf"{PERSON} reads {POSSESSIVE} inference history(?: of {ENDPOINT}| (?P<size>\d+) at a time)?$"
    ),
    target_fixture="response",
)
def reads_history(
    people: Cast, serving: Serving, who: str, endpoint: str | None, size: str | None
) -> httpx.Response:
    """Reads the person's inference history through the app, newest calls first: the first page, only the
    calls to one endpoint, or page by page (that many calls per page) to the end."""
    return serving.read_history(people.subject(who).app, int(size) if size else None, endpoint)


@when(
    parsers.re(rf"the pipeline deploys the champion of the churn model to {ENDPOINT}"),
    target_fixture="deployment",
)
def pipeline_deploys(serving: Serving, endpoint: str):
    """The deployment pipeline serves the churn model's champion on the endpoint, creating it if need be."""
    deployment = serving.deploy_champion(endpoint)
    attach("deployment", deployment.__dict__)
    return deployment


# Thens ------------------------------------------------------------------------------------------------------
@then(parsers.re(rf"{PERSON} sees {ENDPOINT} ready, serving version (?P<number>\d) of the churn model"))
def sees_endpoint_listed(
    people: Cast, serving: Serving, response: httpx.Response, who: str, endpoint: str, number: str
):
    """Checks the list shows the endpoint, ready, serving exactly that version of the churn model."""
    people.subject(who)
    listed = {e["name"]: e for e in ok(response)["endpoints"]}
    item = listed.get(serving.name(endpoint))
    assert item is not None, f"{serving.name(endpoint)} not in {sorted(listed)}"
    assert item["ready"] == "READY", item
    served = [(e["model_name"], e["model_version"]) for e in item["served_entities"]]
    assert served == [(serving.models.churn, serving.version(int(number)))], served


@then(
    parsers.re(
        rf"{PERSON} sees it is (?:ready and sends all traffic to version (?P<number>\d) of the churn model"
        r"|not ready yet, being updated, with no model served)"
    )
)
def sees_details(
    people: Cast, serving: Serving, response: httpx.Response, who: str, number: str | None
) -> None:
    """The endpoint is ready, not being updated, and sends all its traffic to that version; or it is
    NOT_READY with its first config still rolling out, so no served entity is live."""
    people.subject(who)
    details = ok(response)
    if number is None:
        assert details["ready"] == "NOT_READY" and details["config_update"] == "IN_PROGRESS", details
        assert details["served_entities"] == [] and details["config_version"] is None, details
        return
    assert details["ready"] == "READY" and details["config_update"] == "NOT_UPDATING", details
    [entity] = details["served_entities"]
    assert (entity["model_name"], entity["model_version"]) == (
        serving.models.churn,
        serving.version(int(number)),
    )
    assert entity["traffic_percentage"] == 100 and entity["state"] == "DEPLOYMENT_READY", entity


@then(parsers.parse("the endpoint's traffic is split {first:d}/{second:d} between versions {a:d} and {b:d}"))
def traffic_split(
    serving: Serving, response: httpx.Response, first: int, second: int, a: int, b: int
) -> None:
    """Checks the endpoint gives each of the two versions of the churn model its share of the traffic."""
    entities = {e["model_version"]: e["traffic_percentage"] for e in ok(response)["served_entities"]}
    assert entities == {serving.version(a): first, serving.version(b): second}


@then(
    parsers.re(
        rf"(?:{PERSON} sees the columns (?P<columns>.+) as numbers"
        r'|the schema type is "(?P<kind>\w+)" with a message saying how to get one)'
    )
)
def sees_schema(response: httpx.Response, columns: str | None, kind: str | None) -> None:
    """The model expects a table of exactly those columns, in that order, each a required number; or the
    schema has that type, no columns, no example, and a message about adding a signature."""
    schema = ok(response)
    if kind:
        assert schema["type"] == kind and schema["columns"] == [] and schema["example_request"] is None, (
            schema
        )
        assert "signature" in schema["message"], schema
        return
    assert schema["type"] == "dataframe", schema
    names = [c.strip() for c in columns.replace(" and ", ", ").split(",")]
    assert [c["name"] for c in schema["columns"]] == names
    assert all(c["type"] == "number" and c["required"] for c in schema["columns"]), schema["columns"]


@then(parsers.re(rf"the example request is accepted by {ENDPOINT}"))
def example_accepted(people: Cast, serving: Serving, response: httpx.Response, endpoint: str) -> None:
    """Checks the schema's example request, sent to the endpoint as is, gets its one prediction back."""
    example = ok(response)["example_request"]
    assert set(example) == {"records"}, example  # the whole request, so sending its records sends it as is
    answer = ok(serving.score(people["she"].app, endpoint, example["records"]))
    assert len(answer["predictions"]) == len(example["records"]) == 1


@then(
    parsers.re(
        rf"{PERSON} gets (?:version (?P<number>\d) of the churn model's|(?P<unnamed>the model without named"
        r" input columns')) own predictions for those customers"
    )
)
def own_predictions(
    serving: Serving, response: httpx.Response, number: str | None, unnamed: str | None
) -> None:
    """The answer names the model and version that answered, with that model's own predictions for the
    customers sent."""
    answer, models = ok(response), serving.models
    name, version = (
        (models.unnamed, models.unnamed_version) if unnamed else (models.churn, serving.version(int(number)))
    )
    assert (answer["model_name"], answer["model_version"]) == (name, version), answer
    assert answer["predictions"] == models.predict(name, version, serving.sent)


@then(parsers.re(rf"{PERSON} gets a churn prediction for each of those customers, in order"))
def prediction_per_row(serving: Serving, response: httpx.Response) -> None:
    """One churn prediction (label 0/1, probability 0..1) per customer scored."""
    predictions = ok(response)["predictions"]
    assert len(predictions) == len(serving.sent) > 0, predictions
    for prediction in predictions:
        assert prediction["label"] in (0, 1) and 0.0 <= prediction["probability"] <= 1.0, prediction


HISTORY_SHOWS = (
    rf"with {POSSESSIVE} inputs, the predictions, version (?P<number>\d), its latency and status"
    r' "(?P<status>\w+)"'
    r"|with exactly those customers|as failed, with no predictions"
)


@then(
    parsers.re(rf"(?:{PERSON}'s|{POSSESSIVE}) inference history shows that call (?P<shows>{HISTORY_SHOWS})")
)
def history_shows_call(
    people: Cast, serving: Serving, response, who: str | None, shows: str, number, status
) -> None:
    """Her latest history entry is that call, with the customers sent: succeeded (its predictions, version,
    latency and status) or failed (the error code of the answer, no outputs)."""
    person = people.subject(who) if who else people["she"]
    items = ok(serving.history(person.app, limit=10))["items"]
    call = items[0]
    assert call["inputs"] == serving.sent, call
    if shows.startswith("as failed"):
        assert len(items) == 1, items
        assert call["status"] == "error" and call["outputs"] is None, call
        assert call["error_code"] == error_of(response)["code"], (call, response.text)
        return
    answer = ok(response)
    assert call["id"] == answer["log_id"] and call["outputs"] == answer["predictions"], call
    assert call["status"] == (status or "success") and call["record_count"] == len(serving.sent), call
    if number:
        assert call["endpoint"] == answer["endpoint"] and call["served_entity"] == answer["served_entity"]
        assert call["model_version"] == serving.version(int(number))
        assert 0 < call["latency_ms"] < 60_000
        assert call["started_at"].endswith(("Z", "+00:00")) and call["started_at"] <= call["finished_at"]


@then(parsers.re(rf"{POSSESSIVE} inference history holds no call"))
def history_holds_no_call(people: Cast, serving: Serving) -> None:
    """Nothing was logged: the person's history (of this scenario's endpoint) is empty."""
    history = ok(serving.history(people["she"].app))
    assert history["total"] == 0 and history["items"] == [], history


@then(
    parsers.re(
        rf"{PERSON} sees (?:only )?{POSSESSIVE} (?P<count>\d+) calls(?: of {ENDPOINT})?, newest"
        rf" first(?:, and none of {OTHER}'s)?"
    )
)
def sees_own_calls(
    people: Cast, serving: Serving, who: str, count: str, endpoint: str | None, other: str | None
) -> None:
    """The history pages read hold just the person's own calls (to that endpoint), newest first, none twice,
    none of the other person's."""
    person = people.subject(who)
    items = [item for page in serving.pages for item in page["items"]]
    assert serving.pages[0]["total"] == int(count) == len(items), serving.pages[0]
    ids = [item["id"] for item in items]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    assert {item["endpoint"] for item in items} == {serving.name(endpoint or "churn")}
    mine = [json.dumps(item["inputs"]) for item in items]
    assert mine == [json.dumps(personal_records(person.name, i)) for i in reversed(range(int(count)))]
    if other:
        theirs = {json.dumps(personal_records(people[other].name, i)) for i in range(10)}
        assert not theirs & set(mine), f"{other}'s calls appear in the history"


@then(
    parsers.re(
        r'the refusal names (?:"(?P<missing>[^"]+)" as missing and )?"(?P<extra>[^"]+)" as unexpected'
        r"(?P<only> and no column as missing)?"
    )
)
def refusal_names_columns(
    response: httpx.Response, missing: str | None, extra: str, only: str | None
) -> None:
    """The refusal lists the columns missing and unexpected, and its message names them; 'no column as
    missing': the unexpected one is the only detail, and the message says nothing is missing."""
    error = error_of(response)
    assert {"field": extra, "issue": "unexpected column"} in error["details"] and extra in error["message"], (
        error
    )
    if missing:
        assert {"field": missing, "issue": "missing column"} in error["details"] and missing in error[
            "message"
        ], error
    if only:
        assert error["details"] == [{"field": extra, "issue": "unexpected column"}], error
        assert "missing" not in error["message"], error


@then(
    parsers.re(
        rf"(?:{PERSON} gets one prediction per customer, in order, equal to|the other customers get) "
        r"version (?P<number>\d)'s own predictions"
    )
)
def batch_predictions(serving: Serving, response: httpx.Response, who: str | None, number: str) -> None:
    """One prediction per customer, in order, each that version's own, and no chunk failed; or, beside a
    failed chunk, every other customer gets that version's own prediction."""
    answer = ok(response)
    expected = serving.models.predict(serving.models.churn, serving.version(int(number)), serving.sent)
    if who:
        assert answer["record_count"] == len(serving.sent) == len(answer["predictions"])
        assert answer["predictions"] == expected and answer["failed_chunks"] == 0
        return
    kept = [(p, e) for p, e in zip(answer["predictions"], expected, strict=True) if p is not None]
    assert len(kept) == answer["succeeded_records"] and all(p == e for p, e in kept)


@then(
    parsers.re(
        r"(?:the batch was sent in (?P<chunks>\d+) chunks, all logged"
        r"|(?P<failed>\d+) chunk of (?P<size>\d+) customers is reported as failed and its predictions"
        r" are empty)"
    )
)
def batch_chunks(
    serving: Serving, people: Cast, response, chunks: str | None, failed: str | None, size
) -> None:
    """The batch went in that many chunks, all in her history, together holding every customer; or that many
    chunks failed, the failed one of that size with an error and empty predictions."""
    if failed:
        chunk_failed(response, failed, size)
        return
    answer = ok(response)
    assert len(answer["chunks"]) == int(chunks)
    history = ok(serving.history(people["she"].app.quiet(), limit=100))
    logged = [item for item in history["items"] if item["batch_id"] == answer["batch_id"]]
    assert sorted(item["chunk_index"] for item in logged) == list(range(int(chunks)))
    assert sum(item["record_count"] for item in logged) == answer["record_count"]


def chunk_failed(response: httpx.Response, failed: str, size: str) -> None:
    """Checks that many chunks failed; the failed chunk of that size has an error and empty predictions."""
    answer = ok(response)
    bad = [c for c in answer["chunks"] if c["status"] == "error"]
    assert len(bad) == answer["failed_chunks"] == int(failed)
    chunk = bad[0]
    assert chunk["record_count"] == int(size) and chunk["error_code"], chunk
    first = chunk["first_record"]
    assert answer["predictions"][first : first + chunk["record_count"]] == [None] * chunk["record_count"]
    assert answer["succeeded_records"] == answer["record_count"] - int(size)


@then(
    parsers.re(r"version (?P<number>\d) answers (?P<share>\d+)% of the calls, within 3 standard deviations")
)
def share_within_tolerance(serving: Serving, answers: list[dict], number: str, share: str) -> None:
    """Checks that version answered its share of the calls, within 3 standard deviations of the split."""
    n, p = len(answers), int(share) / 100
    observed = sum(a["model_version"] == serving.version(int(number)) for a in answers)
    tolerance = 3 * math.sqrt(n * p * (1 - p))  # binomial: a correct split lands here 99.7% of the time
    attach("share", {"calls": n, "expected": n * p, "observed": observed, "tolerance": tolerance})
    assert abs(observed - n * p) <= tolerance, (
        f"{observed} of {n} calls, expected {n * p:.0f} ± {tolerance:.1f}"
    )


@then("each answer is the own prediction of the version it names, and the history names the same versions")
def answers_match_versions(people: Cast, serving: Serving, answers: list[dict]) -> None:
    """Checks each answer is the own prediction of the version it names, and the history logs that version."""
    expected = {
        serving.version(n): serving.models.predict(serving.models.churn, serving.version(n), serving.sent)
        for n in (1, 2)
    }
    assert expected[serving.version(1)] != expected[serving.version(2)], (
        "the versions must answer differently"
    )
    short = serving.models.churn.rsplit(".", 1)[-1]
    for answer in answers:
        assert answer["predictions"] == expected[answer["model_version"]]
        assert answer["served_entity"] == f"{short}-{answer['model_version']}"
    history = ok(serving.history(people["she"].app.quiet(), limit=1000))
    logged = {item["id"]: item["model_version"] for item in history["items"]}
    assert {a["log_id"]: a["model_version"] for a in answers} == {
        a["log_id"]: logged[a["log_id"]] for a in answers
    }


@then("every call succeeds with the model's own predictions and is in its caller's history")
def concurrent_all_good(serving: Serving, concurrent: list[tuple]) -> None:
    """Checks every call got the model's own predictions and is in its caller's history with its inputs."""
    version = serving.version(1)
    histories: dict[str, dict] = {}
    for person, records, response in concurrent:
        answer = ok(response)
        assert answer["predictions"] == serving.models.predict(serving.models.churn, version, records)
        if person.user_name not in histories:
            page = ok(serving.history(person.app.quiet(), limit=1000))
            histories[person.user_name] = {item["id"]: item for item in page["items"]}
        logged = histories[person.user_name].get(answer["log_id"])
        assert logged is not None, f"call {answer['log_id']} missing from {person.name}'s history"
        assert logged["inputs"] == records and logged["outputs"] == answer["predictions"]
    total = sum(len(h) for h in histories.values())
    assert total == len(concurrent), f"{total} calls logged for {len(concurrent)} made"


@then(
    "every page of her history, for every limit and offset, is the matching slice of the whole, newest first"
)
def history_slices(serving: Serving, people: Cast, made_calls: list[int]) -> None:
    """Checks each page of her history, at many limits and offsets, is the right slice; no gap, no repeat."""
    client = people["she"].app.quiet()
    whole = ok(serving.history(client, limit=1000))
    ids = [item["id"] for item in whole["items"]]
    assert whole["total"] == len(made_calls) == len(ids)
    assert ids == sorted(made_calls, reverse=True)
    n = len(ids)
    limits = [1, 2, 7, 50, 99, 100, n - 1, n, 1000]
    offsets = [0, 1, 2, 49, 50, 51, 250, n - 2, n - 1, n, n + 1, 2 * n]
    for limit in limits:
        for offset in offsets:
            page = ok(serving.history(client, limit=limit, offset=offset))
            assert [item["id"] for item in page["items"]] == ids[offset : offset + limit], (limit, offset)
            assert page["total"] == n and page["limit"] == limit and page["offset"] == offset
    for limit in (7, 64):  # walking every page: no duplicates, no gaps
        walked = []
        for offset in range(0, n, limit):
            walked += [
                item["id"] for item in ok(serving.history(client, limit=limit, offset=offset))["items"]
            ]
        assert walked == ids
    attach("pages checked", {"limit x offset combinations": len(limits) * len(offsets), "records": n})


@then(parsers.re(r"the deployment serves version (?P<number>\d) of the churn model"))
def deployment_serves(serving: Serving, deployment, number: str) -> None:
    """Checks the deployment serves that version of the churn model and the endpoint is ready."""
    assert deployment.version == serving.version(int(number))
    assert deployment.ready == "READY"


@then(
    parsers.re(
        rf"{PERSON}'s predictions from {ENDPOINT} come from version (?P<number>\d), in the answer and"
        r" in the history"
    )
)
def predictions_from_version(people: Cast, serving: Serving, who: str, endpoint: str, number: str) -> None:
    """Checks a new call by the person gets that version's own predictions, and its history entry names it."""
    person = people[who]
    records = sample_records(4, seed=8)
    version = serving.version(int(number))
    answer = ok(serving.score(person.app, endpoint, records))
    assert answer["model_version"] == version
    assert answer["predictions"] == serving.models.predict(serving.models.churn, version, records)
    [logged] = ok(serving.history(person.app, limit=1))["items"]
    assert logged["id"] == answer["log_id"] and logged["model_version"] == version


@then(parsers.re(rf"the answer names no entry of {POSSESSIVE} inference history"))
def answer_not_logged(response: httpx.Response) -> None:
    """The prediction came back, but no inference-log row was written for it."""
    answer = ok(response)
    assert answer["log_id"] is None, answer
