"""``[tool.ops.dev]``: the dev stack's settings (a pydantic model) and their defaults.

The stack runs services: the one app of a single-app project (``app_command``,
``app_port``, ``app_ready_path``, ``app_env``; the default service, named ``app``)
and any ``[tool.ops.dev.services.<name>]`` a project adds: its own processes and a
built-in Redis (``kind = "redis"``). ``[tool.ops.dev.routes]`` sends path prefixes
through Caddy to a service; everything else goes to the default service.
"""

from __future__ import annotations

import re
import shlex
import sys
from typing import Literal

from pydantic import Field, StrictBool, field_validator, model_validator

from ops.config import Config
from ops.settings import Duration, Port, PositiveFloat, Section, section

PROVIDERS = ("auto", "native", "docker")
HOST = "127.0.0.1"
DEFAULT_SERVICE = "app"
# The sample app of this repo; a project's own app sets app_command.
DEFAULT_COMMAND = "{python} -m uvicorn ops.sample_app.main:app --host {host} --port {port} --no-access-log"
# Names the stack itself uses for its own parts: a service may not take them.
RESERVED_NAMES = frozenset({"db", "caddy", "http", "https", "admin"})
_SERVICE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,30}$")
# Ports the stack itself listens on, with the key that sets each (the app's is the default service's).
STACK_PORT_KEYS: dict[str, str] = {"db": "db_port", "http": "http_port", "https": "https_port", "admin": "admin_port"}


def command_argv(command: str, port: int | None) -> list[str]:
    """``command`` split like a shell would, with ``{port}``, ``{host}`` and ``{python}`` filled in."""
    try:
        return shlex.split(command.format(python=shlex.quote(sys.executable), host=HOST, port=port or 0))
    except KeyError as exc:
        reason = f"unknown placeholder {{{exc.args[0]}}}"
    except (IndexError, ValueError) as exc:
        reason = str(exc)
    raise ValueError(
        f"cannot be used: {reason}; use a shell-style command with placeholders {{port}}, {{host}}, {{python}}"
    )


def _env_table(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str | int | float | bool) for v in value.values()):
        raise ValueError("must be a table of strings")
    return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}


