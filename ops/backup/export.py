"""``backup.export``: a consistent logical backup of one environment.

One REPEATABLE READ transaction exports its snapshot (``pg_export_snapshot``)
and stays open while ``pg_dump --snapshot`` dumps it, so the exact row counts
taken in that transaction describe the very data in the dump. Everything is
written into ``<id>.partial`` and renamed at the end: a killed export never
shows up as a backup.
"""

from __future__ import annotations

import shutil
import threading
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops import __version__
from ops.backup.catalog import PARTIAL_SUFFIX
from ops.backup.manifest import (
    DUMP_DIR,
    FORMAT_VERSION,
    ROLES_FILE,
    checksum_tree,
    iso,
    now_utc,
    write_database_settings,
    write_manifest,
)
from ops.backup.pgtools import Target, error_line, exact_count, migration_head, run_tool, target
from ops.backup.settings import load_settings
from ops.config import Config
from ops.errors import ExternalError
from ops.targets import db_url

if TYPE_CHECKING:
    import psycopg

    from ops.console import Output

# Ordinary tables whose data pg_dump writes: no catalogs, no temp tables, no
# tables that belong to an extension.
TABLES_SQL = """
select n.nspname, c.relname, has_table_privilege(c.oid, 'SELECT')
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where c.relkind = 'r' and c.relpersistence <> 't'
   and n.nspname not in ('pg_catalog', 'information_schema')
   and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp%'
   and not exists (select 1 from pg_depend d
                    where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
 order by 1, 2
"""
SETTINGS_SQL = """
select coalesce(array_agg(cfg), '{}') from pg_db_role_setting s
  join pg_database d on d.oid = s.setdatabase, unnest(s.setconfig) cfg
 where d.datname = current_database() and s.setrole = 0
"""


def export(
    cfg: Config, env: str = "production", *, jobs: int | None = None, out: Output | None = None
) -> dict[str, Any]:
    """Back up ``env``'s database into ``<root>/<env>/<id>/``; returns the manifest
    (plus ``path``)."""
    cfg.env(env)
    settings = load_settings(cfg)
    jobs = settings.resolve_jobs(jobs)
    source = target(db_url(cfg, env))
    env_dir = settings.env_dir(env)
    try:
        env_dir.mkdir(parents=True, exist_ok=True)
        backup_id, partial = reserve_backup_dir(env_dir)
    except OSError as exc:
        raise ExternalError(
            f"cannot create a backup under {env_dir}: {exc.strerror}",
            "check [tool.ops.backup] root and its permissions",
        ) from None
    import psycopg

    try:
        manifest = _export_into(partial, source, backup_id, env, jobs, settings.compression, out)
        final = env_dir / backup_id
        partial.rename(final)
    except psycopg.Error as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise ExternalError(
            f"export of {source.display()} failed: {error_line(exc)}",
            "check that the server is healthy and that the user can read every table",
        ) from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return {**manifest, "path": str(final)}


def reserve_backup_dir(env_dir: Path, moment: datetime | None = None) -> tuple[str, Path]:
    """A new id (``20261122T093000Z``, with a suffix when two exports share a
    second) and its ``.partial`` directory, created atomically."""
    base = (moment or now_utc()).strftime("%Y%m%dT%H%M%SZ")
    for counter in range(1, 1000):
        candidate = base if counter == 1 else f"{base}-{counter}"
        partial = env_dir / (candidate + PARTIAL_SUFFIX)
        if (env_dir / candidate).exists():
            continue
        try:
            partial.mkdir()
        except FileExistsError:
            continue
        return candidate, partial
    raise ExternalError(f"cannot find a free backup id under {env_dir}", "remove stale .partial directories")


def _export_into(
    partial: Path, source: Target, backup_id: str, env: str, jobs: int, compression: int, out: Output | None
) -> dict[str, Any]:
    started = now_utc()
    conn = _connect_snapshot(source)
    try:
        snapshot, snapshot_at, version, size, dbname = conn.execute(
            "select pg_export_snapshot(), now(), current_setting('server_version'),"
            " pg_database_size(current_database()), current_database()"
        ).fetchone()  # type: ignore[misc]
        tables = _readable_tables(conn.execute(TABLES_SQL).fetchall())
        head = migration_head(conn)
        db_settings = list(conn.execute(SETTINGS_SQL).fetchone()[0])  # type: ignore[index]
        with _progress(out, total=len(tables) + 2) as advance:
            counts_future: Future[dict[str, int]] = Future()
            counter = threading.Thread(target=_count_rows, args=(conn, tables, counts_future), daemon=True)
            counter.start()
            try:
                _pg_dump(partial / DUMP_DIR, source, snapshot, jobs, compression, advance)
            except BaseException:
                conn.cancel_safe()
                raise
            finally:
                counter.join()
            row_counts = counts_future.result()
            conn.commit()
            roles = _dump_roles(partial / ROLES_FILE, source)
            advance("roles")
            settings_entry = write_database_settings(partial, db_settings)
            files = checksum_tree(partial)
            advance("checksums")
    finally:
        conn.close()
    manifest: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "id": backup_id,
        "env": env,
        "database": dbname,
        "server": source.display(),
        "started_at": iso(started),
        "snapshot_at": iso(snapshot_at),
        "finished_at": iso(now_utc()),
        "server_version": version,
        "database_size_bytes": size,
        "migration_head": head,
        "row_counts": row_counts,
        "database_settings": settings_entry,
        "dump": {"format": "directory", "path": DUMP_DIR, "jobs": jobs, "compression": compression},
        "roles": roles,
        "files": files,
        "size_bytes": sum(entry["bytes"] for entry in files.values()),
        "tool": {"name": "ops-toolkit", "version": __version__},
        "verification": None,
    }
    write_manifest(partial, manifest)
    return manifest


