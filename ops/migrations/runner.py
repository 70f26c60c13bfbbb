"""Applying pending migrations: one connection, one lock, one transaction per file.

Each file runs in a transaction together with its history row, so a run
stops at a file boundary whatever happens. Consecutive files go to the server
several per round trip (each still between its own BEGIN and COMMIT, as psql
runs a script); a failure stops the batch there, and that file runs again
alone, which retries a lock timeout and names the failing statement.
Statements PostgreSQL refuses in a transaction (``CREATE INDEX
CONCURRENTLY``...) run on their own, and the file's history row is written
after its last statement.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ops.config import Config
from ops.console import mask_url
from ops.errors import ExternalError, OpsError
from ops.guards import refuse_transaction_pooler
from ops.migrations import history
from ops.migrations.connection import connect
from ops.migrations.execute import LOCK_NOT_AVAILABLE, StatementFailed, run_statements
from ops.migrations.extensions import check_available as check_extensions_available
from ops.migrations.files import MigrationFile, load_migrations
from ops.migrations.knobs import RunnerKnobs, runner_settings
from ops.migrations.lock import migration_lock
from ops.migrations.plan import Plan, check_plan, make_plan
from ops.migrations.split import Statement, concurrent_index
from ops.migrations.transactions import check_transaction_statements
from ops.pg.connect import error_text

if TYPE_CHECKING:
    from ops.console import Output

PARTIAL_HINT = (
    "fix the statement and run it again; statements of this file that ran outside a transaction stay applied,"
    " so keep them idempotent (IF NOT EXISTS)"
)


@dataclass
class AppliedFile:
    version: str
    name: str
    statements: int
    seconds: float


@dataclass
class MigrateReport:
    target: str
    dry_run: bool
    applied: list[AppliedFile] = field(default_factory=list)
    pending: list[MigrationFile] = field(default_factory=list)
    waited_for_lock_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "dry_run": self.dry_run,
            "applied": [vars(item) for item in self.applied],
            "pending": [
                {"version": f.version, "name": f.name, "statements": len(f.parsed), "file": f.filename}
                for f in self.pending
            ],
            "waited_for_lock_seconds": round(self.waited_for_lock_seconds, 3),
        }


def migrate(
    cfg: Config,
    db_url: str,
    *,
    dry_run: bool = False,
    include_all: bool = False,
    out: Output | None = None,
    settings: RunnerKnobs | None = None,
) -> MigrateReport:
    """Apply the pending ``supabase/migrations`` files to ``db_url``."""
    refuse_transaction_pooler(db_url)
    settings = settings or runner_settings(cfg)
    local = load_migrations(cfg.migrations_dir)
    for file in local:
        file.parsed  # noqa: B018  (a syntax error anywhere stops the run before it touches the database)
    report = MigrateReport(target=mask_url(db_url), dry_run=dry_run)
    conn = connect(db_url)
    try:
        if dry_run:
            plan = make_plan(local, history.read_applied(conn))
            check_plan(plan, include_all)
            check_pending(plan)
            report.pending = plan.pending
            return report
        with _progress(out) as progress:
            task = progress.add_task("taking the migration lock", total=None) if progress else None

            def waiting(seconds: float) -> None:
                if progress is not None and task is not None:
                    progress.update(task, description=f"waiting for another runner's migration lock ({seconds:.0f}s)")

            with migration_lock(conn, timeout=settings.lock_wait_seconds, on_wait=waiting) as waited:
                report.waited_for_lock_seconds = waited
                history.ensure_history_tables(conn)
                plan = make_plan(local, history.read_applied(conn))
                check_plan(plan, include_all)
                check_pending(plan)
                check_extensions_available(cfg, conn, plan.pending)
                _apply_all(conn, plan, settings, report, out, progress, task)
    except OpsError as failure:
        # The --json document of a failed run still lists the files applied before the failure.
        setattr(failure, "report", report)  # noqa: B010
        raise
    finally:
        conn.close()
    return report


def check_pending(plan: Plan) -> None:
    """Refuse, before any file runs, a pending file whose own transaction
    statements would end or break the transaction the runner runs it in."""
    for file in plan.pending:
        check_transaction_statements(file.parsed, file.filename)


# A batch: consecutive files sent as one query, each in its own transaction with its
# history row. Past a few dozen files a bigger batch saves nothing (the round trips are
# already a small share) and makes the progress display coarser.
BATCH_FILES = 50
BATCH_CHARACTERS = 1 << 20


def _apply_all(
    conn: Any, plan: Plan, settings: RunnerKnobs, report: MigrateReport, out: Output | None, progress: Any, task: Any
) -> None:
    if progress is not None:
        progress.update(task, description="applying migrations", total=len(plan.pending), completed=0)
    row = conn.execute(
        "select set_config('lock_timeout', %s, false), extract(epoch from clock_timestamp())::float8",
        (settings.lock_timeout,),
    ).fetchone()
    clock = row[1]  # the server's time when the last file ended: a file's time is the gap to its history row
    cursor = conn.cursor()
    pending, index = plan.pending, 0
    try:
        while index < len(pending):
            batch = _next_batch(pending, index)
            if len(batch) > 1:
                with _recording_errors(batch[0]):
                    clocks = _apply_batch(conn, cursor, batch)
                for file in batch[: len(clocks)]:
                    report.applied.append(
                        AppliedFile(file.version, file.name, len(file.parsed), round(clocks[file.version] - clock, 4))
                    )
                    clock = clocks[file.version]
                if progress is not None:
                    progress.advance(task, len(clocks))
                index += len(clocks)
                if len(clocks) == len(batch):
                    continue
                # A file of the batch failed and was rolled back (the ones before it stay
                # committed): it runs again alone, which retries a lock timeout and names a
                # failing statement.
            file = pending[index]
            started = time.perf_counter()
            with _recording_errors(file):
                if file.has_standalone:
                    _apply_with_standalone(conn, cursor, file, settings, out)
                else:
                    _apply_in_transaction(conn, cursor, file, settings, out)
            with _broken_after(file):  # committed: an error now must not say it was rolled back
                clock = history.server_clock(conn)
            report.applied.append(
                AppliedFile(file.version, file.name, len(file.parsed), round(time.perf_counter() - started, 4))
            )
            if progress is not None:
                progress.advance(task)
            index += 1
    except StatementFailed as failure:
        if out is not None:
            out.line(failure.excerpt)
        raise
    finally:
        cursor.close()
        if not conn.closed:
            conn.execute("reset lock_timeout")


@contextlib.contextmanager
def _recording_errors(file: MigrationFile) -> Iterator[None]:
    """A driver error outside the file's statements (its history row, the connection) as one line."""
    import psycopg

    try:
        yield
    except psycopg.Error as exc:
        raise ExternalError(
            f"{file.filename}: recording it failed: {error_text(exc)}",
            "check the database and run it again; this file was rolled back",
        ) from None


