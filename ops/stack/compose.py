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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops.config import Config
from ops.errors import BinaryNotFound, ExternalError
from ops.local.settings import STACK_PORT_KEYS, DevSettings, dev_settings
from ops.local.state import StackPaths, StackState
from ops.pg.bootstrap import BOOTSTRAP_FILE
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


@dataclass
class ComposeStack:
    cfg: Config
    settings: DevSettings
    paths: StackPaths
    state: StackState

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
        """Compose publishes fixed host ports: the configured ones, else the defaults."""
        keys = {**STACK_PORT_KEYS, "app": "app_port"}
        fields = DevSettings.model_fields
        return {service: int(getattr(self.settings, key)) or int(fields[key].default) for service, key in keys.items()}

    # -- the exact commands -----------------------------------------------------------------
    def base_command(self) -> list[str]:
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
        return f"http://127.0.0.1:{self.ports['app']}"

    def up(self, *, seed: bool, out: Any = None, engine: Callable[[], bool] = engine_available) -> dict[str, str]:
        if not engine():
            raise ExternalError("the docker provider needs a Docker engine, and none answers", DOCKER_HINT)
        self.state.ensure_tokens()
        self.state.provider = "docker"
        self.state.ports = self.ports
        self.state.save(self.paths)
        self.paths.caddy_storage.mkdir(parents=True, exist_ok=True)
        actions = {"compose": "up"}
        self.run(self.up_command())
        timeout = self.settings.ready_timeout
        wait_until(lambda: db_ok(self.db_url), timeout=timeout, what="postgres", hint="docker compose logs db")
        if not self.state.provisioned:
            actions["schema"] = ", ".join(database.apply_schema(self.cfg, self.db_url, seed=seed, out=out))
            self.state.provisioned = True
            self.state.save(self.paths)
        wait_until(
            lambda: http_ok(self.base_url + "/healthz", cafile=self.paths.ca_path),
            timeout=timeout,
            what="caddy",
            hint="docker compose logs caddy",
        )
        actions["ready"] = "healthy"
        return actions

    def down(self, purge: bool = False) -> list[str]:
        self.run(self.down_command(purge))
        return ["db", "app", "caddy"]
