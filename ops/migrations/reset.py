"""``db.reset``: the local database from scratch: drop, create, bootstrap, migrate, seed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ops.config import Config
from ops.errors import ExternalError
from ops.pg.bootstrap import apply_bootstrap
from ops.pg.cluster import Cluster
from ops.pg.connect import error_text

if TYPE_CHECKING:
    from ops.console import Output
    from ops.migrations.runner import MigrateReport
    from ops.migrations.seeding import SeedReport


@dataclass
class ResetReport:
    database: str
    migrate: MigrateReport
    seed: SeedReport

    def to_dict(self) -> dict[str, Any]:
        return {"database": self.database, "migrate": self.migrate.to_dict(), "seed": self.seed.to_dict()}


def recreate_database(cluster: Cluster, name: str) -> None:
    """Drop ``name`` (closing its connections) and create it bootstrapped.

    Works for the ``postgres`` database too: the drop runs from ``template1``.
    """
    import psycopg
    from psycopg import sql

    try:
        with cluster.connection("template1") as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with cluster.connection(name) as conn:
            apply_bootstrap(conn)
    except psycopg.Error as exc:
        raise ExternalError(
            f"recreating database {name} failed: {error_text(exc)}", "check the local cluster's log"
        ) from None


def reset_cluster_database(
    cfg: Config, cluster: Cluster, name: str, *, seed: bool = True, out: Output | None = None
) -> ResetReport:
    """Recreate ``name`` on ``cluster``, then migrate and seed it."""
    from ops.migrations.runner import migrate
    from ops.migrations.seeding import SeedReport
    from ops.migrations.seeding import seed as run_seed

    recreate_database(cluster, name)
    url = cluster.url(name)
    migrated = migrate(cfg, url, out=out)
    seeded = run_seed(cfg, url, env="local", out=out) if seed else SeedReport(target=migrated.target, enabled=False)
    return ResetReport(name, migrated, seeded)
