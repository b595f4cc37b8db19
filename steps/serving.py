"""Model Serving: endpoints arranged through the SDK, predictions asked of the app, checked against the model.

Givens create endpoints with ``databricks-sdk`` as a workspace admin (the same calls work on a real
workspace); Whens call the app as the user; Thens compare predictions with the model's own answer for the
same rows (the same registry version loaded in-process with ``mlflow.pyfunc``). Endpoint names get a
per-scenario suffix so scenarios never share an endpoint, in any order or worker.
"""

from __future__ import annotations

import contextlib
import json
import math
import uuid
import zlib
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import allure
import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from fixtures.drivers.clients import AppClient, FakeControl
from fixtures.drivers.serving_models import ServedModels, register_served_models, sample_records
from fixtures.stack.mock import Stack
from fixtures.stack.plugin import Cast

WHO = r"(?P<who>[A-Z]\w+|she|he|they)"
PRONOUN = r"(?:her|his|their)"
ENDPOINT = r'the endpoint "(?P<endpoint>[^"]+)"'


@pytest.fixture(scope="session")
def served_models(stack: Stack) -> ServedModels:
    return register_served_models(stack)


@pytest.fixture(scope="session")
def serving_admin(stack: Stack):  # -> WorkspaceClient of the person who manages endpoints
    return stack.admin_client()


@dataclass
class Serving:
    models: ServedModels
    admin: object
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    created: list[str] = field(default_factory=list)
    sent: list[dict] = field(default_factory=list)  # the records of the last scoring

    def history(self, client, **params) -> httpx.Response:
        """The caller's inference history, within this scenario's endpoint when it created exactly one: live
        accounts are shared by every scenario and worker, so their whole history holds other calls too."""
        if len(self.created) == 1:
            params.setdefault("endpoint", self.created[0])
        return client.get("/api/serving/history", params=params)

    def name(self, endpoint: str) -> str:
        return f"{endpoint}-{self.suffix}"

    def version(self, number: int) -> str:
        return self.models.churn_versions[number]

    def entities(self, model: str, *versions: str):
        from databricks.sdk.service.serving import ServedEntityInput

        return [
            ServedEntityInput(
                entity_name=model, entity_version=v, workload_size="Small", scale_to_zero_enabled=True
            )
            for v in versions
        ]

    def create(self, endpoint: str, model: str, versions: list[str], split: list[int] | None = None) -> None:
        from databricks.sdk.service.serving import EndpointCoreConfigInput, Route, TrafficConfig

        entities = self.entities(model, *versions)
        traffic = None
        if split:
            short = model.rsplit(".", 1)[-1]
            traffic = TrafficConfig(
                routes=[
                    Route(
                        served_model_name=f"{short}-{v}",
                        served_entity_name=f"{short}-{v}",
                        traffic_percentage=p,
                    )
                    for v, p in zip(versions, split, strict=True)
                ]
            )
        name = self.name(endpoint)
        self.admin.serving_endpoints.create_and_wait(
            name, config=EndpointCoreConfigInput(name=name, served_entities=entities, traffic_config=traffic)
        )
        self.created.append(name)


@pytest.fixture
def serving(served_models: ServedModels, serving_admin) -> Iterator[Serving]:
    # Imported here: the SDK takes 1 s to import, and collecting the steps (or cataloguing them) needs none.
    from databricks.sdk.errors import NotFound

    state = Serving(served_models, serving_admin)
    yield state
    for name in state.created:
        with contextlib.suppress(NotFound):  # already gone: nothing to clean
            serving_admin.serving_endpoints.delete(name)


def attach(name: str, value: object) -> None:
    allure.attach(json.dumps(value, indent=2, default=str)[:50_000], name, allure.attachment_type.JSON)


def personal_records(name: str, call: int) -> list[dict]:
    """The records someone sends on their n-th call: different for every person and call."""
    return sample_records(2, seed=zlib.crc32(name.encode()) % 10_000 + call)


