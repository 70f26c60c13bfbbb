"""``[tool.ops.migrations]``: the runner's knobs and their defaults."""

from __future__ import annotations

from ops.config import Config
from ops.settings import Duration, NonNegativeInt, PgDuration, Section, section


class RunnerSettings(Section):
    section_name = "migrations"

    # per-migration lock_timeout; on SQLSTATE 55P03 the file is retried
    lock_timeout: PgDuration = "5s"
    lock_retries: NonNegativeInt = 3
    retry_backoff_seconds: Duration = 1.0
    # how long a runner waits for another runner's migration lock
    lock_wait_seconds: Duration = 900.0


def runner_settings(cfg: Config) -> RunnerSettings:
    return section(cfg, RunnerSettings)
