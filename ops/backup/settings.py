"""``[tool.ops.backup]``: where backups live, how they are made and kept."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.config import Config
from ops.errors import ConfigError, UsageError

DEFAULTS: dict[str, Any] = {
    "root": ".ops/backups",
    "jobs": 2,
    # pg_dump's own default for the directory format (gzip, level 6).
    "compression": 6,
    "retention": {"daily": 7, "weekly": 4, "monthly": 12, "yearly": 7},
    "drill": {"from": "production", "to": "staging", "app_timeout": 60},
}

TIERS = ("daily", "weekly", "monthly", "yearly")


@dataclass(frozen=True)
class BackupSettings:
    root: Path
    jobs: int
    compression: int
    retention: dict[str, int]
    drill_from: str
    drill_to: str
    app_timeout: float

    def env_dir(self, env: str) -> Path:
        return self.root / env

    @property
    def drills_dir(self) -> Path:
        return self.root / "drills"

    def resolve_jobs(self, jobs: int | None) -> int:
        """``--jobs`` when given, else the configured default."""
        if jobs is None:
            return self.jobs
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise UsageError("--jobs must be at least 1", "pass --jobs 1 or more")
        return jobs


def load_settings(cfg: Config) -> BackupSettings:
    section = cfg.section("backup", DEFAULTS)
    hint = f"fix [tool.ops.backup] in {cfg.root / 'pyproject.toml'}"
    root = section["root"]
    if not isinstance(root, str) or not root.strip():
        raise ConfigError("[tool.ops.backup] root must be a directory path (a string)", hint)
    jobs = _positive_int(section["jobs"], "jobs", hint)
    compression = section["compression"]
    if isinstance(compression, bool) or not isinstance(compression, int) or not 0 <= compression <= 9:
        raise ConfigError("[tool.ops.backup] compression must be an integer from 0 to 9", hint)
    retention = _table(section["retention"], "retention", hint)
    unknown = sorted(set(retention) - set(TIERS))
    if unknown:
        raise ConfigError(f"unknown retention tier '{unknown[0]}'", f"tiers are {', '.join(TIERS)}")
    counts = {tier: _non_negative_int(retention.get(tier, 0), f"retention.{tier}", hint) for tier in TIERS}
    drill = _table(section["drill"], "drill", hint)
    for key in ("from", "to"):
        if not isinstance(drill[key], str):
            raise ConfigError(f"[tool.ops.backup.drill] {key} must be an environment name", hint)
    timeout = drill["app_timeout"]
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError("[tool.ops.backup.drill] app_timeout must be a positive number of seconds", hint)
    return BackupSettings(
        root=cfg.path(root),
        jobs=jobs,
        compression=compression,
        retention=counts,
        drill_from=drill["from"],
        drill_to=drill["to"],
        app_timeout=float(timeout),
    )


def _table(value: Any, key: str, hint: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"[tool.ops.backup] {key} must be a table ([tool.ops.backup.{key}])", hint)
    return value


def _positive_int(value: Any, key: str, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"[tool.ops.backup] {key} must be a positive integer", hint)
    return value


def _non_negative_int(value: Any, key: str, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"[tool.ops.backup] {key} must be a non-negative integer", hint)
    return value
