"""Upstream faults (US5.2, 5.5): a workspace service misbehaves (fake's control API), the app copes.

Services by their business names map onto the REST path prefixes the fake workspace matches faults on.
"""

from __future__ import annotations

import re

import httpx
from pytest_bdd import given, parsers, then, when

from fixtures.drivers.app import prometheus_samples
from fixtures.drivers.control import UPSTREAM, FakeControl, api_label
from fixtures.stack.plugin import Cast
from steps.common import error_of

SERVICE = r"(?P<service>" + "|".join(re.escape(name) for name in UPSTREAM) + ")"
# The codes Databricks answers 429 and 503 with; Retry-After 0: the SDK honours it (plus up to 1 s of
# jitter), which keeps the scenarios fast.
BUSY = {429: "REQUEST_LIMIT_EXCEEDED", 503: "TEMPORARILY_UNAVAILABLE"}
# Tracebacks, library names, and SQL: the text of a statement, as a warehouse error may quote it.
INTERNALS = (
    "Traceback",
    'File "',
    "Exception",
    "requests.exceptions",
    "databricks.sdk",
    "SELECT ",
    "== SQL ==",
)


@given(parsers.re(SERVICE + r" refuses the next (?P<count>\d+) requests with status (?P<status>429|503)"))
def transient_refusals(control: FakeControl, service: str, count: str, status: str) -> None:
    """The service refuses the next N requests with 429/503 and Retry-After 0, then answers."""
    control.fault_service(
        service, status=int(status), error_code=BUSY[int(status)], retry_after=0, times=int(count)
    )


@given(
    parsers.re(SERVICE + r' refuses every request with status (?P<status>4\d\d|503) as "(?P<code>[A-Z_]+)"')
)
def permanent_refusal(control: FakeControl, service: str, status: str, code: str) -> None:
    """The service refuses every request with the given status and error code (the workspace's own) until
    the scenario ends; a 429 or 503 says to retry at once, so the app keeps retrying until it gives up."""
    retry = {"retry_after": 0} if int(status) in BUSY else {}
    control.fault_service(service, status=int(status), error_code=code, message=f"refused: {code}", **retry)


@given(parsers.re(SERVICE + r" fails with status (?P<status>5\d\d) on every request"))
def permanent_failure(control: FakeControl, service: str, status: str) -> None:
    """The service fails every request with the given 5xx status."""
    control.fault_service(service, status=int(status), error_code="INTERNAL_ERROR", message="boom")


@given(parsers.re(SERVICE + r" cannot be reached"))
def unreachable(control: FakeControl, service: str) -> None:
    """Requests to the service get no answer (the fake drops them)."""
    control.fault_service(service, connection_drop=True)


@when(parsers.re(SERVICE + r" recovers"))
def recovers(control: FakeControl, service: str) -> None:
    """Every injected fault is removed: the service answers normally again."""
    control.clear_faults()


@then(parsers.re(SERVICE + r" was asked again after each refusal"))
def asked_again(control: FakeControl, service: str) -> None:
    """Every injected refusal was used up: the app (its SDK) came back until the service answered."""
    left = control.service_faults(service)
    assert not left, f"refusals not consumed (the app did not retry): {left}"


@then(
    parsers.re(r"the app's own metrics count the refused (?P<answered>and the answered )?calls to " + SERVICE)
)
def metrics_count_retries(people: Cast, service: str, answered: str | None) -> None:
    """The app's Prometheus metrics (of the app the person uses) show refused (429/503) calls to the
    service, and answered (200) ones if said."""
    api = api_label(service)
    samples = prometheus_samples(people["she"].app.metrics())
    outcomes = {
        labels["outcome"]: value
        for name, labels, value in samples
        if name == "app_upstream_calls_total"
        and labels.get("service") == "workspace"
        and labels["api"] == api
    }
    refused = sum(v for o, v in outcomes.items() if o in ("429", "503"))
    assert refused >= 1, outcomes
    assert not answered or outcomes.get("200", 0) >= 1, outcomes


@then(
    parsers.re(
        r"the answer is a structured error with status (?P<statuses>[\d ]+(?:or [\d ]+)*), without internals"
    )
)
def structured_error(response: httpx.Response, statuses: str) -> None:
    """A JSON error envelope with an allowed status, a code and request id, no traceback or internals."""
    allowed = {int(s) for s in re.findall(r"\d{3}", statuses)}
    assert response.status_code in allowed, f"expected {allowed}, got {response.status_code}: {response.text}"
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    error = error_of(response)
    assert error["code"] not in ("INTERNAL_ERROR", "HTTP_ERROR"), error
    assert error["message"] and error["request_id"] == response.headers["X-Request-ID"], error
    leaked = [marker for marker in INTERNALS if marker in response.text]
    assert not leaked, f"the answer shows internals {leaked}: {response.text}"
    if response.status_code == 503:
        assert int(response.headers["Retry-After"]) > 0 and error["retry_after"] > 0, response.headers