def score(client: AppClient, serving: Serving, endpoint: str, records: list[dict]) -> httpx.Response:
    return client.post(
        f"/api/serving/endpoints/{serving.name(endpoint)}/invocations", json={"records": records}
    )


# Givens -----------------------------------------------------------------------------------------------------
@given(parsers.re(rf"{ENDPOINT} serves version (?P<number>\d) of the churn model$"))
def endpoint_serves(serving: Serving, endpoint: str, number: str) -> None:
    """Creates the endpoint serving that version of the churn model and waits until it is ready."""
    serving.create(endpoint, serving.models.churn, [serving.version(int(number))])


@given(parsers.re(rf"{ENDPOINT} serves a model without a signature"))
def endpoint_serves_unsigned(serving: Serving, endpoint: str) -> None:
    """Creates the endpoint serving a model registered without a signature, and waits until it is ready."""
    serving.create(endpoint, serving.models.unsigned, [serving.models.unsigned_version])


@given(
    parsers.re(
        rf"{ENDPOINT} sends (?P<first>\d+)% of its traffic to version (?P<a>\d) and (?P<second>\d+)% to "
        r"version (?P<b>\d) of the churn model"
    )
)
def endpoint_splits(serving: Serving, endpoint: str, first: str, a: str, second: str, b: str) -> None:
    """Creates the endpoint serving both versions of the churn model, traffic split between them as given."""
    versions = [serving.version(int(a)), serving.version(int(b))]
    serving.create(endpoint, serving.models.churn, versions, [int(first), int(second)])


@given(parsers.re(rf"{ENDPOINT} takes (?P<seconds>\d+) seconds to answer"))
def endpoint_slow(serving: Serving, control: FakeControl, endpoint: str, seconds: str) -> None:
    """Makes every call to the endpoint take that many seconds (the fake's control API: mock only)."""
    control.add_fault(
        f"/serving-endpoints/{serving.name(endpoint)}/invocations", delay_ms=int(seconds) * 1000
    )


@given(parsers.re(rf"{ENDPOINT} fails (?P<times>\d+) of its next calls?"))
def endpoint_fails(serving: Serving, control: FakeControl, endpoint: str, times: str) -> None:
    """Makes the endpoint's next calls fail, its model crashing (the fake's control API: mock only)."""
    control.add_fault(
        f"/serving-endpoints/{serving.name(endpoint)}/invocations",
        status=500,
        error_code="INTERNAL_ERROR",
        message="The model container crashed.",
        times=int(times),
    )


@given(parsers.re(rf"{WHO} has scored customers (?P<times>\d+) times with {ENDPOINT}"))
def has_scored(people: Cast, serving: Serving, who: str, times: str, endpoint: str) -> None:
    """The person has already scored customers that many times, 2 of their own each call, all succeeding."""
    person = people[who]
    for i in range(int(times)):
        response = score(person.app.quiet(), serving, endpoint, personal_records(person.name, i))
        assert response.status_code == 200, response.text


