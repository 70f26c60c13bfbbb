"""Where the local stack is: its state, ports, URLs, CA and the environment its services get.

The other domains reach the running dev stack (``--env local``) through these lookups;
each raises a one-line error with the hint ``run: inv dev.up`` when the stack is not up.
Nothing here starts or stops anything: that is ``ops.stack``, one layer up.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from ops.config import Config
from ops.errors import ExternalError
from ops.local.pids import command_line, is_alive, live_pid
from ops.local.settings import DEFAULT_SERVICE, HOST, DevSettings, dev_settings
from ops.local.state import StackPaths, StackState
from ops.pg.cluster import Cluster

UP_HINT = "run: inv dev.up"
DB_NAME = "postgres"  # Supabase's local database is "postgres" too
PORT_KEY = "db_port in [tool.ops.dev]"
# A dev database trades the last few hundred milliseconds of commits after an OS
# crash (never consistency) for commits that do not wait on disk flushes.
DEV_SETTINGS = {"synchronous_commit": "off"}


def cluster_for(cfg: Config, port: int | None = None) -> Cluster:
    """The stack's cluster; an existing cluster keeps the port it was created with (its
    postgresql.conf says so), ``port`` is for a new one."""
    # settings stay None here: the stack sets them when it starts the server, with what
    # the migrations' extensions need (ops.stack.database.server_settings).
    cluster = Cluster(
        StackPaths.of(cfg).postgres_dir,
        port_key=PORT_KEY,
        version=dev_settings(cfg).pg_version,
        version_key="pg_version in [tool.ops.dev]",
    )
    if not cluster.initialized:
        cluster.port = port or None
    return cluster


def postmaster_pid(cluster: Cluster) -> int | None:
    """The postmaster's pid if it really runs: not a zombie, not a reused pid."""
    pid = cluster.pid()
    if pid is None or not is_alive(pid):
        return None
    argv = command_line(pid)
    # None: the system will not show another user's command line (macOS); the pid lives.
    if argv is not None and not any(str(cluster.data_dir) in part for part in argv):
        return None
    return pid


def https_url(ports: dict[str, int]) -> str:
    return f"https://localhost:{ports['https']}"


def service_url(ports: dict[str, int], service: str) -> str:
    return f"http://{HOST}:{ports[service]}"


def redis_url(password: str, port: int) -> str:
    return f"redis://:{quote(password, safe='')}@{HOST}:{port}/0"


def _state(cfg: Config) -> tuple[StackPaths, StackState]:
    paths = StackPaths.of(cfg)
    state = StackState.load(paths)
    if not state.exists:
        raise ExternalError("the local dev stack has not been started", UP_HINT)
    return paths, state


def _is_docker(cfg: Config) -> bool:
    return StackState.load(StackPaths.of(cfg)).provider == "docker"


def _compose_db_url(state: StackState) -> str:
    return f"postgresql://postgres:{quote(state.db_password, safe='')}@{HOST}:{state.ports['db']}/{DB_NAME}"


def local_cluster(cfg: Config) -> Cluster:
    if _is_docker(cfg):
        raise ExternalError(
            "the local stack runs with the docker provider, which has no cluster on this machine",
            "use local_db_url(cfg), or run: inv dev.down && inv dev.up --provider native",
        )
    _, state = _state(cfg)
    cluster = cluster_for(cfg, state.ports.get("db"))
    if not cluster.initialized:
        raise ExternalError("the local dev stack has no database yet", UP_HINT)
    return cluster


def local_db_name(cfg: Config) -> str:
    return DB_NAME


def local_db_url(cfg: Config) -> str:
    _, state = _state(cfg)
    if state.provider == "docker":
        return _compose_db_url(state)
    cluster = local_cluster(cfg)
    if postmaster_pid(cluster) is None:
        raise ExternalError("the local database is not running", UP_HINT)
    return cluster.url(DB_NAME)


def local_base_url(cfg: Config) -> str:
    paths, state = _state(cfg)
    if state.provider != "docker" and live_pid(paths.pidfile("caddy")) is None:
        raise ExternalError("the local dev stack's Caddy is not running", UP_HINT)
    return https_url(state.ports)


