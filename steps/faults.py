"""Upstream faults (US5.2, 5.5): a workspace service misbehaves (fake's control API), the app copes.

Services by their business names map onto the REST path prefixes the fake workspace matches faults on.
"""

from __future__ import annotations

import re

import httpx
from pytest_bdd import given, parsers, then, when

from fixtures.drivers.app import prometheus_samples
from fixtures.drivers.app_variants import AppVariants
from fixtures.drivers.control import UPSTREAM, FakeControl, api_label
from fixtures.stack.plugin import Cast
from steps.common import error_of

SERVICE = r"(?P<service>" + "|".join(re.escape(name) for name in UPSTREAM) + ")"
# The impatient app gives up after this long, on retries and on a model: what its scenarios wait for.
IMPATIENT_SECONDS = 1
INTERNALS = ("Traceback", 'File "', "Exception", "requests.exceptions", "databricks.sdk")


@given(parsers.re(r"(?P<who>[A-Z]\w+) uses an app that gives up on the workspace after one second"))
def uses_impatient_app(people: Cast, app_variants: AppVariants, who: str) -> None:
    """Switches the person to a second app that gives up after one second of retries or of waiting for a
    model."""
    person = people[who]
    changes = {
        "databricks_retry_timeout_seconds": IMPATIENT_SECONDS,
        "serving_timeout_seconds": IMPATIENT_SECONDS,
    }
    person.app = person.app.at(app_variants.url(**changes))


@given(parsers.re(SERVICE + r" refuses the next (?P<count>\d+) requests with status (?P<status>429|503)"))
def transient_refusals(control: FakeControl, service: str, count: str, status: str) -> None:
    """The service refuses the next N requests with 429/503 and Retry-After 0, then answers."""
    code = "REQUEST_LIMIT_EXCEEDED" if status == "429" else "TEMPORARILY_UNAVAILABLE"
    # Retry-After 0: the SDK honours it (plus up to 1 s of jitter), which keeps the scenario fast.
    control.fault_service(service, status=int(status), error_code=code, retry_after=0, times=int(count))


@given(parsers.re(SERVICE + r" keeps refusing every request with status (?P<status>429|503)"))
def keeps_refusing(control: FakeControl, service: str, status: str) -> None:
    """The service refuses every request with 429/503 until the scenario ends."""
    code = "REQUEST_LIMIT_EXCEEDED" if status == "429" else "TEMPORARILY_UNAVAILABLE"
    control.fault_service(service, status=int(status), error_code=code, retry_after=0)


@given(parsers.re(SERVICE + r' refuses every request with status (?P<status>4\d\d) as "(?P<code>[A-Z_]+)"'))
def permanent_refusal(control: FakeControl, service: str, status: str, code: str) -> None:
    """The service refuses every request with the given 4xx status and error code (the workspace's own)."""
    control.fault_service(service, status=int(status), error_code=code, message=f"refused: {code}")


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


@then(parsers.re(r"the app's own metrics count the refused and the answered calls to " + SERVICE))
def metrics_count_retries(people: Cast, service: str) -> None:
    """The app's Prometheus metrics show refused (429/503) and answered (200) calls to the service."""
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
    assert refused >= 1 and outcomes.get("200", 0) >= 1, outcomes


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
