"""Benchmark: ``inv load.run`` against raw ``k6 run`` on the same k6 script, in the same run.

A throwaway local stack (Postgres + app + Caddy TLS, as ``inv dev.up`` starts
it) is the target. Each round runs the catalog scenario twice, interleaved:
once through the real command line (``python -m ops load.run --env local``:
Python start-up, config, guard, the generated entry module, summary parsing and
the table) and once as a bare ``k6 run`` of the same script with the same
VUs, duration, target and CA. The best wall time of each side is compared.
Target: load.run <= 1.05x raw k6.

    python bench/load.py             # 3 rounds of 10 s runs (about 1.5 minutes)
    python bench/load.py --quick     # 1 round of 5 s runs
"""

from __future__ import annotations

import argparse
import os
import shutil
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
from ops.config import Config, load  # noqa: E402
from ops.load import run  # noqa: E402
from ops.load.k6 import SUMMARY_TREND_STATS, find_k6  # noqa: E402
from ops.load.target import Target, trust_bundle  # noqa: E402

SCENARIO = "catalog"
VUS = 5


def _timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{argv[0]} {argv[1]} failed ({result.returncode}): {result.stderr[-500:]}")
    return elapsed


def _timed_api(cfg: Config, duration: int) -> float:
    """The same run through the library call the task makes (no interpreter or Invoke start-up)."""
    started = time.perf_counter()
    report = run(cfg, SCENARIO, env="local", vus=VUS, duration=f"{duration}s")
    elapsed = time.perf_counter() - started
    if report.exit_code != 0:
        raise SystemExit(f"ops.load.run failed: {[t.name for t in report.failed_thresholds]}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round of 5 s runs")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per run (default 10)")
    args = parser.parse_args(argv)
    rounds, duration = (1, 5) if args.quick else (args.rounds, args.duration)

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
        target = Target("local", base_url, (stack.local_ca_path(cfg),))
        bundle = trust_bundle(target, base)
        script = REPO / "infra" / "tests" / "load" / f"{SCENARIO}.js"
        raw_env = {
            **os.environ,
            "BASE_URL": base_url,
            "RATE_LIMIT_BYPASS_TOKEN": app_env["RATE_LIMIT_BYPASS_TOKEN"],
            "SSL_CERT_FILE": str(bundle),
        }
        raw = [
            str(find_k6()), "run", "--quiet", "--no-usage-report", "--vus", str(VUS), "--duration", f"{duration}s",
            "--summary-trend-stats", SUMMARY_TREND_STATS, "--summary-export", str(base / "raw.json"), str(script),
        ]  # fmt: skip
        ours = [
            sys.executable, "-m", "ops", "load.run", "--env", "local", "--scenario", SCENARIO,
            "--vus", str(VUS), "--duration", f"{duration}s", "--json",
        ]  # fmt: skip
        ops_env = {**os.environ, "OPS_PROJECT_ROOT": str(root)}
        raw_times: list[float] = []
        cli_times: list[float] = []
        api_times: list[float] = []
        for round_number in range(1, rounds + 1):
            raw_times.append(_timed(raw, raw_env, base))
            cli_times.append(_timed(ours, ops_env, root))
            api_times.append(_timed_api(cfg, duration))
            print(
                f"round {round_number}: raw k6 {raw_times[-1]:.2f}s, "
                f"inv load.run {cli_times[-1]:.2f}s, ops.load.run() {api_times[-1]:.2f}s",
                file=sys.stderr,
            )
        best_raw, best_cli, best_api = min(raw_times), min(cli_times), min(api_times)
        print(f"scenario {SCENARIO}, {VUS} VUs, {duration}s per run, best of {rounds} round(s), target {base_url}")
        print(f"raw k6 run:                {best_raw:.2f}s")
        print(f"ops.load.run() (library):  {best_api:.2f}s  ratio {best_api / best_raw:.3f}x")
        print(f"inv load.run (CLI):        {best_cli:.2f}s  ratio {best_cli / best_raw:.3f}x (target <= 1.05)")
        return 0
    finally:
        stack.down(cfg, purge=True)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
