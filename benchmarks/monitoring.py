"""``python -m benchmarks.monitoring``: monitoring queries over 100k logged inferences.

An embedded PostgreSQL with the app's schema (migrations at head) and ``--rows`` inference-log rows (default
100,000) spread over 24 h on one endpoint, two served versions, ~3% errors, one customer per call with the
reference model's features and its prediction, all as the app's own role (RLS on). Then, ``--repeats``
times each: the endpoint metrics (count, error rate, p50/p95 per version, one SQL statement) and the drift
of the busier version against a training profile (9 features + 2 prediction fields, bins counted in SQL).
Writes ``reports/benchmarks/monitoring.json`` with min/median/max seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

from benchmarks import spread
from fixtures.data import traffic
from fixtures.stack.mock import CACHE
from fixtures.stack.postgres import APP_ROLE, EmbeddedPostgres
from server.config import Settings
from server.db import Database
from server.models.monitoring import Window
from server.pipeline import profile
from server.services.monitoring import MonitoringService

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "reports" / "benchmarks" / "monitoring.json"
ENDPOINT = "churn-bench"
MODEL = "main.acceptance.churn"


def seed_rows(postgres: EmbeddedPostgres, rows: int, end: dt.datetime) -> float:
    started = time.perf_counter()
    records = traffic.generate(rows, seed=5)
    rng = np.random.default_rng(5)
    probability = rng.beta(2, 5, rows)
    errors = rng.random(rows) < 0.03
    versions = np.where(rng.random(rows) < 0.8, "1", "2")
    latency = rng.lognormal(3.0, 0.5, rows)
    offsets = np.sort(rng.uniform(0, 24 * 3600, rows))
    start = end - dt.timedelta(hours=24)
    with psycopg.connect(postgres.app_conninfo()) as conn, conn.cursor() as cursor:
        with cursor.copy(
            "COPY inference_log (user_name, endpoint, served_entity, model_name, model_version, record_count,"
            " inputs, outputs, status, error_code, latency_ms, started_at, finished_at) FROM STDIN"
        ) as copy:
            for i in range(rows):
                at = start + dt.timedelta(seconds=float(offsets[i]))
                failed = bool(errors[i])
                output = None if failed else Jsonb([
                    {"label": int(probability[i] >= 0.5), "probability": float(probability[i])}
                ])  # fmt: skip
                copy.write_row((
                    f"user{i % 50}@example.com", ENDPOINT, f"churn-{versions[i]}", MODEL, str(versions[i]), 1,
                    Jsonb([records[i]]), output, "error" if failed else "success",
                    "UPSTREAM_ERROR" if failed else None, float(latency[i]), at, at,
                ))  # fmt: skip
        conn.execute("ANALYZE inference_log")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    postgres = EmbeddedPostgres(CACHE / "postgres" / "bench", "bench_monitoring")
    postgres.create_fresh_database()
    settings = Settings(
        pghost=postgres.socket_dir, pgport=postgres.port, pgdatabase=postgres.database, pguser=APP_ROLE,
        pgsslmode="disable",
    )  # fmt: skip
    database = Database(settings, lambda: "")
    database.migrate()
    database.open()
    # The app's role may only insert rows of the user it is bound to: seed as the table owner would, in bulk.
    with psycopg.connect(postgres.admin_conninfo(postgres.database), autocommit=True) as admin:
        admin.execute("ALTER TABLE inference_log NO FORCE ROW LEVEL SECURITY")
    end = dt.datetime.now(dt.UTC)
    seeding = seed_rows(postgres, args.rows, end)
    with psycopg.connect(postgres.admin_conninfo(postgres.database), autocommit=True) as admin:
        admin.execute("ALTER TABLE inference_log FORCE ROW LEVEL SECURITY")
    service = MonitoringService(settings, database)
    window = Window(start=end - dt.timedelta(hours=24), end=end + dt.timedelta(seconds=1))
    baseline_frame = pd.DataFrame(traffic.generate(2000, seed=1))
    rng = np.random.default_rng(1)
    probability = rng.beta(2, 5, 2000)
    training = profile.build(
        baseline_frame, traffic.NUMERIC_FEATURES, traffic.CATEGORICAL_FEATURES, probability,
        (probability >= 0.5).astype(int),
    )  # fmt: skip
    metrics_s, drift_s = [], []
    for _ in range(args.repeats):
        started = time.perf_counter()
        metrics = service.metrics(ENDPOINT, window)
        metrics_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        report = service.compare(ENDPOINT, window, MODEL, "1", training)
        drift_s.append(time.perf_counter() - started)
    assert metrics.total.requests == args.rows, metrics.total
    database.close()
    result = {
        "rows": args.rows,
        "seeding_s": round(seeding, 2),
        "metrics_query_s": spread(metrics_s, digits=4),
        "drift_query_s": spread(drift_s, digits=4),
        "check": {
            "requests": metrics.total.requests,
            "error_rate": metrics.total.error_rate,
            "p50_ms": metrics.total.latency_p50_ms,
            "p95_ms": metrics.total.latency_p95_ms,
            "drifted_features": report.drifted_features,
            "records_compared": report.features[0].recent_count,
        },
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
