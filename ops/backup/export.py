"""``backup.export``: a consistent logical backup of one environment.

One REPEATABLE READ transaction exports its snapshot (``pg_export_snapshot``)
and stays open while ``pg_dump --snapshot`` dumps it, so the exact row counts
taken in that transaction describe the very data in the dump. The manifest is
written last (locally: ``<id>.partial`` renamed at the end): a killed export
never shows up as a backup.

Two shapes of dump:
- a local, unencrypted repository gets ``pg_dump -Fd -j N`` written in place
  (parallel dump and parallel restore, the fastest on one machine);
- an S3 repository, or any encrypted one, gets ``pg_dump -Fc`` streamed from
  its stdout through age into the repository: one file that ``age -d | pg_restore``
  reads back without the toolkit, and nothing on the runner's disk.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ops import __version__
from ops.backup.catalog import repository
from ops.backup.crypto import encrypt_bytes, encrypt_stream
from ops.backup.manifest import (
    DUMP_DIR,
    DUMP_FILE,
    FORMAT_VERSION,
    ROLES_FILE,
    SETTINGS_FILE,
    checksum_tree,
    iso,
    now_utc,
    sha256_file,
    stored_name,
)
from ops.backup.pgtools import (
    Target,
    ToolStream,
    client_bindir,
    error_line,
    exact_counts,
    migration_head,
    pipelined,
    run_tool,
    target,
    tool_version,
)
from ops.backup.repository import (
    PARTIAL_SUFFIX,
    BackupWriter,
    Repository,
    Sink,
    private_dir,
    private_file,
    write_manifest_file,
)
from ops.backup.settings import StorageSource, load_settings
from ops.config import Config
from ops.errors import ConfigError, ExternalError
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
_CHUNK = 1 << 20
# The snapshot and everything else the export reads before pg_dump starts, in
# one round trip (a remote server's latency is paid before the dump can begin).
SNAPSHOT_SQL = """
select pg_export_snapshot(), now(), current_setting('server_version'),
       current_setting('server_version_num')::int, current_database(),
       (select coalesce(array_agg(cfg), '{}') from pg_db_role_setting s
          join pg_database d on d.oid = s.setdatabase, unnest(s.setconfig) cfg
         where d.datname = current_database() and s.setrole = 0)
