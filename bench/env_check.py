"""Benchmark: the env.check commit hook against Python's own start-up.

The hook (``python -m ops.envcheck``, the ``ops-env-check`` console script)
runs on every commit, so its cost is measured against a bare ``python3 -c
pass`` (goal: at most 3x) and against detect-secrets' hook on the same files
(when installed), with ``inv env.check`` shown for comparison. All commands
run interleaved in the same session, so machine load hits them alike; the
script prints the median wall time of each and the ratios.

    python bench/env_check.py            # 21 runs each
    python bench/env_check.py --quick    # 7 runs each
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL = 3.0


def _script(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)


def _env() -> dict[str, str]:
    # This checkout's code, whichever copy is installed.
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{path}" if path else str(REPO)}


def _time(command: list[str]) -> tuple[float, int]:
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=REPO, env=_env(), capture_output=True, check=False)
    return time.perf_counter() - started, completed.returncode


def _commands() -> dict[str, list[str]]:
    commands = {
        "python3 -c pass": [sys.executable, "-c", "pass"],
        "python -m ops.envcheck": [sys.executable, "-m", "ops.envcheck"],
    }
    inv = _script("inv")
    commands["inv env.check"] = [inv, "env.check"] if inv else [sys.executable, "-m", "invoke", "env.check"]
    detect = _script("detect-secrets-hook")
    if detect:
        # The same files the hook reads here: the env files at the root and the settings.
        files = sorted(str(path.name) for path in REPO.iterdir() if path.name.startswith(".env") and path.is_file())
        commands["detect-secrets-hook"] = [detect, *files, "pyproject.toml"]
    return commands


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="runs of each command (default 21)")
    parser.add_argument("--quick", action="store_true", help="7 runs of each command")
    args = parser.parse_args(argv)
    runs = 7 if args.quick else args.runs
    commands = _commands()
    for command in commands.values():
        _time(command)  # warm the page cache and the .pyc files
    times: dict[str, list[float]] = {name: [] for name in commands}
    codes: dict[str, set[int]] = {name: set() for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            elapsed, code = _time(command)
            times[name].append(elapsed)
            codes[name].add(code)
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["python3 -c pass"]
    hook = medians["python -m ops.envcheck"]
    print(f"runs per command: {runs}")
    for name, median in medians.items():
        print(f"{name:24} {median * 1000:7.1f} ms  {median / base:5.2f}x python3 -c pass  (exit {sorted(codes[name])})")
    print(f"hook / python3 -c pass:  {hook / base:5.2f} (goal <= {GOAL:g})")
    if "detect-secrets-hook" in medians:
        print(f"hook / detect-secrets:   {hook / medians['detect-secrets-hook']:5.2f}")
    else:
        print("detect-secrets-hook:     not installed (pip install detect-secrets)")
    print(f"hook / inv env.check:    {hook / medians['inv env.check']:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
