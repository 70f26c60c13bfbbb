"""A throwaway PostgreSQL cluster under the state dir, for machines with no
dev stack running (CI runners): Supabase-shaped (the bootstrap's roles, which
a backup's ownership and grants name), deleted when done."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ops.config import Config
from ops.errors import OpsError

# Throwaway data: durability does not matter, speed does.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def running_local_cluster(cfg: Config) -> Any:
    """The local dev stack's cluster when it runs, else None."""
    from ops.local import local_cluster

    try:
        cluster = local_cluster(cfg)
    except OpsError:
        return None
    return cluster if cluster.is_running() else None


def start_throwaway_cluster(cfg: Config, name: str) -> Any:
    """A new cluster in ``<state_dir>/<name>``, started and bootstrapped. The
    caller destroys it (``cluster.destroy()``), also on failure."""
    from ops.pg.bootstrap import apply_bootstrap
    from ops.pg.cluster import Cluster

    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(cfg.state_dir / name, settings=FAST_SETTINGS)
    try:
        cluster.start()
        with cluster.connection() as conn:
            apply_bootstrap(conn)
    except BaseException:
        cluster.destroy()
        raise
    return cluster


@contextmanager
def throwaway_cluster(cfg: Config) -> Iterator[Any]:
    cluster = start_throwaway_cluster(cfg, "ops-scratch-" + secrets.token_hex(4))
    try:
        yield cluster
    finally:
        cluster.destroy()
