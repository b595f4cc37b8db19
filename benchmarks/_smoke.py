"""``python -m benchmarks._smoke``: every benchmark module still runs, at tiny sizes (about 25 s in all).

Benchmarks run on demand, so nothing else notices when one breaks: two of them stopped running when access
control and the factories landed, unnoticed. CI runs this. The figures at these sizes mean nothing, so
whatever figures were in ``reports/benchmarks/`` before are put back afterwards.
"""

from __future__ import annotations

import subprocess
import sys

from benchmarks.__main__ import OUT, ROOT, modules

# The smallest sizes that still take every code path of each benchmark.
TINY = {
    "catalog": ["--runs", "1", "--reads", "3"],
    "monitoring": ["--rows", "2000", "--repeats", "1"],
    "pipeline_scale": ["--rows", "2000", "--repeats", "1", "--insert-sample-rows", "500"],
    "preferences": ["--clients", "2", "--requests", "5", "--runs", "1"],
    "serving": ["--calls", "3", "--batch", "50", "--repeats", "1"],
}


def main() -> int:
    missing = [name for name in modules() if name not in TINY]
    if missing:
        print(f"no tiny sizes for {missing}: add them to TINY in benchmarks/_smoke.py", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    kept = {path: path.read_bytes() for path in OUT.glob("*.json")}
    failed = []
    try:
        for name in modules():
            result = subprocess.run(
                [sys.executable, "-m", f"benchmarks.{name}", *TINY[name]],
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            print(f"benchmarks.{name}: exit {result.returncode}")
            if result.returncode != 0:
                failed.append(name)
                print(result.stdout[-2000:], result.stderr[-3000:], sep="\n", file=sys.stderr)
    finally:
        for path in OUT.glob("*.json"):
            if path not in kept:
                path.unlink()
        for path, content in kept.items():
            path.write_bytes(content)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
