"""Monitoring of serving endpoints (US9): call metrics and drift over a time window of the inference log.

Access (9.4): a caller must be a member of the workspace group ``MONITORING_GROUP`` (Settings) *and* be able
to see the endpoint in the workspace (asked on their behalf, every time). Only then does the transaction
declare ``app.monitoring_endpoint``, which row-level security requires to read other users' calls of that
one endpoint (migration 0004).

Metrics are computed by PostgreSQL (``count``, ``FILTER``, ``percentile_cont``) over the window's rows,
using the ``(endpoint, started_at)`` index; nothing row-by-row travels to Python. Drift bins are counted by
PostgreSQL too (``width_bucket`` over the baseline's edges, ``GROUP BY`` category), and only the per-bin
counts reach :mod:`server.services.drift` for the PSI. The baseline is the training-data profile that the
served version's MLflow run recorded at training time (``monitoring/training_profile.json``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import posixpath
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import DatabricksError, NotFound

from server.config import Settings
from server.db import Database
from server.errors import AppError, from_workspace_error, lakebase_not_configured
from server.models.monitoring import (
    DEFAULT_WINDOW,
    MAX_WINDOW,
    CallMetrics,
    DriftResult,
    EndpointDrift,
    EndpointMetrics,
    VersionDrift,
    Window,
)
from server.services import drift
from server.services.identity import CurrentUser
from server.services.serving import endpoint_not_found

log = logging.getLogger(__name__)
PROFILE_PATH = "monitoring/training_profile.json"
MAX_VERSIONS = 10

_METRICS_SQL = """
SELECT served_entity, model_name, model_version,
       count(*) AS requests,
       coalesce(sum(record_count), 0) AS records,
       count(*) FILTER (WHERE status = 'error') AS errors,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95,
       GROUPING(served_entity, model_name, model_version) AS is_total
FROM inference_log
WHERE endpoint = %(endpoint)s AND started_at >= %(start)s AND started_at < %(end)s
GROUP BY GROUPING SETS ((), (served_entity, model_name, model_version))
"""

_VERSIONS_SQL = """
SELECT model_name, model_version, count(*) AS calls
FROM inference_log
WHERE endpoint = %(endpoint)s AND started_at >= %(start)s AND started_at < %(end)s
  AND status = 'success' AND model_name IS NOT NULL AND model_version IS NOT NULL