@contextlib.contextmanager
def _broken_after(first: MigrationFile, last: MigrationFile | None = None) -> Iterator[None]:
    """A driver error once files may have committed: which ones did is in the history."""
    import psycopg

    try:
        yield
    except psycopg.Error as exc:
        files = first.filename if last is None or last is first else f"{first.filename} .. {last.filename}"
        raise ExternalError(
            f"the connection broke after applying {files}: {error_text(exc)}",
            "check the database; db.status shows what was applied, and db.migrate applies the rest",
        ) from None


def _next_batch(pending: list[MigrationFile], start: int) -> list[MigrationFile]:
    """The files from ``start`` that go in one query: consecutive files without a
    statement that must run outside a transaction or that changes how strings are
    read (``changes_lexing``), within the batch limits."""
    batch: list[MigrationFile] = []
    characters = 0
    for file in pending[start : start + BATCH_FILES]:
        characters += len(file.text)
        if file.has_standalone or file.changes_lexing or (batch and characters > BATCH_CHARACTERS):
            break
        batch.append(file)
    return batch


def _apply_batch(conn: Any, cursor: Any, batch: list[MigrationFile]) -> dict[str, float]:
    """Several files in one simple-protocol query, each between its own BEGIN and
    COMMIT with its history row, as psql runs a script: the server stops at the
    first error, and the files before it stay committed. Returns the committed
    files' history times (server clock), a prefix of ``batch``."""
    import psycopg

    query = "".join(_transaction_sql(conn, file) + ";\n" for file in batch)
    try:
        cursor.execute(query.encode(), prepare=False)
    except psycopg.Error as exc:
        if conn.closed or conn.broken:
            raise ExternalError(
                f"the connection broke while applying {batch[0].filename} .. {batch[-1].filename}: {error_text(exc)}",
                "check the database and run it again; db.status shows which files were applied",
            ) from None
        conn.execute("ROLLBACK")
    with _broken_after(batch[0], batch[-1]):
        clocks = history.applied_clocks(conn, [file.version for file in batch])
    committed = 0
    while committed < len(batch) and batch[committed].version in clocks:
        committed += 1
    return {file.version: clocks[file.version] for file in batch[:committed]}


