"""``[tool.ops.load]``: defaults, caps, thresholds and per-scenario overrides.

A run's plan is resolved here, before anything starts: the scenario's script,
its VUs/duration (bounded by the caps) and its thresholds. Thresholds are kept
engine-neutral (``p95 < 500 ms``) and translated by each engine module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.config import Config
from ops.errors import ConfigError, UsageError

SCENARIOS = ("catalog", "product", "checkout", "admin", "ratelimit")
ENGINES = ("k6", "artillery")
SCRIPT_SUFFIXES = {"k6": (".js",), "artillery": (".yml", ".yaml")}

DEFAULTS: dict[str, Any] = {
    "scripts_dir": "infra/tests/load",
    "vus": 5,
    "duration": "10s",
    # Hard bounds: a load run is never open-ended, whatever the command line asks.
    "max_vus": 50,
    "max_duration": "5m",
    "thresholds": {"p95_ms": 500, "error_rate": 0.01},
    # Extra CA bundle (PEM) the engines trust for TLS targets; local runs add the Caddy root CA.
    "ca_file": "",
    "bypass_token_env": "RATE_LIMIT_BYPASS_TOKEN",
    "admin_token_env": "ADMIN_TOKEN",
    "rate_limit_per_minute": 30,
    "scenarios": {
        # The ratelimit scenario is a functional proof, not a soak: one VU, one pass.
        # 429 is an expected answer there, and both 200 and 429 must be seen.
        "ratelimit": {
            "vus": 1,
            "iterations": 1,
            "duration": "90s",
            "expected_statuses": [429],
            "thresholds": {"status_200_seen": True, "status_429_seen": True},
        },
    },
}

_LATENCY_KEYS = {"p50_ms": "p50", "p90_ms": "p90", "p95_ms": "p95", "p99_ms": "p99", "avg_ms": "avg", "max_ms": "max"}
_STATUS_SEEN = re.compile(r"^status_(\d{3})_seen$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Threshold:
    """One pass/fail rule over the normalised summary.

    ``kind`` is "latency" (``stat`` < ``limit`` ms), "error_rate" (rate < ``limit``)
    or "status_seen" (at least one response with status ``limit``).
    """

    key: str
    kind: str
    limit: float
    stat: str = ""

    @property
    def name(self) -> str:
        if self.kind == "latency":
            return f"{self.stat} < {_number(self.limit)} ms"
        if self.kind == "error_rate":
            return f"error rate < {_number(self.limit * 100)}%"
        return f"status {int(self.limit)} seen"


@dataclass(frozen=True)
class LoadSettings:
    scripts_dir: Path
    vus: int
    duration_s: float
    iterations: int | None
    max_vus: int
    max_duration_s: float
    thresholds: tuple[Threshold, ...]
    expected_statuses: tuple[int, ...]
    ca_file: Path | None
    bypass_token_env: str
    admin_token_env: str
    rate_limit_per_minute: int
    raw: dict[str, Any] = field(default_factory=dict)


def load_settings(cfg: Config, scenario: str) -> LoadSettings:
    """The merged settings for ``scenario`` (global table, then its override)."""
    table = cfg.section("load", {k: v for k, v in DEFAULTS.items() if k != "scenarios"})
    scenarios = _merge_scenarios(DEFAULTS["scenarios"], cfg.raw.get("load", {}).get("scenarios", {}))
    override = scenarios.get(scenario, {})
    merged = {**table, **{k: v for k, v in override.items() if k != "thresholds"}}
    thresholds = {**table["thresholds"], **override.get("thresholds", {})}
    try:
        settings = LoadSettings(
            scripts_dir=cfg.path(merged["scripts_dir"]),
            vus=_positive_int(merged["vus"], "vus"),
            duration_s=parse_duration(str(merged["duration"])),
            iterations=_positive_int(merged["iterations"], "iterations") if merged.get("iterations") else None,
            max_vus=_positive_int(merged["max_vus"], "max_vus"),
            max_duration_s=parse_duration(str(merged["max_duration"])),
            thresholds=parse_thresholds(thresholds),
            expected_statuses=tuple(int(code) for code in merged.get("expected_statuses", [])),
            ca_file=cfg.path(merged["ca_file"]) if merged.get("ca_file") else None,
            bypass_token_env=str(merged["bypass_token_env"]),
            admin_token_env=str(merged["admin_token_env"]),
            rate_limit_per_minute=_positive_int(merged["rate_limit_per_minute"], "rate_limit_per_minute"),
            raw=merged,
        )
    except UsageError as exc:
        raise ConfigError(f"[tool.ops.load]: {exc.message}", "fix [tool.ops.load] in pyproject.toml") from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[tool.ops.load]: {exc}", "fix [tool.ops.load] in pyproject.toml") from None
    return settings


def parse_duration(text: str) -> float:
    """``"90s"``, ``"2m"``, ``"1m30s"``, ``"500ms"`` or plain seconds -> seconds."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
    elif text and _DURATION_PART.sub("", text) == "":
        seconds = sum(float(n) * _DURATION_UNITS[unit] for n, unit in _DURATION_PART.findall(text))
    else:
        raise UsageError(f"invalid duration '{text}'", "use a duration like 30s, 2m or 1m30s")
    if seconds <= 0:
        raise UsageError(f"invalid duration '{text}'", "use a positive duration like 30s")
    return seconds


