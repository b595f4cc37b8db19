"""Monitoring (US9): the app's own Prometheus metrics, per-endpoint metrics, drift, synthetic traffic."""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
import uuid
from dataclasses import dataclass, field

import allure
import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pytest_bdd import given, parsers, then, when

from fixtures.data import traffic
from fixtures.drivers.clients import FakeControl
from fixtures.reporting.attachments import attach_table
from fixtures.stack.mock import Stack
from fixtures.stack.plugin import Cast


def prometheus_samples(response: httpx.Response) -> list[tuple[str, dict[str, str], float]]:
    assert response.status_code == 200, f"metrics: {response.status_code} {response.text[:500]}"
    assert response.headers["content-type"].startswith("text/plain"), response.headers
    return [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]


@when(parsers.re(r"(?P<who>[A-Z]\w+) reads the app's operational metrics"), target_fixture="response")
def reads_app_metrics(people: Cast, who: str) -> httpx.Response:
    """Reads the app's Prometheus metrics (signed in, like any route but health)."""
    return people[who].app.get("/metrics")


@then(parsers.re(r"they count (?P<count>\d+) answered requests? for (?:her|his|their) profile"))
def metrics_count_profile(people: Cast, response: httpx.Response, count: str) -> None:
    """The metrics count at least N answered profile requests and their latencies."""
    samples = prometheus_samples(response)
    answered = sum(
        value
        for name, labels, value in samples
        if name == "app_http_requests_total"
        and labels["route"] == "/api/user/me"
        and labels["status"] == "200"
    )
    # Other scenarios of this worker may have opened profiles too: at least the ones of this scenario.
    assert answered >= int(count), answered
    latencies = [
        value
        for name, labels, value in samples
        if name == "app_http_request_duration_seconds_count" and labels["route"] == "/api/user/me"
    ]
    assert latencies and latencies[0] >= int(count), latencies


@then("they count the app's calls to the workspace")
def metrics_count_upstream(response: httpx.Response) -> None:
    """The metrics count calls from the app to the workspace."""
    calls = {
        (labels["service"], labels["api"]): value
        for name, labels, value in prometheus_samples(response)
        if name == "app_upstream_calls_total"
    }
    assert any(service == "workspace" and value > 0 for (service, _), value in calls.items()), calls


# Monitoring of a served reference model -------------------------------------------------------------------
WHO = r"(?P<who>[A-Z]\w+|she|he|they)"
ENDPOINT = r'the endpoint "(?P<endpoint>[^"]+)"'
FEATURE_LIST = r'(?P<features>"[^"]+"(?:(?:, | and )"[^"]+")*)'
CALL_SIZE = 50  # records per real-time call when sending traffic
_register_lock = threading.Lock()


def quoted(text: str) -> list[str]:
    return re.findall(r'"([^"]+)"', text)


@dataclass(frozen=True)
class MonitoredModel:
    name: str
    version: str


@pytest.fixture(scope="session")
def monitored_model(stack: Stack, makers_for_run) -> MonitoredModel:
    """The reference churn model (with its training profile) registered once per worker."""
    from fixtures.drivers import reference_model

    if stack.mlflow_store is not None:
        stack.mlflow_store.ensure_schema()  # type: ignore[attr-defined]
    with _register_lock:
        experiment = makers_for_run.experiment("monitoring").name
        name = makers_for_run.registered_model("churn_monitored").name
        _, version = reference_model.register_reference(stack, experiment, name)
    return MonitoredModel(name, version)


@dataclass
class Traffic:
    """What the scenario sent, per person: the records and the app's answers."""

    records: list[dict] = field(default_factory=list)
    answers: list[httpx.Response] = field(default_factory=list)


@pytest.fixture
def sent() -> Traffic:
    return Traffic()


@given(parsers.re(rf"{ENDPOINT} serves the reference churn model"))
def serves_reference(serving, monitored_model: MonitoredModel, endpoint: str) -> None:
    """Creates the endpoint serving the reference churn model, whose run carries a training profile."""
    serving.create(endpoint, monitored_model.name, [monitored_model.version])


def _send(
    people: Cast, serving, sent: Traffic, who: str, endpoint: str, records: list[dict], size: int
) -> None:
    client = people[who].app.quiet()
    path = f"/api/serving/endpoints/{serving.name(endpoint)}/invocations"
    statuses: dict[int, int] = {}
    for batch in traffic.batches(records, size):
        response = client.post(path, json={"records": batch})
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        sent.answers.append(response)
    sent.records += records
    allure.attach(
        f"{len(records)} customers in {sum(statuses.values())} calls; statuses {statuses}",
        name="traffic sent",
        attachment_type=allure.attachment_type.TEXT,
    )


