"""Where the dev stack keeps its state: ``<state_dir>/stack/``.

Layout: ``postgres/`` (the cluster), ``caddy/`` (the rendered Caddyfile and
Caddy's storage with its local CA), ``logs/<service>.log``,
``pids/<service>.pid`` and ``state.json`` (provider, ports picked, the local
tokens). Other domains keep their own things elsewhere under the state dir,
so ``dev.down --purge`` deletes only this directory.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.config import Config
from ops.console import register_secret


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner can enter (0700), made if missing."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, readable by its owner only (0600 from the first byte)."""
    path.parent.mkdir(mode=0o711, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    tmp.replace(path)


@dataclass(frozen=True)
class StackPaths:
    root: Path

    @classmethod
    def of(cls, cfg: Config) -> StackPaths:
        return cls(cfg.state_dir / "stack")

    @property
    def postgres_dir(self) -> Path:
        return self.root / "postgres"

    @property
    def caddy_dir(self) -> Path:
        return self.root / "caddy"

    @property
    def caddyfile(self) -> Path:
        return self.caddy_dir / "Caddyfile"

    @property
    def caddy_storage(self) -> Path:
        return self.caddy_dir / "data"

    @property
    def ca_path(self) -> Path:
        return self.caddy_storage / "pki" / "authorities" / "local" / "root.crt"

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    def log(self, service: str) -> Path:
        if service == "db":
            # The cluster engine keeps its own server log.
            return self.postgres_dir / "log" / "postgres.log"
        return self.logs_dir / f"{service}.log"

    def pidfile(self, service: str) -> Path:
        return self.root / "pids" / f"{service}.pid"

    def service_dir(self, service: str) -> Path:
        """A service's own data (Redis keeps its dump and socket here)."""
        return self.root / "services" / service


@dataclass
class StackState:
    """What ``dev.up`` decided once and must remember: provider, ports, tokens."""

    provider: str | None = None
    ports: dict[str, int] = field(default_factory=dict)
    admin_token: str = ""
    bypass_token: str = ""
    db_password: str = ""  # the docker provider's; the native cluster keeps its own
    redis_password: str = ""
    provisioned: bool = False

    @classmethod
    def load(cls, paths: StackPaths) -> StackState:
        try:
            data: dict[str, Any] = json.loads(paths.state_file.read_text())
        except (OSError, ValueError):
            data = {}
        state = cls(
            provider=data.get("provider"),
            ports={k: int(v) for k, v in data.get("ports", {}).items()},
            admin_token=data.get("admin_token", ""),
            bypass_token=data.get("bypass_token", ""),
            db_password=data.get("db_password", ""),
            redis_password=data.get("redis_password", ""),
            provisioned=bool(data.get("provisioned", False)),
        )
        register_secret(state.admin_token)
        register_secret(state.bypass_token)
        register_secret(state.db_password)
        register_secret(state.redis_password)
        return state

    def ensure_tokens(self) -> None:
        if not self.admin_token:
            self.admin_token = secrets.token_urlsafe(24)
        if not self.bypass_token:
            self.bypass_token = secrets.token_urlsafe(24)
        if not self.db_password:
            self.db_password = secrets.token_urlsafe(18)
        if not self.redis_password:
            self.redis_password = secrets.token_hex(24)
        for token in (self.admin_token, self.bypass_token, self.db_password, self.redis_password):
            register_secret(token)

    def save(self, paths: StackPaths) -> None:
        # Others may pass through (the server accounts reach their own 0700 dirs below) but not
        # list it; every file in it is 0600.
        paths.root.mkdir(mode=0o711, parents=True, exist_ok=True)
        document = {
            "provider": self.provider,
            "ports": self.ports,
            "admin_token": self.admin_token,
            "bypass_token": self.bypass_token,
            "db_password": self.db_password,
            "redis_password": self.redis_password,
            "provisioned": self.provisioned,
        }
        write_private(paths.state_file, json.dumps(document, indent=2))

    @property
    def exists(self) -> bool:
        return bool(self.ports)