def _transaction_sql(conn: Any, file: MigrationFile) -> str:
    """A file's statements and its history row between BEGIN and COMMIT, as one query text."""
    # Separators on their own line: a statement may end in a `--` comment.
    body = "".join(f"{statement.text}\n;\n" for _, statement in _numbered(file.parsed))
    record = history.record_sql(conn, file.version, file.name, file.statements)
    return f"BEGIN;\n{body}{record};\nCOMMIT"


def _numbered(statements: list[Statement]) -> list[tuple[int, Statement]]:
    return [(n, s) for n, s in enumerate(statements, start=1) if s.kind != "transaction_control"]


def _apply_in_transaction(
    conn: Any, cursor: Any, file: MigrationFile, settings: RunnerKnobs, out: Output | None
) -> None:
    statements = _numbered(file.parsed)

    def attempt() -> bool:
        # One query for the whole file, unless the file changes how later statements are read.
        sqlstate = "one at a time" if file.changes_lexing else _apply_batched(conn, cursor, file)
        if sqlstate == LOCK_NOT_AVAILABLE:
            return False
        if sqlstate is not None:
            # The fast path failed and was rolled back (or is not for this file): run the
            # file one statement at a time, which names a failing statement exactly.
            with conn.transaction():
                run_statements(cursor, statements, file.path, file.text)
                history.record(cursor, file.version, file.name, file.statements)
        return True

    _retry_lock_timeouts(file, settings, out, attempt, rolled_back="this file was rolled back")


def _retry_lock_timeouts(
    file: MigrationFile,
    settings: RunnerKnobs,
    out: Output | None,
    attempt: Callable[[], bool],
    *,
    rolled_back: str,
    before_retry: Callable[[], object] | None = None,
) -> None:
    """Run ``attempt`` (True: done; False or a 55P03 ``StatementFailed``: hit
    lock_timeout and rolled back) again with exponential backoff, a bounded
    number of times."""
    for number in range(settings.lock_retries + 1):
        try:
            if attempt():
                return
        except StatementFailed as failure:
            if failure.sqlstate != LOCK_NOT_AVAILABLE:
                raise
        if number == settings.lock_retries:
            raise ExternalError(
                f"{file.filename}: gave up after {number + 1} attempts: lock_timeout ({settings.lock_timeout})"
                " waiting for a table lock (SQLSTATE 55P03)",
                f"find the long transaction holding the lock (pg_stat_activity) and run it again; {rolled_back}",
            )
        delay = settings.retry_backoff_seconds * 2**number
        if out is not None:
            out.warn(f"{file.filename}: lock_timeout hit (55P03); retrying in {delay:.1f}s")
        time.sleep(delay)
        if before_retry is not None:
            before_retry()


def _apply_batched(conn: Any, cursor: Any, file: MigrationFile) -> str | None:
    """The whole file and its history row as one simple-protocol query between
    BEGIN and COMMIT: one round trip per file instead of one per statement.
    None when applied, else the SQLSTATE of the failure (rolled back)."""
    import psycopg

    try:
        cursor.execute(_transaction_sql(conn, file).encode(), prepare=False)
    except psycopg.Error as exc:
        if conn.closed or conn.broken:
            raise
        conn.execute("ROLLBACK")
        return exc.sqlstate or "XX000"
    return None


