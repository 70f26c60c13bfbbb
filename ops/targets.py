"""Where an environment lives: its database URL and its base URL.

Staging and production come from the variables named in config (seed 002:
``SUPABASE_STAGING_DB_URL`` and ``SUPABASE_DB_URL``) or from literal config
values; local comes from the running dev stack. Every password found is
registered with the console so that it is masked everywhere.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ops.config import Config
from ops.console import register_secret
from ops.errors import ConfigError


def db_url(cfg: Config, env: str) -> str:
    """The database URL of ``env``; a config error names the variable to set."""
    url = _configured(cfg, env, "db")
    if url is None and env == "local":
        from ops.local import local_db_url

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
        from ops.local import local_base_url

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
    url = os.environ[variable] if variable and os.environ.get(variable) else literal or None
    if url:
        _check_port(url, env, kind, variable)
    return url


def _check_port(url: str, env: str, kind: str, variable: str | None) -> None:
    """A port that is not a number is a config error naming where the URL came from, found by
    the same parse that every guard uses (libpq's for a database, urllib's for a site)."""
    what = "database URL" if kind == "db" else "base URL"
    label = f"{env}'s {what} ({variable or f'{kind}_url in [tool.ops.environments.{env}]'})"
    if kind == "db":
        database_target(url, what=label)
        return
    try:
        urlsplit(url).port  # noqa: B018 (the parse is the check)
    except ValueError:
        raise ConfigError(f"{label} has a port that is not a number", "fix the port") from None


def register_url_password(url: str) -> None:
    try:
        password = urlsplit(url).password
    except ValueError:
        return
    if password:
        register_secret(password)
        register_secret(unquote(password))


# -- comparing targets by what they reach ------------------------------------------
#
# Text comparison is easy to get around: a query parameter overrides the URL's host, percent-encoding
# hides a database name, and 127.1, 2130706433, localhost. and ::1 all reach the same loopback server.
# So database targets go through libpq's own parse (psycopg.conninfo.conninfo_to_dict: URLs, keyword
# DSNs, query parameters, sockets), the defaults libpq would apply, and then normalised hosts. Base
# URLs compare by scheme, host and port. Where a detail cannot be known without the network (DNS),
# the comparison errs towards "same": a guard that refuses too much is fixed with config, one that
# refuses too little is not fixed at all.

LOOPBACK = "loopback"
# Supavisor: one host per region for every project; the user name is "<role>.<project ref>".
SHARED_POOLER_SUFFIX = ".pooler.supabase.com"
_NUMERIC_IPV4 = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$")


def normalise_host(host: str) -> str:
    """One spelling per host: names lowercased without a trailing dot, IP addresses in their
    canonical form (``127.1``, ``2130706433`` and ``0x7f.1`` are ``127.0.0.1``), and every way to
    reach this machine (``localhost``, ``127.0.0.0/8``, ``::1``, ``0.0.0.0``) as ``loopback``."""
    host = unquote(host).strip().lower().removeprefix("[").removesuffix("]").rstrip(".")
    host = host.split("%", 1)[0] if ":" in host else host  # an IPv6 zone does not change the address
    if host == "localhost" or host.endswith(".localhost"):
        return LOOPBACK
    address = _ip_address(host)
    if address is None:
        try:
            return host.encode("idna").decode("ascii")
        except UnicodeError:
            return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback or address.is_unspecified:
        return LOOPBACK
    return str(address)


def _ip_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    # The forms inet_aton (libpq's resolver) and browsers accept: 127.1, 2130706433, 0x7f.0.0.1, 0177.1.
    if _NUMERIC_IPV4.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            return None
    return None


@dataclass(frozen=True)
class DatabaseTarget:
    """Where a connection string leads: the servers libpq may try, and the database."""

    # (host, port) pairs: a normalised host or hostaddr, or ("socket:<dir>", port).
    servers: frozenset[tuple[str, int]]
    dbname: str
    ports: tuple[int, ...]
    # On a shared pooler (Supabase's Supavisor), the project the user name selects: every
    # project of a region shares the pooler's host and port, so the tenant tells them apart.
    tenant: str | None = None

    def same_server(self, other: DatabaseTarget) -> bool:
        return bool(self.servers & other.servers) and self.tenant == other.tenant

    def same_database(self, other: DatabaseTarget) -> bool:
        return self.same_server(other) and self.dbname == other.dbname


def database_target(conninfo: str, what: str = "a database URL") -> DatabaseTarget:
    """Parse a URL or keyword DSN as libpq does, with libpq's defaults (``PGHOST``, ``PGPORT``,
    ``PGDATABASE``, ``PGUSER``, a service file); a string libpq rejects is a ``ConfigError``
    that names it by ``what`` and never shows it."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        params: dict[str, Any] = conninfo_to_dict(conninfo.strip())
    except (ProgrammingError, ValueError):
        raise ConfigError(f"{what} is not a valid connection string", "check its syntax") from None
    params = {**_service_params(params), **{key: value for key, value in params.items() if value is not None}}
    hosts = _split(params.get("host") or os.environ.get("PGHOST", ""))
    addresses = _split(params.get("hostaddr") or os.environ.get("PGHOSTADDR", ""))
    ports_text = _split(str(params.get("port") or os.environ.get("PGPORT", "")))
    count = max(len(hosts), len(addresses), 1)
    try:
        ports = tuple(int(port) if port else 5432 for port in ports_text) or (5432,)
    except ValueError:
        raise ConfigError(f"{what} has a port that is not a number", "fix the port") from None
    if len(ports) == 1:
        ports = ports * count
    servers: set[tuple[str, int]] = set()
    for index in range(count):
        port = ports[index] if index < len(ports) else ports[-1]
        host = hosts[index] if index < len(hosts) else ""
        address = addresses[index] if index < len(addresses) else ""
        # hostaddr decides where libpq connects; host may still name the same server elsewhere, so both count.
        for name in filter(None, (host, address)):
            servers.add((_server_host(name), port))
        if not host and not address:
            servers.add((_server_host(""), port))
    user = str(params.get("user") or os.environ.get("PGUSER") or _os_user())
    dbname = str(params.get("dbname") or os.environ.get("PGDATABASE") or user)
    tenant = None
    if servers and all(host.endswith(SHARED_POOLER_SUFFIX) for host, _port in servers) and "." in user:
        tenant = user.split(".", 1)[1].lower()
    return DatabaseTarget(frozenset(servers), dbname, ports, tenant)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",")] if value else []


