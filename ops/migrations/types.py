"""``db.types``: TypeScript types for supabase-js, from Supabase's own generator.

``supabase gen types typescript --db-url`` runs pg-meta (npm
``@supabase/postgres-meta``; CLI 2.117.0 pins its image v0.99.0) in Docker with
``PG_META_GENERATE_TYPES=typescript``: the server prints the types and exits
(supabase/cli ``internal/gen/types/types.go``). We run the same package with
the same environment under the project's Node, without Docker, so the output is
the CLI's byte for byte.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict
from pydantic import Field

from ops.config import Config
from ops.console import mask, mask_url
from ops.errors import BinaryNotFound, ConfigError, ExternalError
from ops.settings import Duration, Section, section

GENERATOR = Path("node_modules") / "@supabase" / "postgres-meta" / "dist" / "server" / "server.js"
GENERATOR_HINT = "npm i -D @supabase/postgres-meta"
# The Supabase CLI's default [api] schemas (supabase/config.toml of `supabase init`).
DEFAULT_API_SCHEMAS = ["public", "graphql_public"]


class TypesSettings(Section):
    section_name = "types"

    # where db.types writes, relative to the project root
    output: str = "database.types.ts"
    # schemas to include; empty: "public" plus [api] schemas of supabase/config.toml, as the CLI does
    schemas: list[str] = Field(default_factory=list)
    # the CLI's --query-timeout (default 15s)
    query_timeout: Duration = 15.0


@dataclass
class TypesReport:
    target: str
    output: str
    schemas: list[str]
    check: bool
    changed: bool
    written: bool

    @property
    def exit_code(self) -> int:
        return 1 if self.check and self.changed else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "output": self.output,
            "schemas": self.schemas,
            "check": self.check,
            "stale": self.changed,
            "written": self.written,
            "exit_code": self.exit_code,
        }


def find_generator(root: Path) -> Path:
    """pg-meta's server script: in the project's node_modules (or a parent's, for a
    monorepo), else in npx's cache (``npx @supabase/postgres-meta`` puts it there)."""
    for directory in [root, *root.parents]:
        candidate = directory / GENERATOR
        if candidate.is_file():
            return candidate
    npm_cache = os.environ.get("npm_config_cache")  # noqa: SIM112 (npm sets and reads it lower-case)
    cache = Path(npm_cache or Path.home() / ".npm") / "_npx"
    cached = sorted(cache.glob(f"*/{GENERATOR}"), key=lambda path: path.stat().st_mtime, reverse=True)
    if cached:
        return cached[0]
    raise BinaryNotFound("Supabase's type generator (@supabase/postgres-meta) is not installed", GENERATOR_HINT)


def find_node() -> str:
    node = shutil.which("node")
    if node is None:
        raise BinaryNotFound(
            "node is not installed (the type generator runs on Node.js)", "install Node.js 20 or newer"
        )
    return node


def included_schemas(cfg: Config, settings: TypesSettings) -> list[str]:
    """``public`` and the ``[api] schemas`` of supabase/config.toml, as the CLI includes them."""
    if settings.schemas:
        return list(dict.fromkeys(settings.schemas))
    config_file = cfg.supabase_dir / "config.toml"
    schemas = DEFAULT_API_SCHEMAS
    if config_file.is_file():
        try:
            api = tomllib.loads(config_file.read_text()).get("api", {})
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_file} is not valid TOML: {exc}", "fix the TOML syntax") from None
        schemas = api.get("schemas", DEFAULT_API_SCHEMAS)
        if not isinstance(schemas, list) or not all(isinstance(s, str) for s in schemas):
            raise ConfigError(f"[api] schemas in {config_file} must be a list of names", f"fix {config_file}")
    return list(dict.fromkeys(["public", *schemas]))


