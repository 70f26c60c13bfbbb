"""Running pg_dump, pg_dumpall, pg_restore and vacuumdb without a password on
the command line: the password travels in ``PGPASSWORD`` and the rest of the
URL becomes a password-free conninfo string, so neither ``ps`` nor an error
message can show it."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit, urlunsplit

from ops.console import mask
from ops.errors import ExternalError
from ops.pg.binaries import client_bindir, pg_bin, version_output

__all__ = ["client_bindir"]
import contextlib

from ops.targets import register_url_password


@dataclass(frozen=True)
class Target:
    """A database to connect to, split into a safe conninfo and the password."""

    url: str
    conninfo: str
    password: str | None
    dbname: str

    @property
    def env(self) -> dict[str, str]:
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env

    def display(self) -> str:
        """host:port/dbname, for reports."""
        parts = urlsplit(self.url)
        return f"{parts.hostname or 'localhost'}:{parts.port or 5432}/{self.dbname}"


def target(url: str) -> Target:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    register_url_password(url)
    try:
        params = conninfo_to_dict(url)
    except Exception as exc:  # psycopg.ProgrammingError: an unparsable URL
        raise ExternalError(f"cannot parse the database URL: {mask(str(exc))}", "check the URL") from None
    password = params.pop("password", None)
    return Target(
        url=url,
        conninfo=make_conninfo(**{k: str(v) for k, v in params.items()}),
        password=str(password) if password is not None else None,
        dbname=str(params.get("dbname") or params.get("user") or "postgres"),
    )


def with_database(url: str, dbname: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(dbname, safe=""), parts.query, ""))


def run_tool(
    name: str,
    args: list[str],
    where: Target,
    *,
    on_stderr_line: Callable[[str], None] | None = None,
    bindir: Path | None = None,
    on_start: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL client program; its stderr is streamed to ``on_stderr_line``.
    ``on_start`` is called once the program runs (work meant to go beside it).

    A non-zero exit raises ``ExternalError`` with the last error line (masked).
    """
    command = [pg_bin(name, bindir), *args]
    try:
        proc = subprocess.Popen(
            command,
            env=where.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    except OSError as exc:
        raise ExternalError(f"cannot run {name}: {exc.strerror}", "check the PostgreSQL installation") from None
    if on_start is not None:
        try:
            on_start()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    lines: list[str] = []
    assert proc.stderr is not None and proc.stdout is not None
    for line in proc.stderr:
        lines.append(line.rstrip("\n"))
        if on_stderr_line is not None:
            on_stderr_line(line)
    stdout = proc.stdout.read()
    code = proc.wait()
    result = subprocess.CompletedProcess(command, code, stdout, "\n".join(lines))
    if code != 0:
        raise tool_failed(name, code, lines, where)
    return result


DISK_FULL = "No space left on device"


def tool_failed(name: str, code: int, lines: list[str], where: Target) -> ExternalError:
    """The one-line error for a client program that failed. A full disk is named as such:
    pg_dump -j's last line is then only "a worker process died unexpectedly"."""
    full = next((line for line in lines if DISK_FULL in line), None)
    if full is not None:
        return ExternalError(
            f"{name} failed: the disk is full ({last_error([full])})",
            "free space on the disk that holds the backup (or the state dir), then export again",
        )
    return ExternalError(f"{name} failed: {last_error(lines) or f'exit {code}'}", hint_for(lines, where))


def last_error(lines: list[str]) -> str:
    errors = [line for line in lines if "error:" in line or "FATAL" in line or "fatal" in line]
    chosen = (errors or [line for line in lines if line.strip()] or [""])[-1]
    # "pg_dump: error: ..." -> "..."
    for prefix in ("error:", "fatal:"):
        if prefix in chosen:
            chosen = chosen.split(prefix, 1)[1]
    return mask(" ".join(chosen.split()))


def hint_for(lines: list[str], where: Target) -> str:
    text = "\n".join(lines)
    if "password authentication failed" in text or "no password supplied" in text:
        return "check the credentials in the database URL"
    if "could not connect" in text or "Connection refused" in text or "could not translate host" in text:
        return f"check that the server at {where.display()} is reachable"
    if "permission denied" in text:
        return "the database user needs read access to every table being dumped"
    return "see the message above; rerun when the server is healthy"


def error_line(exc: BaseException) -> str:
    """The first line of a driver error, masked (psycopg messages can be multi-line or empty)."""
    from ops.pg.connect import error_text

    return error_text(exc)


def migration_head(conn: Any) -> str | None:
    """The newest applied version in Supabase's history table (None without one)."""
    exists = conn.execute("select to_regclass('supabase_migrations.schema_migrations') is not null").fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute("select max(version) from supabase_migrations.schema_migrations").fetchone()
    return row[0] if row else None


def exact_counts(conn: Any, tables: list[str]) -> dict[str, int]:
    """``count(*)`` of each table (``schema.name``), without its inheritance children.

    The statements go out in one pipeline: one round trip for all of them instead
    of one per table (hundreds of tables times a remote server's latency), while
    each stays its own statement (a role's statement_timeout applies per table).
    """
    from psycopg import sql

    queries = [
        sql.SQL("select count(*) from only {}").format(sql.Identifier(*_split(qualified))) for qualified in tables
    ]
    with pipelined(conn):
        cursors = [conn.execute(query) for query in queries]
    return {qualified: int(cursor.fetchone()[0]) for qualified, cursor in zip(tables, cursors, strict=True)}


def pipelined(conn: Any) -> contextlib.AbstractContextManager[Any]:
    """The statements executed inside go out together and their results come back
    together (libpq's pipeline mode; one by one where the libpq is older than 14).
    Read the cursors after the block."""
    import psycopg

    return conn.pipeline() if psycopg.Pipeline.is_supported() else contextlib.nullcontext()


def existing_tables(conn: Any, tables: list[str]) -> set[str]:
    """Which of ``tables`` (``schema.name``) exist, in one query."""
    from psycopg import sql

    names = [sql.Identifier(*_split(qualified)).as_string(conn) for qualified in tables]
    rows = conn.execute(
        "select n from unnest(%s::text[]) with ordinality as t(n, i) where to_regclass(n) is not null order by i",
        (names,),
    ).fetchall()
    found = {row[0] for row in rows}
    return {qualified for qualified, name in zip(tables, names, strict=True) if name in found}


def _split(qualified: str) -> tuple[str, str]:
    schema, _, name = qualified.partition(".")
    return schema, name


class ToolStream:
    """A PostgreSQL program whose stdout (``feed=False``) or stdin (``feed=True``)
    is a pipe for the caller, with stderr drained by a thread. On leaving the
    block a non-zero exit raises ``ExternalError`` with the tool's own error
    line; if the block failed (a broken pipe because the tool died, an upload
    error), the process is stopped first and the tool's error wins when it has one."""

    def __init__(
        self,
        name: str,
        args: list[str],
        where: Target,
        bindir: Path | None = None,
        *,
        feed: bool = False,
        capture: bool = False,
        on_stderr_line: Callable[[str], None] | None = None,
    ) -> None:
        self.name, self.where, self.feed, self.capture = name, where, feed, capture
        self.output = bytearray()
        self.command = [pg_bin(name, bindir), *args]
        self._on_line = on_stderr_line
        self.lines: list[str] = []

    def __enter__(self) -> ToolStream:
        try:
            self.proc = subprocess.Popen(
                self.command,
                env=self.where.env,
                stdin=subprocess.PIPE if self.feed else subprocess.DEVNULL,
                stdout=subprocess.DEVNULL if self.feed and not self.capture else subprocess.PIPE,
                stderr=subprocess.PIPE,
                bufsize=1 << 20,
            )
        except OSError as exc:
            raise ExternalError(
                f"cannot run {self.name}: {exc.strerror}", "check the PostgreSQL installation"
            ) from None
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()
        self._collect: threading.Thread | None = None
        if self.feed and self.capture:
            self._collect = threading.Thread(target=self._read_stdout, daemon=True)
            self._collect.start()
        return self

    def _read_stdout(self) -> None:
        while chunk := self.stdout.read(1 << 16):
            self.output += chunk

    @property
    def stdout(self) -> IO[bytes]:
        assert self.proc.stdout is not None
        return self.proc.stdout

    @property
    def stdin(self) -> IO[bytes]:
        assert self.proc.stdin is not None
        return self.proc.stdin

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            if self._on_line is not None:
                self._on_line(line)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if self.feed:
            with contextlib.suppress(OSError):
                self.stdin.close()
        if exc is not None and not isinstance(exc, BrokenPipeError | ConnectionResetError):
            self.proc.kill()
        code = self.proc.wait()
        self._drain.join()
        if self._collect is not None:
            self._collect.join()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if code != 0 and (exc is None or isinstance(exc, BrokenPipeError | ConnectionResetError | ExternalError)):
            if exc is not None and not isinstance(exc, BrokenPipeError | ConnectionResetError) and code < 0:
                return  # we killed it because of exc: let exc speak
            raise tool_failed(self.name, code, self.lines, self.where) from None


def tool_version(bindir: Path | None, name: str) -> str:
    """``pg_dump (PostgreSQL) 15.8`` -> ``15.8`` (empty when it does not run); the
    same run of ``--version`` that chose the program (``client_bindir``)."""
    return version_output(pg_bin(name, bindir)).strip().rsplit(" ", 1)[-1]
