#!/usr/bin/env bash
# Installs everything the project needs into .venv/ and node_modules/ (Python 3.11+, Node 20+).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
npm ci --no-audit --no-fund --loglevel=error
echo "setup done: run 'bash scripts/test.sh'"
