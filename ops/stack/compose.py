"""The docker provider: the compose file (the project's ``infra/docker/compose.yml``, else the
packaged ``ops/resources/docker/compose.yml``) run with ``docker compose``.

It shares the Caddyfile template and the bootstrap SQL with the native
provider; migrations and the seed are applied from the host through the
published db port, by the same function the native provider uses.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.config import Config
from ops.errors import BinaryNotFound, ConfigError, ExternalError
from ops.local import env_name
from ops.local.settings import STACK_PORT_KEYS, DevSettings, dev_settings
from ops.local.state import StackPaths, StackState
from ops.pg.bootstrap import BOOTSTRAP_FILE
from ops.pg.cluster import free_port
from ops.resources import packaged_path
from ops.stack import caddy, database
from ops.stack.health import db_ok, http_ok, wait_until

DOCKER_HINT = "start Docker (docker info must answer), or use --provider native"
# Inside the compose network every service listens on its usual port.
APP_CONTAINER_PORT = 3000


def engine_available(timeout: float = 3.0) -> bool:
    """True when a Docker engine answers: the Docker SDK's ping, else ``docker info``."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://") and not _unix_socket_accepts(host.removeprefix("unix://"), timeout):
        return False  # the common "no engine" case, answered without the SDK or a subprocess
    try:
        import docker  # type: ignore[import-not-found]
    except ImportError:
        docker = None
    if docker is not None:
        client = None
        try:
            # A pinned API version: "auto" negotiates inside the constructor and leaks its socket on failure.
            client = docker.from_env(timeout=int(timeout), version="1.41")
            return bool(client.ping())
        except Exception:  # any SDK failure means no usable engine
            return False
        finally:
            if client is not None:
                client.close()
    binary = shutil.which("docker")
    if binary is None:
        return False
    try:
        result = subprocess.run(
            [binary, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=timeout
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0 and bool(result.stdout.strip())


def _unix_socket_accepts(path: str, timeout: float) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except OSError:
            return False
    return True


def choose_provider(requested: str, remembered: str | None, engine: Callable[[], bool] = engine_available) -> str:
    """``native``/``docker`` as asked; ``auto`` keeps the provider a stack was made with,
    else docker when an engine answers, else native."""
    if requested != "auto":
        return requested
    if remembered in {"native", "docker"}:
        return remembered
    return "docker" if engine() else "native"


def project_name(cfg: Config) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", cfg.root.name.lower()).strip("-_") or "app"
    return f"ops-{slug}"


# Images for a service's command when it names none: a Node program runs in Node's image.
NODE_COMMANDS = ("node", "npm", "npx", "pnpm", "yarn", "corepack")
NODE_IMAGE = "node:22-bookworm-slim"
REDIS_IMAGE = "redis:7"
WORKSPACE = "/workspace"


@dataclass
class ComposeStack:
    cfg: Config
    settings: DevSettings
    paths: StackPaths
    state: StackState
    provider: str = "docker"
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, cfg: Config) -> ComposeStack:
        paths = StackPaths.of(cfg)
        return cls(cfg, dev_settings(cfg), paths, StackState.load(paths))

    @property
    def compose_file(self) -> Path:
        """The project's compose file, else the one shipped with the toolkit."""
        return caddy.project_or_shipped(self.cfg, "compose_file", packaged_path("docker", "compose.yml"))

    @property
    def ports(self) -> dict[str, int]:
        """Compose publishes fixed host ports: the configured ones, else the defaults (a service
        of the project's with port 0 gets a free port once, remembered)."""
        keys = {**STACK_PORT_KEYS, "app": "app_port"}
        fields = DevSettings.model_fields
        ports = {service: int(getattr(self.settings, key)) or int(fields[key].default) for service, key in keys.items()}
        for name, service in self.settings.services.items():
            if service.has_port:
                if not (service.port or self.state.ports.get(name)):
                    self.state.ports[name] = free_port("127.0.0.1")  # picked once, saved by up
                ports[name] = service.port or self.state.ports[name]
        return ports

    # -- the services of [tool.ops.dev.services], rendered into the compose project -------------
    @property
    def renders_services(self) -> bool:
        return bool(self.settings.services) or bool(self.settings.routes)

    @property
    def rendered_file(self) -> Path:
        return self.paths.root / "compose.yml"

    def project_document(self) -> dict[str, Any]:
        """The compose project: the base file's db and caddy, the sample app when it is the
        default service, and each service of ``[tool.ops.dev.services]`` (Redis as the
        ``redis`` image), wired as the native provider wires them."""
        import yaml

        document: dict[str, Any] = yaml.safe_load(self.compose_file.read_text())
        services: dict[str, Any] = document.setdefault("services", {})
        table = self.settings.service_table()
        ports = self.ports
        if "app" not in table or "app" in self.settings.services:
            services.pop("app", None)
        redis = self.settings.redis_service
        inside = {name: f"http://{name}:{ports[name]}" for name, s in table.items() if s.is_http and name in ports}
        for name, service in self.settings.services.items():
            if service.kind == "redis":
                services[name] = _redis_service(ports[name])
                document.setdefault("volumes", {})["redis_data"] = {}
                continue
            env = {key: str(value) for key, value in service.env.items()}
            env.update(
                {
                    "DATABASE_URL": "postgresql://postgres:${POSTGRES_PASSWORD}@db:5432/postgres",
                    "ADMIN_TOKEN": "${ADMIN_TOKEN:-}",
                    "RATE_LIMIT_BYPASS_TOKEN": "${RATE_LIMIT_BYPASS_TOKEN:-}",
                }
            )
            if redis is not None:
                env["REDIS_URL"] = f"redis://:${{REDIS_PASSWORD}}@{redis}:6379/0"
            for other, url in inside.items():
                if other != name:
                    env[f"{env_name(other)}_URL"] = url
            port = ports.get(name)
            if port:
                env["PORT"] = str(port)
            definition: dict[str, Any] = {
                "image": service.image or _default_image(str(service.command), name),
                "working_dir": f"{WORKSPACE}/{service.cwd}".rstrip("/") if service.cwd else WORKSPACE,
                "volumes": [f"{self.cfg.root}:{WORKSPACE}"],
                "command": ["sh", "-c", command_text(str(service.command), port)],
                "environment": env,
                "depends_on": {"db": {"condition": "service_healthy"}}
                | {dep: {"condition": "service_started"} for dep in service.depends_on}
                | ({redis: {"condition": "service_healthy"}} if redis and redis != name else {}),
            }
            if port:
                definition["ports"] = [f"127.0.0.1:{port}:{port}"]
            services[name] = definition
        caddy_service = services.get("caddy")
        if isinstance(caddy_service, dict):
            upstreams = {
                name: f"{name}:{port if name != 'app' or 'app' in self.settings.services else 3000}"
                for name, port in ports.items()
                if name in table
            }
            environment = caddy_service.setdefault("environment", {})
            environment["OPS_ROUTES"] = caddy.route_lines(self.settings.routes, upstreams)
            environment["OPS_APP_UPSTREAM"] = upstreams.get(self.settings.default_service, "app:3000")
            caddy_service["depends_on"] = [n for n in table if n in services and n != redis] or ["db"]
        return document

    def write_project(self) -> Path:
        import json

        self.paths.root.mkdir(mode=0o711, parents=True, exist_ok=True)
        # JSON is YAML; the file holds no secret (compose interpolates them from the environment).
        self.rendered_file.write_text(json.dumps(self.project_document(), indent=2) + "\n")
        return self.rendered_file

    # -- the exact commands -----------------------------------------------------------------
    def base_command(self) -> list[str]:
        if self.renders_services:
            return [
                "docker",
                "compose",
                "--project-name",
                project_name(self.cfg),
                "--project-directory",
                str(self.compose_file.parent),
                "--file",
                str(self.rendered_file),
            ]
        return ["docker", "compose", "--project-name", project_name(self.cfg), "--file", str(self.compose_file)]

    def up_command(self) -> list[str]:
        return [*self.base_command(), "up", "--detach", "--build", "--wait"]

    def down_command(self, purge: bool = False) -> list[str]:
        return [*self.base_command(), "down", *(["--volumes"] if purge else [])]

    def ps_command(self) -> list[str]:
        return [*self.base_command(), "ps", "--all", "--format", "json"]

    def logs_command(self, service: str | None, follow: bool) -> list[str]:
        return [
            *self.base_command(),
            "logs",
            "--no-color",
            *(["--follow"] if follow else ["--tail", "200"]),
            *([service] if service else []),
        ]

    def environment(self) -> dict[str, str]:
        """The variables compose.yml interpolates (ports, secrets, shared files)."""
        ports = self.ports
        return {
            "OPS_DB_PORT": str(ports["db"]),
            "OPS_APP_PORT": str(ports["app"]),
            "OPS_HTTP_PORT": str(ports["http"]),
            "OPS_HTTPS_PORT": str(ports["https"]),
            "OPS_CADDYFILE": str(caddy.template_path(self.cfg)),
            "OPS_BOOTSTRAP_SQL": str(BOOTSTRAP_FILE),
            "OPS_CADDY_DATA": str(self.paths.caddy_storage),
            "POSTGRES_PASSWORD": self.state.db_password,
            "ADMIN_TOKEN": self.state.admin_token,
            "RATE_LIMIT_BYPASS_TOKEN": self.state.bypass_token,
            "REDIS_PASSWORD": self.state.redis_password,
            "OPS_ROUTES": caddy.route_lines({}, {}),
        }

    def run(self, argv: Sequence[str], *, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess[str]:
        if shutil.which(argv[0]) is None:
            raise BinaryNotFound(f"{argv[0]} is not installed", DOCKER_HINT)
        try:
            result = subprocess.run(
                list(argv),
                env={**os.environ, **self.environment()},
                cwd=self.cfg.root,
                capture_output=capture,
                text=True,
            )
        except OSError as exc:
            raise ExternalError(f"cannot run {argv[0]}: {exc.strerror}", DOCKER_HINT) from None
        if check and result.returncode != 0:
            detail = ((result.stderr or "") + (result.stdout or "")).strip().splitlines()
            raise ExternalError(
                f"{' '.join(argv[:3])} ... {argv[-1]} failed: {detail[-1] if detail else result.returncode}",
                DOCKER_HINT,
            )
        return result

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def db_url(self) -> str:
        from urllib.parse import quote

        return f"postgresql://postgres:{quote(self.state.db_password, safe='')}@127.0.0.1:{self.ports['db']}/postgres"

    @property
    def base_url(self) -> str:
        return caddy.https_url(self.ports)

    @property
    def app_url(self) -> str:
        name = self.settings.default_service
        return f"http://127.0.0.1:{self.ports[name]}" if name in self.ports else ""

    def report_urls(self) -> dict[str, str]:
        return {"base_url": self.base_url, "app_url": self.app_url, "db_url": self.db_url}

    def up(self, *, seed: bool, out: Any = None, engine: Callable[[], bool] = engine_available) -> dict[str, str]:
        if not engine():
            raise ExternalError("the docker provider needs a Docker engine, and none answers", DOCKER_HINT)
        self.state.ensure_tokens()
        self.state.provider = "docker"
        self.state.ports = self.ports
        self.state.save(self.paths)
        self.paths.caddy_storage.mkdir(parents=True, exist_ok=True)
        if self.renders_services:
            self.write_project()
        actions = {"compose": "up"}
        self.run(self.up_command())
        timeout = self.settings.ready_timeout
        wait_until(lambda: db_ok(self.db_url), timeout=timeout, what="postgres", hint="docker compose logs db")
        if not self.state.provisioned:
            actions["schema"] = ", ".join(database.apply_schema(self.cfg, self.db_url, seed=seed, out=out))
            self.state.provisioned = True
            self.state.save(self.paths)
        default = self.settings.service_table().get(self.settings.default_service)
        path = default.ready_path if default is not None and default.ready_path else "/healthz"
        wait_until(
            lambda: http_ok(self.base_url + path, cafile=self.paths.ca_path),
            timeout=timeout,
            what="caddy",
            hint="docker compose logs caddy",
        )
        actions["ready"] = "healthy"
        return actions

    def down(self, purge: bool = False) -> list[str]:
        self.run(self.down_command(purge))
        return ["db", *self.settings.service_table(), "caddy"]

    def status(self, check_health: bool = True) -> list[dict[str, Any]]:
        if not self.state.exists:
            return []
        result = self.run(self.ps_command(), check=False)
        return compose_rows(result.stdout)

    def restart(self, name: str) -> dict[str, str]:
        self.run([*self.base_command(), "restart", name])
        return {name: "restarted"}

    def logs(self, service: str | None, lines: int) -> list[tuple[str, str]]:
        """``docker compose logs`` lines ("db-1  | text") as (service, text)."""
        argv = self.logs_command(service, follow=False)
        argv[argv.index("--tail") + 1] = str(max(lines, 0))
        return [_split_log_line(raw) for raw in self.run(argv).stdout.splitlines()]

    def follow(self, service: str | None) -> Iterator[tuple[str, str]]:
        argv = [*self.logs_command(service, follow=True)[: -1 if service else None], "--tail", "0"]
        if service:
            argv.append(service)
        env = {**os.environ, **self.environment()}
        with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env) as proc:
            for raw in proc.stdout or []:
                yield _split_log_line(raw.rstrip("\n"))


def _split_log_line(raw: str) -> tuple[str, str]:
    prefix, _, text = raw.partition("|")
    return prefix.strip().rsplit("-", 1)[0], text.removeprefix(" ")


def compose_rows(output: str) -> list[dict[str, Any]]:
    import json

    rows = []
    for line in output.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        rows.append(
            {
                "service": item.get("Service"),
                "state": item.get("State"),
                "pid": None,
                "port": item.get("Publishers"),
                "url": None,
                "health": item.get("Health") or None,
            }
        )
    return rows


def command_text(command: str, port: int | None) -> str:
    """The service's command for ``sh -c`` in its container (``{python}`` is the image's python3)."""
    return command.replace("{python}", "python3").replace("{host}", "0.0.0.0").replace("{port}", str(port or 0))


def _default_image(command: str, name: str) -> str:
    if command.split()[0] in NODE_COMMANDS if command.split() else False:
        return NODE_IMAGE
    raise ConfigError(
        f"the docker provider needs an image for service '{name}'",
        f"set image in [tool.ops.dev.services.{name}] (a Node command runs in {NODE_IMAGE} by default)",
    )


def _redis_service(port: int) -> dict[str, Any]:
    # The password reaches Redis through a config file written inside the container by the
    # shell's builtin printf: never on a command line, where the host's ps would show it.
    script = (
        'printf "requirepass %s\\nport 6379\\n" "$$REDIS_PASSWORD" > /tmp/redis.conf'
        " && exec redis-server /tmp/redis.conf"
    )
    return {
        "image": REDIS_IMAGE,
        "command": ["sh", "-c", script],
        "environment": {"REDIS_PASSWORD": "${REDIS_PASSWORD:?set REDIS_PASSWORD (inv dev.up does)}"},
        "ports": [f"127.0.0.1:{port}:6379"],
        "volumes": ["redis_data:/data"],
        "healthcheck": {
            "test": ["CMD-SHELL", 'REDISCLI_AUTH="$$REDIS_PASSWORD" redis-cli ping | grep -q PONG'],
            "interval": "2s",
            "timeout": "2s",
            "retries": 30,
        },
    }