@given(
    parsers.re(rf"{WHO} has made (?P<count>\d+) inference calls with {ENDPOINT}"), target_fixture="made_calls"
)
def has_made_calls(people: Cast, serving: Serving, who: str, count: str, endpoint: str) -> list[int]:
    """The person has already made that many one-customer calls, 8 at a time, every call succeeding."""
    person = people[who]
    client = person.app.quiet()
    records = sample_records(int(count), seed=21)

    def one(record: dict) -> int:
        response = score(client, serving, endpoint, [record])
        assert response.status_code == 200, response.text
        return response.json()["log_id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(one, records))
    attach(f"{count} calls made", {"log ids": [min(ids), max(ids)], "distinct": len(set(ids))})
    return ids


# Whens ------------------------------------------------------------------------------------------------------
@when(parsers.re(rf"{WHO} lists the serving endpoints"), target_fixture="response")
def lists_endpoints(people: Cast, who: str) -> httpx.Response:
    """Lists the serving endpoints through the app, as the person."""
    return people[who].app.get("/api/serving/endpoints")


@when(parsers.re(rf"{WHO} opens {ENDPOINT}"), target_fixture="response")
def opens_endpoint(people: Cast, serving: Serving, who: str, endpoint: str) -> httpx.Response:
    """Opens one endpoint's details through the app, as the person."""
    return people[who].app.get(f"/api/serving/endpoints/{serving.name(endpoint)}")


@when(parsers.re(rf"{WHO} asks for the input schema of {ENDPOINT}"), target_fixture="response")
def asks_schema(people: Cast, serving: Serving, who: str, endpoint: str) -> httpx.Response:
    """Asks the app, as the person, which columns the endpoint's model expects, with an example request."""
    return people[who].app.get(f"/api/serving/endpoints/{serving.name(endpoint)}/schema")


@when(parsers.re(rf"{WHO} scores (?P<count>\d+) customers? with {ENDPOINT}$"), target_fixture="response")
def scores(people: Cast, serving: Serving, who: str, count: str, endpoint: str) -> httpx.Response:
    """Scores that many sample customers with the endpoint through the app, as the person."""
    serving.sent = sample_records(int(count), seed=int(count))
    client = people[who].app if int(count) <= 50 else people[who].app.quiet()
    return score(client, serving, endpoint, serving.sent)


@when(
    parsers.re(
        rf'{WHO} scores customers missing "(?P<missing>[^"]+)" and with an extra "(?P<extra>[^"]+)" '
        rf"with {ENDPOINT}"
    ),
    target_fixture="response",
)
def scores_wrong_columns(
    people: Cast, serving: Serving, who: str, missing: str, extra: str, endpoint: str
) -> httpx.Response:
    """Scores 3 customers lacking one column of the model's signature and carrying one it does not know."""
    records = [
        {**{k: v for k, v in r.items() if k != missing}, extra: "teal"} for r in sample_records(3, seed=9)
    ]
    serving.sent = records
    return score(people[who].app, serving, endpoint, records)


@when(
    parsers.re(rf"{WHO} scores (?P<count>\d+) customers in one batch with {ENDPOINT}"),
    target_fixture="response",
)
def scores_batch(people: Cast, serving: Serving, who: str, count: str, endpoint: str) -> httpx.Response:
    """Sends that many customers to the app as one batch, which scores them in chunks."""
    serving.sent = sample_records(int(count), seed=int(count))
    response = (
        people[who]
        .app.quiet()
        .post(f"/api/serving/endpoints/{serving.name(endpoint)}/batch", json={"records": serving.sent})
    )
    body = response.json()
    attach("batch answer (without predictions)", {k: v for k, v in body.items() if k != "predictions"})
    return response


@when(
    parsers.re(rf"{WHO} scores one customer (?P<times>\d+) times with {ENDPOINT}"), target_fixture="answers"
)
def scores_repeatedly(people: Cast, serving: Serving, who: str, times: str, endpoint: str) -> list[dict]:
    """Scores the same customer that many times, 8 calls at a time, every call succeeding."""
    serving.sent = sample_records(1, seed=77)
    client = people[who].app.quiet()

    def one(_: int) -> dict:
        response = score(client, serving, endpoint, serving.sent)
        assert response.status_code == 200, response.text
        return response.json()

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(one, range(int(times))))
    attach("versions that answered", Counter(a["model_version"] for a in answers))
    return answers


