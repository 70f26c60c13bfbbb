"""The Artillery engine.

The scenario YAML stays as written; the phases (from --vus/--duration) and
the ``ensure`` checks go in through ``--overrides``, which replaces arrays
rather than merging them. Artillery's model is open: ``--vus N`` becomes N
new virtual users per second, each running the scenario's flow once.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import ops
from ops.config import Config
from ops.errors import BinaryNotFound
from ops.load.settings import Threshold

_ENSURE_STATS = {"p50": "median", "p90": "p90", "p95": "p95", "p99": "p99", "avg": "mean", "max": "max"}
_PRELOAD = Path(__file__).parent / "node" / "quiet_artillery.js"


def find_artillery(cfg: Config) -> Path:
    """``node_modules/.bin/artillery`` of the project (``npm ci``), of the toolkit's checkout, else PATH."""
    toolkit_root = Path(ops.__file__).resolve().parents[1]
    for root in (cfg.root, toolkit_root):
        candidate = root / "node_modules" / ".bin" / "artillery"
        if candidate.is_file():
            return candidate
    found = shutil.which("artillery")
    if found:
        return Path(found)
    raise BinaryNotFound("artillery is not installed", "run: npm ci (package.json lists artillery)")


def ensure_checks(thresholds: tuple[Threshold, ...]) -> dict[str, list[dict[str, object]]]:
    """The thresholds Artillery's ensure plugin can judge itself (exit 1 on failure).
    The error rate over status codes is judged on the parsed summary instead."""
    limits: list[dict[str, object]] = []
    conditions: list[dict[str, object]] = []
    for threshold in thresholds:
        if threshold.kind == "latency":
            limits.append({f"http.response_time.{_ENSURE_STATS[threshold.stat]}": threshold.limit})
        elif threshold.kind == "status_seen":
            conditions.append({"expression": f"http.codes.{int(threshold.limit)} > 0", "strict": True})
    return {"thresholds": limits, "conditions": conditions}


def overrides(thresholds: tuple[Threshold, ...], *, vus: int, duration_s: float, iterations: int | None) -> str:
    if iterations:
        phases = [{"duration": 1, "arrivalCount": iterations}]
    else:
        phases = [{"duration": max(1, round(duration_s)), "arrivalRate": vus}]
    return json.dumps({"config": {"phases": phases, "plugins": {"ensure": ensure_checks(thresholds)}}})


def artillery_argv(artillery: Path, script: Path, report: Path, target: str, override: str) -> list[str]:
    return [
        str(artillery),
        "run",
        "--quiet",
        "--target",
        target,
        "--output",
        str(report),
        "--overrides",
        override,
        str(script),
    ]


def artillery_env(
    base: dict[str, str], variables: dict[str, str], ca_files: tuple[Path, ...], run_dir: Path
) -> dict[str, str]:
    env = {**base, **variables, "ARTILLERY_DISABLE_TELEMETRY": "true"}
    preload = f"--require {_PRELOAD}"
    env["NODE_OPTIONS"] = f"{base['NODE_OPTIONS']} {preload}" if base.get("NODE_OPTIONS") else preload
    if ca_files:
        extra = run_dir / "extra-ca.pem"
        extra.write_text("".join(path.read_text().strip() + "\n" for path in ca_files))
        # Node adds these to its bundled roots; verification stays on.
        env["NODE_EXTRA_CA_CERTS"] = str(extra)
    return env
