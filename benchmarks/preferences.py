"""Preference save/read throughput and latency through the app, against the same upsert done directly.

``python -m benchmarks.preferences`` (options: ``--help``). The app runs as in production:
``python -m server`` (uvicorn) in its own process, configured only through environment variables,
against the embedded PostgreSQL and the fake workspace (``python -m fixtures.workspace``, also its own
process). Each concurrent client is a different user with its own token and keep-alive HTTP connection.

In the same run, the same transactions go straight to the same database with psycopg, one connection per
client, as the app's role: ``set_config('app.user', ...)`` then the same upsert (or select), then commit.
The ratio app/direct shows what the HTTP layer, identity and pooling cost on top of PostgreSQL.
Every figure is the median over ``--runs`` runs. Results: printed, and written to
``reports/benchmarks/preferences.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import psycopg

from fixtures.drivers.control import FakeControl
from fixtures.stack.postgres import APP_ROLE, EmbeddedPostgres
from fixtures.workspace.server import free_port

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "reports" / "benchmarks" / "preferences.json"
VALUE = {"catalog": "sales", "schema": "retail", "page_size": 50, "favourites": ["orders", "customers"]}
UPSERT = (
    "INSERT INTO preferences (user_name, key, value) VALUES (%s, %s, %s::json)"
    " ON CONFLICT (user_name, key) DO UPDATE SET value = EXCLUDED.value,"
    " version = nextval('preference_versions'), updated_at = clock_timestamp()"
    " RETURNING key, value::text, version, created_at, updated_at, (xmax = 0) AS created"
)
SELECT = (
    "SELECT key, value::text, version, created_at, updated_at FROM preferences"
    " WHERE user_name = %s AND key = %s"
)
BIND = "SELECT set_config('app.user', %s, true)"


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.05)  # polling a process we started for readiness, with a deadline
    raise RuntimeError(f"{what} not ready within {timeout}s")


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("w") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def start_fake_workspace(stack: ExitStack, log: Path) -> dict[str, str]:
    """The fake workspace in its own process; returns the host and the app's OAuth credentials it prints."""
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    stack.enter_context(process([sys.executable, "-m", "fixtures.workspace", "--port", str(port)], env, log))
    values: dict[str, str] = {}
    wait_until(lambda: _read_credentials(log, values), "fake workspace")
    return values


