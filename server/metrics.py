"""Prometheus metrics of the app itself: requests, latency, upstream calls (workspace, database).

One registry per app instance (several apps may share a process, as in tests). Labels stay low-cardinality:
the route *template* (``/api/serving/endpoints/{name}``), never the raw path; upstream calls by service and
API family (``unity-catalog``, ``sql``, ``serving-endpoints``...), never by object name.

Served at ``GET /metrics`` (text exposition format) to signed-in callers only: the product's rule is that
nothing but health answers without identity. That costs a scraper nothing on Databricks Apps, where every
request crosses the Apps proxy and so carries an identity anyway: scrape with a service principal's OAuth
token, which the proxy forwards like a user's (``X-Forwarded-Access-Token``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class AppMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "app_http_requests",
            "HTTP requests answered by the app, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "app_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream = Counter(
            "app_upstream_calls",
            "Calls from the app to the services it depends on, by outcome (HTTP status or error).",
            ["service", "api", "outcome"],
            registry=self.registry,
        )
        self.upstream_latency = Histogram(
            "app_upstream_call_duration_seconds",
            "Duration of calls to the services the app depends on.",
            ["service", "api"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    def record_upstream(self, service: str, api: str, outcome: str, seconds: float) -> None:
        self.upstream.labels(service, api, outcome).inc()
        self.upstream_latency.labels(service, api).observe(seconds)


class MetricsMiddleware:
    """Pure ASGI: counts and times every HTTP request by its matched route template."""

    def __init__(self, app: ASGIApp, metrics: AppMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], route, str(status)).inc()
            self.metrics.latency.labels(scope["method"], route).observe(time.perf_counter() - started)


def api_family(path: str) -> str:
    """``/api/2.1/unity-catalog/tables/x`` -> ``unity-catalog``; ``/serving-endpoints/x/invocations`` ->
    ``serving-endpoints``; OIDC and other non-API paths -> their first segment."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        return parts[2]
    return parts[0] if parts else "root"


class InstrumentedAdapter(requests.adapters.HTTPAdapter):
    """A requests transport adapter that records every call (each retry too) as an upstream call."""

    def __init__(self, record: Callable[[str, str, float], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._record = record

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        started = time.perf_counter()
        api = api_family(requests.utils.urlparse(request.url or "").path)
        try:
            response = super().send(request, *args, **kwargs)
        except requests.RequestException as error:
            self._record(api, error.__class__.__name__, time.perf_counter() - started)
            raise
        self._record(api, str(response.status_code), time.perf_counter() - started)
        return response


def instrument_session(session: requests.Session, metrics: AppMetrics, service: str) -> None:
    """Route a session's http(s) calls through an :class:`InstrumentedAdapter` keeping its pool settings."""
    for prefix in ("https://", "http://"):
        current = session.get_adapter(prefix)
        pool = {
            "pool_connections": getattr(current, "_pool_connections", 20),
            "pool_maxsize": getattr(current, "_pool_maxsize", 20),
            "pool_block": getattr(current, "_pool_block", True),
        }

        def record(api: str, outcome: str, seconds: float) -> None:
            metrics.record_upstream(service, api, outcome, seconds)

        session.mount(prefix, InstrumentedAdapter(record, **pool))


def instrument_workspace_client(client: Any, metrics: AppMetrics) -> bool:
    """Count a WorkspaceClient's REST calls as upstream ``workspace`` calls.

    The SDK has no public hook for its transport, so this reaches its ``requests.Session`` (pinned SDK
    version, see pyproject). If a later SDK moves it, calls simply stop being counted (returns False);
    nothing else changes.
    """
    session = getattr(getattr(getattr(client, "api_client", None), "_api_client", None), "_session", None)
    if not isinstance(session, requests.Session):
        return False
    instrument_session(session, metrics, "workspace")
    return True


def instrument_database(database: Any, metrics: AppMetrics) -> None:
    """Count every ``database.connection()`` block as one upstream ``database`` call.

    Outcome: ``ok``; ``DATABASE_UNAVAILABLE`` (an outage); ``sql_error`` (the database refused a statement);
    ``aborted`` (the app's own code raised inside the transaction, e.g. a 404).
    """
    import psycopg

    connection = database.connection

    @contextmanager
    def timed_connection(*args: Any, **kwargs: Any) -> Iterator[Any]:
        started = time.perf_counter()
        outcome = "ok"
        try:
            with connection(*args, **kwargs) as conn:
                yield conn
        except psycopg.Error:
            outcome = "sql_error"
            raise
        except Exception as error:
            outcome = (
                "DATABASE_UNAVAILABLE" if getattr(error, "code", "") == "DATABASE_UNAVAILABLE" else "aborted"
            )
            raise
        finally:
            metrics.record_upstream("database", "lakebase", outcome, time.perf_counter() - started)

    database.connection = timed_connection
