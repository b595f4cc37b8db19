"""pytest plugin for ``python -m benchmarks``: notes when the first scenario's result is known.

Writes the wall-clock time (epoch seconds) to the file named by ``BENCHMARK_FIRST_RESULT_FILE``, once: what
a developer waits for before the first result shows, without the teardown and interpreter exit after it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def pytest_runtest_logreport(report) -> None:
    target = os.environ.get("BENCHMARK_FIRST_RESULT_FILE")
    if target and report.when == "call" and not Path(target).exists():
        Path(target).write_text(repr(time.time()))
