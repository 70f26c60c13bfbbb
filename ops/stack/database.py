"""The stack's Postgres: the cluster, its Supabase-shaped bootstrap, migrations and seed.

The schema is applied by the migration runner itself (``ops.migrations``), so a
database made by ``dev.up`` has exactly the history ``db.migrate`` would write.
"""

from __future__ import annotations

import time
from typing import Any

from ops import migrations
from ops.config import Config
from ops.errors import ExternalError
from ops.local import DB_NAME, DEV_SETTINGS, cluster_for
from ops.pg.bootstrap import apply_bootstrap
from ops.pg.cluster import Cluster

__all__ = ["DB_NAME", "DEV_SETTINGS", "apply_schema", "bootstrap", "cluster_for", "start_cluster"]


def start_cluster(cluster: Cluster, timeout: float = 10.0) -> bool:
    """Start the server; after a kill -9 the old backends may still hold shared
    memory for a moment, so a failed start is retried until they are gone."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return cluster.start()
        except ExternalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def bootstrap(cluster: Cluster) -> None:
    with cluster.connection(DB_NAME) as conn:
        apply_bootstrap(conn)


def apply_schema(cfg: Config, db_url: str, *, seed: bool, out: Any = None) -> list[str]:
    """Apply pending migrations (and the seed); returns what was done, one phrase each."""
    done = [f"migrations: {len(migrations.migrate(cfg, db_url, out=out).applied)} applied"]
    if seed:
        done.append(f"seed: {len(migrations.seed(cfg, db_url).files)} file(s)")
    return done