class ServiceSettings(Section):
    """``[tool.ops.dev.services.<name>]``: one process of the application, or the built-in Redis."""

    kind: Literal["process", "redis"] = "process"
    command: str | None = None
    # 0 = a free port, picked once and remembered; left out, a service with a port-based
    # readiness (ready_path, ready_tcp) or a {port} in its command gets a free one.
    port: Port | None = None
    ready_path: str | None = None
    ready_tcp: StrictBool = False
    ready_after: Duration | None = None
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    depends_on: list[str] = Field(default_factory=list)
    # The docker provider only: the image the command runs in (a Node command defaults to Node's).
    image: str | None = None

    @field_validator("env", mode="before")
    @classmethod
    def _env(cls, value: object) -> dict[str, str]:
        return _env_table(value)

    @field_validator("ready_path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("must be a URL path starting with /")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ServiceSettings:
        readiness = [self.ready_path is not None, self.ready_tcp, self.ready_after is not None]
        if sum(readiness) > 1:
            raise ValueError("give one of ready_path, ready_tcp or ready_after")
        if self.kind == "redis":
            if self.command or self.ready_path or self.cwd:
                raise ValueError("a redis service takes no command, ready_path or cwd")
        else:
            if not self.command:
                raise ValueError("a service needs a command")
            command_argv(self.command, self.port)
        return self

    @property
    def has_port(self) -> bool:
        return (
            self.kind == "redis"
            or self.port is not None
            or self.ready_path is not None
            or self.ready_tcp
            or "{port}" in (self.command or "")
        )

    @property
    def is_http(self) -> bool:
        return self.kind == "process" and self.ready_path is not None


class DevSettings(Section):
    section_name = "dev"

    provider: Literal["auto", "native", "docker"] = "auto"
    # High, fixed ports so URLs stay stable; 0 picks a free port once and remembers it.
    db_port: Port = 54322
    app_port: Port = 3000
    http_port: Port = 8080
    https_port: Port = 8443
    # Kept for configs written before Caddy's admin API moved to a private unix socket; unused.
    admin_port: Port = 2019
    # A user's own app: a command with {port}, {host} and {python} placeholders,
    # run in the project root with DATABASE_URL and PORT in its environment.
    app_command: str | None = None
    app_ready_path: str = "/readyz"
    app_env: dict[str, str] = Field(default_factory=dict)
    seed: StrictBool = True
    ready_timeout: PositiveFloat = 30.0
    caddyfile: str = "infra/caddy/Caddyfile"
    compose_file: str = "infra/docker/compose.yml"
    caddy_bin: str | None = None
    services: dict[str, ServiceSettings] = Field(default_factory=dict)
    routes: dict[str, str] = Field(default_factory=dict)
    # PostgreSQL major version of the local server; None = the newest installed.
    pg_version: Literal[15, 16, 17] | None = None
    # Extra server settings (postgresql.conf); a change restarts the server on the next dev.up.
    server_settings: dict[str, str] = Field(default_factory=dict)

    @field_validator("server_settings", mode="before")
    @classmethod
    def _server_settings(cls, value: object) -> dict[str, str]:
        if not isinstance(value, dict) or not all(isinstance(v, str | int | float | bool) for v in value.values()):
            raise ValueError("must be a table of PostgreSQL settings")
        return {str(k): ("on" if v else "off") if isinstance(v, bool) else str(v) for k, v in value.items()}

    @field_validator("app_env", mode="before")
    @classmethod
    def _app_env(cls, value: object) -> dict[str, str]:
        return _env_table(value)

    @field_validator("app_ready_path")
    @classmethod
    def _ready_path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must be a URL path starting with /")
        return value

    @field_validator("app_command")
    @classmethod
    def _command(cls, value: str | None) -> str | None:
        if value:
            command_argv(value, 0)
        return value or None

    @model_validator(mode="after")
    def _services(self) -> DevSettings:
        for name in self.services:
            if not _SERVICE_NAME.match(name) or name in RESERVED_NAMES:
                raise ValueError(
                    f"service name '{name}' must be lower-case letters, digits, - or _"
                    f" and none of {', '.join(sorted(RESERVED_NAMES))}"
                )
        names = set(self.service_table())
        for name, service in self.services.items():
            for dependency in service.depends_on:
                if dependency not in names:
                    raise ValueError(f"service '{name}' depends on '{dependency}', which is not a service")
        if sum(1 for s in self.services.values() if s.kind == "redis") > 1:
            raise ValueError("at most one redis service")
        for prefix, target in self.routes.items():
            if not prefix.startswith("/"):
                raise ValueError(f"route '{prefix}' must be a path starting with /")
            if target not in names or not self.service_table()[target].has_port:
                raise ValueError(f"route '{prefix}' names '{target}', which is not a service with a port")
        _dependency_order(self.service_table())
        return self

    def service_table(self) -> dict[str, ServiceSettings]:
        """Every service, the default one first. The app the ``app_*`` keys describe is there
        when ``app_command`` is set or no process service is declared (a single-app project);
        ``[tool.ops.dev.services.app]`` replaces it."""
        table: dict[str, ServiceSettings] = {}
        declares_processes = any(s.kind == "process" for s in self.services.values())
        if DEFAULT_SERVICE not in self.services and (self.app_command or not declares_processes):
            table[DEFAULT_SERVICE] = ServiceSettings(
                command=self.app_command or DEFAULT_COMMAND,
                port=self.app_port,
                ready_path=self.app_ready_path,
                env=self.app_env,
            )
        table.update(self.services)
        return table

    @property
    def default_service(self) -> str:
        """The service Caddy sends every path no route names to: ``app``, else the first
        service with an HTTP readiness path."""
        table = self.service_table()
        if DEFAULT_SERVICE in table:
            return DEFAULT_SERVICE
        for name, service in table.items():
            if service.is_http:
                return name
        return next((name for name, s in table.items() if s.has_port and s.kind == "process"), DEFAULT_SERVICE)

    def order(self) -> list[list[str]]:
        """The services in waves: each wave depends only on earlier waves, so it starts in parallel."""
        return _dependency_order(self.service_table())

    @property
    def ports(self) -> dict[str, int]:
        """Configured ports (0 = pick a free one) of the stack's own parts and each service with one."""
        ports = {part: int(getattr(self, key)) for part, key in STACK_PORT_KEYS.items()}
        for name, service in self.service_table().items():
            if service.has_port:
                ports[name] = service.port or 0
        return ports

    @property
    def redis_service(self) -> str | None:
        return next((name for name, s in self.services.items() if s.kind == "redis"), None)


def _dependency_order(table: dict[str, ServiceSettings]) -> list[list[str]]:
    remaining = {name: set(service.depends_on) for name, service in table.items()}
    # Redis is there for the others: every process service waits for it.
    redis = [name for name, s in table.items() if s.kind == "redis"]
    for name, deps in remaining.items():
        if name not in redis:
            deps.update(redis)
    waves: list[list[str]] = []
    done: set[str] = set()
    while remaining:
        wave = [name for name, deps in remaining.items() if deps <= done]
        if not wave:
            raise ValueError(f"services depend on each other in a circle: {', '.join(sorted(remaining))}")
        waves.append(wave)
        done.update(wave)
        for name in wave:
            del remaining[name]
    return waves


def dev_settings(cfg: Config) -> DevSettings:
    return section(cfg, DevSettings)


def port_key(service: str) -> str:
    """Where a port is set, for messages: ``https_port`` or ``port of [tool.ops.dev.services.api]``."""
    if service in STACK_PORT_KEYS:
        return STACK_PORT_KEYS[service]
    return "app_port" if service == DEFAULT_SERVICE else f"port of [tool.ops.dev.services.{service}]"


__all__ = [
    "DEFAULT_SERVICE",
    "PROVIDERS",
    "DevSettings",
    "ServiceSettings",
    "command_argv",
    "dev_settings",
    "port_key",
]
