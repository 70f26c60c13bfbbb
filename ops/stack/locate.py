"""Where the running local stack is, for the other domains (``--env local``).

Each lookup raises a one-line error with the hint ``run: inv dev.up`` when
the stack is not up.
"""

from __future__ import annotations

from pathlib import Path

from ops.config import Config
from ops.errors import ExternalError
from ops.pg.cluster import Cluster
from ops.stack.database import DB_NAME
from ops.stack.state import StackPaths

UP_HINT = "run: inv dev.up"


def _stack(cfg: Config):  # type: ignore[no-untyped-def]
    from ops.stack.native import NativeStack

    stack = NativeStack.load(cfg)
    if not stack.state.exists:
        raise ExternalError("the local dev stack has not been started", UP_HINT)
    return stack


def local_cluster(cfg: Config) -> Cluster:
    cluster = _stack(cfg).cluster
    if not cluster.initialized:
        raise ExternalError("the local dev stack has no database yet", UP_HINT)
    return cluster


def local_db_name(cfg: Config) -> str:
    return DB_NAME


def local_db_url(cfg: Config) -> str:
    cluster = local_cluster(cfg)
    pid = cluster.pid()
    from ops.stack.process import is_alive

    if pid is None or not is_alive(pid):
        raise ExternalError("the local database is not running", UP_HINT)
    return cluster.url(DB_NAME)


def local_base_url(cfg: Config) -> str:
    stack = _stack(cfg)
    if stack.caddy_pid() is None:
        raise ExternalError("the local dev stack's Caddy is not running", UP_HINT)
    return stack.base_url


def local_app_url(cfg: Config) -> str:
    stack = _stack(cfg)
    if not stack.app().running():
        raise ExternalError("the local app is not running", UP_HINT)
    return stack.app_url


def local_ca_path(cfg: Config) -> Path:
    path = StackPaths.of(cfg).ca_path
    if not path.is_file():
        raise ExternalError("the local Caddy CA does not exist yet", UP_HINT)
    return path


def local_app_env(cfg: Config) -> dict[str, str]:
    stack = _stack(cfg)
    if not stack.cluster.initialized:
        raise ExternalError("the local dev stack has no database yet", UP_HINT)
    return stack.app_env()
