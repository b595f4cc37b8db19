"""Monitoring (US9): the app's own Prometheus metrics, per-endpoint metrics, drift, synthetic traffic."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import allure
import httpx
import numpy as np
from pytest_bdd import given, parsers, then, when

from fixtures.data import traffic
from fixtures.drivers.app import PROFILE_ROUTE, prometheus_samples
from fixtures.drivers.serving import CALLS_AT_A_TIME, MonitoredModel, Serving, Traffic
from fixtures.reporting.attachments import attach_table
from fixtures.reporting.drift_chart import shares_png
from fixtures.stack.plugin import Cast
from steps.common import ENDPOINT, OTHER, PERSON, POSSESSIVE, quoted

FEATURE_LIST = r'(?P<features>"[^"]+"(?:(?:, | and )"[^"]+")*)'
# Metrics windows the app must refuse, by the words features use: (start, end) relative to now.
WINDOWS = {
    "a window that ends before it starts": (dt.timedelta(0), -dt.timedelta(hours=1), True),
    "a window given without a time zone": (-dt.timedelta(hours=1), dt.timedelta(0), False),
}


def ok(response: httpx.Response) -> dict:
    assert response.status_code == 200, f"expected 200, got {response.status_code}: {response.text}"
    return response.json()


def drift_of(phrase: str | None) -> traffic.Drift:
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


# Windows with a bound outside the dates the app supports (server/validation.py): (start, end), as sent.
OUTSIDE_SUPPORTED_DATES = {
    "a window that ends on the first day of year 1": (None, "0001-01-01T00:00:00Z"),
    "a window that starts in the year 9999": ("9999-06-01T00:00:00Z", None),
}


def window(phrase: str) -> tuple[str | None, str | None]:
    """(start, end) of a metrics window in words: one of WINDOWS or OUTSIDE_SUPPORTED_DATES, or 'a window of
    N days' up to now."""
    if phrase in OUTSIDE_SUPPORTED_DATES:
        return OUTSIDE_SUPPORTED_DATES[phrase]
    if days := re.fullmatch(r"a window of (\d+) days", phrase):
        start, end, aware = -dt.timedelta(days=int(days[1])), dt.timedelta(0), True
    else:
        start, end, aware = WINDOWS[phrase]
    now = dt.datetime.now(dt.UTC)
    now = now if aware else now.replace(tzinfo=None)
    return (now + start).isoformat(), (now + end).isoformat()


