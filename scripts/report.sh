#!/usr/bin/env bash
# Builds both Allure reports from the last run's results (default reports/allure-results):
#   reports/allure-report/awesome/index.html  the normal report (serve it: npx allure open reports/allure-report/awesome)
#   reports/allure-report/single/index.html   one self-contained HTML file: opens from file://, share it as is
# Trends, flaky and new tests come from reports/history/history.jsonl, appended on every build and kept
# between runs (delete it to start the history afresh). Configuration: allurerc.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."
results="${1:-reports/allure-results}"
if ! compgen -G "$results/*-result.json" >/dev/null; then
  echo "no Allure results in $results: run the suite first (bash scripts/test.sh)" >&2
  exit 1
fi
mkdir -p reports/history
rm -rf reports/allure-report
npx --no-install allure generate "$results" --config allurerc.mjs >/dev/null
for report in awesome single; do
  [ -s "reports/allure-report/$report/index.html" ] || { echo "report $report was not built" >&2; exit 1; }
done
# Allure 3.18's single file declares its data after its app: without this, a busy browser may show no tree.
.venv/bin/python -m tools.single_file_report reports/allure-report/single/index.html
echo "report: reports/allure-report/awesome/index.html (serve it: npx allure open reports/allure-report/awesome)"
echo "single file: reports/allure-report/single/index.html (history: $(wc -l < reports/history/history.jsonl) runs)"