def _apply_with_standalone(
    conn: Any, cursor: Any, file: MigrationFile, settings: RunnerKnobs, out: Output | None
) -> None:
    """Runs of transactional statements in transactions, standalone ones alone;
    the history row commits with the last run (or alone). Each run is retried
    on its own after a lock_timeout: the runs before it stay applied."""
    adopted = _recover_concurrent_indexes(conn, file, out)
    groups: list[tuple[bool, list[tuple[int, Statement]]]] = []
    for number, statement in _numbered(file.parsed):
        if statement.offset in adopted:
            continue
        standalone = statement.kind == "standalone"
        if groups and not standalone and not groups[-1][0]:
            groups[-1][1].append((number, statement))
        else:
            groups.append((standalone, [(number, statement)]))
    last_is_transactional = bool(groups) and not groups[-1][0]
    for index, (standalone, members) in enumerate(groups):
        records = index == len(groups) - 1 and not standalone
        _retry_lock_timeouts(
            file,
            settings,
            out,
            functools.partial(_apply_group, conn, cursor, file, members, standalone=standalone, records=records),
            rolled_back="statements before the failing one stay applied",
            # a CONCURRENTLY build that timed out may leave an invalid index behind
            before_retry=functools.partial(_recover_concurrent_indexes, conn, file) if standalone else None,
        )
    if not last_is_transactional:
        with conn.transaction():
            history.record(cursor, file.version, file.name, file.statements)


def _apply_group(
    conn: Any,
    cursor: Any,
    file: MigrationFile,
    members: list[tuple[int, Statement]],
    *,
    standalone: bool,
    records: bool,
) -> bool:
    """One standalone statement, or a run of transactional ones in a transaction (with the history row when last)."""
    if standalone:
        run_statements(cursor, members, file.path, file.text, hint=PARTIAL_HINT)
        return True
    with conn.transaction():
        run_statements(cursor, members, file.path, file.text, hint=PARTIAL_HINT)
        if records:
            history.record(cursor, file.version, file.name, file.statements)
    return True


def _recover_concurrent_indexes(conn: Any, file: MigrationFile, out: Output | None = None) -> set[int]:
    """What an earlier run of ``file`` left of its ``CREATE INDEX CONCURRENTLY``
    statements (a failure, a lock timeout, or a ``kill -9`` after the server
    finished the build but before the history row): an invalid index is
    dropped, so the statement builds it again; a valid one that is exactly the
    index the statement builds is adopted. Returns the offsets of the adopted
    statements, which are not run again."""
    from psycopg import sql

    adopted: set[int] = set()
    for statement in file.parsed:
        index = concurrent_index(statement) if statement.kind == "standalone" else None
        if index is None:
            continue
        row = conn.execute(
            "select n.nspname, c.relname, i.indisvalid, pg_get_indexdef(i.indexrelid)"
            " from pg_index i join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace"
            " where c.relname = %s and i.indrelid = to_regclass(%s)",
            (index.name, index.table),
        ).fetchone()
        if row is None:
            continue
        schema, name, valid, definition = row
        qualified = sql.Identifier(schema, name)
        if valid:
            if index.matches(definition):
                adopted.add(statement.offset)
                if out is not None:
                    out.line(f"{file.filename}: adopted the index {schema}.{name} an interrupted run had built")
            continue  # a different index under that name: the statement fails and says so
        try:
            conn.execute(sql.SQL("drop index concurrently if exists {}").format(qualified))
        except Exception as exc:
            raise ExternalError(
                f"{file.filename}: cannot drop the invalid index {schema}.{name} left by an earlier run:"
                f" {error_text(exc)}",
                f"drop it by hand: DROP INDEX CONCURRENTLY {qualified.as_string(conn)}",
            ) from None
    return adopted


class _NoProgress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _progress(out: Output | None) -> Any:
    # On a terminal only: in CI logs and pipes a transient display shows nothing, and costs its import.
    return out.progress() if out is not None and sys.stderr.isatty() else _NoProgress()
