"""The stack's Postgres: the cluster, its Supabase-shaped bootstrap, migrations and seed.

``apply_schema`` is the one seam to the migration runner: it uses
``ops.migrations.migrate``/``seed`` when that package provides them, and a
minimal in-order apply otherwise.
"""

from __future__ import annotations

import glob
import hashlib
import importlib
import re
import time
import tomllib
from pathlib import Path
from typing import Any

from ops.config import Config
from ops.errors import ConfigError, ExternalError
from ops.pg.bootstrap import apply_bootstrap
from ops.pg.cluster import Cluster
from ops.stack.state import StackPaths

DB_NAME = "postgres"  # Supabase's local database is "postgres" too
PORT_KEY = "db_port in [tool.ops.dev]"
_MIGRATION_FILE = re.compile(r"^([0-9]+)_(.*)\.sql$")


# A dev database trades the last few hundred milliseconds of commits after an OS
# crash (never consistency) for commits that do not wait on disk flushes.
DEV_SETTINGS = {"synchronous_commit": "off"}


def cluster_for(cfg: Config, port: int | None = None) -> Cluster:
    """The stack's cluster; an existing cluster keeps the port it was created with (its
    postgresql.conf says so), ``port`` is for a new one."""
    cluster = Cluster(StackPaths.of(cfg).postgres_dir, port_key=PORT_KEY, settings=DEV_SETTINGS)
    if not cluster.initialized:
        cluster.port = port or None
    return cluster


def start_cluster(cluster: Cluster, timeout: float = 10.0) -> bool:
    """Start the server; after a kill -9 the old backends may still hold shared
    memory for a moment, so a failed start is retried until they are gone."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return cluster.start()
        except ExternalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def bootstrap(cluster: Cluster) -> None:
    with cluster.connection(DB_NAME) as conn:
        apply_bootstrap(conn)


def apply_schema(cfg: Config, db_url: str, *, seed: bool, out: Any = None) -> list[str]:
    """Apply pending migrations (and the seed); returns what was done, one phrase each."""
    runner = _migration_runner()
    if runner is not None:
        migrate, seed_fn = runner
        done = [_describe("migrations", migrate(cfg, db_url, out=out))]
        if seed:
            done.append(_describe("seed", seed_fn(cfg, db_url)))
        return done
    return minimal_apply(cfg, db_url, seed=seed)


def _migration_runner() -> tuple[Any, Any] | None:
    try:
        module = importlib.import_module("ops.migrations")
    except ImportError:
        return None
    migrate, seed_fn = getattr(module, "migrate", None), getattr(module, "seed", None)
    if callable(migrate) and callable(seed_fn):
        return migrate, seed_fn
    return None


def _describe(kind: str, report: Any) -> str:
    applied = getattr(report, "applied", None)
    if isinstance(applied, list | tuple):
        return f"{kind}: {len(applied)} applied"
    return f"{kind}: done"


# -- the minimal apply, used until the migration runner exists ------------------------
_HISTORY_SQL = """
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
  version text primary key, statements text[], name text
);
create table if not exists supabase_migrations.seed_files (path text primary key, hash text not null);
"""


def migration_files(directory: Path) -> list[tuple[str, str, Path]]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_FILE.match(path.name)
        if match:
            found.append((match.group(1), match.group(2), path))
    return found


def seed_files(cfg: Config) -> list[Path]:
    """``[db.seed] sql_paths`` from supabase/config.toml (globs, relative to supabase/)."""
    config_file = cfg.supabase_dir / "config.toml"
    patterns: list[str] = ["./seed.sql"]
    enabled = True
    if config_file.is_file():
        try:
            section = tomllib.loads(config_file.read_text()).get("db", {}).get("seed", {})
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_file} is not valid TOML: {exc}", "fix the TOML syntax") from None
        enabled = bool(section.get("enabled", True))
        patterns = list(section.get("sql_paths", patterns))
    if not enabled:
        return []
    files: list[Path] = []
    for pattern in patterns:
        for match in sorted(glob.glob(str(cfg.supabase_dir / pattern))):
            path = Path(match)
            if path.is_file() and path not in files:
                files.append(path)
    return files


def _split(sql: str) -> list[str]:
    try:
        from pglast import split

        return list(split(sql))
    except Exception:  # pglast missing or a statement it cannot parse: store the file whole
        return [sql]


def minimal_apply(cfg: Config, db_url: str, *, seed: bool) -> list[str]:
    """Each pending migration file in one transaction, recorded in the Supabase
    CLI's history table; then the seed files not applied yet."""
    import psycopg

    applied = seeded = 0
    current = "the migration history table"
    try:
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(_HISTORY_SQL)
            done = {row[0] for row in conn.execute("select version from supabase_migrations.schema_migrations")}
            for version, name, path in migration_files(cfg.migrations_dir):
                if version in done:
                    continue
                current = str(path.relative_to(cfg.root)) if path.is_relative_to(cfg.root) else str(path)
                sql = path.read_text()
                with conn.transaction():
                    conn.execute(sql)  # type: ignore[call-overload]
                    conn.execute(
                        "insert into supabase_migrations.schema_migrations (version, statements, name)"
                        " values (%s, %s, %s)",
                        (version, _split(sql), name),
                    )
                applied += 1
            if seed:
                seen = {row[0] for row in conn.execute("select path from supabase_migrations.seed_files")}
                for path in seed_files(cfg):
                    relative = str(path.relative_to(cfg.root)) if path.is_relative_to(cfg.root) else str(path)
                    if relative in seen:
                        continue
                    current = relative
                    sql = path.read_text()
                    with conn.transaction():
                        conn.execute(sql)  # type: ignore[call-overload]
                        conn.execute(
                            "insert into supabase_migrations.seed_files (path, hash) values (%s, %s)",
                            (relative, hashlib.sha256(sql.encode()).hexdigest()),
                        )
                    seeded += 1
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExternalError(
            f"applying {current} failed: {first}", "fix it, then run dev.up again (or dev.down --purge)"
        ) from None
    done_phrases = [f"migrations: {applied} applied"]
    if seed:
        done_phrases.append(f"seed: {seeded} file(s)")
    return done_phrases