GROUP BY model_name, model_version
ORDER BY calls DESC, model_version
LIMIT %(limit)s
"""

# The window's successful calls of one version, one row per record (inputs) or prediction (outputs).
_RECORDS_CTE = """
WITH calls AS (
    SELECT inputs, outputs FROM inference_log
    WHERE endpoint = %(endpoint)s AND started_at >= %(start)s AND started_at < %(end)s
      AND status = 'success' AND model_name = %(model)s AND model_version = %(version)s
), records AS (
    SELECT value AS rec FROM calls, jsonb_array_elements(calls.{column})
    WHERE jsonb_typeof(calls.{column}) = 'array'
)
"""


def _numeric_branch(index: int) -> str:
    """Bin counts of one numeric field: ``width_bucket`` over the interior edges (open outer bins)."""
    value = f"(rec->>%(f{index})s)::float8"
    return (
        f"SELECT %(f{index})s AS feature, width_bucket({value}, %(e{index})s::float8[])::text AS bin, "
        f"count(*) AS n FROM records WHERE jsonb_typeof(rec->%(f{index})s) = 'number' GROUP BY 2"
    )


def _categorical_branch(index: int) -> str:
    return (
        f"SELECT %(f{index})s AS feature, rec->>%(f{index})s AS bin, count(*) AS n FROM records "
        f"WHERE rec ? %(f{index})s AND jsonb_typeof(rec->%(f{index})s) <> 'null' GROUP BY 2"
    )


def resolve_window(start: dt.datetime | None, end: dt.datetime | None) -> Window:
    now = dt.datetime.now(dt.UTC)
    end = _utc(end, "end") if end else now
    start = _utc(start, "start") if start else end - DEFAULT_WINDOW
    if start >= end:
        raise AppError(
            400, "INVALID_WINDOW", "The window must start before it ends.",
            details=[{"field": "start", "issue": "must be before end"}],
        )  # fmt: skip
    if end - start > MAX_WINDOW:
        raise AppError(
            400, "INVALID_WINDOW", f"The window may span at most {MAX_WINDOW.days} days.",
            details=[{"field": "start", "issue": f"at most {MAX_WINDOW.days} days before end"}],
        )  # fmt: skip
    return Window(start=start, end=end)


def _utc(value: dt.datetime, field: str) -> dt.datetime:
    if value.tzinfo is None:
        raise AppError(
            400, "INVALID_WINDOW", "Times must carry a time zone (UTC: a trailing Z).",
            details=[{"field": field, "issue": "no time zone"}],
        )  # fmt: skip
    return value.astimezone(dt.UTC)


def _metrics(row: tuple) -> CallMetrics:
    served_entity, model_name, model_version, requests, records, errors, p50, p95, _ = row
    return CallMetrics(
        served_entity=served_entity,
        model_name=model_name,
        model_version=model_version,
        requests=requests,
        records=int(records),
        errors=errors,
        error_rate=round(errors / requests, 6) if requests else 0.0,
        latency_p50_ms=None if p50 is None else round(float(p50), 3),
        latency_p95_ms=None if p95 is None else round(float(p95), 3),
    )


class Baselines:
    """Training profiles by registered model version, from the version's MLflow run (immutable: cached)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], dict[str, Any] | None] = {}

    def profile(self, model_name: str, version: str) -> dict[str, Any] | None:
        key = (model_name, version)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        found = self._load(model_name, version)
        with self._lock:
            self._cache[key] = found
        return found

    def _load(self, model_name: str, version: str) -> dict[str, Any] | None:
        import mlflow
        from mlflow.exceptions import MlflowException

        client = mlflow.MlflowClient(self._settings.mlflow_tracking_uri, self._settings.mlflow_registry_uri)
        try:
            run_id = client.get_model_version(model_name, version).run_id
            # Listed first: a model trained without a profile is an answer, not a failed download (which
            # MLflow would retry through its older artifact API before giving up).
            if not run_id or PROFILE_PATH not in {
                f.path for f in client.list_artifacts(run_id, posixpath.dirname(PROFILE_PATH))
            }:
                return None
            with tempfile.TemporaryDirectory() as directory:
                path = client.download_artifacts(run_id, PROFILE_PATH, directory)
                return json.loads(Path(path).read_text())
        except (MlflowException, OSError, ValueError) as error:
            log.info("no training profile for %s v%s: %s", model_name, version, error.__class__.__name__)
            return None


