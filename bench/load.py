"""Benchmark: ``inv load.run`` against raw ``k6 run`` on the same k6 script, in the same run.

A throwaway local stack (Postgres + app + Caddy TLS, as ``inv dev.up`` starts
it) is the target. Every side is a fresh process running the catalog scenario
with the same VUs, duration, target, CA bundle and tokens:

- raw k6: a bare ``k6 run`` of ``infra/tests/load/catalog.js`` (the baseline);
- library: ``ops.load.run()`` called from a fresh ``python -c`` (config, guard,
  target, the generated entry module with the thresholds, summary parsing);
- CLI: ``python -m ops load.run --env local --json`` (the library call plus
  Python and Invoke start-up, the progress display and the table).

The sides run interleaved, in a rotating order, after one untimed warm-up run,
so a slow moment of the machine does not land on one side only. Median and best
wall times are printed with their ratios to raw k6. Target: CLI <= 1.05x raw k6.

The Python sides run a byte-compiled copy of ``ops``, as ``pip install`` leaves
it (k6 is a compiled binary too); ``--source`` runs the work tree's sources
instead, which costs ~25 ms more per start where PYTHONDONTWRITEBYTECODE is set.

    python bench/load.py             # 5 rounds of 10 s runs (about 3 minutes)
    python bench/load.py --quick     # 3 rounds of 5 s runs
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from conftest import make_stack_project  # noqa: E402

from ops import stack  # noqa: E402
from ops.config import load  # noqa: E402
from ops.load.k6 import SUMMARY_TREND_STATS, find_k6  # noqa: E402
from ops.load.target import Target, trust_bundle  # noqa: E402

SCENARIO = "catalog"
VUS = 5
TARGET_RATIO = 1.05
# What the CLI's task does, without the command line: one library call in a fresh interpreter.
LIBRARY_CALL = (
    "import sys\n"
    "from ops.config import load\n"
    "from ops.load import run\n"
    "report = run(load(), sys.argv[1], env='local', vus=int(sys.argv[2]), duration=sys.argv[3])\n"
    "sys.exit(report.exit_code)\n"
)


def _timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} ... failed ({result.returncode}): {result.stderr[-500:]}")
    return elapsed


def _compiled_copy(base: Path) -> Path:
    """``ops`` with its bytecode written, as an installed package has it."""
    site = base / "site"
    shutil.copytree(REPO / "ops", site / "ops", ignore=shutil.ignore_patterns("__pycache__"))
    if not compileall.compile_dir(site / "ops", quiet=1):
        raise SystemExit("cannot byte-compile the copy of ops")
    return site


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds of 5 s runs")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    parser.add_argument("--source", action="store_true", help="run the work tree's ops, not a compiled copy")
    args = parser.parse_args(argv)
    rounds, duration = (3, 5) if args.quick else (args.rounds, args.duration)

    base = Path(tempfile.mkdtemp(prefix="ops-bench-load-"))
    base.chmod(0o755)
    root = make_stack_project(base / "project")
    with (root / "pyproject.toml").open("a") as handle:
        handle.write(f'\n[tool.ops.load]\nscripts_dir = "{REPO / "infra" / "tests" / "load"}"\n')
    cfg = load(root)
    try:
        print(f"starting a local stack in {root} ...", file=sys.stderr)
        stack.up(cfg)
        app_env = stack.local_app_env(cfg)
        base_url = stack.local_base_url(cfg)
        bundle = trust_bundle(Target("local", base_url, (stack.local_ca_path(cfg),)), base)
        script = REPO / "infra" / "tests" / "load" / f"{SCENARIO}.js"
        raw_env = {
            **os.environ,
            "BASE_URL": base_url,
            "RATE_LIMIT_BYPASS_TOKEN": app_env["RATE_LIMIT_BYPASS_TOKEN"],
            "SSL_CERT_FILE": str(bundle),
        }
        ops_env = {**os.environ, "OPS_PROJECT_ROOT": str(root)}
        if not args.source:
            search_path = [str(_compiled_copy(base)), os.environ.get("PYTHONPATH", "")]
            ops_env["PYTHONPATH"] = os.pathsep.join(filter(None, search_path))

        def raw_k6(seconds: int) -> list[str]:
            return [
                str(find_k6()), "run", "--quiet", "--no-usage-report", "--vus", str(VUS), "--duration", f"{seconds}s",
                "--summary-trend-stats", SUMMARY_TREND_STATS, "--summary-export", str(base / "raw.json"), str(script),
            ]  # fmt: skip

        sides: dict[str, tuple[list[str], dict[str, str], Path]] = {
            "raw k6 run": (raw_k6(duration), raw_env, base),
            "ops.load.run() (library)": (
                [sys.executable, "-c", LIBRARY_CALL, SCENARIO, str(VUS), f"{duration}s"], ops_env, root
            ),
            "inv load.run (CLI)": (
                [sys.executable, "-m", "ops", "load.run", "--env", "local", "--scenario", SCENARIO,
                 "--vus", str(VUS), "--duration", f"{duration}s", "--json"],
                ops_env, root,
            ),
        }  # fmt: skip
        # One untimed run first: the app, Caddy and the page cache are warm for every timed side.
        _timed(raw_k6(1), raw_env, base)
        names = list(sides)
        times: dict[str, list[float]] = {name: [] for name in names}
        for round_number in range(rounds):
            order = names[round_number % len(names) :] + names[: round_number % len(names)]
            for name in order:
                times[name].append(_timed(*sides[name]))
            print(
                f"round {round_number + 1}: " + ", ".join(f"{name} {times[name][-1]:.2f}s" for name in names),
                file=sys.stderr,
            )
        baseline = times[names[0]]
        code = "work-tree sources" if args.source else "byte-compiled ops"
        print(f"scenario {SCENARIO}, {VUS} VUs, {duration}s per run, {rounds} interleaved round(s), {code}, {base_url}")
        print(f"{'':26} {'median':>8} {'best':>8} {'ratio (median)':>15} {'ratio (best)':>13}")
        for name in names:
            median, best = statistics.median(times[name]), min(times[name])
            ratios = f"{median / statistics.median(baseline):>14.3f}x {best / min(baseline):>12.3f}x"
            print(f"{name:26} {median:>7.2f}s {best:>7.2f}s {ratios}")
        cli = times[names[-1]]
        ratio = statistics.median(cli) / statistics.median(baseline)
        verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
        print(f"target: CLI <= {TARGET_RATIO}x raw k6 (median): {verdict} ({ratio:.3f}x)")
        return 0
    finally:
        stack.down(cfg, purge=True)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