def _read_credentials(log: Path, values: dict[str, str]) -> bool:
    for line in log.read_text().splitlines():
        if "=" in line and line.split("=", 1)[0] in (
            "DATABRICKS_HOST",
            "DATABRICKS_CLIENT_ID",
            "DATABRICKS_CLIENT_SECRET",
        ):
            name, value = line.split("=", 1)
            values[name] = value.strip()
    if len(values) < 3:
        return False
    return (
        httpx.get(f"{values['DATABRICKS_HOST']}/.well-known/databricks-config", timeout=2).status_code == 200
    )


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def measure(clients: int, per_client: int, work: Callable[[int, int], None]) -> dict:
    """Run ``work(client, n)`` per_client times on each of ``clients`` threads, all started together."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    barrier = threading.Barrier(clients + 1)

    def run(client: int) -> None:
        barrier.wait()
        for n in range(per_client):
            started = time.perf_counter()
            work(client, n)
            latencies[client].append(time.perf_counter() - started)

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(run, c) for c in range(clients)]
        barrier.wait()
        started = time.perf_counter()
        for future in futures:
            future.result()
        elapsed = time.perf_counter() - started
    samples = [s for per in latencies for s in per]
    return {
        "requests": len(samples),
        "throughput_per_s": len(samples) / elapsed,
        "p50_ms": percentile(samples, 50) * 1000,
        "p99_ms": percentile(samples, 99) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=60, help="requests per client per phase")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    logs = ROOT / ".cache" / "benchmarks"
    logs.mkdir(parents=True, exist_ok=True)

    postgres = EmbeddedPostgres(ROOT / ".cache" / "postgres" / "benchmark", "benchmark_preferences")
    postgres.create_fresh_database()
    with ExitStack() as stack:
        workspace = start_fake_workspace(stack, logs / "workspace.log")
        results = benchmark_app(stack, args, workspace, postgres, logs)
    report(args, results)


def benchmark_app(
    stack: ExitStack,
    args: argparse.Namespace,
    workspace: dict[str, str],
    postgres: EmbeddedPostgres,
    logs: Path,
) -> dict:
    app_port = free_port()
    # The app gets its Postgres password from Lakebase credentials, as in production: register the instance.
    FakeControl(workspace["DATABRICKS_HOST"]).add_database_instance(
        "benchmark-lakebase", postgres.admin_settings(), {workspace["DATABRICKS_CLIENT_ID"]: APP_ROLE}
    )
    env = {
        **os.environ,
        **workspace,
        "DATABRICKS_APP_PORT": str(app_port),
        "PGHOST": postgres.socket_dir,
        "PGPORT": str(postgres.port),
        "PGDATABASE": postgres.database,
        "PGUSER": APP_ROLE,
        "PGSSLMODE": "disable",
        "LAKEBASE_INSTANCE_NAME": "benchmark-lakebase",
    }
    app_url = f"http://127.0.0.1:{app_port}"
    stack.enter_context(process([sys.executable, "-m", "server"], env, logs / "app.log"))
    wait_until(lambda: httpx.get(f"{app_url}/api/health", timeout=2).status_code == 200, "app")
    control = FakeControl(workspace["DATABRICKS_HOST"])
    users = [control.create_user(f"bench{n:02d}@example.com", f"Bench {n}", []) for n in range(args.clients)]
    return run_all(args, app_url, users, postgres)


def run_all(args: argparse.Namespace, app_url: str, users: list[dict], postgres: EmbeddedPostgres) -> dict:
    http = [
        httpx.Client(base_url=app_url, headers={"X-Forwarded-Access-Token": u["token"]}, timeout=30)
        for u in users
    ]
    conns = [psycopg.connect(postgres.app_conninfo()) for _ in users]
    payload = json.dumps(VALUE, separators=(",", ":"))

    def app_save(c: int, n: int) -> None:
        response = http[c].put(f"/api/preferences/bench.{n % 20}", json={"value": VALUE})
        assert response.status_code in (200, 201), response.text

    def app_read(c: int, n: int) -> None:
        response = http[c].get(f"/api/preferences/bench.{n % 20}")
        assert response.status_code == 200, response.text

    def direct_save(c: int, n: int) -> None:
        with conns[c].transaction():
            conns[c].execute(BIND, [users[c]["user_name"]])
            conns[c].execute(UPSERT, [users[c]["user_name"], f"bench.{n % 20}", payload]).fetchone()

    def direct_read(c: int, n: int) -> None:
        with conns[c].transaction():
            conns[c].execute(BIND, [users[c]["user_name"]])
            assert conns[c].execute(SELECT, [users[c]["user_name"], f"bench.{n % 20}"]).fetchone()

    # Warm-up: identities resolved and cached, pools filled, every key exists.
    measure(args.clients, 20, app_save)
    measure(args.clients, 20, direct_save)
    runs: dict[str, list[dict]] = {
        name: [] for name in ("app_save", "app_read", "direct_save", "direct_read")
    }
    for run in range(args.runs):
        for name, work in (
            ("app_save", app_save),
            ("direct_save", direct_save),
            ("app_read", app_read),
            ("direct_read", direct_read),
        ):
            runs[name].append(measure(args.clients, args.requests, work))
        print(
            f"run {run + 1}/{args.runs}: "
            + ", ".join(f"{k} {v[-1]['throughput_per_s']:.0f}/s" for k, v in runs.items())
        )
    for client in http:
        client.close()
    for conn in conns:
        conn.close()
    return runs


def median_of(runs: list[dict]) -> dict:
    return {
        key: round(statistics.median(r[key] for r in runs), 2)
        for key in ("throughput_per_s", "p50_ms", "p99_ms")
    } | {"requests_per_run": runs[0]["requests"]}


def report(args: argparse.Namespace, runs: dict[str, list[dict]]) -> None:
    medians = {name: median_of(r) for name, r in runs.items()}
    ratios = {}
    for op in ("save", "read"):
        app, direct = medians[f"app_{op}"], medians[f"direct_{op}"]
        ratios[op] = {
            "throughput_app_over_direct": round(app["throughput_per_s"] / direct["throughput_per_s"], 3),
            "p50_app_over_direct": round(app["p50_ms"] / direct["p50_ms"], 2),
            "p99_app_over_direct": round(app["p99_ms"] / direct["p99_ms"], 2),
        }
    result = {
        "benchmark": "preferences",
        "clients": args.clients,
        "requests_per_client_per_phase": args.requests,
        "runs": args.runs,
        "statistic": "median over runs",
        "results": medians,
        "ratios": ratios,
        "raw_runs": runs,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg": os.getloadavg()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    print(f"\n{'':14}{'throughput/s':>14}{'p50 ms':>10}{'p99 ms':>10}")
    for name, m in medians.items():
        print(f"{name:14}{m['throughput_per_s']:>14.0f}{m['p50_ms']:>10.2f}{m['p99_ms']:>10.2f}")
    for op, r in ratios.items():
        print(
            f"{op}: app/direct throughput {r['throughput_app_over_direct']:.3f}, "
            f"p50 {r['p50_app_over_direct']:.1f}x, p99 {r['p99_app_over_direct']:.1f}x"
        )
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
