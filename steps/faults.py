"""Upstream faults (US5.2, 5.5): a workspace service misbehaves (fake's control API), the app copes.

Services by their business names map onto the REST path prefixes the fake workspace matches faults on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from pytest_bdd import given, parsers, then, when

from fixtures.drivers.clients import AppClient, FakeControl
from fixtures.stack.mock import Stack
from fixtures.stack.plugin import Cast
from steps.common import error_of

UPSTREAM = {
    "Unity Catalog": "/api/2.1/unity-catalog",
    "the SQL warehouse": "/api/2.0/sql/statements",
    "Model Serving": "/serving-endpoints",
    "the workspace identity service": "/api/2.0/preview/scim/v2",
}
SERVICE = r"(?P<service>" + "|".join(re.escape(name) for name in UPSTREAM) + ")"
# The impatient app gives up after this long, on retries and on a model: what its scenarios wait for.
IMPATIENT_SECONDS = 1
INTERNALS = ("Traceback", 'File "', "Exception", "requests.exceptions", "databricks.sdk")


@pytest.fixture(scope="session")
def impatient_app(stack: Stack) -> Iterator[str]:
    """A second app instance that gives up on the workspace after one second, of retries or of waiting for a
    model (the main one is patient), for scenarios where a service keeps refusing or a model is slow."""
    from fixtures.workspace.server import BackgroundServer
    from server.app import create_app

    if stack.app_settings is None:
        pytest.fail("a second app instance can only be started in mock mode (tag @fault_injection)")
    settings = stack.app_settings.model_copy(  # type: ignore[attr-defined]
        update={
            "databricks_retry_timeout_seconds": IMPATIENT_SECONDS,
            "serving_timeout_seconds": IMPATIENT_SECONDS,
        }
    )
    server = BackgroundServer(create_app(settings), "app-impatient").start()
    yield server.url
    server.stop()


@given(parsers.re(r"(?P<who>[A-Z]\w+) uses an app that gives up on the workspace after one second"))
def uses_impatient_app(people: Cast, impatient_app: str, who: str) -> None:
    """Switches the person to a second app that gives up after one second of retries or of waiting for a
    model."""
    person = people[who]
    person.app = AppClient(impatient_app, person.token)


@given(parsers.re(SERVICE + r" refuses the next (?P<count>\d+) requests with status (?P<status>429|503)"))
def transient_refusals(control: FakeControl, service: str, count: str, status: str) -> None:
    """The service refuses the next N requests with 429/503 and Retry-After 0, then answers."""
    code = "REQUEST_LIMIT_EXCEEDED" if status == "429" else "TEMPORARILY_UNAVAILABLE"
    # Retry-After 0: the SDK honours it (plus up to 1 s of jitter), which keeps the scenario fast.
    control.add_fault(UPSTREAM[service], status=int(status), error_code=code, retry_after=0, times=int(count))


@given(parsers.re(SERVICE + r" keeps refusing every request with status (?P<status>429|503)"))
def keeps_refusing(control: FakeControl, service: str, status: str) -> None:
    """The service refuses every request with 429/503 until the scenario ends."""
    code = "REQUEST_LIMIT_EXCEEDED" if status == "429" else "TEMPORARILY_UNAVAILABLE"
    control.add_fault(UPSTREAM[service], status=int(status), error_code=code, retry_after=0)


@given(parsers.re(SERVICE + r' refuses every request with status (?P<status>4\d\d) as "(?P<code>[A-Z_]+)"'))
def permanent_refusal(control: FakeControl, service: str, status: str, code: str) -> None:
    """The service refuses every request with the given 4xx status and error code (the workspace's own)."""
    control.add_fault(UPSTREAM[service], status=int(status), error_code=code, message=f"refused: {code}")


@given(parsers.re(SERVICE + r" fails with status (?P<status>5\d\d) on every request"))
def permanent_failure(control: FakeControl, service: str, status: str) -> None:
    """The service fails every request with the given 5xx status."""
    control.add_fault(UPSTREAM[service], status=int(status), error_code="INTERNAL_ERROR", message="boom")


@given(parsers.re(SERVICE + r" cannot be reached"))
def unreachable(control: FakeControl, service: str) -> None:
    """Requests to the service get no answer (the fake drops them)."""
    control.add_fault(UPSTREAM[service], connection_drop=True)


@when(parsers.re(SERVICE + r" recovers"))
def recovers(control: FakeControl, service: str) -> None:
    """Every injected fault is removed: the service answers normally again."""
    control.clear_faults()


@then(parsers.re(SERVICE + r" was asked again after each refusal"))
def asked_again(control: FakeControl, service: str) -> None:
    """Every injected refusal was used up: the app (its SDK) came back until the service answered."""
    left = [f for f in control.faults() if f["path_prefix"] == UPSTREAM[service]]
    assert not left, f"refusals not consumed (the app did not retry): {left}"


@then(parsers.re(r"the app's own metrics count the refused and the answered calls to " + SERVICE))
def metrics_count_retries(people: Cast, service: str) -> None:
    """The app's Prometheus metrics show refused (429/503) and answered (200) calls to the service."""
    from steps.monitoring import prometheus_samples

    api = UPSTREAM[service].split("/")[3] if UPSTREAM[service].startswith("/api/") else "serving-endpoints"
    samples = prometheus_samples(people["she"].app.get("/metrics"))
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
