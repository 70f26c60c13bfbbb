"""Restore a backup into a fresh database and check it against the manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ops.backup.catalog import Backup
from ops.backup.manifest import DUMP_DIR
from ops.backup.pgtools import (
    Target,
    ToolStream,
    client_bindir,
    exact_counts,
    existing_tables,
    migration_head,
    run_tool,
    target,
    with_database,
)
from ops.backup.verify import dump_major
from ops.errors import BinaryNotFound, CheckFailed, ExternalError, UsageError
from ops.pg.cluster import alter_database_set
from ops.pg.connect import connect as open_connection


def connect(url: str) -> Any:
    return open_connection(url, application_name="ops backup", where=target(url).display())


def create_database(server_url: str, name: str, settings: list[str]) -> int:
    """A fresh, empty database (from template0) with the source's database-level
    settings (``ALTER DATABASE ... SET``), which pg_dump leaves out. Returns the
    server's major version (for ``restore``: no second connection to ask it)."""
    from psycopg import sql

    database = sql.Identifier(name)
    with connect(server_url) as conn:
        if conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
            raise UsageError(
                f"database {name} already exists on {target(server_url).display()}",
                f"drop it (DROP DATABASE {database.as_string(conn)}) or drill another backup",
            )
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(database))
        for entry in settings:
            conn.execute(alter_database_set(name, entry))
        return int(conn.info.server_version) // 10000


def drop_database(server_url: str, name: str) -> None:
    from psycopg import sql

    with connect(server_url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def restore_args(dump: Path | str, into: Target, jobs: int) -> list[str]:
    """pg_restore's arguments (the benchmark runs raw pg_restore with the same ones)."""
    return [f"--jobs={jobs}", f"--dbname={into.conninfo}", str(dump)]


def stream_restore_args(into: Target) -> list[str]:
    """pg_restore reading the dump on stdin (one job: parallel restore needs a seekable file)."""
    return [f"--dbname={into.conninfo}"]


def restore(backup: Backup, into_url: str, jobs: int, *, server_major: int | None = None) -> str:
    """Restore ``backup`` into the (empty) database at ``into_url``; any error
    fails the restore. A local directory or unencrypted file is restored with
    ``pg_restore -j``; anything else is streamed from the repository, through
    age, into ``pg_restore``'s stdin, without touching the disk. Returns how.
    ``server_major`` (what ``create_database`` returned) saves a connection
    that would only ask the server's version."""
    into = target(into_url)
    dump = backup.manifest.get("dump", {})
    local = backup.repo.local_path(backup.env, backup.id)
    if server_major is None:
        server_major = server_version_major(into_url)
    bindir = client_bindir(max(dump_major(backup), server_major), "pg_restore")
    try:
        if local is not None and dump.get("format", "directory") == "directory":
            run_tool("pg_restore", restore_args(local / dump.get("path", DUMP_DIR), into, jobs), into, bindir=bindir)
            return f"pg_restore --jobs={jobs}"
        if local is not None and not backup.encrypted:
            run_tool("pg_restore", restore_args(local / dump["file"], into, jobs), into, bindir=bindir)
            return f"pg_restore --jobs={jobs}"
        from ops.backup.content import stream_dump

        with ToolStream("pg_restore", stream_restore_args(into), into, bindir, feed=True) as tool:
            digest, size = stream_dump(backup, tool.stdin)
        expected = backup.manifest["files"][dump["file"]]
        if (digest, size) != (expected["sha256"], expected["bytes"]):
            raise CheckFailed(
                f"{dump['file']} changed in the repository since it was verified (checksum mismatch)",
                "verify the backup and drill an intact one",
            )
        return "streamed from the repository into pg_restore" + (" through age" if backup.encrypted else "")
    except ExternalError as exc:
        if exc.message.startswith("pg_restore failed") and not isinstance(exc, BinaryNotFound):
            raise CheckFailed(f"restore failed: {exc.message}", exc.hint) from None
        raise


def server_version_major(url: str) -> int:
    with connect(url) as conn:
        return int(conn.info.server_version) // 10000


def restore_backup(backup: Backup, server_url: str, database: str, jobs: int) -> str:
    """Create ``database`` on ``server_url`` (from template0, with the source's
    database settings) and restore ``backup`` into it; returns its URL. The
    caller owns the new database (drop it with ``drop_database``)."""
    from ops.backup.content import database_settings

    major = create_database(server_url, database, database_settings(backup))
    url = with_database(server_url, database)
    restore(backup, url, jobs, server_major=major)
    return url


def analyze(into_url: str, jobs: int = 1) -> None:
    """Fresh statistics, cheapest first, so the app gets sane plans at once; with
    ``jobs`` connections, as many tables at a time (the restore's parallelism)."""
    into = target(into_url)
    run_tool("vacuumdb", ["--analyze-in-stages", f"--jobs={jobs}", f"--dbname={into.conninfo}"], into)


def restored_migration_head(url: str) -> str | None:
    with connect(url) as conn:
        return migration_head(conn)


def row_counts(url: str, tables: list[str]) -> dict[str, int | None]:
    """Exact counts; None for a table that is missing after the restore. Two round
    trips whatever the number of tables (the existence check, then the pipelined counts)."""
    with connect(url) as conn:
        present = existing_tables(conn, tables)
        counted = exact_counts(conn, [qualified for qualified in tables if qualified in present])
    return {qualified: counted.get(qualified) for qualified in tables}
