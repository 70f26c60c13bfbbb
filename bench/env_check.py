"""Benchmark: ``inv env.check`` on this repo against bare ``inv --version``.

env.check runs on every commit, so what matters is its cost over Invoke's own
start-up. Both commands run interleaved in the same session (so machine load
hits both alike); the script prints the median wall time of each and the ratio.
Targets: ratio <= 1.5 and env.check under 0.3 s.

    python bench/env_check.py            # 21 runs each
    python bench/env_check.py --quick    # 7 runs each
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _inv() -> list[str]:
    found = shutil.which("inv")
    return [found] if found else [sys.executable, "-m", "invoke"]


def _time(command: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=REPO, capture_output=True, check=False)
    return time.perf_counter() - started, completed.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="runs of each command (default 21)")
    parser.add_argument("--quick", action="store_true", help="7 runs of each command")
    args = parser.parse_args(argv)
    runs = 7 if args.quick else args.runs
    baseline_cmd, check_cmd = [*_inv(), "--version"], [*_inv(), "env.check"]
    _time(baseline_cmd), _time(check_cmd)  # warm the page cache and .pyc files
    baseline: list[float] = []
    check: list[float] = []
    exit_codes: set[int] = set()
    for _ in range(runs):
        baseline.append(_time(baseline_cmd)[0])
        elapsed, code = _time(check_cmd)
        check.append(elapsed)
        exit_codes.add(code)
    base_median, check_median = statistics.median(baseline), statistics.median(check)
    ratio = check_median / base_median
    print(f"runs per command:     {runs}")
    print(f"inv --version median: {base_median * 1000:7.1f} ms")
    print(f"inv env.check median: {check_median * 1000:7.1f} ms (exit codes: {sorted(exit_codes)})")
    print(f"ratio:                {ratio:7.2f} (target <= 1.5; env.check target < 300 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
