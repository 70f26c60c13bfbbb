"""Extensions the migrations need, checked against the target before anything applies.

Real Supabase projects enable extensions a plain PostgreSQL may lack (pg_net,
vector, pgmq...). Applying such a set used to stop at the first missing one,
after part of the history was applied. ``check_available`` finds every
``CREATE EXTENSION`` in the pending migrations and the seed files (with the
PostgreSQL parser), compares them with ``pg_available_extensions`` on the
target, and refuses up front with one message that names each missing
extension and where to get it. Nothing is faked: what the server cannot load
is reported.

``server_settings`` says what the local server needs for the extensions it
has (``shared_preload_libraries``, ``cron.database_name``...), so the dev
stack can configure and restart it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.config import Config
from ops.errors import ExternalError, OpsError
from ops.migrations.split import Statement, split_sql

_MAYBE_CREATE_EXTENSION = re.compile(r"create\s+extension", re.IGNORECASE)
DOCKER_ALTERNATIVE = "or run the stack with the docker provider on Supabase's image (supabase/postgres), which has it"


@dataclass(frozen=True)
class Source:
    """Where an extension comes from. ``debian`` and ``brew`` take ``{v}``, the major version."""

    debian: str | None = None
    brew: str | None = None
    source: str | None = None  # the project to build from when no package exists
    preload: str | None = None  # the library for shared_preload_libraries, when it needs one
    settings: tuple[tuple[str, str], ...] = ()  # settings it needs; {db} is the database name


_CONTRIB = Source(debian="postgresql-{v}", brew="postgresql@{v}")
# Shipped with the server (Debian: postgresql-NN; Homebrew: postgresql@NN).
CONTRIB = (
    "amcheck",
    "autoinc",
    "bloom",
    "btree_gin",
    "btree_gist",
    "citext",
    "cube",
    "dblink",
    "dict_int",
    "dict_xsyn",
    "earthdistance",
    "file_fdw",
    "fuzzystrmatch",
    "hstore",
    "insert_username",
    "intagg",
    "intarray",
    "isn",
    "lo",
    "ltree",
    "moddatetime",
    "pageinspect",
    "pg_buffercache",
    "pg_freespacemap",
    "pg_prewarm",
    "pg_surgery",
    "pg_trgm",
    "pg_visibility",
    "pg_walinspect",
    "pgcrypto",
    "pgrowlocks",
    "pgstattuple",
    "postgres_fdw",
    "refint",
    "seg",
    "sslinfo",
    "tablefunc",
    "tcn",
    "tsm_system_rows",
    "tsm_system_time",
    "unaccent",
    "uuid-ossp",
    "xml2",
)
# The extensions a Supabase project can enable, by where they come from. PGDG is
# apt.postgresql.org; Homebrew names are formulas in homebrew-core.
SOURCES: dict[str, Source] = {
    **dict.fromkeys(CONTRIB, _CONTRIB),
    "pg_stat_statements": Source(debian="postgresql-{v}", brew="postgresql@{v}", preload="pg_stat_statements"),
    "pg_cron": Source(
        debian="postgresql-{v}-cron",
        brew="pg_cron",
        preload="pg_cron",
        settings=(("cron.database_name", "{db}"),),
    ),
    "vector": Source(debian="postgresql-{v}-pgvector", brew="pgvector"),
    "postgis": Source(debian="postgresql-{v}-postgis-3", brew="postgis"),
    "postgis_raster": Source(debian="postgresql-{v}-postgis-3", brew="postgis"),
    "postgis_topology": Source(debian="postgresql-{v}-postgis-3", brew="postgis"),
    "postgis_tiger_geocoder": Source(debian="postgresql-{v}-postgis-3", brew="postgis"),
    "address_standardizer": Source(debian="postgresql-{v}-postgis-3", brew="postgis"),
    "pgrouting": Source(debian="postgresql-{v}-pgrouting", brew="pgrouting"),
    "http": Source(debian="postgresql-{v}-http", source="pramsey/pgsql-http"),
    "pgtap": Source(debian="postgresql-{v}-pgtap", source="theory/pgtap"),
    "pgaudit": Source(debian="postgresql-{v}-pgaudit", source="pgaudit/pgaudit", preload="pgaudit"),
    "plpgsql_check": Source(debian="postgresql-{v}-plpgsql-check", source="okbob/plpgsql_check"),
    "hypopg": Source(debian="postgresql-{v}-hypopg", source="HypoPG/hypopg"),
    "pg_repack": Source(debian="postgresql-{v}-repack", source="reorg/pg_repack"),
    "rum": Source(debian="postgresql-{v}-rum", source="postgrespro/rum"),
    "pg_partman": Source(debian="postgresql-{v}-partman", source="pgpartman/pg_partman"),
    "h3": Source(debian="postgresql-{v}-h3", source="zachasme/h3-pg"),
    "pg_net": Source(source="supabase/pg_net", preload="pg_net"),
    "pgmq": Source(source="pgmq/pgmq"),
    "pgsodium": Source(source="michelp/pgsodium", preload="pgsodium"),
    "supabase_vault": Source(source="supabase/vault"),
    "pg_graphql": Source(source="supabase/pg_graphql"),
    "pg_jsonschema": Source(source="supabase/pg_jsonschema"),
    "wrappers": Source(source="supabase/wrappers"),
    "index_advisor": Source(source="supabase/index_advisor"),
    "pg_hashids": Source(source="iCyberon/pg_hashids"),
    "pgjwt": Source(source="michelp/pgjwt"),
    "pg_tle": Source(source="aws/pg_tle", preload="pg_tle"),
    "pgroonga": Source(source="pgroonga/pgroonga (Groonga's apt repository)"),
    "timescaledb": Source(source="timescale/timescaledb (Timescale's apt repository)", preload="timescaledb"),
    "pg_stat_monitor": Source(source="percona/pg_stat_monitor", preload="pg_stat_monitor"),
    "plv8": Source(source="plv8/plv8"),
}


@dataclass(frozen=True)
class ExtensionUse:
    """A ``CREATE EXTENSION`` in a file."""

    name: str
    file: str
    line: int


@dataclass
class MissingExtensions:
    """The outcome of a check: the extensions the target lacks, each with its first use."""

    major: int
    missing: dict[str, ExtensionUse] = field(default_factory=dict)

    def message(self) -> str:
        names = ", ".join(f"{name} ({use.file}:{use.line})" for name, use in self.missing.items())
        return f"the database lacks extension(s) the migrations create: {names}; nothing was applied"

    def hint(self) -> str:
        return "; ".join(f"{name}: {install_hint(name, self.major)}" for name in self.missing)


class ExtensionsMissing(ExternalError):
    """The target cannot create extensions the pending files create (exit 3, nothing applied)."""

    def __init__(self, found: MissingExtensions) -> None:
        super().__init__(found.message(), found.hint())
        self.found = found


def install_hint(name: str, major: int) -> str:
    """Where to get extension ``name`` for PostgreSQL ``major``: the Debian/Ubuntu (PGDG)
    package, the Homebrew formula, and the docker provider as the alternative."""
    known = SOURCES.get(name)
    ways = []
    if known and known.debian:
        ways.append(f"apt-get install {known.debian.format(v=major)} (Debian/Ubuntu, PGDG)")
    if known and known.brew:
        ways.append(f"brew install {known.brew.format(v=major)} (macOS)")
    if known and known.source and not (known.debian and known.brew):
        ways.append(f"{'no package; ' if not known.debian else ''}build from {known.source}")
    if not known:
        ways.append("no package known to ops; build it from its project's source")
    return ", ".join(ways) + f", {DOCKER_ALTERNATIVE}"


def extensions_in(statements: Iterable[Statement], file: str) -> list[ExtensionUse]:
    """Every ``CREATE EXTENSION`` among ``statements`` (found by the parser, so comments,
    strings and function bodies are not taken for one)."""
    from pglast import parser

    found = []
    for statement in statements:
        if not _MAYBE_CREATE_EXTENSION.search(statement.text):
            continue
        try:
            tree = json.loads(parser.parse_sql_json(statement.text))
        except parser.ParseError:
            continue
        for entry in tree.get("stmts") or []:
            node = entry.get("stmt", {}).get("CreateExtensionStmt")
            if node and node.get("extname"):
                found.append(ExtensionUse(str(node["extname"]), file, statement.line))
    return found


def extensions_in_files(files: Sequence[tuple[str, str]]) -> list[ExtensionUse]:
    """Uses in ``(display name, SQL text)`` pairs, in order."""
    uses: list[ExtensionUse] = []
    for name, text in files:
        uses += extensions_in(split_sql(text, source=name), name)
    return uses


def available(conn: Any) -> set[str]:
    return {row[0] for row in conn.execute("select name from pg_available_extensions")}


def server_major(conn: Any) -> int:
    row = conn.execute("select current_setting('server_version_num')::int / 10000").fetchone()
    return int(row[0]) if row else 0


def find_missing(conn: Any, uses: Sequence[ExtensionUse]) -> MissingExtensions:
    present = available(conn)
    result = MissingExtensions(server_major(conn))
    for use in uses:
        if use.name not in present and use.name not in result.missing:
            result.missing[use.name] = use
    return result


def check_available(cfg: Config, conn: Any, pending: Sequence[Any]) -> None:
    """Refuse, before the first file applies, when the target lacks an extension that a
    pending migration (``MigrationFile``s) or a seed file creates."""
    uses: list[ExtensionUse] = []
    for migration in pending:
        uses += extensions_in(migration.parsed, migration.filename)
    uses += extensions_in_files(_seed_texts(cfg))
    if not uses:
        return
    found = find_missing(conn, uses)
    if found.missing:
        raise ExtensionsMissing(found)


def _seed_texts(cfg: Config) -> list[tuple[str, str]]:
    from ops.migrations.files import seed_files, seed_settings

    enabled, patterns = seed_settings(cfg)
    if not enabled:
        return []
    texts = []
    for path in seed_files(cfg, patterns, []):
        try:
            texts.append((_display(cfg, path), path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError):
            continue  # the seed step itself reports an unreadable file
    return texts


def _display(cfg: Config, path: Path) -> str:
    return str(path.relative_to(cfg.root)) if path.is_relative_to(cfg.root) else str(path)


def required_extensions(cfg: Config) -> list[str]:
    """Every extension the project's migrations and seed files create, in order, once each."""
    from ops.migrations.files import load_migrations

    uses: list[ExtensionUse] = []
    for migration in load_migrations(cfg.migrations_dir):
        if not _MAYBE_CREATE_EXTENSION.search(migration.text):
            continue  # no need to split a file that cannot create one (every dev.up asks)
        try:
            uses += extensions_in(migration.parsed, migration.filename)
        except OpsError:
            continue  # a file being written does not parse yet: applying it reports that
    for name, text in _seed_texts(cfg):
        if not _MAYBE_CREATE_EXTENSION.search(text):
            continue
        try:
            uses += extensions_in_files([(name, text)])
        except OpsError:
            continue
    return list(dict.fromkeys(use.name for use in uses))


def server_settings(extensions: Iterable[str], *, database: str, pkglibdir: Path | None = None) -> dict[str, str]:
    """The server settings ``extensions`` need: ``shared_preload_libraries`` and their own
    (``cron.database_name``). A library not installed in ``pkglibdir`` is left out: the
    server would not start, and the check before migrating reports the extension."""
    libraries: list[str] = []
    settings: dict[str, str] = {}
    for name in extensions:
        known = SOURCES.get(name)
        if known is None or known.preload is None:
            continue
        if pkglibdir is not None and not (pkglibdir / f"{known.preload}.so").is_file():
            continue
        if known.preload not in libraries:
            libraries.append(known.preload)
        for key, value in known.settings:
            settings[key] = value.format(db=database)
    if libraries:
        settings["shared_preload_libraries"] = ",".join(libraries)
    return settings
