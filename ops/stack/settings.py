"""``[tool.ops.dev]``: the dev stack's settings and their defaults."""

from __future__ import annotations

import json
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
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        raise ConfigError(
            f"unknown key '{unknown[0]}' in [tool.ops.dev]", f"allowed keys: {', '.join(sorted(DEFAULTS))}"
        )
    provider = str(raw["provider"])
    if provider not in PROVIDERS:
        raise ConfigError(f"[tool.ops.dev] provider '{provider}' is unknown", f"use one of: {', '.join(PROVIDERS)}")
    ports: dict[str, int] = {}
    for service, key in PORT_KEYS.items():
        value = raw[key]
        if value is None:
            value = 0
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
            raise _invalid(key, "a port number (0 picks a free one)")
        ports[service] = value
    app_env = raw["app_env"]
    if not isinstance(app_env, dict) or not all(isinstance(v, str | int | float | bool) for v in app_env.values()):
        raise _invalid("app_env", "a table of strings")
    ready_timeout = raw["ready_timeout"]
    if isinstance(ready_timeout, bool) or not isinstance(ready_timeout, int | float) or not ready_timeout > 0:
        raise _invalid("ready_timeout", "a number of seconds > 0")
    if not isinstance(raw["seed"], bool):
        raise _invalid("seed", "true or false")
    ready_path = raw["app_ready_path"]
    if not isinstance(ready_path, str) or not ready_path.startswith("/"):
        raise _invalid("app_ready_path", "a URL path starting with /")
    for key in ("app_command", "caddy_bin", "caddyfile", "compose_file"):
        value = raw[key]
        if not (value is None and DEFAULTS[key] is None) and not isinstance(value, str):
            raise _invalid(key, "a string")
    if raw["app_command"]:
        from ops.stack.app import app_argv  # imported here: ops.stack.app imports this module

        app_argv(raw["app_command"], 0)  # a command that cannot be used fails here, before anything starts
    return DevSettings(
        provider=provider,
        ports=ports,
        app_command=raw["app_command"] or None,
        app_ready_path=ready_path,
        seed=raw["seed"],
        ready_timeout=float(ready_timeout),
        caddyfile=raw["caddyfile"],
        compose_file=raw["compose_file"],
        caddy_bin=raw["caddy_bin"] or None,
        app_env={str(k): str(v) for k, v in app_env.items()},
    )


def _invalid(key: str, expected: str) -> ConfigError:
    default = DEFAULTS[key]
    # Written as TOML would (true, "/readyz"), since that is where the user types it.
    fallback = "remove it" if default is None or default == {} else f"remove it for the default {json.dumps(default)}"
    return ConfigError(f"[tool.ops.dev] {key} must be {expected}", f"fix {key} in pyproject.toml, or {fallback}")
