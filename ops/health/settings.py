"""``[tool.ops.health]``: how patiently ``inv health`` asks."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ops.config import Config
from ops.settings import Duration, NonNegativeInt, Section, section


class HealthSettings(Section):
    section_name = "health"

    # seconds per request
    timeout: Annotated[Duration, Field(gt=0)] = 5.0
    # extra attempts when an endpoint does not answer at all
    retries: NonNegativeInt = 2
    # seconds between those attempts
    retry_delay: Duration = 1.0
    # seconds between rounds while --wait runs
    wait_interval: Annotated[Duration, Field(gt=0)] = 2.0


def health_settings(cfg: Config) -> HealthSettings:
    return section(cfg, HealthSettings)
