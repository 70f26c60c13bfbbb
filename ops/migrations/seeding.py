"""Seeding: ``[db.seed] sql_paths`` from supabase/config.toml, tracked by hash.

Paths are relative to ``supabase/`` and may be globs; a pattern matching
nothing is a warning. Each file is recorded in ``supabase_migrations.seed_files``
with the sha256 of its bytes, under its path relative to the project root
(``supabase/seed.sql``, as the Supabase CLI writes it). As the Supabase CLI
does, new files are applied, and a changed file only gets its new hash
recorded (it is not run again: seeds are rarely idempotent, and a second run
fails on the first duplicate key); ``force`` applies every file. Each file
runs in one transaction with its hash row. Every file is read and checked
(syntax, transaction statements) before the first one runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.config import Config
from ops.console import mask_url
from ops.errors import ConfigError
from ops.guards import refuse_production_target, refuse_transaction_pooler
from ops.migrations import history
from ops.migrations.connection import connect
from ops.migrations.execute import StatementFailed, run_statements
from ops.migrations.files import seed_files, seed_settings
from ops.migrations.knobs import runner_settings
from ops.migrations.lock import migration_lock
from ops.migrations.split import Statement, split_sql
from ops.migrations.transactions import check_transaction_statements

if TYPE_CHECKING:
    from ops.console import Output


@dataclass
class SeedFileResult:
    path: str
    hash: str
    # "applied" (new), "reapplied" (forced), "recorded" (changed: new hash recorded, not run again), "unchanged"
    status: str


@dataclass
class SeedReport:
    target: str
    enabled: bool = True
    files: list[SeedFileResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "enabled": self.enabled,
            "files": [vars(item) for item in self.files],
            "warnings": self.warnings,
        }


def _record_path(cfg: Config, path: Path) -> str:
    for root in (cfg.root, cfg.root.resolve()):
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            continue
    return path.as_posix()


def seed(
    cfg: Config, db_url: str, *, force: bool = False, env: str | None = None, out: Output | None = None
) -> SeedReport:
    """Apply new and changed seed files to ``db_url`` (never production)."""
    refuse_production_target(cfg, env or "", "db.seed", db_url=db_url)
    refuse_transaction_pooler(db_url)
    report = SeedReport(target=mask_url(db_url))
    report.enabled, patterns = seed_settings(cfg)
    if not report.enabled:
        return report
    paths = seed_files(cfg, patterns, report.warnings)
    if out is not None:
        for warning in report.warnings:
            out.warn(warning)
    files = [SeedFile.read(cfg, path) for path in paths]
    for file in files:
        check_transaction_statements(file.statements, file.key)
    settings = runner_settings(cfg)
    conn = connect(db_url, application_name="ops-seed")
    try:
        with migration_lock(conn, timeout=settings.lock_wait_seconds):
            history.ensure_seed_table(conn)
            recorded = history.read_seeds(conn)
            for file in files:
                report.files.append(_seed_file(conn, file, recorded.get(file.key), force, out))
    finally:
        conn.close()
    return report


@dataclass
class SeedFile:
    path: Path
    key: str  # the path seed_files records: relative to the project root
    text: str
    digest: str  # sha256 of the file's bytes, as the Supabase CLI records it
    statements: list[Statement]

    @classmethod
    def read(cls, cfg: Config, path: Path) -> SeedFile:
        key = _record_path(cfg, path)
        try:
            data = path.read_bytes()
            text = data.decode("utf-8").removeprefix("\ufeff")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read seed file {key}: {exc}", "save it as UTF-8 text") from None
        return cls(path, key, text, hashlib.sha256(data).hexdigest(), split_sql(text, source=key))


def _seed_file(conn: Any, file: SeedFile, previous: str | None, force: bool, out: Output | None) -> SeedFileResult:
    import psycopg

    if previous == file.digest and not force:
        return SeedFileResult(file.key, file.digest, "unchanged")
    if previous is not None and not force:
        history.record_seed(conn, file.key, file.digest)
        return SeedFileResult(file.key, file.digest, "recorded")
    statements = [(n, s) for n, s in enumerate(file.statements, start=1) if s.kind != "transaction_control"]
    hint = "fix the statement and run db.seed again; this seed file was rolled back"
    try:
        with conn.transaction(), conn.cursor() as cursor:
            run_statements(cursor, statements, file.path, file.text, hint=hint)
            history.record_seed(cursor, file.key, file.digest)
    except StatementFailed as failure:
        if out is not None:
            out.line(failure.excerpt)
        raise
    except psycopg.Error as exc:
        raise StatementFailed(
            f"{file.key}: recording the seed failed: {exc}", hint, excerpt="", sqlstate=exc.sqlstate, line=0
        ) from None
    return SeedFileResult(file.key, file.digest, "applied" if previous is None else "reapplied")