"""


def export(
    cfg: Config,
    env: str = "production",
    *,
    jobs: int | None = None,
    storage: bool = False,
    keep_local: bool = False,
    out: Output | None = None,
) -> dict[str, Any]:
    """Back up ``env``'s database into its repository; returns the manifest (plus
    ``path``, where the backup is). ``storage`` also copies the project's Supabase
    Storage files; ``keep_local`` keeps a copy of what was uploaded under the
    state dir (the runner's disk keeps nothing otherwise)."""
    cfg.env(env)
    settings = load_settings(cfg)
    jobs = settings.resolve_jobs(jobs)
    storage_source = settings.storage_source(env) if storage else None
    if storage and storage_source is None:
        raise ConfigError(
            f"backup.export --storage needs [tool.ops.backup.environments.{env}.storage]",
            "name Supabase Storage's S3 endpoint and keys there (see the README)",
        )
    source = target(db_url(cfg, env))
    repo = repository(settings, env)
    plan = _Plan(
        env=env,
        source=source,
        jobs=jobs,
        compression=settings.compression,
        encrypt_to=settings.encrypt_to,
        streamed=bool(settings.encrypt_to) or not repo.is_local,
        repository=repo.url,
    )
    writer = _begin(repo, env)
    keep = _LocalCopy(settings.local_root / env, writer.id) if keep_local and not repo.is_local else None
    import psycopg

    try:
        manifest = _export_into(writer, plan, keep, storage_source, repo, out)
        location = writer.finish(manifest)
        kept = keep.finish(manifest) if keep is not None else None
    except psycopg.Error as exc:
        _abort(writer, keep)
        raise ExternalError(
            f"export of {source.display()} failed: {error_line(exc)}",
            "check that the server is healthy and that the user can read every table",
        ) from None
    except BaseException:
        _abort(writer, keep)
        raise
    return {**manifest, "path": location, "kept_local": kept}


@dataclass(frozen=True)
class _Plan:
    env: str
    source: Target
    jobs: int
    compression: int
    encrypt_to: list[str]
    # pg_dump -Fc streamed through age into the repository; otherwise (a local,
    # unencrypted repository) pg_dump -Fd -j N writes the directory in place.
    streamed: bool
    repository: str

    def stored(self, name: str) -> str:
        return stored_name(name, bool(self.encrypt_to))

    def seal(self, data: bytes) -> bytes:
        return encrypt_bytes(data, self.encrypt_to) if self.encrypt_to else data


def _abort(writer: BackupWriter, keep: _LocalCopy | None) -> None:
    writer.abort()
    if keep is not None:
        keep.abort()


def _begin(repo: Repository, env: str, moment: datetime | None = None) -> BackupWriter:
    """A new backup (id ``20261122T093000Z``, with a suffix when two exports share a second)."""
    base = (moment or now_utc()).strftime("%Y%m%dT%H%M%SZ")
    for counter in range(1, 1000):
        candidate = base if counter == 1 else f"{base}-{counter}"
        try:
            return repo.begin(env, candidate)
        except FileExistsError:
            continue
    raise ExternalError(f"cannot find a free backup id in {repo.url}", "remove stale unfinished exports")


class _LocalCopy:
    """``--keep-local``: the uploaded files, as stored, in a local backup directory."""

    def __init__(self, env_dir: Path, backup_id: str) -> None:
        self.partial = env_dir / (backup_id + PARTIAL_SUFFIX)
        self.final = env_dir / backup_id
        private_dir(env_dir.parent)
        private_dir(env_dir)
        private_dir(self.partial)

    def handle(self, name: str) -> IO[bytes]:
        path = self.partial / name
        private_dir(path.parent)
        return private_file(path)

    def finish(self, manifest: dict[str, Any]) -> str:
        write_manifest_file(self.partial, manifest)
        self.partial.rename(self.final)
        return str(self.final)

    def abort(self) -> None:
        shutil.rmtree(self.partial, ignore_errors=True)


class _Files:
    """The files of the backup being written, with their manifest entries."""

    def __init__(self, writer: BackupWriter, keep: _LocalCopy | None) -> None:
        self.writer, self.keep = writer, keep
        self.entries: dict[str, dict[str, Any]] = {}

    def sink(self, name: str) -> Sink:
        sink = self.writer.sink(name)
        if self.keep is not None:
            sink.tee(self.keep.handle(name))
        return sink

    def put(self, name: str, data: bytes) -> None:
        sink = self.sink(name)
        try:
            sink.write(data)
        except BaseException:
            sink.abort()
            raise
        self.entries[name] = sink.close()


def _export_into(
    writer: BackupWriter,
    plan: _Plan,
    keep: _LocalCopy | None,
    storage_source: StorageSource | None,
    repo: Repository,
    out: Output | None,
) -> dict[str, Any]:
    started = now_utc()
    source = plan.source
    files = _Files(writer, keep)
    conn = _connect_snapshot(source)
    try:
        with pipelined(conn):  # BEGIN and both queries in one round trip
            first_cursor, tables_cursor = conn.execute(SNAPSHOT_SQL), conn.execute(TABLES_SQL)
        first = first_cursor.fetchone()
        assert first is not None
        snapshot, snapshot_at, version, version_num, dbname, settings_row = first
        db_settings = list(settings_row)
        tables = _readable_tables(tables_cursor.fetchall())
        bindir = client_bindir(version_num // 10000, "pg_dump")
        # The small files go beside pg_dump instead of before or after it: the
        # settings first (an interrupted upload then leaves something a listing
        # can name as unfinished), then the roles (global: no snapshot to share).
        globals_future: Future[tuple[str, dict[str, Any]]] = Future()
        side = threading.Thread(
            target=_small_files, args=(files, plan, bindir, settings_json(db_settings), globals_future), daemon=True
        )
        with _progress(out, total=len(tables) + 2) as advance:
            counts_future: Future[tuple[int, str | None, dict[str, int]]] = Future()
            counter = threading.Thread(target=_count_rows, args=(conn, tables, counts_future), daemon=True)

            local_dir = None if plan.streamed else writer.local_dir
            hasher = _DumpHasher(local_dir, DUMP_DIR) if local_dir is not None else None

            def beside_pg_dump() -> None:
                # Started once pg_dump runs: pg_dump is what the export waits for,
                # so it is spawned first (a thread's start waits to be scheduled).
                if hasher is not None:
                    hasher.start()
                side.start()
                counter.start()

            try:
                if plan.streamed:
                    dump_name = plan.stored(DUMP_FILE)
                    _pg_dump_stream(files, dump_name, plan, snapshot, bindir, advance, beside_pg_dump)
                else:
                    assert local_dir is not None and hasher is not None
                    dump_name = DUMP_DIR
                    _pg_dump(local_dir / DUMP_DIR, source, snapshot, plan, bindir, advance, hasher, beside_pg_dump)
            except BaseException:
                conn.cancel_safe()
                raise
            finally:
                for thread in (counter, side):  # not started when pg_dump could not be run
                    if thread.ident is not None:
                        thread.join()  # nothing may still be writing when a failed export is removed
                hashed = hasher.close() if hasher is not None else {}
            size, head, row_counts = counts_future.result()
            conn.commit()
            client_version, roles = globals_future.result()
            advance("roles")
            storage_entry = None
            if storage_source is not None:
                from ops.backup.storage import copy_storage

                storage_entry = copy_storage(repo, plan.env, storage_source, plan.encrypt_to, files.put, out)
            if not plan.streamed:
                assert writer.local_dir is not None
                # Only what was not hashed while it was written: toc.dat, large objects.
                files.entries = checksum_tree(writer.local_dir, known={**hashed, **files.entries})
            advance("checksums")
    finally:
        conn.close()
    dump_entry: dict[str, Any] = (
        {"format": "custom", "file": dump_name, "compression": plan.compression}
        if plan.streamed
        else {"format": "directory", "path": DUMP_DIR, "jobs": plan.jobs, "compression": plan.compression}
    )
    manifest: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "id": writer.id,
        "env": plan.env,
        "database": dbname,
        "server": source.display(),
        "repository": plan.repository,
        "started_at": iso(started),
        "snapshot_at": iso(snapshot_at),
        "finished_at": iso(now_utc()),
        "server_version": version,
        "client_version": client_version,
        "database_size_bytes": size,
        "migration_head": head,
        "row_counts": row_counts,
        "database_settings": {"file": plan.stored(SETTINGS_FILE), "names": [e.partition("=")[0] for e in db_settings]},
        "dump": dump_entry,
        "roles": roles,
        "encryption": {"method": "age", "recipients": plan.encrypt_to} if plan.encrypt_to else None,
        "storage": storage_entry,
        "files": files.entries,
        "size_bytes": sum(entry["bytes"] for entry in files.entries.values()),
        "tool": {"name": "ops-toolkit", "version": __version__},
        "verification": None,
    }
    return manifest


def settings_json(settings: list[str]) -> bytes:
    return (json.dumps(settings, indent=2) + "\n").encode()


def _connect_snapshot(source: Target) -> psycopg.Connection[Any]:
    import psycopg

    from ops.pg.connect import connect

    conn = connect(source.url, application_name="ops backup.export", autocommit=False, where=source.display())
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


def _count_rows(
    conn: psycopg.Connection[Any], tables: list[str], result: Future[tuple[int, str | None, dict[str, int]]]
) -> None:
    """The database's size (a stat of every file: slow with many relations), the
    migration head and the exact counts, inside the snapshot transaction, while
    pg_dump works (pg_dump starts as soon as it has the snapshot)."""
    try:
        size = int(conn.execute("select pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]
        head = migration_head(conn)
        # The counts run beside pg_dump; parallel workers and JIT compilation
        # would only take CPU away from the dump.
        conn.execute("set local max_parallel_workers_per_gather = 0")
        conn.execute("set local jit = off")
        result.set_result((size, head, exact_counts(conn, tables)))
    except BaseException as exc:
        result.set_exception(exc)


# Parallel pg_dump reports each table it finished: "finished item 3358 TABLE DATA accounts"
# (a worker closes the table's file before it reports); serial pg_dump announces each
# table before dumping it: "dumping contents of table "public.accounts"".
_FINISHED_TABLE = re.compile(r"finished item (\d+) TABLE DATA ")


def _dump_progress(advance: Any, jobs: int, hasher: _DumpHasher | None = None) -> Any:
    def on_line(line: str) -> None:
        finished = _FINISHED_TABLE.search(line)
        if finished and hasher is not None:
            hasher.finished(finished.group(1))
        # Parallel pg_dump prints both lines per table: count one of them.
        if finished is not None if jobs > 1 else "dumping contents of table" in line:
            advance(line.rsplit(" ", 1)[-1].strip().strip('"'))

    return on_line


def _pg_dump(
    directory: Path,
    source: Target,
    snapshot: str,
    plan: _Plan,
    bindir: Path,
    advance: Any,
    hasher: _DumpHasher,
    on_start: Callable[[], None],
) -> None:
    args = dump_args(directory, source, snapshot, plan.jobs, plan.compression)
    on_line = _dump_progress(advance, plan.jobs, hasher)
    run_tool("pg_dump", args, source, on_stderr_line=on_line, bindir=bindir, on_start=on_start)


class _DumpHasher:
    """The checksums of a directory dump's table files, taken while pg_dump still
    works: each file is hashed (on a thread of its own, from the page cache) as
    soon as pg_dump reports its table finished, instead of re-reading the whole
    dump after pg_dump exits. What is left (toc.dat, large objects, a serial
    dump's files) is hashed at the end by ``checksum_tree``, which also re-hashes
    any file whose size changed since."""

    def __init__(self, backup_dir: Path, dump_dir: str) -> None:
        self._backup_dir, self._dump_dir = backup_dir, dump_dir
        self._items: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.entries: dict[str, dict[str, Any]] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def finished(self, dump_id: str) -> None:
        self._items.put(dump_id)

    def _run(self) -> None:
        directory = self._backup_dir / self._dump_dir
        for dump_id in iter(self._items.get, None):
            # <id>.dat, or .dat.gz / .lz4 / .zst when compressed
            for path in directory.glob(f"{dump_id}.dat*"):
                try:
                    entry = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
                except OSError:
                    continue  # hashed again at the end
                self.entries[path.relative_to(self._backup_dir).as_posix()] = entry

    def close(self) -> dict[str, dict[str, Any]]:
        if self._thread.ident is not None:  # started: pg_dump ran
            self._items.put(None)
            self._thread.join()
        return self.entries


def dump_args(directory: Path, source: Target, snapshot: str | None, jobs: int, compression: int) -> list[str]:
    """pg_dump's arguments for a local directory (the benchmark runs raw pg_dump with the same ones)."""
    args = ["--format=directory", f"--jobs={jobs}", f"--compress={compression}", "--verbose"]
    if snapshot:
        args.append(f"--snapshot={snapshot}")
    return [*args, f"--file={directory}", f"--dbname={source.conninfo}"]


def stream_args(source: Target, snapshot: str | None, compression: int) -> list[str]:
    """pg_dump's arguments for a streamed dump (custom format on stdout)."""
    args = ["--format=custom", f"--compress={compression}", "--verbose"]
    if snapshot:
        args.append(f"--snapshot={snapshot}")
    return [*args, f"--dbname={source.conninfo}"]


def _pg_dump_stream(
    files: _Files,
    name: str,
    plan: _Plan,
    snapshot: str,
    bindir: Path,
    advance: Any,
    on_start: Callable[[], None],
) -> None:
    """pg_dump -Fc on stdout -> age (when configured) -> the repository, in one pass."""
    sink = files.sink(name)
    try:
        with ToolStream(
            "pg_dump",
            stream_args(plan.source, snapshot, plan.compression),
            plan.source,
            bindir,
            on_stderr_line=_dump_progress(advance, jobs=1),
        ) as stream:
            on_start()
            if plan.encrypt_to:
                encrypt_stream(stream.stdout, sink, plan.encrypt_to)
            else:
                while chunk := stream.stdout.read(_CHUNK):
                    sink.write(chunk)
    except BaseException:
        sink.abort()
        raise
    files.entries[name] = sink.close()


def _small_files(
    files: _Files, plan: _Plan, bindir: Path, settings: bytes, result: Future[tuple[str, dict[str, Any]]]
) -> None:
    """database_settings.json, pg_dump's version, and roles.sql without passwords
    (or why it could not be read: managed services such as Supabase may refuse,
    and the backup still stands)."""
    try:
        files.put(plan.stored(SETTINGS_FILE), plan.seal(settings))
        version = tool_version(bindir, "pg_dump")
        source = plan.source
        try:
            roles = run_tool(
                "pg_dumpall",
                ["--roles-only", "--no-role-passwords", f"--dbname={source.conninfo}"],
                source,
                bindir=bindir,
            ).stdout
        except ExternalError as exc:
            result.set_result((version, {"file": None, "skipped": exc.message}))
            return
        name = plan.stored(ROLES_FILE)
        files.put(name, plan.seal(roles.encode()))
        result.set_result((version, {"file": name, "skipped": None}))
    except BaseException as exc:
        result.set_exception(exc)


class _progress:
    """A rich bar on stderr when an Output is given and stderr is a terminal;
    advance(label) moves it. In CI logs and pipes a transient display shows
    nothing, and would cost its import and a refresh thread beside pg_dump."""

    def __init__(self, out: Output | None, total: int) -> None:
        self._out = out
        self._total = total
        self._lock = threading.Lock()
        self._context: Any = None

    def __enter__(self) -> Any:
        if self._out is None or not sys.stderr.isatty():
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