@when(
    parsers.re(
        r"(?P<count>\d+) inferences run at once for (?P<names>[A-Z]\w+(?:(?:, | and )[A-Z]\w+)*) on "
        + ENDPOINT
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
        return person, records, score(person.app.quiet(), serving, endpoint, records)

    with ThreadPoolExecutor(max_workers=int(count)) as pool:
        results = list(pool.map(one, jobs))
    attach(
        "concurrent calls",
        {"calls": len(results), "statuses": Counter(r[2].status_code for r in results)},
    )
    return results


@when(parsers.re(rf"{WHO} reads {PRONOUN} inference history (?P<size>\d+) at a time"), target_fixture="pages")
def reads_history_paged(serving: Serving, people: Cast, who: str, size: str) -> list[dict]:
    """Reads the person's whole inference history page by page, that many calls per page."""
    person, pages, offset = people[who], [], 0
    while True:
        response = serving.history(person.app, limit=size, offset=offset)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        offset += int(size)
        if offset >= page["total"]:
            return pages


@when(parsers.re(rf"{WHO} reads {PRONOUN} inference history$"), target_fixture="response")
def reads_history(serving: Serving, people: Cast, who: str) -> httpx.Response:
    """Reads the person's inference history through the app (the first page, newest calls first)."""
    return serving.history(people[who].app)


@when(
    parsers.re(r"the pipeline deploys the champion of the churn model to " + ENDPOINT),
    target_fixture="deployment",
)
def pipeline_deploys(stack: Stack, serving: Serving, endpoint: str):
    """The deployment pipeline serves the churn model's champion on the endpoint, creating it if need be."""
    from server.pipeline.deploy import deploy

    name = serving.name(endpoint)
    if name not in serving.created:
        serving.created.append(name)
    deployment = deploy(stack.pipeline_settings(), serving.admin, name, serving.models.churn)
    attach("deployment", deployment.__dict__)
    return deployment


@given(parsers.re(r"version (?P<number>\d) of the churn model is the champion"))
def champion_is(stack: Stack, serving: Serving, number: str) -> None:
    """Gives that version of the churn model the champion alias in the model registry."""
    from server.pipeline import tracking
    from server.pipeline.registry import CHAMPION

    client = tracking.client(stack.pipeline_settings())
    client.set_registered_model_alias(serving.models.churn, CHAMPION, serving.version(int(number)))


# Thens ------------------------------------------------------------------------------------------------------
def _ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, f"{response.status_code}: {response.text[:2000]}"
    return response.json()


@then(parsers.re(rf"{WHO} sees {ENDPOINT} ready, serving version (?P<number>\d) of the churn model"))
def sees_endpoint_listed(
    people: Cast, serving: Serving, response: httpx.Response, who: str, endpoint: str, number: str
) -> None:
    """Checks the list shows the endpoint, ready, serving exactly that version of the churn model."""
    people[who]
    listed = {e["name"]: e for e in _ok(response)["endpoints"]}
    item = listed.get(serving.name(endpoint))
    assert item is not None, f"{serving.name(endpoint)} not in {sorted(listed)}"
    assert item["ready"] == "READY", item
    assert [(e["model_name"], e["model_version"]) for e in item["served_entities"]] == [
        (serving.models.churn, serving.version(int(number)))
    ]


@then(
    parsers.re(
        r"(?:she|he|they) sees it is ready and sends all traffic to version (?P<number>\d) of the churn model"
    )
)
def sees_details(serving: Serving, response: httpx.Response, number: str) -> None:
    """Checks the endpoint is ready, not being updated, and sends all its traffic to that version."""
    details = _ok(response)
    assert details["ready"] == "READY" and details["config_update"] == "NOT_UPDATING", details
    [entity] = details["served_entities"]
    assert entity["model_name"] == serving.models.churn
    assert entity["model_version"] == serving.version(int(number))
    assert entity["traffic_percentage"] == 100
    assert entity["state"] == "DEPLOYMENT_READY"


@then(parsers.parse("the endpoint's traffic is split {first:d}/{second:d} between versions {a:d} and {b:d}"))
def traffic_split(
    serving: Serving, response: httpx.Response, first: int, second: int, a: int, b: int
) -> None:
    """Checks the endpoint gives each of the two versions of the churn model its share of the traffic."""
    entities = {e["model_version"]: e["traffic_percentage"] for e in _ok(response)["served_entities"]}
    assert entities == {serving.version(a): first, serving.version(b): second}


@then(parsers.re(r"(?:she|he|they) sees the columns (?P<columns>.+) as numbers"))
def sees_columns(response: httpx.Response, columns: str) -> None:
    """Checks the model expects a table of exactly those columns, in that order, each a required number."""
    schema = _ok(response)
    assert schema["type"] == "dataframe", schema
    names = [c.strip() for c in columns.replace(" and ", ", ").split(",")]
    assert [c["name"] for c in schema["columns"]] == names
    assert all(c["type"] == "number" and c["required"] for c in schema["columns"]), schema["columns"]


@then(parsers.re(rf"the example request is accepted by {ENDPOINT}"))
def example_accepted(people: Cast, serving: Serving, response: httpx.Response, endpoint: str) -> None:
    """Checks the schema's example request, sent to the endpoint as is, gets its one prediction back."""
    example = _ok(response)["example_request"]
    answer = _ok(
        people.last.app.post(f"/api/serving/endpoints/{serving.name(endpoint)}/invocations", json=example)
    )
    assert len(answer["predictions"]) == len(example["records"]) == 1


@then(parsers.parse('the schema type is "{kind}" with a message saying how to get one'))
def unknown_schema(response: httpx.Response, kind: str) -> None:
    """Checks the schema has that type, no columns and no example, and a message about adding a signature."""
    schema = _ok(response)
    assert schema["type"] == kind, schema
    assert schema["columns"] == [] and schema["example_request"] is None
    assert "signature" in schema["message"], schema


@then(
    parsers.re(
        r"(?:she|he|they) gets version (?P<number>\d) of the churn model's own predictions "
        r"for those customers"
    )
)
def own_predictions(serving: Serving, response: httpx.Response, number: str) -> None:
    """Checks the answer names the churn model and that version, with the model's own predictions."""
    answer = _ok(response)
    version = serving.version(int(number))
    assert answer["model_version"] == version and answer["model_name"] == serving.models.churn, answer
    assert answer["predictions"] == serving.models.predict(serving.models.churn, version, serving.sent)


@then(
    parsers.re(
        rf"{PRONOUN} inference history shows that call with {PRONOUN} inputs, the predictions, "
        r"version (?P<number>\d), "
        r'its latency and status "(?P<status>\w+)"'
    )
)
def history_shows_call(
    people: Cast, serving: Serving, response: httpx.Response, number: str, status: str
) -> None:
    """Checks her latest history entry is that call: its inputs, predictions, version, latency and status."""
    answer = _ok(response)
    history = _ok(serving.history(people.last.app, limit=1))
    [call] = history["items"]
    assert call["id"] == answer["log_id"]
    assert call["endpoint"] == answer["endpoint"]
    assert call["inputs"] == serving.sent
    assert call["outputs"] == answer["predictions"]
    assert call["model_version"] == serving.version(int(number))
    assert call["served_entity"] == answer["served_entity"]
    assert call["status"] == status
    assert 0 < call["latency_ms"] < 60_000
    assert call["started_at"].endswith(("Z", "+00:00")) and call["started_at"] <= call["finished_at"]


@then(
    parsers.re(
        rf"(?:she|he|they) sees {PRONOUN} (?P<count>\d+) calls, newest first, "
        r"and none of (?P<other>[A-Z]\w+)'s"
    )
)
def sees_own_calls(people: Cast, serving: Serving, pages: list[dict], count: str, other: str) -> None:
    """Checks the pages hold just the person's own calls, newest first, none twice and none of the other's."""
    items = [item for page in pages for item in page["items"]]
    assert pages[0]["total"] == int(count) == len(items)
    ids = [item["id"] for item in items]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
    assert all(item["endpoint"] == serving.name("churn") for item in items)
    mine = [json.dumps(item["inputs"]) for item in items]
    assert mine == [json.dumps(personal_records(people.last.name, i)) for i in reversed(range(int(count)))]
    theirs = {json.dumps(personal_records(people[other].name, i)) for i in range(10)}
    assert not theirs & set(mine), f"{other}'s calls appear in the history"


@then(parsers.re(r"(?:she|he|they) (?:is|are) told to retry after a few seconds"))
def told_to_retry(response: httpx.Response) -> None:
    """Checks the refusal says when to retry (1 to 60 seconds), in its Retry-After header and its body."""
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    assert response.json()["error"]["retry_after"] == retry_after


@then(parsers.parse('the refusal names "{missing}" as missing and "{extra}" as unexpected'))
def refusal_names(response: httpx.Response, missing: str, extra: str) -> None:
    """Checks the refusal lists one column as missing, the other as unexpected, and its message names both."""
    error = response.json()["error"]
    assert {"field": missing, "issue": "missing column"} in error["details"], error
    assert {"field": extra, "issue": "unexpected column"} in error["details"], error
    assert missing in error["message"] and extra in error["message"]


@then(
    parsers.re(
        r"(?:she|he|they) gets one prediction per customer, in order, "
        r"equal to version (?P<number>\d)'s own predictions"
    )
)
def batch_predictions(serving: Serving, response: httpx.Response, number: str) -> None:
    """Checks one prediction per customer, in order, each that version's own, and no chunk failed."""
    answer = _ok(response)
    assert answer["record_count"] == len(serving.sent) == len(answer["predictions"])
    expected = serving.models.predict(serving.models.churn, serving.version(int(number)), serving.sent)
    assert answer["predictions"] == expected
    assert answer["failed_chunks"] == 0


@then(parsers.re(r"the batch was sent in (?P<chunks>\d+) chunks, all logged"))
def batch_logged(serving: Serving, people: Cast, response: httpx.Response, chunks: str) -> None:
    """Checks the batch went in that many chunks, all in her history, together holding every customer."""
    answer = _ok(response)
    assert len(answer["chunks"]) == int(chunks)
    history = _ok(serving.history(people.last.app.quiet(), limit=100))
    logged = [item for item in history["items"] if item["batch_id"] == answer["batch_id"]]
    assert sorted(item["chunk_index"] for item in logged) == list(range(int(chunks)))
    assert sum(item["record_count"] for item in logged) == answer["record_count"]


@then(
    parsers.re(
        r"(?P<failed>\d+) chunk of (?P<size>\d+) customers is reported as failed "
        r"and its predictions are empty"
    )
)
def chunk_failed(response: httpx.Response, failed: str, size: str) -> None:
    """Checks that many chunks failed; the failed chunk of that size has an error and empty predictions."""
    answer = _ok(response)
    bad = [c for c in answer["chunks"] if c["status"] == "error"]
    assert len(bad) == answer["failed_chunks"] == int(failed)
    chunk = bad[0]
    assert chunk["record_count"] == int(size) and chunk["error_code"], chunk
    first = chunk["first_record"]
    assert answer["predictions"][first : first + chunk["record_count"]] == [None] * chunk["record_count"]
    assert answer["succeeded_records"] == answer["record_count"] - int(size)


@then(parsers.re(r"the other customers get version (?P<number>\d)'s own predictions"))
def others_predicted(serving: Serving, response: httpx.Response, number: str) -> None:
    """Checks every customer outside the failed chunk gets that version's own prediction."""
    answer = _ok(response)
    expected = serving.models.predict(serving.models.churn, serving.version(int(number)), serving.sent)
    kept = [(p, e) for p, e in zip(answer["predictions"], expected, strict=True) if p is not None]
    assert len(kept) == answer["succeeded_records"]
    assert all(p == e for p, e in kept)


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
    for answer in answers:
        assert answer["predictions"] == expected[answer["model_version"]]
        assert (
            answer["served_entity"] == f"{serving.models.churn.rsplit('.', 1)[-1]}-{answer['model_version']}"
        )
    history = _ok(serving.history(people.last.app.quiet(), limit=1000))
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
        answer = _ok(response)
        assert answer["predictions"] == serving.models.predict(serving.models.churn, version, records)
        if person.user_name not in histories:
            page = _ok(serving.history(person.app.quiet(), limit=1000))
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
    client = people.last.app.quiet()
    whole = _ok(serving.history(client, limit=1000))
    ids = [item["id"] for item in whole["items"]]
    assert whole["total"] == len(made_calls) == len(ids)
    assert ids == sorted(made_calls, reverse=True)
    n = len(ids)
    limits = [1, 2, 7, 50, 99, 100, n - 1, n, 1000]
    offsets = [0, 1, 2, 49, 50, 51, 250, n - 2, n - 1, n, n + 1, 2 * n]
    checked = 0
    for limit in limits:
        for offset in offsets:
            page = _ok(serving.history(client, limit=limit, offset=offset))
            assert [item["id"] for item in page["items"]] == ids[offset : offset + limit], (limit, offset)
            assert page["total"] == n and page["limit"] == limit and page["offset"] == offset
            checked += 1
    for limit in (7, 64):  # walking every page: no duplicates, no gaps
        walked = []
        for offset in range(0, n, limit):
            walked += [
                item["id"] for item in _ok(serving.history(client, limit=limit, offset=offset))["items"]
            ]
        assert walked == ids
    attach("pages checked", {"limit x offset combinations": checked, "records": n})


@then(parsers.re(r"the deployment serves version (?P<number>\d) of the churn model"))
def deployment_serves(serving: Serving, deployment, number: str) -> None:
    """Checks the deployment serves that version of the churn model and the endpoint is ready."""
    assert deployment.version == serving.version(int(number))
    assert deployment.ready == "READY"


@then(
    parsers.re(
        rf"{WHO}'s predictions from {ENDPOINT} come from version (?P<number>\d), "
        r"in the answer and in the history"
    )
)
def predictions_from_version(people: Cast, serving: Serving, who: str, endpoint: str, number: str) -> None:
    """Checks a new call by the person gets that version's own predictions, and its history entry names it."""
    person = people[who]
    records = sample_records(4, seed=8)
    version = serving.version(int(number))
    answer = _ok(score(person.app, serving, endpoint, records))
    assert answer["model_version"] == version
    assert answer["predictions"] == serving.models.predict(serving.models.churn, version, records)
    [logged] = _ok(serving.history(person.app, limit=1))["items"]
    assert logged["id"] == answer["log_id"] and logged["model_version"] == version


# Further phrases: input the model refuses, the history of one endpoint, calls made without Lakebase --------
@when(
    parsers.re(rf'{WHO} scores a customer whose "(?P<column>\w+)" is "(?P<value>[^"]+)" with {ENDPOINT}'),
    target_fixture="response",
)
def scores_wrong_type(
    people: Cast, serving: Serving, who: str, column: str, value: str, endpoint: str
) -> httpx.Response:
    """Scores one customer whose column holds text where the model's signature expects a number."""
    serving.sent = [{**sample_records(1, seed=5)[0], column: value}]
    return score(people[who].app, serving, endpoint, serving.sent)


@when(parsers.re(rf"{WHO} reads {PRONOUN} inference history of {ENDPOINT}"), target_fixture="response")
def reads_history_of_endpoint(people: Cast, serving: Serving, who: str, endpoint: str) -> httpx.Response:
    """Reads the person's inference history, only the calls to that endpoint."""
    return people[who].app.get("/api/serving/history", params={"endpoint": serving.name(endpoint)})


@then(parsers.re(r'the refusal names "(?P<column>[^"]+)"$'))
def refusal_names_column(response: httpx.Response, column: str) -> None:
    """The refusal's message names the offending column."""
    error = response.json()["error"]
    assert column in error["message"], error


@then(parsers.re(r"(?:she|he|they) gets the model without a signature's own predictions for those customers"))
def unsigned_predictions(serving: Serving, response: httpx.Response) -> None:
    """The answer is the unsigned model's own answer for the records sent, and names that model."""
    answer = _ok(response)
    models = serving.models
    assert answer["model_name"] == models.unsigned and answer["model_version"] == models.unsigned_version
    assert answer["predictions"] == models.predict(models.unsigned, models.unsigned_version, serving.sent)


@then(
    parsers.re(
        rf"(?:she|he|they) sees only {PRONOUN} (?P<count>\d+) calls of {ENDPOINT}, newest first",
    )
)
def sees_calls_of_endpoint(
    people: Cast, serving: Serving, response: httpx.Response, count: str, endpoint: str
) -> None:
    """The history holds exactly that many calls, all to that endpoint, in the order made, newest first."""
    history = _ok(response)
    items = history["items"]
    assert history["total"] == len(items) == int(count), history
    assert {item["endpoint"] for item in items} == {serving.name(endpoint)}
    ids = [item["id"] for item in items]
    assert ids == sorted(ids, reverse=True)
    sent = [personal_records(people.last.name, i) for i in reversed(range(int(count)))]
    assert [item["inputs"] for item in items] == sent


@then(parsers.re(rf"the answer names no entry of {PRONOUN} inference history"))
def answer_not_logged(response: httpx.Response) -> None:
    """The prediction came back, but no inference-log row was written for it."""
    answer = _ok(response)
    assert answer["log_id"] is None, answer


@given(parsers.re(rf"{ENDPOINT} is still being created"))
def endpoint_being_created(serving: Serving, control: FakeControl, endpoint: str) -> None:
    """Creates the endpoint (version 1 of the churn model) without waiting; its rollout stays in progress."""
    from databricks.sdk.service.serving import EndpointCoreConfigInput

    name = serving.name(endpoint)
    control.serving_update_polls(1000)
    try:
        serving.admin.serving_endpoints.create(
            name,
            config=EndpointCoreConfigInput(
                name=name, served_entities=serving.entities(serving.models.churn, serving.version(1))
            ),
        )
    finally:
        control.serving_update_polls(0)
    serving.created.append(name)


@then(parsers.re(r"(?:she|he|they) sees it is not ready yet, being updated, with no model served"))
def sees_not_ready(response: httpx.Response) -> None:
    """The endpoint is NOT_READY with its first config still rolling out, so no served entity is live."""
    details = _ok(response)
    assert details["ready"] == "NOT_READY" and details["config_update"] == "IN_PROGRESS", details
    assert details["served_entities"] == [] and details["config_version"] is None, details


@when(
    parsers.re(rf'{WHO} scores customers with an extra "(?P<extra>[^"]+)" with {ENDPOINT}'),
    target_fixture="response",
)
def scores_extra_column(
    people: Cast, serving: Serving, who: str, extra: str, endpoint: str
) -> httpx.Response:
    """Scores customers that have every column of the signature and one more."""
    serving.sent = [{**r, extra: "teal"} for r in sample_records(3, seed=9)]
    return score(people[who].app, serving, endpoint, serving.sent)


@then(parsers.parse('the refusal names "{extra}" as unexpected and no column as missing'))
def refusal_names_only_extra(response: httpx.Response, extra: str) -> None:
    """The refusal details hold exactly that unexpected column; the message names it and nothing missing."""
    error = response.json()["error"]
    assert error["details"] == [{"field": extra, "issue": "unexpected column"}], error
    assert extra in error["message"] and "missing" not in error["message"], error


@when(
    parsers.re(rf'{WHO} scores a customer whose "(?P<column>[^"]+)" holds a NUL character with {ENDPOINT}'),
    target_fixture="response",
)
def scores_nul_character(
    people: Cast, serving: Serving, who: str, column: str, endpoint: str
) -> httpx.Response:
    """Scores one customer whose column holds text with U+0000 (valid JSON that Postgres jsonb rejects)."""
    serving.sent = [{**sample_records(1, seed=5)[0], column: "two\x00years"}]
    return score(people[who].app, serving, endpoint, serving.sent)


@then(parsers.re(rf"{PRONOUN} inference history holds no call"))
def history_holds_no_call(people: Cast, serving: Serving) -> None:
    """Nothing was logged: the person's history (of this scenario's endpoint) is empty."""
    history = _ok(serving.history(people.last.app))
    assert history["total"] == 0 and history["items"] == [], history