def _connect_snapshot(source: Target) -> psycopg.Connection[Any]:
    import psycopg

    try:
        conn = psycopg.connect(source.url, connect_timeout=10, application_name="ops backup.export")
    except psycopg.Error as exc:
        raise ExternalError(
            f"cannot connect to {source.display()}: {error_line(exc)}",
            "check the database URL and that the server is reachable",
        ) from None
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    return conn


def _readable_tables(rows: list[tuple[str, str, bool]]) -> list[str]:
    """``schema.name`` of every table; refused up front when one is unreadable
    (pg_dump would fail later with a less helpful "could not import the snapshot")."""
    unreadable = [f"{schema}.{name}" for schema, name, readable in rows if not readable]
    if unreadable:
        raise ExternalError(
            f"the database user cannot read {len(unreadable)} table(s), first {unreadable[0]}",
            "back up as the owner (or a superuser), or grant SELECT on every table",
        )
    return [f"{schema}.{name}" for schema, name, _ in rows]


def _count_rows(conn: psycopg.Connection[Any], tables: list[str], result: Future[dict[str, int]]) -> None:
    """Exact counts inside the snapshot transaction; runs while pg_dump works."""
    try:
        # The counts run beside pg_dump and finish long before it; parallel
        # workers and JIT compilation would only take CPU away from the dump.
        conn.execute("set local max_parallel_workers_per_gather = 0")
        conn.execute("set local jit = off")
        result.set_result({qualified: exact_count(conn, qualified) for qualified in tables})
    except BaseException as exc:
        result.set_exception(exc)


def _pg_dump(directory: Path, source: Target, snapshot: str, jobs: int, compression: int, advance: Any) -> None:
    def on_line(line: str) -> None:
        # -j 1 says "dumping contents of table"; parallel workers say "finished item ... TABLE DATA".
        if "dumping contents of table" in line or ("finished item" in line and "TABLE DATA" in line):
            advance(line.rsplit(" ", 1)[-1].strip().strip('"'))

    run_tool("pg_dump", dump_args(directory, source, snapshot, jobs, compression), source, on_stderr_line=on_line)


def dump_args(directory: Path, source: Target, snapshot: str | None, jobs: int, compression: int) -> list[str]:
    """pg_dump's arguments (the benchmark runs raw pg_dump with the same ones)."""
    args = ["--format=directory", f"--jobs={jobs}", f"--compress={compression}", "--verbose"]
    if snapshot:
        args.append(f"--snapshot={snapshot}")
    return [*args, f"--file={directory}", f"--dbname={source.conninfo}"]


def _dump_roles(path: Path, source: Target) -> dict[str, Any]:
    """Roles without passwords. Managed services (Supabase) may refuse: then the
    manifest says why and the backup still stands."""
    try:
        run_tool(
            "pg_dumpall",
            ["--roles-only", "--no-role-passwords", f"--file={path}", f"--dbname={source.conninfo}"],
            source,
        )
    except ExternalError as exc:
        path.unlink(missing_ok=True)
        return {"file": None, "skipped": exc.message}
    return {"file": ROLES_FILE, "skipped": None}


class _progress:
    """A rich bar on stderr when an Output is given; advance(label) moves it."""

    def __init__(self, out: Output | None, total: int) -> None:
        self._out = out
        self._total = total
        self._lock = threading.Lock()
        self._context: Any = None

    def __enter__(self) -> Any:
        if self._out is None:
            return lambda label: None
        self._context = self._out.progress()
        progress = self._context.__enter__()
        task_id = progress.add_task("export", total=self._total)

        def advance(label: str) -> None:
            with self._lock:
                progress.update(task_id, advance=1, description=f"export: {label}")

        return advance

    def __exit__(self, *exc: Any) -> None:
        if self._context is not None:
            self._context.__exit__(*exc)
