#!/usr/bin/env bash
# Runs the acceptance suite (mock mode unless --mode live / ACCEPTANCE_MODE=live) on 2 workers and builds
# the Allure HTML report, even when tests fail. Extra arguments go to pytest. Exit code is pytest's.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest features/ -n 2 "$@"
status=$?
if [ "$status" -eq 5 ]; then echo "pytest collected no tests: that is a failure here" >&2; fi
npx --no-install allure generate reports/allure-results --config allurerc.mjs >/dev/null \
  && echo "report: reports/allure-report/index.html" || { echo "report build failed" >&2; status=${status/#0/1}; }
exit "$status"
