"""``python -m benchmarks``: every benchmark, one table, ``reports/benchmarks.json``.

Measures the suite itself (wall time serial and with ``-n 2``, time to first scenario), then runs each
benchmark module of this package (``python -m benchmarks.<name>``, each writing
``reports/benchmarks/<name>.json``) and gathers their figures. Every figure is min/median/max over repeats;
ratios come from the same run. ``--repeats N`` (default 3), ``--only suite|baseline|<module>``.

``--baseline REV`` also times the suite (``-n 2``) of an earlier commit, checked out apart (a git worktree
sharing this checkout's ``.venv``), in runs interleaved with this checkout's, and reports the ratio: a
machine's speed drifts by 10-15% over an hour, so the ratio is the figure to compare across days.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pkgutil
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks import spread
from fixtures.reporting.calls import RECORD_ENV

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "reports" / "benchmarks"
PYTEST = [sys.executable, "-m", "pytest", "features/", "-q", "-p", "no:cacheprovider", "--no-cov"]
FIRST_SCENARIO = "test_the_health_check_answers_without_identity"


def timed(command: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return elapsed


def first_scenario(command: list[str]) -> tuple[float, float]:
    """(seconds from launch to the first scenario's result, seconds from launch to the process's exit)."""
    marker = OUT / "first-result.txt"
    marker.unlink(missing_ok=True)
    env = {**os.environ, "BENCHMARK_FIRST_RESULT_FILE": str(marker)}
    launched = time.time()
    whole = timed([*command, "-p", "benchmarks._first_result"], env)
    return float(marker.read_text()) - launched, whole


@contextlib.contextmanager
def checkout_of(revision: str) -> Iterator[Path]:
    """The commit checked out in a temporary git worktree that uses this checkout's ``.venv``."""
    folder = Path(tempfile.mkdtemp(prefix="benchmark-baseline-"))
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), revision], cwd=ROOT, check=True,
                   capture_output=True)  # fmt: skip
    try:
        (folder / ".venv").symlink_to(ROOT / ".venv")
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def against_baseline(revision: str, repeats: int) -> dict:
    """``-n 2`` suite times of the baseline commit and of this checkout, run by turns, and their ratio."""
    command = [*PYTEST, "--alluredir", str(OUT / "allure-scratch"), "-n", "2"]
    with checkout_of(revision) as baseline:
        timed(command, cwd=baseline)  # its first run fills its own caches (Postgres data, models)
        ours, theirs = [], []
        for _ in range(repeats):
            theirs.append(timed(command, cwd=baseline))
            ours.append(timed(command))
    return {
        "revision": revision,
        "baseline_suite_n2_s": spread(theirs),
        "suite_n2_s": spread(ours),
        "ratio_to_baseline": round(statistics.median(ours) / statistics.median(theirs), 3),
    }


def suite(repeats: int) -> dict:
    results_dir = ["--alluredir", str(OUT / "allure-scratch")]
    first_runs = [first_scenario([*PYTEST, *results_dir, "-k", FIRST_SCENARIO]) for _ in range(repeats)]
    with_recorder, without_recorder = [], []
    # The scenarios about the record itself (10.2, 10.3) need the recorder: both sides leave them out.
    apart = "not large_data and not own_workspace"  # the default run's own selection (pyproject addopts)
    same_work = [*PYTEST, *results_dir, "-n", "2", "-m", f"{apart} and not US10_2 and not US10_3"]
    for _ in range(repeats):
        with_recorder.append(timed(same_work))
        without_recorder.append(timed(same_work, {**os.environ, RECORD_ENV: "0"}))
    return {
        # What a product owner waits for after editing a feature (goal: under 5 s, no stack).
        "feature_check_s": spread(
            [timed([sys.executable, "-m", "tools.check_features"]) for _ in range(repeats)]
        ),
        # Launch to the first scenario's result; and to the exit of a run of that one scenario (teardown of
        # the stack and the interpreter's exit included).
        "time_to_first_scenario_s": spread([first for first, _ in first_runs]),
        "one_scenario_run_s": spread([whole for _, whole in first_runs]),
        "suite_serial_s": spread([timed([*PYTEST, *results_dir]) for _ in range(repeats)]),
        "suite_n2_s": spread([timed([*PYTEST, *results_dir, "-n", "2"]) for _ in range(repeats)]),
        "suite_n2_same_work_s": spread(with_recorder),
        # The same runs without the call recorder (fixtures/reporting/calls.py), interleaved with the ones
        # above so both see the same machine: what recording every workspace call costs (budget: 5%).
        "suite_n2_without_recorder_s": spread(without_recorder),
        "recorder_overhead_ratio": round(
            statistics.median(with_recorder) / statistics.median(without_recorder), 3
        ),
    }


def modules() -> list[str]:
    return sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_")
    )


def run_module(name: str) -> dict:
    timed([sys.executable, "-m", f"benchmarks.{name}"])
    return json.loads((OUT / f"{name}.json").read_text())


def flatten(prefix: str, value: object, rows: list[tuple[str, str]]) -> None:
    if isinstance(value, dict) and "median" in value:
        rows.append((prefix, f"{value['median']} (min {value.get('min')}, max {value.get('max')})"))
    elif isinstance(value, dict):
        for key, inner in value.items():
            flatten(f"{prefix}.{key}" if prefix else key, inner, rows)
    elif isinstance(value, int | float | str) and not isinstance(value, bool):
        rows.append((prefix, str(value)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--only", action="append", help="suite, baseline, or a benchmark module name; repeatable"
    )
    parser.add_argument("--baseline", metavar="REV", help="also time the suite of this commit, by turns")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    wanted = args.only or ["suite", *modules(), *(["baseline"] if args.baseline else [])]
    if "baseline" in wanted and not args.baseline:
        parser.error("--only baseline needs --baseline REV")
    figures: dict[str, object] = {}
    for name in wanted:
        print(f"running {name} …", flush=True)
        if name == "suite":
            figures[name] = suite(args.repeats)
        elif name == "baseline":
            figures[name] = against_baseline(args.baseline, args.repeats)
        else:
            figures[name] = run_module(name)
    report = {"measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "figures": figures}
    (ROOT / "reports" / "benchmarks.json").write_text(json.dumps(report, indent=2))
    rows: list[tuple[str, str]] = []
    flatten("", figures, rows)
    width = max((len(k) for k, _ in rows), default=10)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print("written: reports/benchmarks.json")


if __name__ == "__main__":
    main()