def local_app_url(cfg: Config, service: str | None = None) -> str:
    """The direct (plain HTTP) URL of ``service``, the default service when None."""
    paths, state = _state(cfg)
    name = service or dev_settings(cfg).default_service
    if name not in state.ports:
        raise ExternalError(f"the local service '{name}' has no port", UP_HINT)
    if state.provider != "docker" and live_pid(paths.pidfile(name)) is None:
        raise ExternalError(f"the local service '{name}' is not running", UP_HINT)
    return service_url(state.ports, name)


def local_ca_path(cfg: Config) -> Path:
    path = StackPaths.of(cfg).ca_path
    if not path.is_file():
        raise ExternalError("the local Caddy CA does not exist yet", UP_HINT)
    return path


def local_http_services(cfg: Config) -> dict[str, tuple[str, str]]:
    """Each HTTP service of the stack: name -> (its direct URL, its ready path)."""
    _, state = _state(cfg)
    table = dev_settings(cfg).service_table()
    return {
        name: (service_url(state.ports, name), str(service.ready_path))
        for name, service in table.items()
        if service.is_http and name in state.ports
    }


def service_environment(
    settings: DevSettings, paths: StackPaths, state: StackState, db_url: str, service: str
) -> dict[str, str]:
    """What ``service`` finds in its environment: its own ``env``, then the wiring:
    ``DATABASE_URL``, ``REDIS_URL`` when Redis runs, ``<NAME>_URL`` for every other HTTP
    service, the local tokens, ``BASE_URL``, the CA for Node, and ``PORT`` when it has one."""
    table = settings.service_table()
    ports = state.ports
    env = dict(table[service].env) if service in table else dict(settings.app_env)
    env.update(
        {
            "DATABASE_URL": db_url,
            "ADMIN_TOKEN": state.admin_token,
            "RATE_LIMIT_BYPASS_TOKEN": state.bypass_token,
            "BASE_URL": https_url(ports) if "https" in ports else "",
            "NODE_EXTRA_CA_CERTS": str(paths.ca_path),
        }
    )
    redis = settings.redis_service
    if redis is not None and redis in ports:
        env["REDIS_URL"] = redis_url(state.redis_password, ports[redis])
    for name, other in table.items():
        if other.is_http and name != service and name in ports:
            env[f"{env_name(name)}_URL"] = service_url(ports, name)
    if service in ports:
        env["PORT"] = str(ports[service])
    return env


def env_name(service: str) -> str:
    return service.upper().replace("-", "_")


def local_app_env(cfg: Config, service: str | None = None) -> dict[str, str]:
    """The environment of ``service`` (the default one when None), secrets included."""
    paths, state = _state(cfg)
    settings = dev_settings(cfg)
    if state.provider == "docker":
        db_url = _compose_db_url(state)
    else:
        cluster = cluster_for(cfg, state.ports.get("db"))
        if not cluster.initialized:
            raise ExternalError("the local dev stack has no database yet", UP_HINT)
        db_url = cluster.url(DB_NAME)
    return service_environment(settings, paths, state, db_url, service or settings.default_service)


def local_stack_env(cfg: Config) -> dict[str, str]:
    """Every URL of the stack for a shell (``dev.env``): the default service's environment
    plus each service's ``<NAME>_URL``."""
    _, state = _state(cfg)
    settings = dev_settings(cfg)
    env = local_app_env(cfg)
    for name, service in settings.service_table().items():
        if service.is_http and name in state.ports:
            env.setdefault(f"{env_name(name)}_URL", service_url(state.ports, name))
    env.pop("PORT", None)
    return env


__all__ = [
    "DB_NAME",
    "DEFAULT_SERVICE",
    "UP_HINT",
    "StackPaths",
    "StackState",
    "cluster_for",
    "local_app_env",
    "local_app_url",
    "local_base_url",
    "local_ca_path",
    "local_cluster",
    "local_db_name",
    "local_db_url",
    "local_http_services",
    "local_stack_env",
    "postmaster_pid",
    "service_environment",
]
