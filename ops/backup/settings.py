"""``[tool.ops.backup]``: where backups live, how they are made and kept."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.config import Config
from ops.errors import ConfigError

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


def load_settings(cfg: Config) -> BackupSettings:
    section = cfg.section("backup", DEFAULTS)
    hint = f"fix [tool.ops.backup] in {cfg.root / 'pyproject.toml'}"
    jobs = _positive_int(section["jobs"], "jobs", hint)
    compression = section["compression"]
    if not isinstance(compression, int) or not 0 <= compression <= 9:
        raise ConfigError("[tool.ops.backup] compression must be an integer from 0 to 9", hint)
    retention = section["retention"]
    unknown = sorted(set(retention) - set(TIERS))
    if unknown:
        raise ConfigError(f"unknown retention tier '{unknown[0]}'", f"tiers are {', '.join(TIERS)}")
    counts = {tier: _non_negative_int(retention.get(tier, 0), f"retention.{tier}", hint) for tier in TIERS}
    drill = section["drill"]
    return BackupSettings(
        root=cfg.path(section["root"]),
        jobs=jobs,
        compression=compression,
        retention=counts,
        drill_from=str(drill["from"]),
        drill_to=str(drill["to"]),
        app_timeout=float(drill["app_timeout"]),
    )


def _positive_int(value: Any, key: str, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"[tool.ops.backup] {key} must be a positive integer", hint)
    return value


def _non_negative_int(value: Any, key: str, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"[tool.ops.backup] {key} must be a non-negative integer", hint)
    return value