def _server_host(host: str) -> str:
    if not host or host.startswith("/") or host.startswith("@"):
        # A unix socket: libpq's default directory when none is given.
        directory = host or "/var/run/postgresql"
        # Every socket on this machine reaches a local server, as 127.0.0.1 does.
        return LOOPBACK if not directory.startswith("@") else directory
    return normalise_host(host)


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def _service_params(params: dict[str, Any]) -> dict[str, str]:
    """The keywords a ``service=`` entry stands for (PGSERVICEFILE, ~/.pg_service.conf, PGSYSCONFDIR)."""
    service = params.get("service") or os.environ.get("PGSERVICE")
    if not service:
        return {}
    import configparser

    candidates = [os.environ.get("PGSERVICEFILE") or str(Path.home() / ".pg_service.conf")]
    if os.environ.get("PGSYSCONFDIR"):
        candidates.append(str(Path(os.environ["PGSYSCONFDIR"]) / "pg_service.conf"))
    for candidate in candidates:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(candidate)
        except configparser.Error:
            continue
        if parser.has_section(service):
            return dict(parser.items(service))
    return {}


def same_database(a: str, b: str) -> bool:
    """True when two connection strings reach the same database on the same server."""
    return database_target(a).same_database(database_target(b))


def same_server(a: str, b: str) -> bool:
    """True when two connection strings reach the same server (any database on it)."""
    return database_target(a).same_server(database_target(b))


def transaction_pooler_port(conninfo: str, pooler_port: int) -> bool:
    """True when any server the string may reach listens on ``pooler_port``."""
    return pooler_port in database_target(conninfo).ports


_DEFAULT_WEB_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def base_url_site(url: str) -> tuple[str, str, int | None]:
    """(scheme, normalised host, port) of a base URL; the path never changes where requests go."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port or _DEFAULT_WEB_PORTS.get(scheme)
    except ValueError:
        port = None
    return scheme, normalise_host(parts.hostname or ""), port


def same_base_url(a: str, b: str) -> bool:
    """True when two base URLs reach the same site: same host and port, whatever the spelling.

    An ``http://`` URL on its default port reaches the same site as the ``https://`` one (the
    usual redirect), so the two default ports of one host count as the same site.
    """
    scheme_a, host_a, port_a = base_url_site(a)
    scheme_b, host_b, port_b = base_url_site(b)
    if not host_a or host_a != host_b:
        return False
    if (scheme_a, port_a) == (scheme_b, port_b):
        return True
    defaults = {("http", 80), ("https", 443)}
    return (scheme_a, port_a) in defaults and (scheme_b, port_b) in defaults


def base_url_hostname(url: str) -> str:
    """The host a base URL names, as written (lowercased, no brackets): what k6 may block."""
    try:
        return (urlsplit(url.strip()).hostname or "").rstrip(".")
    except ValueError:
        return ""
