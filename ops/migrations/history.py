"""The migration history and seed tables, exactly as the Supabase CLI shapes them.

A database migrated by us looks migrated to the Supabase CLI and the other
way round: same schema, same tables, one row per applied file holding its
split statements. Only the application time is ours, kept in a side table
(``ops_applied``) that the CLI ignores.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Copied from supabase/cli pkg/migration/history.go. The CLI sends `SET lock_timeout`
# in an implicit batch transaction; we run the DDL in an explicit one, hence LOCAL.
SET_LOCK_TIMEOUT = "SET LOCAL lock_timeout = '4s'"
CREATE_VERSION_SCHEMA = "CREATE SCHEMA IF NOT EXISTS supabase_migrations"
CREATE_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (version text NOT NULL PRIMARY KEY)"
)
ADD_STATEMENTS_COLUMN = "ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS statements text[]"
ADD_NAME_COLUMN = "ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text"
CREATE_SEED_TABLE = (
    "CREATE TABLE IF NOT EXISTS supabase_migrations.seed_files (path text NOT NULL PRIMARY KEY, hash text NOT NULL)"
)
CREATE_APPLIED_TABLE = (
    "CREATE TABLE IF NOT EXISTS supabase_migrations.ops_applied"
    " (version text NOT NULL PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
)
INSERT_VERSION = "INSERT INTO supabase_migrations.schema_migrations(version, name, statements) VALUES(%s, %s, %s)"
UPSERT_VERSION = (
    "INSERT INTO supabase_migrations.schema_migrations(version, name, statements) VALUES(%s, %s, %s)"
    " ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, statements = EXCLUDED.statements"
)
# applied_at is when the history row was written, at the end of the file: now() would be
# the time the file's query arrived, which one round trip carrying many files shares.
INSERT_APPLIED = (
    "INSERT INTO supabase_migrations.ops_applied(version, applied_at) SELECT version, clock_timestamp() FROM m"
    " ON CONFLICT (version) DO UPDATE SET applied_at = EXCLUDED.applied_at"
)
UPSERT_SEED_FILE = (
    "INSERT INTO supabase_migrations.seed_files(path, hash) VALUES(%s, %s)"
    " ON CONFLICT (path) DO UPDATE SET hash = EXCLUDED.hash"
)


@dataclass(frozen=True)
class AppliedMigration:
    version: str
    name: str
    statements: list[str] | None  # None: written by a tool that kept no statements
    applied_at: datetime | None


def _columns(conn: Any, table: str) -> set[str]:
    rows = conn.execute(
        "select attname from pg_attribute where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped",
        (table,),
    ).fetchall()
    return {row[0] for row in rows}


def ensure_history_tables(conn: Any) -> None:
    """Create the history tables if missing (call while holding the migration lock).

    Skips the DDL when everything exists: ``ALTER TABLE`` would take an
    exclusive lock on the history table even when there is nothing to add.
    """
    have = _columns(conn, "supabase_migrations.schema_migrations")
    applied = _columns(conn, "supabase_migrations.ops_applied")
    if {"version", "statements", "name"} <= have and applied:
        return
    with conn.transaction():
        for sql in (
            SET_LOCK_TIMEOUT,
            CREATE_VERSION_SCHEMA,
            CREATE_VERSION_TABLE,
            ADD_STATEMENTS_COLUMN,
            ADD_NAME_COLUMN,
            CREATE_APPLIED_TABLE,
        ):
            conn.execute(sql)


def ensure_seed_table(conn: Any) -> None:
    if _columns(conn, "supabase_migrations.seed_files"):
        return
    with conn.transaction():
        for sql in (SET_LOCK_TIMEOUT, CREATE_VERSION_SCHEMA, CREATE_SEED_TABLE):
            conn.execute(sql)


def read_applied(conn: Any) -> dict[str, AppliedMigration]:
    """Applied versions (ordered); empty when the history table does not exist."""
    columns = _columns(conn, "supabase_migrations.schema_migrations")
    if not columns:
        return {}
    name = "coalesce(m.name, '')" if "name" in columns else "''"
    statements = "m.statements" if "statements" in columns else "null::text[]"
    has_times = bool(_columns(conn, "supabase_migrations.ops_applied"))
    applied_at = "a.applied_at" if has_times else "null::timestamptz"
    join = "left join supabase_migrations.ops_applied a using (version)" if has_times else ""
    rows = conn.execute(
        f"select m.version, {name}, {statements}, {applied_at}"  # type: ignore[arg-type]
        f" from supabase_migrations.schema_migrations m {join} order by m.version"
    ).fetchall()
    return {row[0]: AppliedMigration(row[0], row[1], row[2], row[3]) for row in rows}


def record(conn: Any, version: str, name: str, statements: list[str], *, upsert: bool = False) -> None:
    """One history row (and its time) in one round trip: it runs once per file."""
    conn.execute(
        f"WITH m AS ({UPSERT_VERSION if upsert else INSERT_VERSION} RETURNING version) {INSERT_APPLIED}",  # type: ignore[arg-type]
        (version, name, statements),
        prepare=False,
    )


def record_sql(conn: Any, version: str, name: str, statements: list[str]) -> str:
    """``record`` as SQL text with literals (two statements), to batch it with a file's statements.

    It runs once per file, and psycopg's ``sql.Literal`` (an adapter lookup and an
    array dumper per value) costs more client time than the server spends on the
    row. ``_text_literal`` reads the same whatever ``standard_conforming_strings``
    says (a migration may change it); a NUL, which no text value holds, is left to
    psycopg to refuse."""
    if any("\x00" in value for value in (version, name, *statements)):
        from psycopg import sql

        literals = [sql.Literal(value).as_string(conn) for value in (version, name, statements)]
    else:
        array = f"ARRAY[{','.join(map(_text_literal, statements))}]::text[]" if statements else "'{}'::text[]"
        literals = [_text_literal(version), _text_literal(name), array]
    insert = INSERT_VERSION.replace("%s", "{}").format(*literals)
    # Two statements: in one query text they cost the server half of what the CTE does.
    applied = INSERT_APPLIED.replace("SELECT version, clock_timestamp() FROM m", "VALUES({}, clock_timestamp())")
    return f"{insert};\n{applied.format(literals[0])}"


def _text_literal(value: str) -> str:
    """A text literal: quotes doubled, and with a backslash an escape string
    (``E'...'``, backslashes doubled), which no session setting reads differently."""
    quoted = value.replace("'", "''")
    if "\\" not in value:
        return f"'{quoted}'"
    return "E'" + quoted.replace("\\", "\\\\") + "'"


def applied_clocks(conn: Any, versions: list[str]) -> dict[str, float]:
    """Of ``versions``, those in the history, with when each row was written (the
    server's clock, epoch seconds): which files of a batch committed, and their times."""
    rows = conn.execute(
        "SELECT m.version, extract(epoch FROM a.applied_at)::float8 FROM supabase_migrations.schema_migrations m"
        " JOIN supabase_migrations.ops_applied a USING (version) WHERE m.version = ANY(%s)",
        (versions,),
    ).fetchall()
    return dict(rows)


def server_clock(conn: Any) -> float:
    """The server's clock (epoch seconds), the one ``applied_at`` is written with."""
    return float(conn.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()[0])


def forget(conn: Any, versions: list[str]) -> None:
    conn.execute("DELETE FROM supabase_migrations.schema_migrations WHERE version = ANY(%s)", (versions,))
    conn.execute("DELETE FROM supabase_migrations.ops_applied WHERE version = ANY(%s)", (versions,))


def read_seeds(conn: Any) -> dict[str, str]:
    if not _columns(conn, "supabase_migrations.seed_files"):
        return {}
    return dict(conn.execute("SELECT path, hash FROM supabase_migrations.seed_files").fetchall())


def record_seed(conn: Any, path: str, digest: str) -> None:
    conn.execute(UPSERT_SEED_FILE, (path, digest))
