"""``[tool.ops.pg]``: where the PostgreSQL binaries are, when the search should not decide."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictStr

from ops.config import Config
from ops.settings import Section, section


class PgSettings(Section):
    section_name = "pg"

    # a directory holding initdb, pg_ctl, postgres..., relative to the project root
    bindir: Annotated[StrictStr, Field(min_length=1)] | None = None


def pg_settings(cfg: Config) -> PgSettings:
    return section(cfg, PgSettings)
