"""Where an environment lives: its database URL and its base URL.

Staging and production come from the variables named in config (seed 002:
``SUPABASE_STAGING_DB_URL`` and ``SUPABASE_DB_URL``) or from literal config
values; local comes from the running dev stack. Every password found is
registered with the console so that it is masked everywhere.
"""

from __future__ import annotations

import os
from urllib.parse import unquote, urlsplit

from ops.config import Config
from ops.console import register_secret
from ops.errors import ConfigError

_DEFAULT_PORTS = {"http": 80, "https": 443, "postgres": 5432, "postgresql": 5432}


def db_url(cfg: Config, env: str) -> str:
    """The database URL of ``env``; a config error names the variable to set."""
    url = _configured(cfg, env, "db")
    if url is None and env == "local":
        from ops.stack import local_db_url

        url = local_db_url(cfg)
    if not url:
        variable = cfg.env(env).db_url_env
        raise ConfigError(
            f"no database URL for '{env}'",
            f"set {variable}" if variable else f"set db_url in [tool.ops.environments.{env}]",
        )
    register_url_password(url)
    return url


def base_url(cfg: Config, env: str) -> str:
    """The app's base URL for ``env`` (health checks, drills, load runs)."""
    url = _configured(cfg, env, "base")
    if url is None and env == "local":
        from ops.stack import local_base_url

        url = local_base_url(cfg)
    if not url:
        variable = cfg.env(env).base_url_env
        raise ConfigError(
            f"no base URL for '{env}'",
            f"set {variable}" if variable else f"set base_url in [tool.ops.environments.{env}]",
        )
    return url.rstrip("/")


def configured_url(cfg: Config, env: str, kind: str) -> str | None:
    """The URL config gives for ``env`` (``kind`` is "db" or "base"), or None.
    Never consults the dev stack; used by guards to learn production's URLs."""
    url = _configured(cfg, env, kind)
    if url and kind == "db":
        register_url_password(url)
    return url


def _configured(cfg: Config, env: str, kind: str) -> str | None:
    settings = cfg.env(env)
    variable = settings.db_url_env if kind == "db" else settings.base_url_env
    literal = settings.db_url if kind == "db" else settings.base_url
    if variable and os.environ.get(variable):
        return os.environ[variable]
    return literal or None


def register_url_password(url: str) -> None:
    try:
        password = urlsplit(url).password
    except ValueError:
        return
    if password:
        register_secret(password)
        register_secret(unquote(password))


def _endpoint(url: str) -> tuple[str, str, int | None, str]:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None
    host = (parts.hostname or "").lower()
    if host in {"localhost", "::1"}:
        host = "127.0.0.1"
    return scheme, host, port, parts.path.rstrip("/")


def same_base_url(a: str, b: str) -> bool:
    """True when two base URLs name the same site (case, default ports and a
    trailing slash ignored)."""
    sa, ha, pa, patha = _endpoint(a)
    sb, hb, pb, pathb = _endpoint(b)
    return (sa, ha, pa, patha) == (sb, hb, pb, pathb)


def same_database(a: str, b: str) -> bool:
    """True when two Postgres URLs name the same database on the same server."""
    _, ha, pa, da = _endpoint(a)
    _, hb, pb, db = _endpoint(b)
    return (ha, pa, da.lstrip("/") or "postgres") == (hb, pb, db.lstrip("/") or "postgres")
