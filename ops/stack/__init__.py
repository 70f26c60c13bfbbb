"""The local dev stack: Postgres, the app and Caddy TLS (``inv dev.*``).

Commands (what the tasks call): ``up``, ``status``, ``down``, ``logs``,
``follow``, ``psql``, ``env_exports``. The lookups other domains use to reach the
running stack (``local_db_url``...) live in ``ops.local`` and are re-exported here.
"""

from __future__ import annotations

from ops.local import (
    local_app_env,
    local_app_url,
    local_base_url,
    local_ca_path,
    local_cluster,
    local_db_name,
    local_db_url,
)
from ops.stack.commands import down, env_exports, follow, logs, psql, restart, status, up

__all__ = [
    "down",
    "env_exports",
    "follow",
    "local_app_env",
    "local_app_url",
    "local_base_url",
    "local_ca_path",
    "local_cluster",
    "local_db_name",
    "local_db_url",
    "logs",
    "psql",
    "restart",
    "status",
    "up",
]