class MonitoringService:
    def __init__(self, settings: Settings, database: Database | None) -> None:
        self._settings = settings
        self._database = database
        self.baselines = Baselines(settings)

    # access ------------------------------------------------------------------------------------------------
    def authorize(self, w: WorkspaceClient, user: CurrentUser, endpoint: str) -> None:
        group = self._settings.monitoring_group
        if group not in user.groups:
            raise AppError(
                403,
                "MONITORING_NOT_ALLOWED",
                f"Monitoring data is shown to members of the workspace group '{group}' only.",
            )
        try:
            w.serving_endpoints.get(endpoint)
        except DatabricksError as error:
            refusal = from_workspace_error(error)
            # Missing and not visible are the same answer: the data follows the endpoint's permission.
            if isinstance(error, NotFound) or refusal.code == "PERMISSION_DENIED":
                raise endpoint_not_found(endpoint) from None
            raise refusal from error

    def _db(self) -> Database:
        if self._database is None:
            raise lakebase_not_configured()
        return self._database

    @contextmanager
    def _connection(self, endpoint: str) -> Iterator[psycopg.Connection]:
        """A read transaction scoped to one endpoint's calls of every user (see migration 0004)."""
        with self._db().connection() as conn:
            conn.execute("SELECT set_config('app.monitoring_endpoint', %s, true)", [endpoint])
            yield conn

    # metrics -----------------------------------------------------------------------------------------------
    def metrics(self, endpoint: str, window: Window) -> EndpointMetrics:
        params = {"endpoint": endpoint, "start": window.start, "end": window.end}
        with self._connection(endpoint) as conn:
            rows = conn.execute(_METRICS_SQL, params).fetchall()
        total = next((_metrics(r) for r in rows if r[-1] != 0), None)
        versions = sorted(
            (_metrics(r) for r in rows if r[-1] == 0), key=lambda m: (-m.requests, m.model_version or "")
        )
        empty = CallMetrics(requests=0, records=0, errors=0, error_rate=0.0)
        return EndpointMetrics(endpoint=endpoint, window=window, total=total or empty, versions=versions)

    # drift -------------------------------------------------------------------------------------------------
    def drift(self, endpoint: str, window: Window) -> EndpointDrift:
        params: dict[str, Any] = {"endpoint": endpoint, "start": window.start, "end": window.end}
        with self._connection(endpoint) as conn:
            served = conn.execute(_VERSIONS_SQL, {**params, "limit": MAX_VERSIONS}).fetchall()
        versions = []
        for model_name, version, calls in served:
            profile = self.baselines.profile(model_name, version)
            if profile is None:
                versions.append(
                    VersionDrift(
                        model_name=model_name,
                        model_version=version,
                        calls=calls,
                        baseline="missing",
                        message="The served version's MLflow run has no training profile "
                        f"({PROFILE_PATH}); retrain it with the pipeline to monitor drift.",
                    )
                )
                continue
            report = self.compare(endpoint, window, model_name, version, profile)
            versions.append(
                VersionDrift(
                    model_name=model_name,
                    model_version=version,
                    calls=calls,
                    baseline="training_profile",
                    drifted=report.drifted,
                    drifted_features=report.drifted_features,
                    features=[DriftResult.model_validate(d.as_dict()) for d in report.features],
                    prediction=[DriftResult.model_validate(d.as_dict()) for d in report.prediction],
                )
            )
        method = {
            "measure": "psi",
            "thresholds": {"moderate": drift.MODERATE_THRESHOLD, "drifted": drift.DRIFT_THRESHOLD},
            "epsilon": drift.EPSILON,
            "min_samples": drift.MIN_SAMPLES,
            "bins": "numeric: the training data's decile edges, outer bins open; categorical: training "
            "categories plus 'other'",
        }
        return EndpointDrift(endpoint=endpoint, window=window, method=method, versions=versions)

    def _counts(
        self, endpoint: str, params: dict[str, Any], column: str, specs: dict[str, dict[str, Any]]
    ) -> dict[str, dict[str, int]]:
        """Per field, per bin label (bucket index or category), the count, all from one SQL statement."""
        if not specs:
            return {}
        branches, query_params = [], dict(params)
        for i, (name, spec) in enumerate(specs.items()):
            query_params[f"f{i}"] = name
            if spec.get("type") == "categorical":
                branches.append(_categorical_branch(i))
            else:
                query_params[f"e{i}"] = drift.interior_edges(spec["bin_edges"])
                branches.append(_numeric_branch(i))
        sql = _RECORDS_CTE.format(column=column) + "\nUNION ALL\n".join(branches)
        counts: dict[str, dict[str, int]] = {name: {} for name in specs}
        with self._connection(endpoint) as conn:
            for feature, bin_label, n in conn.execute(sql, query_params).fetchall():
                counts[feature][str(bin_label)] = int(n)
        return counts

    def compare(
        self, endpoint: str, window: Window, model: str, version: str, profile: dict[str, Any]
    ) -> drift.DriftReport:
        """Drift of one served version's successful calls in the window against a training profile."""
        scoped = {
            "endpoint": endpoint,
            "start": window.start,
            "end": window.end,
            "model": model,
            "version": version,
        }
        features = profile.get("features", {})
        predictions = profile.get("prediction", {})
        inputs = self._counts(endpoint, scoped, "inputs", features)
        outputs = self._counts(endpoint, scoped, "outputs", predictions)

        def verdict(name: str, spec: dict[str, Any], counts: dict[str, int]) -> drift.Drift:
            if spec.get("type") == "categorical":
                return drift.categorical_drift(name, spec, counts)
            bins = len(spec["bin_edges"]) - 1
            return drift.numeric_drift(name, spec, [counts.get(str(i), 0) for i in range(bins)])

        return drift.DriftReport(
            features=[verdict(n, s, inputs[n]) for n, s in features.items()],
            prediction=[verdict(n, s, outputs[n]) for n, s in predictions.items()],
        )
