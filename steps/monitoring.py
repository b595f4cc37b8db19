"""Monitoring (US9): the app's own Prometheus metrics, per-endpoint metrics, drift, synthetic traffic."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pytest_bdd import parsers, then, when

from fixtures.pytest_plugin import Cast


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
    return people[who].app.get("/metrics")


@then(parsers.re(r"they count (?P<count>\d+) answered requests? for (?P<whose>her|his|their) profile"))
def metrics_count_profile(people: Cast, response: httpx.Response, count: str, whose: str) -> None:
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
    calls = {
        (labels["service"], labels["api"]): value
        for name, labels, value in prometheus_samples(response)
        if name == "app_upstream_calls_total"
    }
    assert any(service == "workspace" and value > 0 for (service, _), value in calls.items()), calls
