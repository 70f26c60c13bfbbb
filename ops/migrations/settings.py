"""``[tool.ops.migrations]`` (the runner's knobs) and ``[tool.ops.lint]`` (db.lint's rules)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, StrictBool

from ops.config import Config
from ops.migrations.defaults import DEFAULTS
from ops.settings import Duration, NonNegativeInt, PgDuration, Section, section


class RunnerSettings(Section):
    """The runner reads it through ``ops.migrations.knobs.runner_settings``, which skips
    this model (and pydantic) when the table is absent; the defaults are written once,
    in ``ops.migrations.defaults``."""

    section_name = "migrations"

    # per-migration lock_timeout; on SQLSTATE 55P03 the file is retried
    lock_timeout: PgDuration = DEFAULTS.lock_timeout
    lock_retries: NonNegativeInt = DEFAULTS.lock_retries
    retry_backoff_seconds: Duration = DEFAULTS.retry_backoff_seconds
    # how long a runner waits for another runner's migration lock
    lock_wait_seconds: Duration = DEFAULTS.lock_wait_seconds


Severity = Literal["error", "warning", "off"]


def _version_text(value: Any) -> Any:
    # `pg_version = 15` and `pg_version = "15"` mean the same; squawk takes text
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class LintSettings(Section):
    """``[tool.ops.lint]``: which schemas are exposed, which squawk rules apply, severities."""

    section_name = "lint"

    # Schemas the Data API exposes: tables there need RLS.
    exposed_schemas: list[str] = Field(default_factory=lambda: ["public"])
    # Exit 1 on warnings too (errors always fail).
    fail_on_warnings: StrictBool = False
    # squawk rules that do not apply here: the runner sets lock_timeout per
    # migration, and runs each file once inside a transaction.
    squawk_exclude: list[str] = Field(
        default_factory=lambda: ["require-lock-timeout", "require-statement-timeout", "prefer-robust-stmts"]
    )
    # squawk rules that are errors: they lock or break a live table.
    squawk_errors: list[str] = Field(
        default_factory=lambda: [
            "adding-required-field",
            "adding-not-nullable-field",
            "ban-concurrent-index-creation-in-transaction",
            "ban-drop-database",
            "changing-column-type",
            "constraint-missing-not-valid",
            "disallowed-unique-constraint",
        ]
    )
    # Per-rule override, ours or squawk's: {"rule-name" = "error" | "warning" | "off"}.
    severity: dict[str, Severity] = Field(default_factory=dict)
    # The PostgreSQL version squawk assumes.
    pg_version: Annotated[str, BeforeValidator(_version_text), Field(pattern=r"^\d+(\.\d+)?$")] = "15"


def lint_settings(cfg: Config) -> LintSettings:
    return section(cfg, LintSettings)
