"""``[tool.ops.load]``: defaults, caps, thresholds and per-scenario overrides.

A run's plan is resolved here, before anything starts: the scenario's script,
its VUs/duration (bounded by the caps) and its thresholds. Thresholds are kept
engine-neutral (``p95 < 500 ms``) and translated by each engine module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from ops.config import Config
from ops.errors import ConfigError, UsageError
from ops.settings import Section, did_you_mean, section

ENGINES = ("k6", "artillery")
SCRIPT_SUFFIXES = {"k6": (".js",), "artillery": (".yml", ".yaml")}

# The thresholds every run is judged by, unless [tool.ops.load.thresholds] says otherwise:
# p95 latency, failed requests, and the script's own check()s / expectations (at least 99% passing).
DEFAULT_THRESHOLDS: dict[str, float | bool] = {"p95_ms": 500, "error_rate": 0.01, "checks": 0.99}
# The ratelimit scenario is a functional proof, not a soak: one VU, one pass.
# 429 is an expected answer there, and both 200 and 429 must be seen.
DEFAULT_SCENARIOS: dict[str, dict[str, Any]] = {
    "ratelimit": {
        "vus": 1,
        "iterations": 1,
        "duration": "90s",
        "expected_statuses": [429],
        "thresholds": {"status_200_seen": True, "status_429_seen": True},
    },
}

_LATENCY_KEYS = {"p50_ms": "p50", "p90_ms": "p90", "p95_ms": "p95", "p99_ms": "p99", "avg_ms": "avg", "max_ms": "max"}
_STATUS_SEEN = re.compile(r"^status_(\d{3})_seen$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Threshold:
    """One pass/fail rule over the normalised summary.

    ``kind`` is "latency" (``stat`` < ``limit`` ms), "error_rate" (rate < ``limit``),
    "checks" (the share of passing checks/expectations >= ``limit``) or "status_seen"
    (at least one response with status ``limit``).
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
        if self.kind == "checks":
            return f"checks >= {_number(self.limit * 100)}% passing"
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


def _duration(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError('must be a duration like "30s", "2m" or "1m30s"')
    try:
        return parse_duration(str(value))
    except UsageError:
        raise ValueError('must be a positive duration like "30s", "2m" or "1m30s"') from None


def _thresholds(value: dict[str, float | bool]) -> dict[str, float | bool]:
    try:
        parse_thresholds(value)
    except UsageError as exc:
        raise ValueError(exc.message) from None
    return value


PositiveInt = Annotated[int, Field(ge=1, strict=True)]
LoadDuration = Annotated[float, BeforeValidator(_duration)]
StatusCode = Annotated[int, Field(ge=100, le=599, strict=True)]
Thresholds = Annotated[dict[str, float | bool], AfterValidator(_thresholds)]


class ScenarioSection(Section):
    """``[tool.ops.load.scenarios.<name>]``: what one scenario changes (the caps stay global)."""

    vus: PositiveInt | None = None
    duration: LoadDuration | None = None
    iterations: PositiveInt | None = None
    expected_statuses: list[StatusCode] | None = None
    thresholds: Thresholds = Field(default_factory=dict)
    rate_limit_per_minute: PositiveInt | None = None


class LoadSection(Section):
    section_name = "load"

    scripts_dir: str = Field(default="infra/tests/load", min_length=1)
    vus: PositiveInt = 5
    duration: LoadDuration = 10.0
    iterations: PositiveInt | None = None
    # Hard bounds: a load run is never open-ended, whatever the command line asks.
    max_vus: PositiveInt = 50
    max_duration: LoadDuration = 300.0
    # Merged over DEFAULT_THRESHOLDS; false switches one off.
    thresholds: Thresholds = Field(default_factory=dict)
    expected_statuses: list[StatusCode] = Field(default_factory=list)
    # Extra CA bundle (PEM) the engines trust for TLS targets; local runs add the Caddy root CA.
    ca_file: str = ""
    bypass_token_env: str = Field(default="RATE_LIMIT_BYPASS_TOKEN", min_length=1)
    admin_token_env: str = Field(default="ADMIN_TOKEN", min_length=1)
    rate_limit_per_minute: PositiveInt = 30
    scenarios: dict[str, ScenarioSection] = Field(default_factory=dict)


def _scenario_override(section: LoadSection, scenario: str) -> dict[str, Any]:
    """The packaged default for ``scenario`` with the project's own override on top."""
    merged: dict[str, Any] = dict(DEFAULT_SCENARIOS.get(scenario, {}))
    configured = section.scenarios.get(scenario)
    if configured is not None:
        thresholds = {**merged.get("thresholds", {}), **configured.thresholds}
        merged.update({key: getattr(configured, key) for key in configured.model_fields_set})
        merged["thresholds"] = thresholds
    return merged


def load_settings(cfg: Config, scenario: str) -> LoadSettings:
    """The settings for ``scenario``: the global table, then the scenario's override
    (``[tool.ops.load]`` is validated once, by ``LoadSection``; errors name the key)."""
    table = section(cfg, LoadSection)
    override = _scenario_override(table, scenario)
    duration = override.get("duration", table.duration)
    try:
        thresholds = parse_thresholds({**DEFAULT_THRESHOLDS, **table.thresholds, **override.get("thresholds", {})})
        return LoadSettings(
            scripts_dir=cfg.path(table.scripts_dir),
            vus=override.get("vus") or table.vus,
            duration_s=duration if isinstance(duration, float) else parse_duration(str(duration)),
            iterations=override.get("iterations") or table.iterations,
            max_vus=table.max_vus,
            max_duration_s=table.max_duration,
            thresholds=thresholds,
            expected_statuses=tuple(override.get("expected_statuses") or table.expected_statuses),
            ca_file=cfg.path(table.ca_file) if table.ca_file else None,
            bypass_token_env=table.bypass_token_env,
            admin_token_env=table.admin_token_env,
            rate_limit_per_minute=override.get("rate_limit_per_minute") or table.rate_limit_per_minute,
        )
    except UsageError as exc:
        raise ConfigError(f"[tool.ops.load] {exc.message}", f"fix [tool.ops.load] in {cfg.source_name}") from None


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


def parse_count(value: int | None, option: str) -> int | None:
    """A positive whole number given from Python (the task layer parses the command line's
    text with ``number_option``); None when not given."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UsageError(f"{option} must be a positive whole number, not {value!r}", f"e.g. {option}=5")
    return value


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
        elif key in ("error_rate", "checks"):
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise UsageError(f"{key} must be a rate between 0 and 1, not {value!r}")
            thresholds.append(Threshold(key, key, float(value)))
        elif match := _STATUS_SEEN.match(key):
            thresholds.append(Threshold(key, "status_seen", float(match.group(1))))
        else:
            valid = [*_LATENCY_KEYS, "error_rate", "checks", "status_<code>_seen"]
            close = did_you_mean(key, valid)
            hint = f"did you mean '{close}'? " if close else ""
            raise UsageError(f"unknown threshold '{key}' ({hint}valid: {', '.join(valid)})")
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


def _positive_float(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise UsageError(f"{key} must be a positive number, not {value!r}")
    return float(value)


def _number(value: float) -> str:
    return f"{value:g}"
