#!/usr/bin/env bash
# Proves live mode end to end without a real workspace: the whole suite with --mode live against the fake
# workspace started as a separate process, as if it were remote, and a separately started Postgres as
# Lakebase. The suite gets only what a real live run gets: a Databricks config file (host + credentials per
# profile), PG* and LAKEBASE_INSTANCE_NAME; the fake serves no control API. Then the sweeper's dry run must
# find nothing the run left behind. Allure results: reports/allure-results-live. Extra args go to pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python
WORK=$(mktemp -d "${TMPDIR:-/tmp}/live-against-fake.XXXXXX")
PG_DATA=$ROOT/.cache/postgres/live   # pgserver opens permissions on its data dir's parents: keep it ours
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Wait for a condition with a deadline (no fixed sleeps: poll, give up loudly).
wait_for() {  # description, seconds, command...
  local what=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then echo "$what not ready after ${seconds}s" >&2; return 1; fi
    sleep 0.1
  done
}

started=$SECONDS
# The fake serves no MLflow API (a workspace's tracking server and Unity Catalog registry need cloud storage
# credentials to fake): a real MLflow SQL store stands in for them, its schema made before two workers share it.
# It is the workspace's own MLflow, so the fake's Model Serving loads the registered versions from it too.
MLFLOW_STORE=$WORK/mlflow
"$PY" -c 'import sys; from pathlib import Path; from fixtures.stack.mlflow_store import MlflowStore
MlflowStore(Path(sys.argv[1]), Path(sys.argv[2])).ensure_schema()' "$MLFLOW_STORE" "$ROOT/.cache/mlflow" || exit 1

MLFLOW_URI="sqlite:///$MLFLOW_STORE/mlflow.db"
PORT=$("$PY" -c 'from fixtures.workspace.server import free_port; print(free_port())')
# Postgres takes the app's role with a password only: the fake's Lakebase credentials set it, as the
# Postgres administrator whose settings --admin-file writes (read by the fake when the first one is asked).
"$PY" -m fixtures.stack.postgres --data-dir "$PG_DATA" --database acceptance_live \
  --env-file "$WORK/pg.env" --admin-file "$WORK/pg-admin.json" >"$WORK/postgres.log" 2>&1 &
pids+=($!)
MLFLOW_TRACKING_URI="$MLFLOW_URI" MLFLOW_REGISTRY_URI="$MLFLOW_URI" \
  "$PY" -m fixtures.workspace --port "$PORT" --without-control-api \
  --seed fixtures/data/live_seed.json --write-config "$WORK/databrickscfg" \
  --database-admin-file "$WORK/pg-admin.json" >"$WORK/workspace.log" 2>&1 &
pids+=($!)
wait_for "fake workspace" 30 curl -sf "http://127.0.0.1:$PORT/.well-known/databricks-config" \
  || { cat "$WORK/workspace.log" >&2; exit 1; }
wait_for "postgres" 60 test -s "$WORK/pg.env" || { cat "$WORK/postgres.log" >&2; exit 1; }
if curl -sf -o /dev/null "http://127.0.0.1:$PORT/_fake/reset" -X POST; then
  echo "the fake answers its control API: it must not in this run" >&2; exit 1
fi
echo "fake workspace at http://127.0.0.1:$PORT, postgres up ($((SECONDS - started))s)"

# Only these reach the suite: no DATABRICKS_* beyond the config file, a HOME without ~/.databrickscfg.
mkdir -p "$WORK/home"
live_env=(
  env -i PATH="$PATH" HOME="$WORK/home" LANG="${LANG:-C.UTF-8}" TMPDIR="${TMPDIR:-/tmp}"
  CI="${CI:-}" CI_BUILD_URL="${CI_BUILD_URL:-}"
  DATABRICKS_CONFIG_FILE="$WORK/databrickscfg"
  ACCEPTANCE_USER_PROFILES="Ana=ana,Ben=ben,Mia=mia" ACCEPTANCE_APP_PROFILE=app
  LAKEBASE_INSTANCE_NAME=acceptance-lakebase
  DATABRICKS_WAREHOUSE_ID="$("$PY" -c 'from fixtures.workspace.sql import WAREHOUSE_ID; print(WAREHOUSE_ID)')"
  MLFLOW_TRACKING_URI="$MLFLOW_URI" MLFLOW_REGISTRY_URI="$MLFLOW_URI"
  MLFLOW_ARTIFACT_LOCATION="file://$MLFLOW_STORE/artifacts"
  $(cat "$WORK/pg.env")
)
# One worker by default: live accounts are real, fixed and shared, so two scenarios changing the same
# user's state at once (a saved page size, the history) would see each other. LIVE_WORKERS=2 to try.
"${live_env[@]}" "$PY" -m pytest features/ --mode live -n "${LIVE_WORKERS:-0}" --no-cov \
  --alluredir=reports/allure-results-live --calls-dir=reports/calls-live "$@"
status=$?
if [ "$status" -eq 5 ]; then echo "pytest collected no tests: that is a failure here" >&2; fi
echo "live run against the fake: $((SECONDS - started))s (exit $status)"
# Its own report, without the mock report's history (allurerc.mjs), so trends stay per mode.
npx --no-install allure generate reports/allure-results-live -o reports/allure-report-live \
  --name "Databricks App acceptance (live, against the standalone fake)" >/dev/null \
  && echo "report: reports/allure-report-live/index.html" || { echo "live report build failed" >&2; status=${status/#0/1}; }

# Whatever the suite made, it must have removed: list everything with the prefix, expired or not.
"${live_env[@]}" "$PY" -m tools.sweeper --any-age --fail-if-found || status=${status/#0/1}
exit "$status"
