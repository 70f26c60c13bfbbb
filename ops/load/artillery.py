"""The Artillery engine.

The scenario YAML stays as written; the phases (from --vus/--duration) go in
through ``--overrides``, which replaces arrays rather than merging them.
Artillery's model is open: ``--vus N`` becomes N new virtual users per second,
each running the scenario's flow once.

Thresholds: ours are judged on the parsed summary (``ops.load.summary``). The
script's own ``ensure`` checks are kept and judged after the run by the ensure
plugin's own code (``node/ensure_checks.js``); during the run the plugin is
off, because it reads ``config.ensure`` *or* ``config.plugins.ensure``, so one
set would silently replace the other.

Before anything runs, a script that names another host (``config.target``, an
absolute ``url``) is refused: Artillery has no way to block hosts, and
``--target`` does not reach absolute URLs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import ops
from ops.config import Config
from ops.errors import BinaryNotFound, ConfigError, ExternalError, GuardRefused
from ops.targets import same_base_url

_PRELOAD = Path(__file__).parent / "node" / "quiet_artillery.js"
_ENSURE_CHECKS = Path(__file__).parent / "node" / "ensure_checks.js"
# Exit codes of a run that happened: 0, 1 (a failed check), 21 (the expect plugin saw a failed expectation).
RAN_EXIT_CODES = (0, 1, 21)


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


def read_script(script: Path) -> dict[str, Any]:
    """The scenario YAML as data (a script that is not YAML is the user's error, exit 2)."""
    import yaml

    try:
        data = yaml.safe_load(script.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError(f"cannot read the Artillery script {script.name}: {reason}", "fix the YAML") from None
    return data if isinstance(data, dict) else {}


def refuse_other_hosts(script: dict[str, Any], name: str, target: str) -> None:
    """Refuse a script whose ``config.target`` or an absolute ``url`` reaches another site than ``target``."""
    for where, url in _urls(script):
        if url.startswith(("http://", "https://", "ws://", "wss://")) and not same_base_url(url, target):
            raise GuardRefused(
                f"load.run refused: {name} sends requests to another host than the target ({where})",
                "remove the host from the script: load.run sets the target (BASE_URL / --target) itself",
            )


def _urls(node: Any, path: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            if key in ("target", "url") and isinstance(value, str):
                found.append((here, value.strip()))
            else:
                found += _urls(value, here)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _urls(value, f"{path}[{index}]")
    return found


def script_ensure_checks(script: dict[str, Any]) -> list[dict[str, Any]]:
    """The script's own ensure check sets: ``config.ensure`` and ``config.plugins.ensure``."""
    config = script.get("config") if isinstance(script.get("config"), dict) else {}
    assert isinstance(config, dict)
    plugins = config.get("plugins") if isinstance(config.get("plugins"), dict) else {}
    assert isinstance(plugins, dict)
    return [checks for checks in (config.get("ensure"), plugins.get("ensure")) if isinstance(checks, dict) and checks]


def judge_script_checks(artillery: Path, checks: list[dict[str, Any]], report: Path, run_dir: Path) -> dict[str, bool]:
    """Each script check's verdict on the finished run (``"<expression>"`` -> passed); optional
    (``strict: false``) checks are reported but never fail the run."""
    if not checks:
        return {}
    checks_file = run_dir / "ensure-checks.json"
    checks_file.write_text(json.dumps(checks))
    node = shutil.which("node")
    if node is None:
        raise BinaryNotFound("node is not installed", "install Node.js (Artillery needs it)")
    proc = subprocess.run(
        [node, str(_ENSURE_CHECKS), str(artillery), str(checks_file), str(report)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    try:
        results = json.loads(proc.stdout)
    except json.JSONDecodeError:
        reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ExternalError(f"cannot judge the script's ensure checks: {reason}", "check the ensure section") from None
    verdicts: dict[str, bool] = {}
    for result in results:
        label = result["check"] if result.get("strict", True) else f"{result['check']} (optional)"
        verdicts[label] = bool(result["passed"]) or not result.get("strict", True)
    return verdicts


def overrides(*, vus: int, duration_s: float, iterations: int | None) -> str:
    if iterations:
        phases = [{"duration": 1, "arrivalCount": iterations}]
    else:
        phases = [{"duration": max(1, round(duration_s)), "arrivalRate": vus}]
    return json.dumps({"config": {"phases": phases}})


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
    env = {**base, **variables, "ARTILLERY_DISABLE_TELEMETRY": "true", "ARTILLERY_DISABLE_ENSURE": "true"}
    preload = f"--require {_PRELOAD}"
    env["NODE_OPTIONS"] = f"{base['NODE_OPTIONS']} {preload}" if base.get("NODE_OPTIONS") else preload
    if ca_files:
        extra = run_dir / "extra-ca.pem"
        extra.write_text("".join(path.read_text().strip() + "\n" for path in ca_files))
        # Node adds these to its bundled roots; verification stays on.
        env["NODE_EXTRA_CA_CERTS"] = str(extra)
    return env
