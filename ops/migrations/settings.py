"""``[tool.ops.migrations]``: the runner's knobs and their defaults."""

from __future__ import annotations

from dataclasses import dataclass

from ops.config import Config
from ops.errors import ConfigError

DEFAULTS: dict[str, object] = {
    # per-migration lock_timeout; on SQLSTATE 55P03 the file is retried
    "lock_timeout": "5s",
    "lock_retries": 3,
    "retry_backoff_seconds": 1.0,
    # how long a runner waits for another runner's migration lock
    "lock_wait_seconds": 900,
}


@dataclass(frozen=True)
class RunnerSettings:
    lock_timeout: str = "5s"
    lock_retries: int = 3
    retry_backoff_seconds: float = 1.0
    lock_wait_seconds: float = 900.0


def runner_settings(cfg: Config) -> RunnerSettings:
    section = cfg.section("migrations", DEFAULTS)
    try:
        return RunnerSettings(
            lock_timeout=str(section["lock_timeout"]),
            lock_retries=int(section["lock_retries"]),
            retry_backoff_seconds=float(section["retry_backoff_seconds"]),
            lock_wait_seconds=float(section["lock_wait_seconds"]),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[tool.ops.migrations] has a bad value: {exc}", "fix it in pyproject.toml") from None
