"""The ``db.*`` commands by environment name: what the tasks call (alembic's ``command``).

Each command resolves the environment's database URL, applies the guards
before anything is touched, and calls the library function.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ops.config import Config
from ops.errors import GuardRefused, UsageError
from ops.guards import (
    refuse_mislabelled_production,
    refuse_production_target,
    refuse_transaction_pooler,
    require_production_confirmation,
)

if TYPE_CHECKING:
    from ops.console import Output
    from ops.migrations.repair import RepairReport
    from ops.migrations.reset import ResetReport
    from ops.migrations.runner import MigrateReport
    from ops.migrations.seeding import SeedReport
    from ops.migrations.status import ParityReport, TargetStatus


def target_url(cfg: Config, env: str) -> str:
    """The environment's database URL; the transaction pooler is refused."""
    from ops.targets import db_url

    cfg.env(env)
    url = db_url(cfg, env)
    refuse_transaction_pooler(url)
    return url


def new(cfg: Config, name: str) -> Path:
    from ops.migrations.files import new_migration

    return new_migration(cfg.migrations_dir, name)


def migrate(
    cfg: Config,
    env: str = "local",
    *,
    dry_run: bool = False,
    include_all: bool = False,
    yes: bool = False,
    out: Output | None = None,
) -> MigrateReport:
    from ops.migrations.runner import migrate as run

    if not dry_run:
        require_production_confirmation(env, yes, "db.migrate", cfg=cfg)
    url = target_url(cfg, env)
    if not dry_run:
        refuse_mislabelled_production(cfg, env, "db.migrate", db_url=url)
    return run(cfg, url, dry_run=dry_run, include_all=include_all, out=out)


def status(cfg: Config, envs: list[str]) -> TargetStatus | ParityReport:
    """One environment's status, or with two or more a parity report."""
    from ops.migrations.status import parity, target_status

    envs = list(dict.fromkeys(envs or ["local"]))
    if len(envs) == 1:
        return target_status(cfg, target_url(cfg, envs[0]), envs[0])
    return parity(cfg, {env: target_url(cfg, env) for env in envs})


def repair(cfg: Config, versions: list[str], status: str, env: str = "local", *, yes: bool = False) -> RepairReport:
    from ops.migrations.repair import check_request
    from ops.migrations.repair import repair as run

    check_request(versions, status)
    require_production_confirmation(env, yes, "db.repair", cfg=cfg)
    url = target_url(cfg, env)
    refuse_mislabelled_production(cfg, env, "db.repair", db_url=url)
    return run(cfg, url, versions, status)


def seed(cfg: Config, env: str = "local", *, force: bool = False, out: Output | None = None) -> SeedReport:
    from ops.migrations.seeding import seed as run

    refuse_production_target(cfg, env, "db.seed")
    return run(cfg, target_url(cfg, env), force=force, env=env, out=out)


def reset(cfg: Config, env: str = "local", *, seed: bool = True, out: Output | None = None) -> ResetReport:
    """Local only: refused for any other environment before anything is touched."""
    if env != "local":
        cfg.env(env)
        raise GuardRefused(f"db.reset is local only, not '{env}'", "run it without --env (or with --env local)")
    from ops.local import local_cluster, local_db_name, local_db_url
    from ops.migrations.reset import reset_cluster_database

    cluster = local_cluster(cfg)
    if not cluster.is_running():
        raise UsageError("the local database is not running", "run: inv dev.up")
    refuse_production_target(cfg, env, "db.reset", db_url=local_db_url(cfg))
    return reset_cluster_database(cfg, cluster, local_db_name(cfg), seed=seed, out=out)
