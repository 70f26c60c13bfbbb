"""``db.test``: pgTAP tests with ``pg_prove`` against a fresh database.

The database is built the way ``supabase test db`` expects one: the
Supabase-shaped bootstrap, every migration, the seeds, and the pgtap
extension in ``extensions``. It is dropped afterwards (errors and Ctrl-C
included) unless the caller keeps it.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.errors import BinaryNotFound, CheckFailed, ExternalError, OpsError, UsageError

if TYPE_CHECKING:
    from ops.config import Config
    from ops.pg.cluster import Cluster

TEST_DB_PREFIX = "ops_test_"
TEST_SUFFIXES = (".sql", ".pg")
Step = Callable[[str], None]

# pg_prove --verbose prints "<file> .. " and then the file's TAP stream.
_TAP_RESULT = re.compile(
    r"^(?P<ok>not ok|ok)\s+(?P<number>\d+)\s*(?:-\s*)?(?P<description>.*?)\s*(?P<directive>#\s*(?:TODO|SKIP).*)?$"
)
_TAP_PLAN = re.compile(r"^1\.\.(?P<count>\d+)")


@dataclass
class Failure:
    number: int
    description: str
    diagnostics: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"not ok {self.number} - {self.description}"


@dataclass
class FileResult:
    file: str
    planned: int | None = None
    passed: int = 0
    failed: list[Failure] = field(default_factory=list)
    problem: str | None = None  # the file did not run through (an error, a bad plan)

    @property
    def ran(self) -> int:
        return self.passed + len(self.failed)

    @property
    def ok(self) -> bool:
        return not self.failed and self.problem is None and (self.planned is None or self.planned == self.ran)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "ok": self.ok,
            "planned": self.planned,
            "passed": self.passed,
            "failed": [vars(failure) for failure in self.failed],
            "problem": self.problem,
        }


@dataclass
class TestReport:
    database: str
    files: list[FileResult]
    kept: bool = False
    prove_exit_code: int = 0  # pg_prove's own

    @property
    def ok(self) -> bool:
        return self.prove_exit_code == 0 and all(f.ok for f in self.files)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def failure(self) -> OpsError | None:
        failed = [r for r in self.files if not r.ok]
        if not failed:
            return None
        total = sum(len(r.failed) for r in failed)
        return CheckFailed(
            f"{len(failed)} of {len(self.files)} pgTAP file(s) failed ({total} failing assertion(s))",
            "see the failing assertions above",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "database": self.database,
            "kept": self.kept,
            "files": [f.to_dict() for f in self.files],
            "passed": sum(f.passed for f in self.files),
            "failed": sum(len(f.failed) for f in self.files),
        }


def run_tests(
    cfg: Config,
    paths: Iterable[str | Path] = (),
    *,
    cluster: Cluster | None = None,
    keep: bool = False,
    step: Step | None = None,
) -> TestReport:
    """Build a fresh database on ``cluster`` (default: the local dev cluster)
    and run the pgTAP files in ``paths`` (default: ``supabase/tests``)."""
    step = step or (lambda _text: None)
    files = find_tests(cfg, paths)
    pg_prove = _pg_prove()
    if cluster is None:
        from ops.local import local_cluster

        cluster = local_cluster(cfg)
    name = TEST_DB_PREFIX + secrets.token_hex(6)
    try:
        step("building the test database (bootstrap, migrations, seeds)")
        build_test_database(cfg, cluster, name)
        step(f"running {len(files)} pgTAP file(s) with pg_prove")
        report = prove(cluster, name, files, pg_prove, root=cfg.root)
    finally:
        if not keep:
            cluster.drop_database(name)
    report.kept = keep
    return report


def find_tests(cfg: Config, paths: Iterable[str | Path]) -> list[Path]:
    """Test files: the given files, and ``*.sql``/``*.pg`` inside given
    directories (default ``supabase/tests``), sorted."""
    given = [cfg.path(p) for p in paths] or [cfg.supabase_dir / "tests"]
    files: list[Path] = []
    for path in given:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in TEST_SUFFIXES and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"no such test file or directory: {path}", "pass files or directories of pgTAP tests")
    if not files:
        raise UsageError(
            f"no pgTAP tests (*.sql, *.pg) in {', '.join(str(p) for p in given)}",
            "add tests to supabase/tests (see README: db.test)",
        )
    return list(dict.fromkeys(files))


def build_test_database(cfg: Config, cluster: Cluster, name: str) -> None:
    """Bootstrap, every migration, the seeds and pgtap, in a new database."""
    from ops.migrations import migrate, seed
    from ops.pg.bootstrap import apply_bootstrap

    cluster.create_database(name)
    with cluster.connection(name) as conn:
        apply_bootstrap(conn)
        available = conn.execute("select 1 from pg_available_extensions where name = 'pgtap'").fetchone()
        if available is None:
            raise BinaryNotFound(
                "the pgtap extension is not installed for this PostgreSQL",
                "apt-get install postgresql-15-pgtap (or ./scripts/bootstrap)",
            )
    url = cluster.url(name)
    migrate(cfg, url, include_all=True)
    seed(cfg, url)
    with cluster.connection(name) as conn:
        conn.execute("create extension if not exists pgtap with schema extensions")


def prove(cluster: Cluster, name: str, files: list[Path], pg_prove: str, root: Path | None = None) -> TestReport:
    """Run pg_prove on ``files`` and parse its verbose TAP output per file."""
    connection = ["--host", cluster.host, "--port", str(cluster.port), "--username", "postgres", "--dbname", name]
    return _prove(connection, {"PGPASSWORD": cluster.password}, name, files, pg_prove, root)


def _prove(
    connection: list[str], libpq_env: dict[str, str], database: str, files: list[Path], pg_prove: str, root: Path | None
) -> TestReport:
    from ops.pg.binaries import find_bindir

    shown = {_display(f, root): f for f in files}
    args = [pg_prove, "--verbose", "--psql-bin", str(find_bindir() / "psql"), *connection, *(str(f) for f in files)]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10", **libpq_env}
    try:
        result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600, cwd=root)
    except subprocess.TimeoutExpired:
        raise ExternalError("pg_prove ran for more than 10 minutes", "look for a test that waits on a lock") from None
    report = TestReport(database=database, files=parse_verbose(result.stdout, result.stderr, shown))
    report.prove_exit_code = result.returncode
    if result.returncode != 0 and all(f.ok for f in report.files):
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise ExternalError(f"pg_prove failed: {detail[-1] if detail else result.returncode}", "run pg_prove by hand")
    return report


# -- against an environment's own database (db.test --env staging) ----------------------


def run_tests_on_env(
    cfg: Config, env: str, paths: Iterable[str | Path] = (), *, step: Step | None = None
) -> TestReport:
    """Run the pgTAP files against ``env``'s database (staging) itself. Each
    file must be one transaction that rolls back (checked before anything
    runs; pg_prove stops a file at its first error, which rolls it back too),
    so nothing stays. pgTAP is installed there if missing. Never production."""
    from ops.guards import refuse_production_target
    from ops.targets import db_url

    step = step or (lambda _text: None)
    refuse_production_target(cfg, env, "db.test")
    url = db_url(cfg, env)
    refuse_production_target(cfg, env, "db.test", db_url=url)
    files = find_tests(cfg, paths)
    for path in files:
        check_rolls_back(path, _display(path, cfg.root))
    pg_prove = _pg_prove()
    step(f"installing pgTAP in {env} if missing")
    _ensure_pgtap(url)
    step(f"running {len(files)} pgTAP file(s) against {env}, each rolled back")
    return _prove([], libpq_environment(url), env, files, pg_prove, cfg.root)


# libpq's environment variables: pg_prove hands psql its options as "key=value"
# pairs and cannot carry a conninfo string, so the connection (password
# included, never on a command line) travels in the environment.
_LIBPQ_ENV = {
    "dbname": "PGDATABASE",
    "application_name": "PGAPPNAME",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "channel_binding": "PGCHANNELBINDING",
    "require_auth": "PGREQUIREAUTH",
    "connect_timeout": "PGCONNECT_TIMEOUT",
}
_LIBPQ_PLAIN = {
    "host",
    "hostaddr",
    "port",
    "user",
    "password",
    "passfile",
    "options",
    "sslmode",
    "sslcert",
    "sslkey",
    "sslrootcert",
    "sslcrl",
    "sslcompression",
    "gssencmode",
    "service",
    "krbsrvname",
    "sslsni",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "load_balance_hosts",
}


def libpq_environment(url: str) -> dict[str, str]:
    """``PGHOST``, ``PGPORT``, ``PGDATABASE``... for the connection ``url`` names."""
    from psycopg.conninfo import conninfo_to_dict

    environment = {}
    for key, value in conninfo_to_dict(url).items():
        if key in _LIBPQ_ENV:
            environment[_LIBPQ_ENV[key]] = str(value)
        elif key in _LIBPQ_PLAIN:
            environment["PG" + key.upper().replace("_", "")] = str(value)
        else:
            raise UsageError(
                f"the database URL's parameter '{key}' cannot be passed to pg_prove", "drop it from the URL"
            )
    return environment


def check_rolls_back(path: Path, shown: str) -> None:
    """Refuse a test file that is not one transaction ending in ROLLBACK:
    BEGIN first, ROLLBACK last, and no COMMIT, END or other transaction end between."""
    from pglast import parse_sql
    from pglast.enums.parsenodes import TransactionStmtKind as Kind

    hint = "wrap the file in begin; ... rollback; so that nothing it does stays in the database"
    try:
        statements = [raw.stmt for raw in parse_sql(path.read_text())]
    except Exception:  # pglast.parser.ParseError: psql meta-commands, syntax errors
        raise UsageError(f"{shown}: cannot check that it rolls back (it does not parse as SQL)", hint) from None

    def kind(statement: Any) -> Any:
        return getattr(statement, "kind", None) if type(statement).__name__ == "TransactionStmt" else None

    begins, ends = (Kind.TRANS_STMT_BEGIN, Kind.TRANS_STMT_START), (Kind.TRANS_STMT_ROLLBACK,)
    closing = {Kind.TRANS_STMT_COMMIT, Kind.TRANS_STMT_ROLLBACK, Kind.TRANS_STMT_PREPARE, *begins}
    if not statements or kind(statements[0]) not in begins or kind(statements[-1]) not in ends:
        raise UsageError(f"{shown}: does not run in one transaction that rolls back", hint)
    if any(kind(statement) in closing for statement in statements[1:-1]):
        raise UsageError(f"{shown}: ends its transaction before the final rollback", hint)


def _pg_prove() -> str:
    pg_prove = shutil.which("pg_prove")
    if pg_prove is None:
        raise BinaryNotFound(
            "pg_prove is not installed",
            "apt-get install libtap-parser-sourcehandler-pgtap-perl (or ./scripts/bootstrap)",
        )
    return pg_prove


def _ensure_pgtap(url: str) -> None:
    import psycopg
    from psycopg import sql

    from ops.pg.connect import connect, error_text

    try:
        with connect(url, application_name="ops db.test") as conn:
            if conn.execute("select 1 from pg_extension where extname = 'pgtap'").fetchone() is None:
                has_extensions = conn.execute("select to_regnamespace('extensions') is not null").fetchone()
                schema = "extensions" if has_extensions and has_extensions[0] else "public"
                conn.execute(sql.SQL("create extension pgtap with schema {}").format(sql.Identifier(schema)))
    except psycopg.Error as exc:
        raise ExternalError(
            f"cannot install pgTAP: {error_text(exc)}", "install it there: create extension pgtap"
        ) from None


def parse_verbose(stdout: str, stderr: str, files: dict[str, Path]) -> list[FileResult]:
    """Per-file results from ``pg_prove --verbose``: each file's stream starts
    with ``<path> ..``; the closing summary names files as ``<path> (Wstat...``;
    psql errors arrive on stderr as ``psql:<path>:<line>: ERROR: ...``."""
    by_path = {str(path): shown for shown, path in files.items()}
    results = {shown: FileResult(shown) for shown in files}
    current: FileResult | None = None
    for raw in stdout.splitlines():
        line = raw.strip()
        start = re.match(r"^(?P<path>\S+)\s+(?:\.\.\s*(?P<rest>.*)|\(Wstat.*)$", line)
        if start and start.group("path") in by_path:
            current = results[by_path[start.group("path")]]
            line = (start.group("rest") or "").strip()
        if current is None or not line:
            continue
        if plan := _TAP_PLAN.match(line):
            current.planned = int(plan.group("count"))
        elif tap := _TAP_RESULT.match(line):
            if tap.group("ok") == "ok" or tap.group("directive"):
                current.passed += 1
            else:
                number = int(tap.group("number"))
                current.failed.append(Failure(number, tap.group("description") or f"test {number}"))
        elif line.startswith("#"):
            # "# Failed test N: ..." repeats the description; "# Looks like..." the count.
            if current.failed and not re.match(r"^#\s+(Failed test \d+|Looks like you)", line):
                current.failed[-1].diagnostics.append(line)
        elif line.startswith(("Parse errors:", "Dubious", "No subtests run")) and current.problem is None:
            current.problem = line
    for raw in stderr.splitlines():
        error = re.match(r"^psql:(?P<path>.+?):(?P<line>\d+):\s*(?P<message>(?:ERROR|FATAL):.*)$", raw.strip())
        if error and error.group("path") in by_path:
            message = " ".join(error.group("message").split())
            results[by_path[error.group("path")]].problem = f"line {error.group('line')}: {message}"
    return list(results.values())


def _display(path: Path, root: Path | None) -> str:
    # Not resolved: supabase/ may be a symlink, and the user thinks in project paths.
    if root is not None:
        for candidate in (path, path.resolve()):
            try:
                return str(candidate.relative_to(Path(root).resolve()))
            except ValueError:
                continue
    return str(path)


# -- rendering -----------------------------------------------------------------


def render(out: Any, report: TestReport) -> None:
    """A per-file summary, each failing assertion with its diagnostics, the
    JSON document (``report.failure()`` is the closing error line)."""
    rows = []
    for result in report.files:
        planned = "?" if result.planned is None else str(result.planned)
        status = "ok" if result.ok else "FAILED"
        rows.append((result.file, f"{result.passed}/{planned}", len(result.failed), status))
    out.table(["file", "passed", "failed", "result"], rows, title="pgTAP")
    for result in report.files:
        for failure in result.failed:
            out.line(f"{result.file}: {failure}")
            for line in failure.diagnostics:
                out.line(f"    {line}")
        if result.problem:
            out.line(f"{result.file}: {result.problem}")
    if report.kept:
        out.line(f"kept the test database {report.database}")
    out.result(report.to_dict())
    if report.ok:
        out.line(f"All {sum(r.passed for r in report.files)} pgTAP assertions passed in {len(report.files)} file(s)")
