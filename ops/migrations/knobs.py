"""The runner's settings as the runner reads them, without pydantic when none are set.

``[tool.ops.migrations]`` is validated by its pydantic model,
``ops.migrations.settings.RunnerSettings``. A project without that table (``ops
init`` writes none) gets ``DEFAULTS`` (``ops.migrations.defaults``, which the model
takes its defaults from), and ``db.migrate`` does not pay for importing pydantic and
building the models (about 0.1 s of a command that psql finishes in about a second).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ops.migrations.defaults import DEFAULTS, RunnerDefaults

if TYPE_CHECKING:
    from ops.config import Config


class RunnerKnobs(Protocol):
    """What the runner reads: ``RunnerSettings`` or ``RunnerDefaults``."""

    @property
    def lock_timeout(self) -> str: ...  # a PostgreSQL duration, "5000ms"

    @property
    def lock_retries(self) -> int: ...

    @property
    def retry_backoff_seconds(self) -> float: ...

    @property
    def lock_wait_seconds(self) -> float: ...


__all__ = ["DEFAULTS", "RunnerDefaults", "RunnerKnobs", "runner_settings"]


def runner_settings(cfg: Config) -> RunnerKnobs:
    """``[tool.ops.migrations]``, validated; the defaults when the table is absent or empty."""
    table = cfg.raw.get("migrations")
    if table is None or table == {}:
        return DEFAULTS
    from ops.migrations.settings import RunnerSettings
    from ops.settings import section

    return section(cfg, RunnerSettings)