def parse_count(value: int | str | None, option: str) -> int | None:
    """A positive whole number from the command line (text) or from Python; None when not given."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or int(text) <= 0:
        raise UsageError(f"{option} must be a positive whole number, not '{value}'", f"e.g. {option} 5")
    return int(text)


def format_duration(seconds: float) -> str:
    """Seconds as the engines' duration syntax (whole seconds, at least 1)."""
    return f"{max(1, round(seconds))}s"


def parse_thresholds(table: dict[str, Any]) -> tuple[Threshold, ...]:
    """``{p95_ms = 500, error_rate = 0.01, status_429_seen = true}`` -> thresholds.
    A value of ``false`` switches an inherited threshold off."""
    thresholds: list[Threshold] = []
    for key, value in table.items():
        if value is False or value is None:
            continue
        if key in _LATENCY_KEYS:
            thresholds.append(Threshold(key, "latency", _positive_float(value, key), _LATENCY_KEYS[key]))
        elif key == "error_rate":
            rate = float(value)
            if not 0 <= rate <= 1:
                raise UsageError(f"error_rate must be between 0 and 1, not {value}")
            thresholds.append(Threshold(key, "error_rate", rate))
        elif match := _STATUS_SEEN.match(key):
            thresholds.append(Threshold(key, "status_seen", float(match.group(1))))
        else:
            valid = ", ".join([*_LATENCY_KEYS, "error_rate", "status_<code>_seen"])
            raise UsageError(f"unknown threshold '{key}' (valid: {valid})")
    return tuple(thresholds)


def check_caps(settings: LoadSettings, vus: int, duration_s: float) -> None:
    """Refuse a run above the configured bounds."""
    if vus > settings.max_vus:
        raise UsageError(
            f"{vus} VUs exceeds the cap of {settings.max_vus}", "lower --vus or raise max_vus in [tool.ops.load]"
        )
    if duration_s > settings.max_duration_s:
        raise UsageError(
            f"duration {format_duration(duration_s)} exceeds the cap of {format_duration(settings.max_duration_s)}",
            "shorten --duration or raise max_duration in [tool.ops.load]",
        )


def _merge_scenarios(defaults: dict[str, Any], configured: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(configured, dict):
        raise ConfigError("[tool.ops.load.scenarios] must be a table", "fix pyproject.toml")
    merged: dict[str, dict[str, Any]] = {name: dict(values) for name, values in defaults.items()}
    for name, values in configured.items():
        if not isinstance(values, dict):
            raise ConfigError(f"[tool.ops.load.scenarios.{name}] must be a table", "fix pyproject.toml")
        base = merged.setdefault(name, {})
        thresholds = {**base.get("thresholds", {}), **values.get("thresholds", {})}
        base.update(values)
        if thresholds:
            base["thresholds"] = thresholds
    return merged


def _positive_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UsageError(f"{key} must be a positive integer, not {value!r}")
    return value


def _positive_float(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise UsageError(f"{key} must be a positive number, not {value!r}")
    return float(value)


def _number(value: float) -> str:
    return f"{value:g}"
