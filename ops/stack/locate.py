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


def _compose(cfg: Config):  # type: ignore[no-untyped-def]
    """The docker provider's stack, when the stack was made with it."""
    from ops.stack.state import StackState

    if StackState.load(StackPaths.of(cfg)).provider != "docker":
        return None
    from ops.stack.compose import ComposeStack

    return ComposeStack.load(cfg)


def local_cluster(cfg: Config) -> Cluster:
    if _compose(cfg) is not None:
        raise ExternalError(
            "the local stack runs with the docker provider, which has no cluster on this machine",
            "use local_db_url(cfg), or run: inv dev.down && inv dev.up --provider native",
        )
    cluster = _stack(cfg).cluster
    if not cluster.initialized:
        raise ExternalError("the local dev stack has no database yet", UP_HINT)
    return cluster


def local_db_name(cfg: Config) -> str:
    return DB_NAME


def local_db_url(cfg: Config) -> str:
    compose = _compose(cfg)
    if compose is not None:
        return str(compose.db_url)
    cluster = local_cluster(cfg)
    pid = cluster.pid()
    from ops.stack.process import is_alive

    if pid is None or not is_alive(pid):
        raise ExternalError("the local database is not running", UP_HINT)
    return cluster.url(DB_NAME)


def local_base_url(cfg: Config) -> str:
    compose = _compose(cfg)
    if compose is not None:
        return str(compose.base_url)
    stack = _stack(cfg)
    if stack.caddy_pid() is None:
        raise ExternalError("the local dev stack's Caddy is not running", UP_HINT)
    return stack.base_url


def local_app_url(cfg: Config) -> str:
    compose = _compose(cfg)
    if compose is not None:
        return str(compose.app_url)
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
    compose = _compose(cfg)
    if compose is not None:
        return {
            "DATABASE_URL": compose.db_url,
            "ADMIN_TOKEN": compose.state.admin_token,
            "RATE_LIMIT_BYPASS_TOKEN": compose.state.bypass_token,
            "BASE_URL": compose.base_url,
            "NODE_EXTRA_CA_CERTS": str(compose.paths.ca_path),
        }
    stack = _stack(cfg)
    if not stack.cluster.initialized:
        raise ExternalError("the local dev stack has no database yet", UP_HINT)
    return stack.app_env()