def generator_env(db_url: str, schemas: list[str], query_timeout: float) -> dict[str, str]:
    """The environment the Supabase CLI gives pg-meta (internal/gen/types/types.go)."""
    params = conninfo_to_dict(db_url)
    # pg-meta does not default the database to the user's name, as libpq does
    params.setdefault("dbname", "postgres")
    env = {
        "PG_META_DB_URL": _url(params),
        "PG_CONN_TIMEOUT_SECS": f"{query_timeout:.0f}",
        "PG_QUERY_TIMEOUT_SECS": f"{query_timeout:.0f}",
        "PG_META_GENERATE_TYPES": "typescript",
        "PG_META_GENERATE_TYPES_INCLUDED_SCHEMAS": ",".join(schemas),
        "PG_META_GENERATE_TYPES_SWIFT_ACCESS_CONTROL": "internal",
        "PG_META_GENERATE_TYPES_DETECT_ONE_TO_ONE_RELATIONSHIPS": "true",
    }
    root_cert = params.get("sslrootcert") or os.environ.get("PGSSLROOTCERT")
    if root_cert and Path(str(root_cert)).is_file():
        # node-postgres verifies TLS against this CA (the CLI passes Supabase's own).
        env["PG_META_DB_SSL_ROOT_CERT"] = Path(str(root_cert)).read_text()
    return env


def _url(params: dict[str, Any]) -> str:
    """A postgresql:// URL for node-postgres from libpq parameters."""
    from urllib.parse import quote, urlencode

    host = str(params.pop("host", "localhost") or "localhost")
    port = params.pop("port", None)
    user = params.pop("user", None)
    password = params.pop("password", None)
    dbname = str(params.pop("dbname"))
    credentials = ""
    if user:
        credentials = quote(str(user), safe="")
        if password:
            credentials += ":" + quote(str(password), safe="")
        credentials += "@"
    netloc = f"[{host}]" if ":" in host else host
    if host.startswith("/"):  # a unix socket: node-postgres takes it as ?host=
        params["host"] = host
        netloc = ""
    query = urlencode({k: str(v) for k, v in params.items() if k in {"sslmode", "host", "application_name"}})
    return f"postgresql://{credentials}{netloc}{':' + str(port) if port else ''}/{quote(dbname)}" + (
        f"?{query}" if query else ""
    )


def generate(cfg: Config, db_url: str, *, settings: TypesSettings | None = None) -> str:
    """The TypeScript types of ``db_url`` as the Supabase CLI's generator prints them."""
    settings = settings or section(cfg, TypesSettings)
    node = find_node()
    generator = find_generator(cfg.root)
    env = {**os.environ, **generator_env(db_url, included_schemas(cfg, settings), settings.query_timeout)}
    try:
        result = subprocess.run(
            [node, str(generator)],
            env=env,
            capture_output=True,
            text=True,
            timeout=settings.query_timeout * 4 + 60,
            stdin=subprocess.DEVNULL,
            cwd=cfg.root,
        )
    except subprocess.TimeoutExpired:
        raise ExternalError(
            "the type generator did not finish",
            "check that the database answers; raise query_timeout in [tool.ops.types]",
        ) from None
    if result.returncode != 0 or not result.stdout.strip():
        lines = [line for line in result.stderr.splitlines() if line.strip() and "Warning" not in line]
        reason = mask(lines[-1].strip()) if lines else f"exit {result.returncode}"
        raise ExternalError(
            f"generating types from {mask_url(db_url)} failed: {reason}",
            "check the database URL and that the database is up",
        )
    return result.stdout


def types(cfg: Config, db_url: str, *, output: str | None = None, check: bool = False) -> TypesReport:
    """Write the types to ``output`` (default ``[tool.ops.types] output``); with ``check``
    write nothing and report whether the committed file is stale."""
    settings = section(cfg, TypesSettings)
    path = cfg.path(output or settings.output)
    text = generate(cfg, db_url, settings=settings)
    try:
        current = path.read_text(encoding="utf-8") if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        current = None
    changed = current != text
    written = False
    if changed and not check:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written = True
    display = str(path.relative_to(cfg.root)) if path.is_relative_to(cfg.root) else str(path)
    return TypesReport(
        target=mask_url(db_url),
        output=display,
        schemas=included_schemas(cfg, settings),
        check=check,
        changed=changed,
        written=written,
    )


def env_types(cfg: Config, env: str = "local", *, output: str | None = None, check: bool = False) -> TypesReport:
    """``db.types`` by environment name (``local`` is the running dev stack)."""
    from ops.migrations.commands import target_url

    return types(cfg, target_url(cfg, env), output=output, check=check)


__all__ = ["TypesReport", "TypesSettings", "env_types", "find_generator", "generate", "generator_env", "types"]