# Givens ---------------------------------------------------------------------------------------------------
@given(
    parsers.re(
        rf"{PERSON} has (?P<verb>sent|tried to send) (?P<count>\d+) "
        r'(?:customers?|requests? missing the column "(?P<column>\w+)") '
        rf"(?P<how>one at a time|several at a time|at once|in calls of \d+) to {ENDPOINT}"
        r"(?: with (?P<drift>.+))?$"
    )
)
def has_sent(
    people: Cast, serving: Serving, sent: Traffic, who, verb, count, column, how, endpoint, drift
) -> None:
    """Sends seeded synthetic customers (optionally drifted) to the endpoint: every call must succeed; with a
    column missing, every call must be refused (and logged) as invalid input; 'tried to send': the answers
    may be refusals (the Thens say what they must be). 'several at a time' and 'at once': one customer per
    call, a few or all of them in flight together (latencies then wait on one another: say so only where
    that cannot change the outcome)."""
    size = int(how.rsplit(" ", 1)[1]) if how.startswith("in calls") else 1
    seed = 99 if column else len(sent.records) + 1
    records = traffic.generate(int(count), seed=seed, drift=drift_of(drift))
    records = [{k: v for k, v in r.items() if k != column} for r in records]
    in_flight = {"several at a time": CALLS_AT_A_TIME, "at once": None}.get(how, 1)
    sent.send(people.subject(who), serving, endpoint, records, size, in_flight)
    calls = -(-int(count) // size)  # the last calls, one per batch of records
    answers = sent.answers[-calls:]
    if verb == "sent":
        expected = 400 if column else 200
        assert all(a.status_code == expected for a in answers), [
            a.text for a in answers if a.status_code != expected
        ][:3]


# Whens ----------------------------------------------------------------------------------------------------
@when(
    parsers.re(
        rf'{PERSON} looks at the metrics of (?:{ENDPOINT}|an endpoint called "(?P<missing>[^"]+)" that'
        r" does not exist)"
        r"(?: over (?P<over>.+))?$"
    ),
    target_fixture="response",
)
def looks_at_metrics(people: Cast, serving: Serving, who, endpoint, missing, over) -> httpx.Response:
    """Reads an endpoint's metrics over the default window (the last 24 h) or over the window said; or the
    metrics of an endpoint nobody created."""
    name = serving.name(endpoint) if endpoint else f"{missing}-{uuid.uuid4().hex[:6]}"
    start, end = window(over) if over else (None, None)
    return people.subject(who).app.endpoint_metrics(name, start=start, end=end)


@when(parsers.re(rf"{PERSON} checks {ENDPOINT} for drift"), target_fixture="response")
def checks_drift(people: Cast, serving: Serving, who: str, endpoint: str) -> httpx.Response:
    """Reads the endpoint's drift report over the default window (last 24 h)."""
    return people.subject(who).app.endpoint_drift(serving.name(endpoint))


@when(
    parsers.re(
        r"synthetic traffic of (?P<count>\d+) customers is generated twice with the seed (?P<seed>\d+)"
        r" and (?P<drift>.+)"
    ),
    target_fixture="generated",
)
def generated_twice(count: str, seed: str, drift: str) -> dict:
    """Generates the same drifted traffic twice, and ordinary traffic with the same seed."""
    spec = drift_of(drift)
    runs = [traffic.generate(int(count), int(seed), spec) for _ in range(2)]
    attach_table("first customers generated", runs[0][:10])
    return {"runs": runs, "ordinary": traffic.generate(int(count), int(seed))}


@when(
    parsers.re(
        rf"{PERSON} feeds (?P<count>\d+) customers to {ENDPOINT} with the traffic tool in calls of"
        r" (?P<size>\d+)"
    ),
    target_fixture="tool_report",
)
def feeds_with_tool(
    people: Cast, serving: Serving, who: str, count: str, endpoint: str, size: str, capsys
) -> dict:
    """Runs the traffic CLI (python -m fixtures.data.traffic) against the app with the user's token."""
    person = people.subject(who)
    argv = ["--app-url", person.app.base_url, "--endpoint", serving.name(endpoint), "--n", count,
            "--batch", size, "--seed", "3", "--token", person.token]  # fmt: skip
    capsys.readouterr()
    exit_code = traffic.main(argv)
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    allure.attach(json.dumps(report), name="traffic tool report", attachment_type=allure.attachment_type.JSON)
    return {"exit_code": exit_code, **report}


# Thens ----------------------------------------------------------------------------------------------------
@then(
    parsers.re(
        rf"they count (?:(?P<count>\d+) answered requests? for {POSSESSIVE} profile|the app's calls to"
        r" the workspace)"
    )
)
def metrics_count(response: httpx.Response, count: str | None) -> None:
    """The app's own metrics count at least N answered profile requests and their latencies; or calls from
    the app to the workspace."""
    samples = prometheus_samples(response)
    if count is None:
        calls = {
            (tags["service"], tags["api"]): v
            for name, tags, v in samples
            if name == "app_upstream_calls_total"
        }
        assert any(service == "workspace" and value > 0 for (service, _), value in calls.items()), calls
        return
    answered = sum(
        value
        for name, labels, value in samples
        if name == "app_http_requests_total"
        and labels["route"] == PROFILE_ROUTE
        and labels["status"] == "200"
    )
    # Other scenarios of this worker may have opened profiles too: at least the ones of this scenario.
    assert answered >= int(count), answered
    latencies = [
        value
        for name, labels, value in samples
        if name == "app_http_request_duration_seconds_count" and labels["route"] == PROFILE_ROUTE
    ]
    assert latencies and latencies[0] >= int(count), latencies


@then(
    parsers.re(
        rf"{PERSON} sees (?P<requests>\d+) requests with (?P<errors>\d+) errors?, an error rate of"
        r" (?P<rate>[\d.]+)%"
    )
)
def sees_counts(
    people: Cast, response: httpx.Response, who: str, requests: str, errors: str, rate: str
) -> None:
    """The endpoint's totals: requests, errors and error rate exactly."""
    people.subject(who)
    answer = ok(response)
    attach_table(
        "metrics per version",
        {v.get("model_version") or "(refused before a model answered)": v for v in answer["versions"]},
    )
    total = answer["total"]
    assert total["requests"] == int(requests) and total["errors"] == int(errors), total
    assert abs(total["error_rate"] * 100 - float(rate)) < 0.01, total


@then(parsers.re(r"the reference model's version accounts for (?P<requests>\d+) requests? and no errors"))
def version_accounts(response: httpx.Response, monitored_model: MonitoredModel, requests: str) -> None:
    """The reference model's version line shows exactly N requests and no errors."""
    versions = {v["model_version"]: v for v in ok(response)["versions"]}
    mine = versions.get(monitored_model.version)
    assert mine is not None, versions
    assert mine["model_name"] == monitored_model.name, mine
    assert mine["requests"] == int(requests) and mine["errors"] == 0 and mine["error_rate"] == 0, mine


@then(
    parsers.re(
        rf"the latency percentiles are (?:those of the calls in {OTHER}'s inference history"
        r"|a median under (?P<ms>\d+) ms and a 95th percentile of at least (?P=ms) ms)"
    )
)
def latency_percentiles(
    serving: Serving, people: Cast, response: httpx.Response, other: str | None, ms
) -> None:
    """p50/p95 equal the continuous percentiles of the latencies in the person's history; or the median
    stays under the threshold while the 95th percentile reaches it."""
    total = ok(response)["total"]
    if other is None:
        assert total["latency_p50_ms"] < int(ms) <= total["latency_p95_ms"], total
        return
    latencies = [
        item["latency_ms"] for item in ok(serving.history(people[other].app.quiet(), limit=500))["items"]
    ]
    assert len(latencies) == total["requests"], (len(latencies), total)
    # percentile_cont is linear interpolation between the closest ranks: numpy's default.
    p50, p95 = np.percentile(latencies, 50), np.percentile(latencies, 95)
    assert abs(total["latency_p50_ms"] - p50) < 0.01 and abs(total["latency_p95_ms"] - p95) < 0.01, (
        total,
        p50,
        p95,
    )
    assert 0 <= total["latency_p50_ms"] <= total["latency_p95_ms"] <= max(latencies), total


def version_drift(response: httpx.Response, monitored_model: MonitoredModel) -> dict:
    """The reference model's version in a drift answer, measured against its training profile."""
    versions = [v for v in ok(response)["versions"] if v["model_version"] == monitored_model.version]
    assert len(versions) == 1, ok(response)["versions"]
    version = versions[0]
    assert version["baseline"] == "training_profile", version
    attach_table(
        "PSI per feature and prediction",
        [{"name": d["name"], "kind": d["kind"], "psi": d["psi"], "status": d["status"],
          "n": d["recent_count"]}
         for d in version["features"] + version["prediction"]],
    )  # fmt: skip
    return version


def attach_chart(feature: dict, title: str) -> None:
    allure.attach(shares_png(feature), name=title, attachment_type=allure.attachment_type.PNG)


@then(
    parsers.re(
        rf"(?:(?:only {FEATURE_LIST}|(?P<none>no feature)) (?:has|have) drifted"
        r'|(?P<unchanged>"[^"]+"(?:(?:, | and )"[^"]+")*|the predicted churn probability) (?:has|have)'
        r" (?P<negation>not )?drifted)"
    )
)
def drifted(response, monitored_model: MonitoredModel, features, none, unchanged, negation) -> None:
    """Exactly the named features are flagged (PSI > 0.25, charts attached); none is (every PSI under 0.1,
    predictions too); each named feature has PSI under 0.1 and is not flagged; or the predicted probability
    is flagged or not (chart attached)."""
    version = version_drift(response, monitored_model)
    if features:
        expected = quoted(features)
        assert sorted(version["drifted_features"]) == sorted(expected), version["drifted_features"]
        for feature in [f for f in version["features"] if f["name"] in expected]:
            assert feature["psi"] > 0.25 and feature["status"] == "drifted", feature
            attach_chart(feature, f"{feature['name']}: training vs recent")
    elif none:
        assert version["features"] and version["drifted_features"] == [] and not version["drifted"], version
        for feature in version["features"] + version["prediction"]:
            assert feature["psi"] is not None and feature["psi"] < 0.1, feature
    elif unchanged == "the predicted churn probability":
        probability = next(p for p in version["prediction"] if p["name"] == "probability")
        attach_chart(probability, "predicted probability: training vs recent")
        assert probability["drifted"] is (negation is None), probability
    else:
        assert negation, "say which features have drifted with 'only ... drifted'"
        by_name = {f["name"]: f for f in version["features"]}
        for name in quoted(unchanged):
            assert name in by_name, f"no feature {name!r} in {sorted(by_name)}"
            feature = by_name[name]
            assert feature["psi"] is not None and feature["psi"] < 0.1 and not feature["drifted"], feature


@then(
    parsers.re(
        r"drift cannot be (?:judged yet: every feature has too little data and none is flagged"
        r"|(?P<unmeasured>measured): the served model has no training profile)"
    )
)
def drift_not_judged(
    response: httpx.Response, monitored_model: MonitoredModel, unmeasured: str | None
) -> None:
    """Every feature reports insufficient_data (under 50 values), no PSI and no flag; or the served version
    has no baseline, says why, and flags nothing."""
    if unmeasured:
        versions = ok(response)["versions"]
        assert len(versions) == 1, versions
        version = versions[0]
        assert version["baseline"] == "missing" and "training profile" in version["message"], version
        assert version["features"] == [] and not version["drifted"], version
        return
    version = version_drift(response, monitored_model)
    for feature in version["features"] + version["prediction"]:
        assert feature["status"] == "insufficient_data" and feature["psi"] is None, feature
        assert not feature["drifted"] and 0 < feature["recent_count"] < 50, feature
    assert not version["drifted"], version


@then(parsers.re(r"compared with ordinary traffic of the same seed, only " + FEATURE_LIST + r" differs?"))
def only_differs(generated: dict, features: str) -> None:
    """Only the named features differ from ordinary traffic of the same seed."""
    drifted_, ordinary = generated["runs"][0], generated["ordinary"]
    differing = sorted({k for a, b in zip(drifted_, ordinary, strict=True) for k in a if a[k] != b[k]})
    assert differing == sorted(quoted(features)), differing
    assert all(set(r) == set(traffic.FEATURES) for r in drifted_), drifted_[0]


@then(parsers.re(r"the tool reports (?P<calls>\d+) calls, all answered"))
def tool_reports(tool_report: dict, calls: str) -> None:
    """The CLI reports N calls, all answered 200, and exits 0."""
    assert tool_report["exit_code"] == 0 and tool_report["requests"] == int(calls), tool_report
    assert tool_report["statuses"] == {"200": int(calls)}, tool_report
