"""``db.diff``: what SQL turns one schema into another.

The source is usually "the migrations": a shadow database on the local
cluster in the state the bootstrap and every migration leave, diffed against
the target with the ``results`` engine (migra's maintained successor).
Managed schemas are left out the way the Supabase CLI leaves them out.

The migrated state is kept as a TEMPLATE database named after a hash of the
bootstrap and the migration files, so a run does not migrate from scratch.
The diff only reads the migrated catalog. The first run inspects the template
itself (one short read-only session, closed before anything clones the
template: ``CREATE DATABASE ... TEMPLATE`` refuses a template that has
sessions) and caches that inspection, with our catalog inventory of it, in
``<state_dir>/diff-cache/<hash>.pickle``, keyed by the template's hash, its
oid (a rebuilt template is another one), the cluster and the engine's
version; a cache that does not match, or does not load, is ignored. Later runs
read the cache, so only the target is inspected.

Self-check: the generated SQL is applied, in a transaction that is then
rolled back, to the migrated template itself (or, for SQL that cannot run in a
transaction, to a fresh clone of it), which is then diffed against the target
again, by the engine (whatever it would still change) and by a catalog
inventory of our own (the server's deparsers over every object kind we diff,
including kinds the engine does not model: publication membership, default
privileges). When the engine finds nothing to change there is nothing to
apply: the template's inventory is compared with the target's. Anything left
over is an incomplete diff.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.console import mask_url
from ops.errors import CheckFailed, OpsError, UsageError
from ops.migrations.diff.cache import (
    TemplateInspection,
    inspect_template,
    inspection_cache_path,
    load_template_inspection,
    save_template_inspection,
)
from ops.migrations.diff.catalog import compare_inventories, inventory, inventory_of
from ops.migrations.diff.engine import EXCLUDED_SCHEMAS, connect_to, generate, inspect
from ops.migrations.diff.selfcheck import TargetSnapshot, apply_sql, as_sql, first_line, verify, verify_on_template
from ops.migrations.diff.shadow import (
    SHADOW_PREFIX,
    TEMPLATE_PREFIX,
    Shadows,
    Step,
    migrated_template,
    quiet,
    shadow_databases,
    template_name,
)
from ops.migrations.files import check_name, new_migration

if TYPE_CHECKING:
    from ops.config import Config
    from ops.pg.cluster import Cluster

__all__ = [
    "EXCLUDED_SCHEMAS",
    "SHADOW_PREFIX",
    "TEMPLATE_PREFIX",
    "DiffReport",
    "Shadows",
    "TargetSnapshot",
    "apply_sql",
    "compare_inventories",
    "diff",
    "generate",
    "inspect",
    "inspect_template",
    "inspection_cache_path",
    "inventory",
    "load_template_inspection",
    "migrated_template",
    "render",
    "resolve_url",
    "shadow_databases",
    "template_name",
    "verify",
]

_DROP = re.compile(r"^\s*(drop\s|alter\s+table\s+\S+\s+drop\s|alter\s+\w+.*\sdrop\s+(column|constraint)\s)", re.I)


@dataclass
class DiffReport:
    """What ``diff`` found. ``missed`` lists what the self-check found left over."""

    source: str
    target: str
    statements: list[str]
    drops: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    self_checked: bool = False
    written: Path | None = None
    # VALIDATE CONSTRAINT statements for existing tables, written to a second file (see ``split_validations``)
    validation: Path | None = None
    # the written migration was recorded as applied on the local database (which has its changes)
    recorded: bool = False
    # why it was not (shown as a warning)
    notes: list[str] = field(default_factory=list)
    # --check: any difference fails (CI: the database matches the migrations)
    fail_on_changes: bool = False

    @property
    def sql(self) -> str:
        return as_sql(self.statements)

    @property
    def changed(self) -> bool:
        return bool(self.statements) or bool(self.missed)

    @property
    def complete(self) -> bool:
        return not self.missed

    @property
    def exit_code(self) -> int:
        return 0 if self.failure() is None else 1

    def failure(self) -> OpsError | None:
        """An incomplete diff, or (``fail_on_changes``) any difference."""
        if self.missed:
            return CheckFailed(
                f"incomplete diff: the engine missed {len(self.missed)} difference(s) listed above",
                "add SQL for them by hand (in the migration), then run db.diff again",
            )
        if self.fail_on_changes and self.statements:
            return CheckFailed(
                f"{self.target} differs from {self.source}: {len(self.statements)} statement(s)",
                "run: inv db.diff -f NAME, review the file and commit it",
            )
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "changed": self.changed,
            "complete": self.complete,
            "self_checked": self.self_checked,
            "statements": self.statements,
            "drops": self.drops,
            "missed": self.missed,
            "written": str(self.written) if self.written else None,
            "validation": str(self.validation) if self.validation else None,
            "recorded": self.recorded,
            "notes": self.notes,
        }


def diff(
    cfg: Config,
    *,
    source: str = "migrations",
    target: str = "local",
    schemas: Iterable[str] = (),
    name: str | None = None,
    cluster: Cluster | None = None,
    self_check: bool = True,
    cache: bool = True,
    step: Step | None = None,
) -> DiffReport:
    """Diff ``source`` (``migrations``, an environment name or a URL) against
    ``target`` (an environment name or a URL). With ``name``, write the SQL as a
    new migration file. ``cluster`` hosts the shadow databases (default: the
    local dev cluster); ``cache`` keeps the migrated template for later runs.
    The self-check needs shadows, so it runs for ``source="migrations"`` only."""
    step = step or quiet
    schemas = tuple(schemas)
    if name is not None:
        check_name(name)  # before any work: a bad name is a usage error, not a late surprise
    target_url = resolve_url(cfg, target)
    if source == "migrations":
        report = diff_migrations(
            cfg, cluster or _local_cluster(cfg), target_url, schemas, self_check=self_check, cache=cache, step=step
        )
    else:
        report = diff_urls(resolve_url(cfg, source), target_url, schemas=schemas)
        report.source = _describe(source)
    report.target = _describe(target)
    if name and report.statements:
        _write(cfg, name, report)
        if target == "local" and report.complete:
            _record_as_applied(cfg, target_url, report)
    return report


_CREATED_TABLE = re.compile(r'^create (?:unlogged )?table (?:if not exists )?("[^"]+"\."[^"]+")', re.I)
_VALIDATE = re.compile(r'^alter table (?:only )?("[^"]+"\."[^"]+") validate constraint ', re.I)


def split_validations(statements: list[str]) -> tuple[list[str], list[str]]:
    """The statements, and apart from them the ``VALIDATE CONSTRAINT`` of
    constraints the engine adds ``NOT VALID`` to tables that already exist.
    In the file's one transaction the validation would scan the table while the
    ``ADD CONSTRAINT`` lock still blocks its writers (squawk's
    ``constraint-missing-not-valid``); in a file of its own it runs under a lock
    that lets them write. Tables created by the same SQL are empty: no need."""
    created = {m.group(1) for s in statements if (m := _CREATED_TABLE.match(s))}
    later = [s for s in statements if (m := _VALIDATE.match(s)) and m.group(1) not in created]
    return [s for s in statements if s not in later], later


def _write(cfg: Config, name: str, report: DiffReport) -> None:
    first, later = split_validations(report.statements)
    report.written = new_migration(cfg.migrations_dir, name, body=as_sql(first))
    if later:  # new_migration versions it one second past the first
        report.validation = new_migration(cfg.migrations_dir, f"{name}_validate", body=as_sql(later))


def _record_as_applied(cfg: Config, url: str, report: DiffReport) -> None:
    """Record the migration ``-f`` just wrote as applied on the local database:
    its changes are already there (the diff was taken from it), so running it
    would fail (``column "age" already exists``). ``db.migrate`` then has
    nothing to do and ``db.status`` shows it applied. Not when other
    migrations are still pending there: recording a newer version first would
    leave them out of order."""
    from ops.migrations import history
    from ops.migrations.connection import connect
    from ops.migrations.files import load_migrations
    from ops.migrations.repair import repair

    conn = connect(url, application_name="ops db.diff")
    try:
        applied = history.read_applied(conn)
    finally:
        conn.close()
    names = {path.name for path in (report.written, report.validation) if path is not None}
    local = load_migrations(cfg.migrations_dir)
    written = [m for m in local if m.path.name in names]
    pending = [m.filename for m in local if m.version not in applied and m.path.name not in names]
    versions = [m.version for m in written]
    if pending:
        report.notes.append(
            f"{', '.join(m.filename for m in written)} not recorded as applied on the local database: other"
            f" migrations are pending there ({', '.join(pending[:3])}); run db.migrate --include-all after"
            f" reviewing them, or db.repair {','.join(versions)} --status applied"
        )
        return
    repair(cfg, url, versions, "applied")
    report.recorded = True


def diff_migrations(
    cfg: Config,
    cluster: Cluster,
    target_url: str,
    schemas: tuple[str, ...] = (),
    *,
    self_check: bool = True,
    cache: bool = True,
    step: Step | None = None,
) -> DiffReport:
    """The migrated template against ``target_url``; then the self-check
    (``_self_check``): the SQL applied to the template in a transaction that
    is rolled back, or to a clone of it (dropped at the end, whatever happens)
    when the SQL cannot run in a transaction.

    The template's inspection is cached on disk (``load_template_inspection``):
    with it, only the target is inspected. Without it, the template is
    inspected in place while the target is."""
    step = step or quiet
    with shadow_databases(cfg, cluster, step=step, cache=cache) as shadows:
        cached = load_template_inspection(cfg, cluster, shadows.template, schemas) if cache else None
        if cached is not None:
            return _diff_cached(shadows, cached, target_url, schemas, self_check=self_check, step=step)
        return _diff_live(cfg, shadows, target_url, schemas, self_check=self_check, cache=cache, step=step)


def _diff_cached(
    shadows: Shadows,
    migrated: TemplateInspection,
    target_url: str,
    schemas: tuple[str, ...],
    *,
    self_check: bool,
    step: Step,
) -> DiffReport:
    from concurrent.futures import ThreadPoolExecutor

    if not self_check:
        step("inspecting the target (the migrated template's inspection is cached)")
        target = TargetSnapshot.take(target_url, schemas, False)
        return _report("migrations", target.url, generate(migrated.inspector, target.inspector))
    with ThreadPoolExecutor(1) as pool:
        # The inventory's deparsers run on the server: let them overlap the engine's inspection.
        expected = pool.submit(inventory_of, target_url, schemas)
        step("inspecting the target (the migrated template's inspection is cached)")
        target = TargetSnapshot.take(target_url, schemas, False)
        report = _report("migrations", target.url, generate(migrated.inspector, target.inspector))
        target.inventory = expected.result()
    report.missed = _self_check(shadows, migrated, target, report.statements, schemas, step)
    report.self_checked = True
    return report


def _diff_live(
    cfg: Config,
    shadows: Shadows,
    target_url: str,
    schemas: tuple[str, ...],
    *,
    self_check: bool,
    cache: bool,
    step: Step,
) -> DiffReport:
    from concurrent.futures import ThreadPoolExecutor

    # The pool is left (its work finished, the template's session closed) before anything else uses the template.
    with ThreadPoolExecutor(2) as pool:
        snapshot = pool.submit(TargetSnapshot.take, target_url, schemas, self_check)
        inspected = pool.submit(inspect_template, shadows.cluster, shadows.template, schemas, for_cache=cache)
        step("inspecting the migrated template and the target")
        migrated, target = inspected.result(), snapshot.result()
    if cache:
        save_template_inspection(cfg, shadows.cluster, shadows.template, schemas, migrated)
    report = _report("migrations", target.url, generate(migrated.inspector, target.inspector))
    if not self_check:
        return report
    report.missed = _self_check(shadows, migrated, target, report.statements, schemas, step)
    report.self_checked = True
    return report


def _self_check(
    shadows: Shadows,
    migrated: TemplateInspection,
    target: TargetSnapshot,
    statements: list[str],
    schemas: tuple[str, ...],
    step: Step,
) -> list[str]:
    """What the generated SQL leaves different from the target (empty: complete).

    With no SQL, the template's inventory is compared with the target's. Else
    the SQL is applied in a rolled-back transaction on the template itself; SQL
    that cannot run in a transaction (``CREATE INDEX CONCURRENTLY``) goes to a
    clone of the template instead, dropped at the end."""
    if not statements:
        step("self-check: comparing the inventories of the migrated template and the target")
        expected = target.inventory if target.inventory is not None else inventory_of(target.url, schemas)
        return compare_inventories(migrated.inventory, expected)
    step("self-check: applying the diff on the migrated template in a transaction rolled back, and diffing again")
    missed = verify_on_template(shadows.cluster, shadows.template, target, statements, schemas)
    if missed is not None:
        return missed
    step("self-check: cloning a shadow from the migrated template (the SQL cannot run in a transaction)")
    checked_url = shadows.new()
    step("self-check: applying the diff to the shadow and diffing again")
    missed = verify(checked_url, target, statements, schemas)
    step("dropping the shadow")
    shadows.drop(checked_url)
    return missed


def diff_urls(source_url: str, target_url: str, *, schemas: Iterable[str] = ()) -> DiffReport:
    """Diff two databases as they are (no shadow, so no self-check)."""
    schemas = tuple(schemas)
    with connect_to(source_url) as source_conn, connect_to(target_url) as target_conn:
        statements = generate(inspect(source_conn, schemas), inspect(target_conn, schemas))
    return _report(mask_url(source_url), target_url, statements)


def _report(source: str, target_url: str, statements: list[str]) -> DiffReport:
    return DiffReport(
        source=source,
        target=mask_url(target_url),
        statements=statements,
        drops=[s for s in statements if _DROP.match(s)],
    )


def resolve_url(cfg: Config, name: str) -> str:
    """An environment name or a postgres URL -> a URL."""
    if name.startswith(("postgres://", "postgresql://")):
        from ops.targets import register_url_password

        register_url_password(name)
        return name
    from ops.config import ENVIRONMENTS

    if name not in ENVIRONMENTS:
        raise UsageError(f"unknown database '{name}'", "use local, staging, production or a postgresql:// URL")
    from ops.targets import db_url

    return db_url(cfg, name)


def _describe(name: str) -> str:
    return mask_url(name)


def _local_cluster(cfg: Config) -> Cluster:
    from ops.local import local_cluster

    return local_cluster(cfg)


def _to_stderr(text: str) -> None:
    from ops.console import MaskingStream

    MaskingStream(sys.stderr).write(text + "\n")


def render(out: Any, report: DiffReport) -> None:
    """Print the diff (or where it was written), warn on DROPs, write the JSON
    document (``report.failure()`` is the closing error line)."""
    # Only SQL goes to stdout: `inv db.diff > x.sql` must give a clean file.
    for statement in report.drops:
        _to_stderr(f"warning: DROP statement: {first_line(statement)}")
    for note in report.notes:
        _to_stderr(f"warning: {note}")
    if report.written:
        later = len(split_validations(report.statements)[1])
        out.line(f"Wrote {report.written} ({len(report.statements) - later} statements)")
        if report.validation:
            out.line(f"Wrote {report.validation} ({later} statements: VALIDATE CONSTRAINT in a transaction of its own)")
        if report.recorded:
            out.line("Recorded it as applied on the local database, which already has these changes")
    elif report.statements:
        out.line(report.sql.rstrip())
    elif not report.missed:
        _to_stderr("No schema changes found")
    for line in report.missed:
        _to_stderr(f"  {line}")
    out.result(report.to_dict())
