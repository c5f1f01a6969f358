"""The test suite under load: CPU hogs compete for every core while `make test` runs, several times in a row.

A machine that builds, tests and serves is busy; the suite must not depend on having it to itself
(tests wait for events, not deadlines). This starts HOGS processes that spin on the CPU, runs the
command (`make test` by default) RUNS times in a row, stops the hogs, and prints each run's wall
time and result. It exits 1 at the first failed run, 0 when every run passed.

    python benchmarks/under_load.py                   # 2 hogs, 3 runs of `make test`
    python benchmarks/under_load.py --hogs 0 --runs 1  # the same figures on a quiet machine
"""

import argparse
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _spin() -> None:
    """One CPU-bound competitor: pure Python arithmetic forever (no sleeping, no I/O)."""
    x = 0
    while True:
        x = (x * 1103515245 + 12345) % 2147483648


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hogs", type=int, default=2, help="CPU-bound processes running beside the suite")
    parser.add_argument("--runs", type=int, default=3, help="runs of the command in a row")
    parser.add_argument("--command", default="make test", help="what to run (a shell command line)")
    args = parser.parse_args(argv)

    hogs = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.hogs)]
    for hog in hogs:
        hog.start()
    results = []
    try:
        for run in range(1, args.runs + 1):
            start = time.perf_counter()
            code = subprocess.call(args.command, shell=True, cwd=ROOT, env=os.environ)
            wall = time.perf_counter() - start
            results.append((run, code, wall))
            print(f"under_load: run {run}/{args.runs} with {args.hogs} hogs on {os.cpu_count()} cores: "
                  f"{'passed' if code == 0 else f'FAILED (exit {code})'} in {wall:.0f} s", flush=True)
            if code != 0:
                break
    finally:
        for hog in hogs:
            hog.terminate()
        for hog in hogs:
            hog.join()
    passed = [wall for _, code, wall in results if code == 0]
    print(f"under_load: {len(passed)} of {args.runs} runs passed"
          + (f"; wall min {min(passed):.0f} s, max {max(passed):.0f} s" if passed else ""))
    return 0 if len(passed) == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