def _drift_of(phrase: str | None) -> traffic.Drift:
    if not phrase:
        return traffic.NO_DRIFT
    shift = re.fullmatch(r'"(\w+)" shifted by (?P<sd>[-+]?[\d.]+) standard deviations?', phrase)
    if shift:
        return traffic.Drift(shift={shift[1]: float(shift["sd"])})
    stretch = re.fullmatch(r'"(\w+)" stretched by (?P<factor>[\d.]+)', phrase)
    if stretch:
        return traffic.Drift(scale={stretch[1]: float(stretch["factor"])})
    mix = re.fullmatch(r'"(\w+)" mostly "(\w+)"', phrase)
    if mix:
        others = [c for c in traffic.CATEGORIES[mix[1]] if c != mix[2]]
        return traffic.Drift(mix={mix[1]: {mix[2]: 0.85, **{c: 0.15 / len(others) for c in others}}})
    raise ValueError(
        f"unknown drift {phrase!r}: '\"f\" shifted by N standard deviations', "
        '\'"f" stretched by N\' or \'"f" mostly "category"\''
    )


@given(parsers.re(rf"{WHO} has tried to send (?P<count>\d+) customers? one at a time to {ENDPOINT}$"))
def has_tried(people: Cast, serving, sent: Traffic, who: str, count: str, endpoint: str) -> None:
    """Like sending, but the answers may be refusals (the Thens say what they must be)."""
    _send(people, serving, sent, who, endpoint, traffic.generate(int(count), seed=len(sent.records) + 1), 1)


