"""``[tool.ops.dev]``: the dev stack's settings and their defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ops.config import Config
from ops.errors import ConfigError

PROVIDERS = ("auto", "native", "docker")

# service name -> config key of its port
PORT_KEYS: dict[str, str] = {
    "db": "db_port",
    "app": "app_port",
    "http": "http_port",
    "https": "https_port",
    "admin": "admin_port",
}

DEFAULTS: dict[str, Any] = {
    "provider": "auto",
    # High, fixed ports so URLs stay stable; 0 picks a free port once and remembers it.
    "db_port": 54322,
    "app_port": 3000,
    "http_port": 8080,
    "https_port": 8443,
    "admin_port": 2019,
    # A user's own app: a command with {port}, {host} and {python} placeholders,
    # run in the project root with DATABASE_URL and PORT in its environment.
    "app_command": None,
    "app_ready_path": "/readyz",
    "seed": True,
    "ready_timeout": 30.0,
    "caddyfile": "infra/caddy/Caddyfile",
    "compose_file": "infra/docker/compose.yml",
    "caddy_bin": None,
    "app_env": {},
}


@dataclass(frozen=True)
class DevSettings:
    provider: str
    ports: dict[str, int]
    app_command: str | None
    app_ready_path: str
    seed: bool
    ready_timeout: float
    caddyfile: str
    compose_file: str
    caddy_bin: str | None
    app_env: dict[str, str]


def dev_settings(cfg: Config) -> DevSettings:
    raw = cfg.section("dev", DEFAULTS)
    provider = str(raw["provider"])
    if provider not in PROVIDERS:
        raise ConfigError(f"[tool.ops.dev] provider '{provider}' is unknown", f"use one of: {', '.join(PROVIDERS)}")
    ports: dict[str, int] = {}
    for service, key in PORT_KEYS.items():
        value = raw[key]
        if value is None:
            value = 0
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
            raise ConfigError(f"[tool.ops.dev] {key} must be a port number (0 picks a free one)", f"fix {key}")
        ports[service] = value
    app_env = raw["app_env"]
    if not isinstance(app_env, dict):
        raise ConfigError("[tool.ops.dev] app_env must be a table of strings", "fix app_env")
    return DevSettings(
        provider=provider,
        ports=ports,
        app_command=raw["app_command"] or None,
        app_ready_path=str(raw["app_ready_path"]),
        seed=bool(raw["seed"]),
        ready_timeout=float(raw["ready_timeout"]),
        caddyfile=str(raw["caddyfile"]),
        compose_file=str(raw["compose_file"]),
        caddy_bin=raw["caddy_bin"] or None,
        app_env={str(k): str(v) for k, v in app_env.items()},
    )
