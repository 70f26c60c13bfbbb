"""The stack's Postgres: the cluster, its Supabase-shaped bootstrap, migrations and seed.

The schema is applied by the migration runner itself (``ops.migrations``), so a
database made by ``dev.up`` has exactly the history ``db.migrate`` would write.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ops
from ops import migrations
from ops.config import Config
from ops.errors import ExternalError
from ops.local import DB_NAME, DEV_SETTINGS, cluster_for
from ops.pg.bootstrap import BOOTSTRAP_FILE, apply_bootstrap
from ops.pg.cluster import Cluster

__all__ = [
    "DB_NAME",
    "DEV_SETTINGS",
    "apply_schema",
    "bootstrap",
    "cluster_for",
    "schema_fingerprint",
    "server_settings",
    "start_cluster",
]

# Bump when what a new local database gets changes in a way the inputs below do not show.
SCHEMA_FORMAT = "1"


def server_settings(cfg: Config, cluster: Cluster) -> dict[str, str]:
    """The local server's settings: ours, what the extensions of the bootstrap and of
    the migrations and seeds need (``shared_preload_libraries``, ``cron.database_name``),
    then ``[tool.ops.dev] server_settings``, whose preload libraries add to ours."""
    from ops.local.settings import dev_settings
    from ops.migrations.extensions import required_extensions
    from ops.migrations.extensions import server_settings as extension_settings
    from ops.pg.bootstrap import DEFAULT_EXTENSIONS

    wanted = [*DEFAULT_EXTENSIONS, *required_extensions(cfg)]
    needed = extension_settings(wanted, database=DB_NAME, pkglibdir=cluster.pkglibdir())
    own = dict(dev_settings(cfg).server_settings)
    libraries = [
        lib.strip()
        for value in (needed.get("shared_preload_libraries", ""), own.pop("shared_preload_libraries", ""))
        for lib in value.split(",")
        if lib.strip()
    ]
    settings = {**DEV_SETTINGS, **needed, **own}
    if libraries:
        settings["shared_preload_libraries"] = ",".join(dict.fromkeys(libraries))
    return settings


def start_cluster(cluster: Cluster, timeout: float = 10.0, cfg: Config | None = None) -> bool:
    """Start the server (restart it when its settings changed, given ``cfg``); after a
    kill -9 the old backends may still hold shared memory for a moment, so a failed
    start is retried until they are gone."""
    if cfg is not None:
        cluster.settings = server_settings(cfg, cluster)
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


def schema_fingerprint(cfg: Config, settings: Mapping[str, str], *, seed: bool) -> str:
    """A digest of everything that shapes a new local database once its schema is applied,
    to find a prepared copy of one (``Cluster.init(prepared=...)``): the bootstrap SQL, the
    code that applies it and the migrations (ops' version, and each module's size and change
    time, so an edited checkout counts too), the server settings it ran with, each migration
    file's name and bytes, and with ``seed`` the seed files' paths and bytes. The
    installation's part (initdb, the extension libraries) is added by the cache."""
    digest = hashlib.sha256()

    def add(*parts: str | bytes) -> None:
        for part in parts:
            digest.update(part if isinstance(part, bytes) else part.encode())
            digest.update(b"\0")

    add(SCHEMA_FORMAT, ops.__version__, DB_NAME, BOOTSTRAP_FILE.read_bytes())
    for module in _schema_code():
        info = module.stat()
        add(module.name, str(info.st_size), str(info.st_mtime_ns))
    add(json.dumps(sorted(settings.items())))
    migration_files, seed_files = migrations.sources(cfg, seed=seed)
    for kind, paths in (("migrations", migration_files), ("seed", seed_files)):
        add(kind, str(len(paths)))
        for path in paths:
            # seed_files records a seed by its path from the project root
            add(os.path.relpath(path, cfg.root), path.read_bytes())
    return digest.hexdigest()


def _schema_code() -> list[Path]:
    """The modules whose behaviour shapes the database: the bootstrap and the migration runner."""
    packages = (Path(migrations.__file__).parent, BOOTSTRAP_FILE.parent.parent)
    return sorted({*(path for package in packages for path in package.glob("*.py")), Path(__file__)})
