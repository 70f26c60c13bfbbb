"""The runner's default settings, written once: ``RunnerSettings`` (pydantic) takes its
defaults from here, and ``knobs.runner_settings`` returns them without pydantic when
``[tool.ops.migrations]`` is absent."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunnerDefaults:
    lock_timeout: str = "5000ms"  # a PostgreSQL duration, as PgDuration gives it
    lock_retries: int = 3
    retry_backoff_seconds: float = 1.0
    lock_wait_seconds: float = 900.0


DEFAULTS = RunnerDefaults()
