"""The migration runner: Supabase-CLI-compatible history, safer application.

``migrate`` and ``seed`` are the public API (``ops.migrations.files.load_migrations``
reads the files); ``ops.migrations.commands`` adds the environment-level commands
behind ``inv db.*``. Everything imports lazily so ``import ops.migrations`` is cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ops.config import Config
    from ops.console import Output
    from ops.migrations.knobs import RunnerKnobs
    from ops.migrations.runner import MigrateReport
    from ops.migrations.seeding import SeedReport


def migrate(
    cfg: Config,
    db_url: str,
    *,
    dry_run: bool = False,
    include_all: bool = False,
    out: Output | None = None,
    settings: RunnerKnobs | None = None,
) -> MigrateReport:
    """Apply the pending ``supabase/migrations`` files to ``db_url`` (see ``runner.migrate``)."""
    from ops.migrations.runner import migrate as run

    return run(cfg, db_url, dry_run=dry_run, include_all=include_all, out=out, settings=settings)


def seed(
    cfg: Config, db_url: str, *, force: bool = False, env: str | None = None, out: Output | None = None
) -> SeedReport:
    """Apply new and changed ``[db.seed] sql_paths`` files to ``db_url`` (see ``seeding.seed``)."""
    from ops.migrations.seeding import seed as run

    return run(cfg, db_url, force=force, env=env, out=out)


def sources(cfg: Config, *, seed: bool = True) -> tuple[list[Path], list[Path]]:
    """The project files ``migrate`` reads, and with ``seed`` those ``seed`` reads (none when
    ``[db.seed]`` is disabled), in the order they apply: what a database they made depends on."""
    from ops.migrations.files import load_migrations, seed_files, seed_settings

    migration_files = [migration.path for migration in load_migrations(cfg.migrations_dir)]
    enabled, patterns = seed_settings(cfg) if seed else (False, [])
    return migration_files, seed_files(cfg, patterns, []) if enabled else []


__all__ = ["migrate", "seed", "sources"]
