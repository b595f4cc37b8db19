"""``python -m benchmarks.catalog``: Unity Catalog listing through the fake, and the app's table-page reads.

Figures (min/median/max over runs, written to ``reports/benchmarks/catalog.json``):
- ``sdk_tables_list_10k_s``: the real SDK's ``tables.list`` over a schema of 10,000 tables (server-default
  pages, all of them), against the fake workspace;
- ``app_table_page_ms``: p50/p99 of one user reading a 100-row page of ``sales.retail.orders`` through the
  app (OBO client, UC lookup, one SQL statement), per run of ``--reads`` sequential reads;
- ``app_large_table_page_ms``: p50/p99 of a 1000-row page deep into a 100,000-row table;
- ``app_60_concurrent_readers_s``: wall time for 60 users reading the same page at once.
Everything runs in this process (like a test worker), on the same machine as whatever else is running.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from databricks.sdk.service.catalog import Privilege

from benchmarks.__main__ import spread
from fixtures.data import catalog as data
from fixtures.drivers.factories import Factory, Makers
from fixtures.drivers.permissions import Permissions
from fixtures.drivers.workspace_admin import WorkspaceAdmin
from fixtures.stack.mock import start_mock_stack
from fixtures.workspace.sql import WAREHOUSE_ID

OUT = Path(__file__).resolve().parent.parent / "reports" / "benchmarks" / "catalog.json"
READ = [Privilege.USE_CATALOG, Privilege.USE_SCHEMA, Privilege.SELECT]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args()

    stack = start_mock_stack()
    try:
        assert stack.control is not None
        # As the catalog_admin fixture builds it: its tables are made with its own statements.
        factory = Factory("bench")
        makers = Makers(factory, stack)
        admin = WorkspaceAdmin(
            stack.admin_client(), "acceptance-admin@example.com", WAREHOUSE_ID, makers, factory.prefix
        )
        makers.sql = admin.sql
        # Reading a table through the app runs a statement as the reader: CAN_USE on the warehouse.
        warehouse = Permissions(admin.client, WAREHOUSE_ID, factory)
        data.load_reference(admin, ["sales"])
        data.load_large_table(admin, "telemetry.events.readings", data.LARGE_TABLE_ROWS)
        data.load_large_catalog(admin, stack.control, "warehouse.staging", 10_000)

        listing = []
        for _ in range(args.runs):
            started = time.perf_counter()
            count = sum(1 for _ in admin.client.tables.list(admin.real("warehouse"), "staging"))
            listing.append(time.perf_counter() - started)
            assert count == 10_000, count

        reader = stack.create_person("Bench", [])
        for catalog in ("sales", "telemetry"):
            admin.change("catalog", catalog, reader.user_name, add=READ)
        warehouse.on_warehouse("CAN_USE", user_name=reader.user_name)
        client = reader.app.quiet()
        orders = (admin.real("sales"), "retail", "orders")
        readings = (admin.real("telemetry"), "events", "readings")

        def latencies(table: tuple[str, str, str], params: dict) -> list[float]:
            client.table_rows(*table, **params).raise_for_status()  # warm: identity and client caches
            samples = []
            for _ in range(args.reads):
                started = time.perf_counter()
                client.table_rows(*table, **params).raise_for_status()
                samples.append((time.perf_counter() - started) * 1000)
            return samples

        page_p50, page_p99, large_p50, large_p99, crowd = [], [], [], [], []
        for _ in range(args.runs):
            small = latencies(orders, {"limit": 100, "offset": 100})
            page_p50.append(statistics.median(small))
            page_p99.append(percentile(small, 0.99))
            large = latencies(readings, {"limit": 1000, "offset": 99_000})
            large_p50.append(statistics.median(large))
            large_p99.append(percentile(large, 0.99))

        group = "bench-readers"
        readers = [stack.create_person(f"Reader{i}", [group]).app.quiet() for i in range(60)]
        admin.change("catalog", "sales", group, add=READ)
        warehouse.on_warehouse("CAN_USE", group_name=group)
        for _ in range(args.runs):
            with ThreadPoolExecutor(60) as pool:
                started = time.perf_counter()
                statuses = list(pool.map(lambda c: c.table_rows(*orders, limit=50).status_code, readers))
                crowd.append(time.perf_counter() - started)
            assert set(statuses) == {200}, statuses
    finally:
        stack.close()

    report = {
        "runs": args.runs,
        "reads_per_run": args.reads,
        "sdk_tables_list_10k_s": spread(listing),
        "app_table_page_ms": {"p50": spread(page_p50), "p99": spread(page_p99)},
        "app_large_table_page_ms": {"p50": spread(large_p50), "p99": spread(large_p99)},
        "app_60_concurrent_readers_s": spread(crowd),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
