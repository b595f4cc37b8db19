#!/usr/bin/env bash
# Runs the acceptance suite (mock mode unless --mode live / ACCEPTANCE_MODE=live) on 2 workers and builds
# both Allure HTML reports (scripts/report.sh), even when tests fail. Extra arguments go to pytest.
# Exit code is pytest's.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest features/ -n 2 "$@"
status=$?
if [ "$status" -eq 5 ]; then echo "pytest collected no tests: that is a failure here" >&2; fi
bash scripts/report.sh || { echo "report build failed" >&2; status=${status/#0/1}; }
exit "$status"
