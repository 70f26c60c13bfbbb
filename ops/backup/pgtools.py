"""Running pg_dump, pg_dumpall, pg_restore and vacuumdb without a password on
the command line: the password travels in ``PGPASSWORD`` and the rest of the
URL becomes a password-free conninfo string, so neither ``ps`` nor an error
message can show it."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from ops.console import mask
from ops.errors import ExternalError
from ops.pg.binaries import pg_bin
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
) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL client program; its stderr is streamed to ``on_stderr_line``.

    A non-zero exit raises ``ExternalError`` with the last error line (masked).
    """
    command = [pg_bin(name), *args]
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
        raise ExternalError(f"{name} failed: {last_error(lines) or f'exit {code}'}", hint_for(lines, where))
    return result


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
    lines = str(exc).strip().splitlines()
    return mask(lines[0] if lines else type(exc).__name__)


def migration_head(conn: Any) -> str | None:
    """The newest applied version in Supabase's history table (None without one)."""
    exists = conn.execute("select to_regclass('supabase_migrations.schema_migrations') is not null").fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute("select max(version) from supabase_migrations.schema_migrations").fetchone()
    return row[0] if row else None


def exact_count(conn: Any, qualified: str) -> int:
    """``count(*)`` of one table (``schema.name``), without its inheritance children."""
    from psycopg import sql

    schema, _, name = qualified.partition(".")
    query = sql.SQL("select count(*) from only {}").format(sql.Identifier(schema, name))
    return int(conn.execute(query).fetchone()[0])
