"""Serving overhead: the app end to end vs the same model version called in-process, in the same run.

``python -m benchmarks.serving [--calls 300] [--batch 10000] [--repeats 5]`` starts the mock stack (embedded
Postgres, fake workspace, the app), registers the serving fixture models, points an endpoint at version 1
and measures:
- real-time: one record per call through the app (HTTP -> app -> SDK -> serving -> model -> log in
  Lakebase), p50/p99, against ``pyfunc.predict`` on the same record in-process;
- batch: ``--batch`` records through the app's batch endpoint (chunked), median of ``--repeats``, against
  ``pyfunc.predict`` on the same records in-process.
Writes reports/benchmarks/serving.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "reports" / "benchmarks" / "serving.json"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    # Its own Postgres database and MLflow store, apart from any test session's.
    os.environ["PYTEST_XDIST_WORKER"] = "benchmark"
    import mlflow
    import pandas as pd
    from databricks.sdk.service.serving import EndpointCoreConfigInput, ServedEntityInput

    from fixtures.drivers.factories import Factory, Makers
    from fixtures.drivers.permissions import Permissions
    from fixtures.drivers.serving_models import register_served_models, sample_records
    from fixtures.stack.mock import start_mock_stack
    from fixtures.workspace import sql

    stack = start_mock_stack()
    try:
        models = register_served_models(stack, Makers(Factory("benchmark"), stack, sql=None))
        version = models.churn_versions[1]
        ws = stack.admin_client()  # serving a model needs EXECUTE on it: the admin who registered it has it
        endpoint = f"bench-{uuid.uuid4().hex[:6]}"
        ws.serving_endpoints.create_and_wait(
            endpoint,
            config=EndpointCoreConfigInput(
                name=endpoint,
                served_entities=[
                    ServedEntityInput(entity_name=models.churn, entity_version=version, workload_size="Small")
                ],
            ),
        )
        person = stack.create_person("Bench", [])
        # Querying an endpoint needs CAN_QUERY on it, granted as the Givens grant it (the permissions driver).
        grants = Factory("benchmark-grants")
        Permissions(ws, sql.WAREHOUSE_ID, grants).on_endpoint(
            endpoint, "CAN_QUERY", user_name=person.user_name
        )
        user = person.app.quiet()
        model = mlflow.pyfunc.load_model(f"models:/{models.churn}/{version}")
        one = sample_records(1, seed=1)
        many = sample_records(args.batch, seed=2)

        for _ in range(20):  # warm up: model load, caches, connections
            assert user.invoke(endpoint, one).status_code == 200
            model.predict(pd.DataFrame(one))
        app_calls = [timed(lambda: user.invoke(endpoint, one).raise_for_status()) for _ in range(args.calls)]
        local_calls = [timed(lambda: model.predict(pd.DataFrame(one))) for _ in range(args.calls)]

        app_batches, local_batches = [], []
        for _ in range(args.repeats):
            app_batches.append(timed(lambda: user.batch(endpoint, many).raise_for_status()))
            local_batches.append(timed(lambda: model.predict(pd.DataFrame(many))))

        def summary(values: list[float]) -> dict:
            return {
                "p50_ms": round(percentile(values, 50), 3),
                "p99_ms": round(percentile(values, 99), 3),
                "median_ms": round(statistics.median(values), 3),
                "n": len(values),
            }

        app_rt, local_rt = summary(app_calls), summary(local_calls)
        app_b, local_b = statistics.median(app_batches), statistics.median(local_batches)
        report = {
            "what": "serving overhead: the app end to end vs in-process pyfunc.predict, same version and run",
            "machine": {
                "python": platform.python_version(),
                "cpu": platform.processor() or platform.machine(),
            },
            "realtime_one_record": {
                "app": app_rt,
                "in_process": local_rt,
                "ratio_p50": round(app_rt["p50_ms"] / local_rt["p50_ms"], 2),
                "ratio_p99": round(app_rt["p99_ms"] / local_rt["p99_ms"], 2),
            },
            "batch": {
                "records": args.batch,
                "repeats": args.repeats,
                "app_median_ms": round(app_b, 3),
                "in_process_median_ms": round(local_b, 3),
                "ratio": round(app_b / local_b, 2),
                "app_records_per_s": round(args.batch / (app_b / 1000)),
            },
        }
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(report, indent=2))
        print(json.dumps(report, indent=2))
    finally:
        stack.close()


if __name__ == "__main__":
    main()