@given(
    parsers.re(
        rf"{WHO} has sent (?P<count>\d+) customers? (?P<how>one at a time|in calls of \d+) to {ENDPOINT}"
        r"(?: with (?P<drift>.+))?$"
    )
)
def has_sent(
    people: Cast, serving, sent: Traffic, who: str, count: str, how: str, endpoint: str, drift: str | None
) -> None:
    """Sends seeded synthetic customers (optionally drifted) to the endpoint; every call must succeed."""
    size = 1 if how == "one at a time" else int(how.rsplit(" ", 1)[1])
    records = traffic.generate(int(count), seed=len(sent.records) + 1, drift=_drift_of(drift))
    _send(people, serving, sent, who, endpoint, records, size)
    assert all(a.status_code == 200 for a in sent.answers[-(int(count) // size or 1) :]), [
        a.text for a in sent.answers if a.status_code != 200
    ][:3]


@given(
    parsers.re(
        rf"{WHO} has sent (?P<count>\d+) requests? missing the column \"(?P<column>\w+)\" to {ENDPOINT}"
    )
)
def has_sent_invalid(
    people: Cast, serving, sent: Traffic, who: str, count: str, column: str, endpoint: str
) -> None:
    """Sends customers lacking a column: each call is refused (and logged) as invalid input."""
    records = [{k: v for k, v in r.items() if k != column} for r in traffic.generate(int(count), seed=99)]
    _send(people, serving, sent, who, endpoint, records, 1)
    refused = [a for a in sent.answers[-int(count) :] if a.status_code == 400]
    assert len(refused) == int(count), [a.text for a in sent.answers[-int(count) :]]


@given(parsers.re(rf"{ENDPOINT} answers its next (?P<count>\d+) calls (?P<ms>\d+) milliseconds late"))
def answers_late(serving, control: FakeControl, endpoint: str, count: str, ms: str) -> None:
    """The model answers its next N calls that many milliseconds late (injected latency)."""
    control.add_fault(
        f"/serving-endpoints/{serving.name(endpoint)}/invocations", delay_ms=int(ms), times=int(count)
    )


# Whens ----------------------------------------------------------------------------------------------------
@when(parsers.re(rf"{WHO} looks at the metrics of {ENDPOINT}"), target_fixture="response")
def looks_at_metrics(people: Cast, serving, who: str, endpoint: str) -> httpx.Response:
    """Reads the endpoint's metrics over the default window (last 24 h)."""
    return people[who].app.get(f"/api/monitoring/endpoints/{serving.name(endpoint)}/metrics")


@when(parsers.re(rf"{WHO} checks {ENDPOINT} for drift"), target_fixture="response")
def checks_drift(people: Cast, serving, who: str, endpoint: str) -> httpx.Response:
    """Reads the endpoint's drift report over the default window (last 24 h)."""
    return people[who].app.get(f"/api/monitoring/endpoints/{serving.name(endpoint)}/drift")


@when(
    parsers.re(rf'{WHO} looks at the metrics of an endpoint called "(?P<name>[^"]+)" that does not exist'),
    target_fixture="response",
)
def metrics_of_missing(people: Cast, who: str, name: str) -> httpx.Response:
    """Reads the metrics of an endpoint nobody created."""
    return people[who].app.get(f"/api/monitoring/endpoints/{name}-{uuid.uuid4().hex[:6]}/metrics")


@when(
    parsers.re(rf"{WHO} looks at the metrics of {ENDPOINT} over a window that ends before it starts"),
    target_fixture="response",
)
def metrics_bad_window(people: Cast, serving, who: str, endpoint: str) -> httpx.Response:
    """Reads metrics for a window whose end precedes its start."""
    now = dt.datetime.now(dt.UTC)
    params = {"start": now.isoformat(), "end": (now - dt.timedelta(hours=1)).isoformat()}
    return people[who].app.get(f"/api/monitoring/endpoints/{serving.name(endpoint)}/metrics", params=params)


# Thens ----------------------------------------------------------------------------------------------------
def _ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, f"expected 200, got {response.status_code}: {response.text}"
    return response.json()


@then(
    parsers.re(
        r"(?:she|he|they) sees (?P<requests>\d+) requests with (?P<errors>\d+) errors?, "
        r"an error rate of (?P<rate>[\d.]+)%"
    )
)
def sees_counts(response: httpx.Response, requests: str, errors: str, rate: str) -> None:
    """The endpoint's totals: requests, errors and error rate exactly."""
    total = _ok(response)["total"]
    attach_table(
        "metrics per version",
        {v.get("model_version") or "(refused before a model answered)": v for v in _ok(response)["versions"]},
    )
    assert total["requests"] == int(requests) and total["errors"] == int(errors), total
    assert abs(total["error_rate"] * 100 - float(rate)) < 0.01, total


@then(parsers.re(r"the reference model's version accounts for (?P<requests>\d+) requests? and no errors"))
def version_accounts(response: httpx.Response, monitored_model: MonitoredModel, requests: str) -> None:
    """The reference model's version line shows exactly N requests and no errors."""
    versions = {v["model_version"]: v for v in _ok(response)["versions"]}
    mine = versions.get(monitored_model.version)
    assert mine is not None, versions
    assert mine["model_name"] == monitored_model.name, mine
    assert mine["requests"] == int(requests) and mine["errors"] == 0 and mine["error_rate"] == 0, mine


@then(
    parsers.re(
        r"the latency percentiles are those of the calls in "
        r"(?P<who>[A-Z]\w+)'s inference history"
    )
)
def percentiles_match_history(serving, people: Cast, response: httpx.Response, who: str) -> None:
    """p50/p95 equal the continuous percentiles of the latencies in the person's history."""
    person = people[who]
    history = serving.history(person.app.quiet(), limit=500)
    latencies = [item["latency_ms"] for item in _ok(history)["items"]]
    total = _ok(response)["total"]
    assert len(latencies) == total["requests"], (len(latencies), total)
    # percentile_cont is linear interpolation between the closest ranks: numpy's default.
    p50, p95 = np.percentile(latencies, 50), np.percentile(latencies, 95)
    assert abs(total["latency_p50_ms"] - p50) < 0.01 and abs(total["latency_p95_ms"] - p95) < 0.01, (
        total,
        p50,
        p95,
    )
    assert 0 <= total["latency_p50_ms"] <= total["latency_p95_ms"] <= max(latencies), total


@then(parsers.re(r"the median latency is under (?P<ms>\d+) ms and the 95th percentile at least (?P=ms) ms"))
def latency_split(response: httpx.Response, ms: str) -> None:
    """The median stays under the threshold while the 95th percentile reaches it."""
    total = _ok(response)["total"]
    assert total["latency_p50_ms"] < int(ms) <= total["latency_p95_ms"], total


def _shares_png(feature: dict) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    labels = [b["label"] for b in feature["bins"]]
    x = np.arange(len(labels))
    figure = Figure(figsize=(7, 3.2), dpi=100)
    axes = figure.subplots()
    axes.bar(x - 0.2, [b["baseline_share"] for b in feature["bins"]], 0.4, label="training data")
    axes.bar(
        x + 0.2,
        [b["recent_share"] for b in feature["bins"]],
        0.4,
        label=f"recent (n={feature['recent_count']})",
    )
    axes.set_xticks(x, labels, rotation=30, ha="right", fontsize=7)
    axes.set_title(f"{feature['name']}: PSI {feature['psi']} ({feature['status']})", fontsize=10)
    axes.legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _version_drift(response: httpx.Response, monitored_model: MonitoredModel) -> dict:
    body = _ok(response)
    versions = [v for v in body["versions"] if v["model_version"] == monitored_model.version]
    assert len(versions) == 1, body["versions"]
    version = versions[0]
    assert version["baseline"] == "training_profile", version
    attach_table(
        "PSI per feature and prediction",
        [
            {
                "name": d["name"],
                "kind": d["kind"],
                "psi": d["psi"],
                "status": d["status"],
                "n": d["recent_count"],
            }
            for d in version["features"] + version["prediction"]
        ],
    )
    return version


@then(parsers.re(r"only " + FEATURE_LIST + r" (?:has|have) drifted"))
def only_drifted(response: httpx.Response, monitored_model: MonitoredModel, features: str) -> None:
    """Exactly the named features are flagged (PSI > 0.25); charts of their bins are attached."""
    version = _version_drift(response, monitored_model)
    expected = quoted(features)
    assert sorted(version["drifted_features"]) == sorted(expected), version["drifted_features"]
    for feature in version["features"]:
        if feature["name"] in expected:
            assert feature["psi"] > 0.25 and feature["status"] == "drifted", feature
            allure.attach(
                _shares_png(feature),
                name=f"{feature['name']}: training vs recent",
                attachment_type=allure.attachment_type.PNG,
            )


@then(parsers.re(FEATURE_LIST + r" (?:has|have) not drifted"))
def not_drifted(response: httpx.Response, monitored_model: MonitoredModel, features: str) -> None:
    """Each named feature has PSI under 0.1 and is not flagged."""
    version = _version_drift(response, monitored_model)
    by_name = {f["name"]: f for f in version["features"]}
    for name in quoted(features):
        assert name in by_name, f"no feature {name!r} in {sorted(by_name)}"
        feature = by_name[name]
        assert feature["psi"] is not None and feature["psi"] < 0.1 and not feature["drifted"], feature


@then(parsers.re(r"no feature has drifted"))
def no_drift(response: httpx.Response, monitored_model: MonitoredModel) -> None:
    """No feature and no prediction field is flagged; every PSI is under 0.1."""
    version = _version_drift(response, monitored_model)
    assert version["features"], version
    assert version["drifted_features"] == [] and not version["drifted"], version
    for feature in version["features"] + version["prediction"]:
        assert feature["psi"] is not None and feature["psi"] < 0.1, feature


@then(parsers.re(r"the predicted churn probability has (?P<negation>not )?drifted"))
def prediction_drift(response: httpx.Response, monitored_model: MonitoredModel, negation: str | None) -> None:
    """Whether the predicted probability is flagged as drifted (chart attached)."""
    version = _version_drift(response, monitored_model)
    probability = next(p for p in version["prediction"] if p["name"] == "probability")
    allure.attach(
        _shares_png(probability),
        name="predicted probability: training vs recent",
        attachment_type=allure.attachment_type.PNG,
    )
    assert probability["drifted"] is (negation is None), probability


# Synthetic traffic itself (9.3) ---------------------------------------------------------------------------
@when(
    parsers.re(
        r"synthetic traffic of (?P<count>\d+) customers is generated twice "
        r"with the seed (?P<seed>\d+) and (?P<drift>.+)"
    ),
    target_fixture="generated",
)
def generated_twice(count: str, seed: str, drift: str) -> dict:
    """Generates the same drifted traffic twice, and ordinary traffic with the same seed."""
    spec = _drift_of(drift)
    runs = [traffic.generate(int(count), int(seed), spec) for _ in range(2)]
    ordinary = traffic.generate(int(count), int(seed))
    attach_table("first customers generated", runs[0][:10])
    return {"runs": runs, "ordinary": ordinary}


@then("both runs hold the same customers")
def same_customers(generated: dict) -> None:
    """Both generations are identical, record for record."""
    first, second = generated["runs"]
    assert first == second and len(first) > 0


@then(parsers.re(r"compared with ordinary traffic of the same seed, only " + FEATURE_LIST + r" differs?"))
def only_differs(generated: dict, features: str) -> None:
    """Only the named features differ from ordinary traffic of the same seed."""
    drifted, ordinary = generated["runs"][0], generated["ordinary"]
    differing = sorted({k for a, b in zip(drifted, ordinary, strict=True) for k in a if a[k] != b[k]})
    assert differing == sorted(quoted(features)), differing
    assert all(set(r) == set(traffic.FEATURES) for r in drifted), drifted[0]


@when(
    parsers.re(
        rf"{WHO} feeds (?P<count>\d+) customers to {ENDPOINT} with the traffic tool in calls of (?P<size>\d+)"
    ),
    target_fixture="tool_report",
)
def feeds_with_tool(people: Cast, serving, who: str, count: str, endpoint: str, size: str, capsys) -> dict:
    """Runs the traffic CLI (python -m fixtures.data.traffic) against the app with the user's token."""
    import json

    person = people[who]
    argv = ["--app-url", person.app.base_url, "--endpoint", serving.name(endpoint), "--n", count,
            "--batch", size, "--seed", "3", "--token", person.token]  # fmt: skip
    capsys.readouterr()
    exit_code = traffic.main(argv)
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    allure.attach(json.dumps(report), name="traffic tool report", attachment_type=allure.attachment_type.JSON)
    return {"exit_code": exit_code, **report}


@then(parsers.re(r"the tool reports (?P<calls>\d+) calls, all answered"))
def tool_reports(tool_report: dict, calls: str) -> None:
    """The CLI reports N calls, all answered 200, and exits 0."""
    assert tool_report["exit_code"] == 0 and tool_report["requests"] == int(calls), tool_report
    assert tool_report["statuses"] == {"200": int(calls)}, tool_report


@then(parsers.re(rf"{WHO}'s inference history holds (?P<calls>\d+) calls with (?P<count>\d+) customers"))
def history_holds(serving, people: Cast, who: str, calls: str, count: str) -> None:
    """The person's history holds exactly N successful calls covering that many customers."""
    items = _ok(serving.history(people[who].app, limit=100))["items"]
    assert len(items) == int(calls), len(items)
    assert sum(i["record_count"] for i in items) == int(count) and all(
        i["status"] == "success" for i in items
    )


@then("drift cannot be judged yet: every feature has too little data and none is flagged")
def insufficient(response: httpx.Response, monitored_model: MonitoredModel) -> None:
    """Every feature reports insufficient_data (under 50 values), no PSI and no flag."""
    version = _version_drift(response, monitored_model)
    for feature in version["features"] + version["prediction"]:
        assert feature["status"] == "insufficient_data" and feature["psi"] is None, feature
        assert not feature["drifted"] and 0 < feature["recent_count"] < 50, feature
    assert not version["drifted"], version


@then("drift cannot be measured: the served model has no training profile")
def no_profile(response: httpx.Response) -> None:
    """The version's drift says its baseline is missing, with the reason, and flags nothing."""
    versions = _ok(response)["versions"]
    assert len(versions) == 1, versions
    version = versions[0]
    assert version["baseline"] == "missing" and "training profile" in version["message"], version
    assert version["features"] == [] and not version["drifted"], version


@when(
    parsers.re(rf"{WHO} looks at the metrics of {ENDPOINT} over a window of (?P<days>\d+) days"),
    target_fixture="response",
)
def metrics_long_window(people: Cast, serving, who: str, endpoint: str, days: str) -> httpx.Response:
    """Reads metrics for a window ending now and starting that many days earlier."""
    now = dt.datetime.now(dt.UTC)
    params = {"start": (now - dt.timedelta(days=int(days))).isoformat(), "end": now.isoformat()}
    return people[who].app.get(f"/api/monitoring/endpoints/{serving.name(endpoint)}/metrics", params=params)


@when(
    parsers.re(rf"{WHO} looks at the metrics of {ENDPOINT} over a window given without a time zone"),
    target_fixture="response",
)
def metrics_naive_window(people: Cast, serving, who: str, endpoint: str) -> httpx.Response:
    """Reads metrics for the last hour, its times written without a time zone (no Z, no offset)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    params = {"start": (now - dt.timedelta(hours=1)).isoformat(), "end": now.isoformat()}
    return people[who].app.get(f"/api/monitoring/endpoints/{serving.name(endpoint)}/metrics", params=params)
