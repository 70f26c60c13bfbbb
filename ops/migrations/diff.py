"""``db.diff``: what SQL turns one schema into another.

The source is usually "the migrations": a shadow database on the local
cluster in the state the bootstrap and every migration leave, diffed against
the target with the ``results`` engine (migra's maintained successor).
Managed schemas are left out the way the Supabase CLI leaves them out
(DESIGN.md §4).

The migrated state is kept as a TEMPLATE database named after a hash of the
bootstrap and the migration files, so a run does not migrate from scratch.
The diff only reads the migrated catalog. The first run inspects the template
itself (one short read-only session, closed before anything clones the
template: ``CREATE DATABASE ... TEMPLATE`` refuses a template that has
sessions) and caches that inspection, with our catalog inventory of it, in
``<state_dir>/diff-cache/<hash>.pickle``, keyed by the template's hash, its
oid (a rebuilt template is another one), the cluster and the engine's
version; a cache that does not match, or does not load, is ignored. Later runs
read the cache, so no session touches the template and the self-check's clone
starts at once, while the target is inspected.

Self-check: the generated SQL is applied to a fresh shadow cloned from the
template (``CREATE DATABASE ... TEMPLATE``), which is then diffed against the
target again, by the engine (whatever it would still change) and by a catalog
inventory of our own (the server's deparsers over every object kind we diff,
including kinds the engine does not model: publication membership, default
privileges). The shadow is dropped when the run ends, failures and Ctrl-C
included. When the engine finds nothing to change there is nothing to apply
(a clone already started is dropped at once): the template's inventory is
compared with the target's. Anything left over is an incomplete diff.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.console import mask_url
from ops.errors import CheckFailed, ExternalError, OpsError, UsageError

if TYPE_CHECKING:
    from ops.config import Config
    from ops.pg.cluster import Cluster

# Schemas the Supabase CLI never diffs: platform-managed or internal.
EXCLUDED_SCHEMAS = frozenset(
    {
        "supabase_migrations",
        "extensions",
        "information_schema",
        "pgbouncer",
        "realtime",
        "_realtime",
        "_analytics",
        "supabase_functions",
        "cron",
        "graphql",
        "graphql_public",
        "net",
        "pgsodium",
        "pgsodium_masks",
        "pgtle",
        "repack",
        "vault",
        "topology",
        "tiger",
        "tiger_data",
    }
)
# Managed schemas where only the project's own triggers and policies count.
TRIGGERS_AND_POLICIES_ONLY = frozenset({"auth", "storage"})
_KEEP_IN_MANAGED = ("triggers", "rlspolicies")
# Inspector collections that results filters by schema (results.schemainspect.pg.obj.PROPS).
_INSPECTED = [
    *("schemas", "relations", "tables", "views", "materialized_views", "composite_types", "functions"),
    *("selectables", "sequences", "constraints", "indexes", "enums", "privileges", "collations"),
    *("triggers", "rlspolicies", "types", "domains"),
]
SHADOW_PREFIX = "ops_shadow_"
TEMPLATE_PREFIX = "ops_shadow_template_"
# Earlier versions kept a migrated shadow under this prefix; cleaned up like stale templates.
_OLD_CACHE_PREFIX = "ops_shadow_cached_"
_DROP = re.compile(r"^\s*(drop\s|alter\s+table\s+\S+\s+drop\s|alter\s+\w+.*\sdrop\s+(column|constraint)\s)", re.I)

Step = Callable[[str], None]


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
        }


def as_sql(statements: list[str]) -> str:
    """The statements as the text of a migration file (what ``-f`` writes)."""
    return "".join(statement.rstrip() + "\n\n" for statement in statements).rstrip() + ("\n" if statements else "")


# -- the public entry point ---------------------------------------------------------


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
    step = step or _quiet
    schemas = tuple(schemas)
    if name is not None:
        check_migration_name(name)  # before any work: a bad name is a usage error, not a late surprise
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
        report.written = write_migration(cfg, name, report.sql)
    return report


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
    """The migrated template against ``target_url``; then the self-check, on a
    shadow cloned from the template (dropped at the end, whatever happens).

    The template's inspection is cached on disk (``load_template_inspection``): with
    it, nothing connects to the template, so the self-check's clone starts at
    once, alongside the target's inspection. Without it, the template is
    inspected in place while the target is, and cloned afterwards (a clone
    refuses a template that has sessions), only when there is SQL to apply."""
    step = step or _quiet
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
    # Leaving the pool waits for the clone, so a Ctrl-C anywhere in here still finds it to drop.
    with ThreadPoolExecutor(2) as pool:
        clone = pool.submit(shadows.new)
        expected = pool.submit(_inventory_of, target_url, schemas)
        step("inspecting the target while cloning a shadow (the template's inspection is cached)")
        target = TargetSnapshot.take(target_url, schemas, False)
        report = _report("migrations", target.url, generate(migrated.inspector, target.inspector))
        target.inventory = expected.result()
        checked_url = clone.result()
    if report.statements:
        step("self-check: applying the diff to the shadow and diffing again")
        report.missed = verify(checked_url, target, report.statements, schemas)
        step("dropping the shadow")
    else:
        shadows.drop(checked_url)  # nothing to apply to it
        step("self-check: comparing the inventories of the migrated template and the target")
        report.missed = compare_inventories(migrated.inventory, target.inventory)
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

    # The pool is left (its work finished, the template's session closed) before anything clones the template.
    with ThreadPoolExecutor(2) as pool:
        # The target's inventory (for the self-check) is taken later, while the server is busy cloning.
        snapshot = pool.submit(TargetSnapshot.take, target_url, schemas, False)
        inspected = pool.submit(inspect_template, shadows.cluster, shadows.template, schemas, for_cache=cache)
        step("inspecting the migrated template and the target")
        migrated, target = inspected.result(), snapshot.result()
    if cache:
        save_template_inspection(cfg, shadows.cluster, shadows.template, schemas, migrated)
    report = _report("migrations", target.url, generate(migrated.inspector, target.inspector))
    if not self_check:
        return report
    if report.statements:
        with ThreadPoolExecutor(1) as pool:
            expected = pool.submit(_inventory_of, target.url, schemas)
            step("cloning a shadow from the migrated template for the self-check")
            checked_url = shadows.new()
            target.inventory = expected.result()
        step("self-check: applying the diff to the shadow and diffing again")
        report.missed = verify(checked_url, target, report.statements, schemas)
        step("dropping the shadow")
    else:
        # Applying no SQL to a clone would leave the template's state and the same empty re-diff: no clone needed.
        step("self-check: comparing the inventories of the migrated template and the target")
        report.missed = compare_inventories(migrated.inventory, _inventory_of(target.url, schemas))
    report.self_checked = True
    return report


@dataclass
class TemplateInspection:
    """The migrated template as the engine sees it, and as our inventory does.
    ``pickled`` is the inspector as it was before any diff used it (what the cache stores)."""

    inspector: Any
    inventory: dict[str, str]
    pickled: bytes = b""


def inspect_template(
    cluster: Cluster, template: str, schemas: tuple[str, ...] = (), *, for_cache: bool = False
) -> TemplateInspection:
    """Inspect the migrated template in place (read-only: it is not changed);
    ``for_cache`` also pickles it, before any diff uses it."""
    with _template_session(cluster, template) as conn:
        inspector = inspect(conn, schemas)
        found = inventory(conn, schemas)
    return TemplateInspection(inspector, found, _pickle_inspection(inspector, found) if for_cache else b"")


@contextmanager
def _template_session(cluster: Cluster, template: str) -> Iterator[Any]:
    """A session on the template that is gone, server side too, once the block
    is left: the server ends a backend a moment after its client closes, and
    a clone of the template refuses (or waits 100 ms at a time for) one still there."""
    with _connect(cluster.url(template)) as conn:
        backend = conn.info.backend_pid
        yield conn
    with cluster.connection() as admin:
        for _ in range(1000):  # at most ~5 s; a backend that is closing takes a millisecond or two
            if admin.execute("select 1 from pg_stat_activity where pid = %s", (backend,)).fetchone() is None:
                return
            time.sleep(0.005)


# -- the cache of the template's inspection ------------------------------------------

# Bump when what the cache holds changes shape.
_CACHE_FORMAT = 1


def inspection_cache_path(cfg: Config, template: str, schemas: tuple[str, ...] = ()) -> Path:
    """``<state_dir>/diff-cache/<template hash>[-<schemas hash>].pickle``."""
    import hashlib

    name = template.removeprefix(TEMPLATE_PREFIX)
    if schemas:
        name += "-" + hashlib.sha256("\0".join(sorted(set(schemas))).encode()).hexdigest()[:8]
    return cfg.state_dir / "diff-cache" / f"{name}.pickle"


def _cache_key(cluster: Cluster, template: str, schemas: tuple[str, ...]) -> dict[str, Any] | None:
    """What a cached inspection must have been taken of: this very template
    database (a rebuilt one has a new oid) on this very cluster, by this
    version of the engine, for these schemas. Read from the maintenance
    database: nothing connects to the template."""
    from importlib.metadata import version

    with cluster.connection() as conn:
        row = conn.execute(
            "select d.oid::bigint, (select system_identifier from pg_control_system()),"
            " current_setting('server_version') from pg_database d where d.datname = %s",
            (template,),
        ).fetchone()
    if row is None:
        return None
    oid, system, server = row
    return {
        "format": _CACHE_FORMAT,
        "template": template,
        "oid": oid,
        "cluster": str(system),
        "server": server,
        "results": version("results"),
        "schemas": sorted(set(schemas)),
    }


def load_template_inspection(
    cfg: Config, cluster: Cluster, template: str, schemas: tuple[str, ...] = ()
) -> TemplateInspection | None:
    """The cached inspection of ``template``, or None: missing, taken of
    another template (or another build of it), or unreadable in any way.
    The file is a pickle in the project's own state directory, written by
    ``save_template_inspection``; its header is checked before the rest is read."""
    import pickle

    path = inspection_cache_path(cfg, template, schemas)
    try:
        with path.open("rb") as stream:
            header = pickle.load(stream)
            if header != _cache_key(cluster, template, schemas):
                return None
            inspector, found = pickle.load(stream)
    except Exception:  # missing, truncated, corrupt, from another version: inspect the template instead
        return None
    if not isinstance(found, dict) or type(inspector).__name__ != "PostgreSQL":
        return None
    return TemplateInspection(inspector, found)


def save_template_inspection(
    cfg: Config, cluster: Cluster, template: str, schemas: tuple[str, ...], migrated: TemplateInspection
) -> None:
    """Cache ``migrated`` for ``template`` (written whole, then renamed into
    place); the caches of other templates go. Best effort: a cache that cannot
    be written only means the next run inspects the template again."""
    import os
    import pickle

    if not migrated.pickled:
        return
    path = inspection_cache_path(cfg, template, schemas)
    try:
        key = _cache_key(cluster, template, schemas)
    except Exception:  # the run's result does not depend on the cache: never fail it over one
        return
    if key is None:
        return
    keep = template.removeprefix(TEMPLATE_PREFIX)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as stream:
            pickle.dump(key, stream, protocol=pickle.HIGHEST_PROTOCOL)
            stream.write(migrated.pickled)
        os.replace(partial, path)
        for stale in path.parent.glob("*.pickle"):
            if not stale.name.startswith(keep):
                stale.unlink(missing_ok=True)
    except OSError:
        partial.unlink(missing_ok=True)


def _pickle_inspection(inspector: Any, found: dict[str, str]) -> bytes:
    """The inspector without its cursor (which cannot be pickled, and which a diff does not use), and the inventory."""
    import copy
    import pickle

    detached = copy.copy(inspector)
    detached.c = None
    return pickle.dumps((detached, found), protocol=pickle.HIGHEST_PROTOCOL)


@dataclass
class TargetSnapshot:
    """The target's schema as the engine sees it, and as our inventory does."""

    url: str
    inspector: Any
    inventory: dict[str, str] | None

    @classmethod
    def take(cls, url: str, schemas: tuple[str, ...] = (), inventory_too: bool = True) -> TargetSnapshot:
        with _connect(url) as conn:
            return cls(url, inspect(conn, schemas), inventory(conn, schemas) if inventory_too else None)


def diff_urls(source_url: str, target_url: str, *, schemas: Iterable[str] = ()) -> DiffReport:
    """Diff two databases as they are (no shadow, so no self-check)."""
    schemas = tuple(schemas)
    with _connect(source_url) as source_conn, _connect(target_url) as target_conn:
        statements = generate(inspect(source_conn, schemas), inspect(target_conn, schemas))
    return _report(mask_url(source_url), target_url, statements)


def _report(source: str, target_url: str, statements: list[str]) -> DiffReport:
    return DiffReport(
        source=source,
        target=mask_url(target_url),
        statements=statements,
        drops=[s for s in statements if _DROP.match(s)],
    )


def _quiet(_text: str) -> None:
    pass


# -- the engine ----------------------------------------------------------------------


def inspect(conn: Any, schemas: tuple[str, ...] = ()) -> Any:
    """Inspect one database with results, keeping only what we diff."""
    from results.schemainspect import get_inspector

    with conn.cursor() as cursor:
        inspector = get_inspector(cursor)
    for prop in _INSPECTED:
        items = getattr(inspector, prop, None)
        if items is None:
            continue
        kept = {key: value for key, value in items.items() if _keep(prop, getattr(value, "schema", None), schemas)}
        setattr(inspector, prop, type(items)(kept))
    return inspector


def _keep(prop: str, schema: str | None, schemas: tuple[str, ...]) -> bool:
    if schema is None:
        return True
    if schemas:
        if schema not in schemas:
            return False
    elif schema in EXCLUDED_SCHEMAS or schema.startswith("pg_"):
        return False
    if schema in TRIGGERS_AND_POLICIES_ONLY:
        return prop in _KEEP_IN_MANAGED
    return True


class _EngineChanges:
    """Our corrections to results' change plan.

    - Its ordered plan asks for enum changes with modifications=True and no
      "only" flag, which repeats every enum CREATE and DROP of the dedicated
      create/drop steps (a duplicate ``create type`` aborts the migration). Ask
      for the modifications alone there.
    - It drops and re-creates every foreign key of a table that changed in any
      way (``add column age int`` re-creates ``profiles.id -> auth.users``),
      which rewrites a constraint nobody touched, validates it again under a
      lock, and fails db.lint. Only a key whose own columns, or the columns or
      unique keys it references, changed needs that (``_forced_foreign_keys``).
    """

    def __init__(self, changes: Any) -> None:
        self._changes = changes

    def __getattr__(self, name: str) -> Any:
        return getattr(self._changes, name)

    def enums(self, **kwargs: Any) -> Any:
        if kwargs == {"modifications": True}:
            kwargs = {"modifications_only": True}
        return self._changes.enums(**kwargs)

    @property
    def fk_constraints(self) -> Any:
        from collections import OrderedDict

        from results.dbdiff.changes import statements_for_changes

        changes = self._changes
        before = OrderedDict(
            (key, c)
            for key, c in changes.i_from.constraints.items()
            if c.constraint_type == "FOREIGN KEY" and not changes._partition_constraint_child(c, changes.i_from)
        )
        after = OrderedDict(
            (key, c)
            for key, c in changes.i_target.constraints.items()
            if c.constraint_type == "FOREIGN KEY" and not changes._partition_constraint_child(c, changes.i_target)
        )
        forced = _forced_foreign_keys(changes.i_from, changes.i_target, before, after)

        def statements(creations_only: bool = False, drops_only: bool = False, **kwargs: Any) -> Any:
            result = statements_for_changes(
                before, after, creations_only=creations_only, drops_only=drops_only, **kwargs
            )
            if drops_only:
                result += [before[key].drop_statement for key in forced]
            elif creations_only:
                for key in forced:
                    result += after[key].safer_create_statements
            return result

        return statements


def _forced_foreign_keys(source: Any, target: Any, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The unchanged foreign keys that must still be dropped and re-created
    around the plan: those on a column that changes type (or is dropped and
    re-added), or that reference a column that does, or a table whose primary
    key, unique constraints or unique indexes change (the key they rely on is
    dropped for a while)."""
    from results.dbdiff.util import differences

    changed_columns: dict[str, set[str]] = {}
    _, _, modified_tables, _ = differences(source.tables, target.tables)
    for table_name, table in modified_tables.items():
        old = source.tables[table_name].columns
        changed_columns[table_name] = {
            column for column, info in old.items() if column not in table.columns or table.columns[column] != info
        }
    rekeyed: set[str] = set()
    _, removed, modified, _ = differences(source.constraints, target.constraints)
    for constraint in (*removed.values(), *modified.values()):
        if constraint.constraint_type in ("PRIMARY KEY", "UNIQUE"):
            rekeyed.add(constraint.quoted_full_table_name)
    _, removed_indexes, modified_indexes, _ = differences(source.indexes, target.indexes)
    for index in (*removed_indexes.values(), *modified_indexes.values()):
        if index.is_unique:
            rekeyed.add(index.quoted_full_table_name)

    def touched(key: Any) -> bool:
        local = changed_columns.get(key.quoted_full_table_name, set())
        foreign = changed_columns.get(key.quoted_full_foreign_table_name, set())
        return (
            bool(local & set(key.fk_columns_local or ()))
            or bool(foreign & set(key.fk_columns_foreign or ()))
            or key.quoted_full_table_name in rekeyed
            or key.quoted_full_foreign_table_name in rekeyed
        )

    _, _, _, unmodified = differences(before, after)
    return [key for key, constraint in unmodified.items() if touched(constraint)]


def generate(source_inspector: Any, target_inspector: Any) -> list[str]:
    """The statements that turn the source schema into the target schema."""
    from results.dbdiff import Migration
    from results.dbdiff.ordered import ordered_changes

    migration = Migration(source_inspector, target_inspector)
    migration.set_safety(False)
    for group in ordered_changes(_EngineChanges(migration.changes), privileges=True):  # type: ignore[arg-type]
        migration.add(group)
    statements = _without_revokes_on_dropped(s.strip() for s in migration.statements if s.strip())
    # The engine brackets function bodies with this; it is noise without them.
    if all(s.lower().startswith("set check_function_bodies") for s in statements):
        return []
    return statements


_DROPPED_RELATION = re.compile(r'^drop (?:table|view|materialized view) (?:if exists )?("[^"]+"\."[^"]+")', re.I)
_REVOKE_ON = re.compile(r'^revoke .* on table ("[^"]+"\."[^"]+") from ', re.I)


def _without_revokes_on_dropped(statements: Iterable[str]) -> list[str]:
    """The engine orders revokes after the DROP of their table, which fails;
    the privileges go with the table anyway, so leave those revokes out."""
    statements = list(statements)
    dropped = {m.group(1) for s in statements if (m := _DROPPED_RELATION.match(s))}
    return [s for s in statements if not ((m := _REVOKE_ON.match(s)) and m.group(1) in dropped)]


# -- the self-check ------------------------------------------------------------------


# How the generated SQL is named in the self-check's failure messages.
GENERATED = "generated.sql"


def verify(checked_url: str, target: TargetSnapshot, statements: list[str], schemas: tuple[str, ...] = ()) -> list[str]:
    """Apply ``statements`` to ``checked_url`` (a fresh shadow: it is changed)
    and list what still differs from the target: the engine's re-diff as
    ``re-diff: <statement>`` lines, then our inventory's as
    ``missing|unexpected|different: <kind> <name>`` lines."""
    from concurrent.futures import ThreadPoolExecutor

    from ops.migrations.execute import StatementFailed

    with _connect(checked_url) as conn:
        try:
            # Exactly the text ``-f`` writes, applied the way the runner would apply that file.
            apply_sql(conn, as_sql(statements))
        except (StatementFailed, UsageError) as failure:
            return [f"the generated SQL fails to apply: {failure.message}"]
        # The inventory's deparsers run on the server: let them overlap the engine's inspection.
        with ThreadPoolExecutor(1) as pool:
            applied = pool.submit(_inventory_of, checked_url, schemas)
            leftover = generate(inspect(conn, schemas), target.inspector)
    expected = target.inventory if target.inventory is not None else _inventory_of(target.url, schemas)
    return [
        *(f"re-diff: {_first_line(s)}" for s in leftover if not s.lower().startswith("set check_function_bodies")),
        *compare_inventories(applied.result(), expected),
    ]


def apply_sql(conn: Any, sql: str) -> None:
    """``sql`` as the runner would apply it as a migration file: one transaction,
    statements that refuse one on their own; ``StatementFailed`` names the statement."""
    from itertools import groupby

    from ops.migrations.execute import run_statements
    from ops.migrations.split import split_sql

    numbered = [(n, s) for n, s in enumerate(split_sql(sql, source=GENERATED), 1) if s.kind != "transaction_control"]
    cursor = conn.cursor()
    for standalone, group in groupby(numbered, key=lambda item: item[1].kind == "standalone"):
        if standalone:
            run_statements(cursor, list(group), Path(GENERATED), sql)
        else:
            with conn.transaction():
                run_statements(cursor, list(group), Path(GENERATED), sql)


def _inventory_of(url: str, schemas: tuple[str, ...]) -> dict[str, str]:
    with _connect(url) as conn:
        return inventory(conn, schemas)


def _first_line(statement: str) -> str:
    lines = [line.strip() for line in statement.strip().splitlines() if line.strip()]
    return " ".join(lines)[:160]


# One query per object kind: (kind, identity, definition). Definitions use the
# server's own deparsers so that equal objects print equally on both sides.
_INVENTORY_QUERIES: dict[str, str] = {
    "relation": """
        select n.nspname, c.relname,
               concat_ws(' ', 'kind=' || c.relkind::text, 'persistence=' || c.relpersistence::text,
                         'rls=' || c.relrowsecurity::text, 'force_rls=' || c.relforcerowsecurity::text,
                         'options=' || coalesce(array_to_string(array(select unnest(c.reloptions) order by 1), ','),
                                                ''),
                         'replica_identity=' || c.relreplident::text)
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
          and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e')""",
    "column": """
        select n.nspname, c.relname || '.' || a.attname,
               concat_ws(' ', format_type(a.atttypid, a.atttypmod), case when a.attnotnull then 'not null' end,
                         'default ' || pg_get_expr(ad.adbin, ad.adrelid), nullif(a.attidentity::text, ''),
                         nullif(a.attgenerated::text, ''), 'collate ' || nullif(co.collname, 'default'))
        from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
        left join pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
        left join pg_collation co on co.oid = a.attcollation and a.attcollation <> 0
        where a.attnum > 0 and not a.attisdropped and c.relkind in ('r', 'p', 'v', 'm', 'f', 'c')
          and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e')""",
    "column grant": """
        select n.nspname, c.relname || '.' || a.attname,
               coalesce((select string_agg(distinct x.grantee::regrole || ':' || x.privilege_type, ',')
                         from aclexplode(a.attacl) x), '')
        from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
        where a.attacl is not null and a.attnum > 0 and not a.attisdropped""",
    "constraint": """
        select n.nspname, c.relname || '.' || k.conname, pg_get_constraintdef(k.oid)
        from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace""",
    "index": """
        select n.nspname, i.relname, pg_get_indexdef(i.oid)
        from pg_index x join pg_class i on i.oid = x.indexrelid join pg_namespace n on n.oid = i.relnamespace
        where not exists (select 1 from pg_depend d where d.objid = x.indrelid and d.deptype = 'e')""",
    "view": """
        select n.nspname, c.relname, pg_get_viewdef(c.oid)
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('v', 'm')
          and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e')""",
    "policy": """
        select n.nspname, c.relname || '.' || p.polname,
               concat_ws(' ', p.polcmd::text, case when p.polpermissive then 'permissive' else 'restrictive' end,
                         'to ' || array_to_string(array(select case when r = 0 then 'public' else r::regrole::text end
                                                        from unnest(p.polroles) r order by 1), ','),
                         'using ' || pg_get_expr(p.polqual, p.polrelid),
                         'check ' || pg_get_expr(p.polwithcheck, p.polrelid))
        from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace""",
    "trigger": """
        select n.nspname, c.relname || '.' || t.tgname, pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
        from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace
        where not t.tgisinternal""",
    "function": """
        select n.nspname, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
               pg_get_functiondef(p.oid)
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where p.prokind in ('f', 'p')
          and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')""",
    "type": """
        select n.nspname, t.typname,
               concat_ws(' ', t.typtype::text,
                         (select string_agg(e.enumlabel, ',' order by e.enumsortorder)
                          from pg_enum e where e.enumtypid = t.oid),
                         case when t.typtype = 'd' then format_type(t.typbasetype, t.typtypmod) end)
        from pg_type t join pg_namespace n on n.oid = t.typnamespace
        where (t.typtype in ('e', 'd')
               or (t.typtype = 'c' and exists (select 1 from pg_class r where r.oid = t.typrelid and r.relkind = 'c')))
          and not exists (select 1 from pg_depend d where d.objid = t.oid and d.deptype = 'e')""",
    "grant": """
        select n.nspname, c.relname,
               coalesce((select string_agg(distinct x.grantee::regrole::text || ':' || x.privilege_type, ','
                                           order by x.grantee::regrole::text || ':' || x.privilege_type)
                         from aclexplode(c.relacl) x where x.grantee <> 0 and x.grantee <> c.relowner), '')
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
          and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e')""",
    "publication": """
        select n.nspname, c.relname, string_agg(p.pubname, ',' order by p.pubname)
        from pg_publication_rel r join pg_publication p on p.oid = r.prpubid
        join pg_class c on c.oid = r.prrelid join pg_namespace n on n.oid = c.relnamespace
        group by 1, 2""",
    "comment": """
        select n.nspname, c.relname || coalesce('.' || a.attname, ''), d.description
        from pg_description d join pg_class c on d.classoid = 'pg_class'::regclass and d.objoid = c.oid
        join pg_namespace n on n.oid = c.relnamespace
        left join pg_attribute a on a.attrelid = c.oid and a.attnum = d.objsubid and d.objsubid > 0""",
    "statistics object": """
        select n.nspname, s.stxname, pg_get_statisticsobjdef(s.oid)
        from pg_statistic_ext s join pg_namespace n on n.oid = s.stxnamespace""",
    "default privileges": """
        select n.nspname, pg_get_userbyid(d.defaclrole) || ' on ' || d.defaclobjtype::text,
               array_to_string(array(select x::text from unnest(d.defaclacl) x order by 1), ',')
        from pg_default_acl d left join pg_namespace n on n.oid = d.defaclnamespace
        -- only the migrating role's: the platform's own roles have theirs on hosted projects
        where d.defaclrole = (select oid from pg_roles where rolname = current_user)""",
    "schema": """
        select n.nspname, n.nspname, 'schema' from pg_namespace n""",
    "sequence": """
        select n.nspname, c.relname,
               concat_ws(' ', format_type(s.seqtypid, null), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
                         s.seqcache, case when s.seqcycle then 'cycle' end)
        from pg_sequence s join pg_class c on c.oid = s.seqrelid join pg_namespace n on n.oid = c.relnamespace""",
    "collation": """
        select n.nspname, c.collname, concat_ws(' ', c.collprovider::text, c.collcollate, c.collctype)
        from pg_collation c join pg_namespace n on n.oid = c.collnamespace""",
    # Extensions are diffed whatever schema they live in (most live in the excluded `extensions`).
    "extension": """
        select null::name, e.extname, e.extversion || ' in ' || n.nspname
        from pg_extension e join pg_namespace n on n.oid = e.extnamespace""",
}
# What counts in auth and storage: the project's own policies and triggers.
_MANAGED_KINDS = frozenset({"policy", "trigger"})


def inventory(conn: Any, schemas: tuple[str, ...] = ()) -> dict[str, str]:
    """``{"<kind> <schema>.<name>": definition}`` for everything we diff."""
    found: dict[str, str] = {}
    # Filtered in SQL so that the deparsers never run over pg_catalog's thousands of objects.
    if schemas:
        where, params = "schema_name is null or schema_name = any(%s)", [list(schemas)]
    else:
        where = r"schema_name is null or (schema_name <> all(%s) and schema_name not like 'pg\_%%')"
        params = [sorted(EXCLUDED_SCHEMAS)]
    for kind, query in _INVENTORY_QUERIES.items():
        wrapped = f"select * from ({query}) as found(schema_name, name, definition) where {where}"
        for schema, name, definition in conn.execute(wrapped, params).fetchall():  # type: ignore[call-overload]
            if not _keep("triggers" if kind in _MANAGED_KINDS else kind, schema, schemas):
                continue
            found[f"{kind} {name}" if schema is None or kind == "schema" else f"{kind} {schema}.{name}"] = (
                definition or ""
            )
    return found


def compare_inventories(actual: dict[str, str], expected: dict[str, str]) -> list[str]:
    """Differences as ``missing|unexpected|different: <kind> <name>`` lines."""
    lines: list[str] = []
    for key in sorted(expected.keys() - actual.keys()):
        lines.append(f"missing: {key} ({_clip(expected[key])})")
    for key in sorted(actual.keys() - expected.keys()):
        lines.append(f"unexpected: {key}")
    for key in sorted(expected.keys() & actual.keys()):
        if expected[key] != actual[key]:
            lines.append(f"different: {key} (want {_clip(expected[key])}; got {_clip(actual[key])})")
    return lines


def _clip(text: str, limit: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# -- the shadow database -----------------------------------------------------------


class Shadows:
    """Shadow databases: clones of one migrated template on one cluster.
    Thread-safe enough for a few worker threads: each call works on its own database."""

    def __init__(self, cluster: Cluster, template: str) -> None:
        self.cluster = cluster
        self.template = template
        self._alive: dict[str, str] = {}  # url -> name

    def new(self) -> str:
        """A new shadow database; its URL."""
        import psycopg

        name = _new_name()
        url = self.cluster.url(name)
        self._alive[url] = name  # before it exists: a Ctrl-C during CREATE still drops it
        try:
            self.cluster.create_database(name, template=self.template)
        except psycopg.Error as exc:
            from ops.pg.connect import error_text

            raise ExternalError(
                f"cannot clone a shadow database from {self.template}: {error_text(exc)}",
                "close the sessions connected to it (pg_stat_activity); a dropped template is rebuilt by the next run",
            ) from None
        return url

    def drop(self, url: str) -> None:
        name = self._alive.pop(url, None)
        if name is not None:
            self.cluster.drop_database(name)

    def drop_all(self) -> None:
        """Drop every shadow, all at once: on PostgreSQL 15 each DROP DATABASE
        waits for a checkpoint, which then also has to sync the files of any
        shadow still alive. Dropped together, they share cheap checkpoints."""
        from concurrent.futures import ThreadPoolExecutor

        urls = list(self._alive)
        if len(urls) <= 1:
            for url in urls:
                self.drop(url)
            return
        with ThreadPoolExecutor(len(urls)) as pool:
            for done in [pool.submit(self.drop, url) for url in urls]:
                done.result()


@contextmanager
def shadow_databases(
    cfg: Config, cluster: Cluster, *, step: Step | None = None, cache: bool = True
) -> Iterator[Shadows]:
    """``Shadows`` cloned from the migrated template; every shadow is dropped
    on the way out, whatever happened (errors, Ctrl-C).

    With ``cache`` the template is kept for later runs (``migrated_template``);
    without, it is built under a throwaway name and dropped with the shadows."""
    step = step or _quiet
    throwaway: str | None = None
    shadows: Shadows | None = None
    try:
        if cache:
            template = migrated_template(cfg, cluster, step)
        else:
            template = throwaway = _new_name()
            _build(cfg, cluster, throwaway, step)
        shadows = Shadows(cluster, template)
        yield shadows
    finally:
        if shadows is not None:
            shadows.drop_all()
        if throwaway is not None:
            cluster.drop_database(throwaway)


def _new_name() -> str:
    return SHADOW_PREFIX + secrets.token_hex(6)


def _build(cfg: Config, cluster: Cluster, name: str, step: Step) -> None:
    from ops.pg.bootstrap import apply_bootstrap

    step("creating the shadow database")
    cluster.create_database(name)
    with cluster.connection(name) as conn:
        apply_bootstrap(conn)
    step("applying the migrations to the shadow")
    apply_migrations(cfg, cluster.url(name))


def schema_fingerprint(cfg: Config) -> str:
    """A hash of everything the shadow is built from."""
    import hashlib

    from ops.migrations.files import load_migrations
    from ops.pg.bootstrap import bootstrap_sql

    digest = hashlib.sha256(bootstrap_sql().encode())
    for migration in load_migrations(cfg.migrations_dir):
        digest.update(b"\0" + migration.filename.encode() + b"\0" + migration.text.encode())
    return digest.hexdigest()[:16]


def template_name(cfg: Config) -> str:
    return TEMPLATE_PREFIX + schema_fingerprint(cfg)


def migrated_template(cfg: Config, cluster: Cluster, step: Step | None = None) -> str:
    """The name of the TEMPLATE database holding the bootstrap and every
    migration, built when missing. It is built under a throwaway name (dropped
    on failure or Ctrl-C) and renamed when complete, so no run ever clones half
    of it; templates of older files are dropped. Nothing stays connected to it:
    ``CREATE DATABASE ... TEMPLATE`` refuses a template that has sessions."""
    import psycopg
    from psycopg import sql

    step = step or _quiet
    cached = template_name(cfg)
    if cluster.database_exists(cached):
        return cached
    building = _new_name()
    try:
        _build(cfg, cluster, building, step)
        with cluster.connection() as conn:
            try:
                conn.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(building), sql.Identifier(cached))
                )
            except psycopg.errors.DuplicateDatabase:
                pass  # a concurrent run built the same template first; ours is dropped below
            else:
                conn.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE true").format(sql.Identifier(cached)))
    finally:
        cluster.drop_database(building)  # a no-op once renamed
    drop_stale_templates(cluster, keep=cached)
    return cached


def drop_stale_templates(cluster: Cluster, keep: str | None = None) -> list[str]:
    """Drop the migrated templates other than ``keep``; returns their names."""
    import psycopg
    from psycopg import sql

    patterns = [prefix.replace("_", r"\_") + "%" for prefix in (TEMPLATE_PREFIX, _OLD_CACHE_PREFIX)]
    with cluster.connection() as conn:
        stale = [
            row[0]
            for row in conn.execute(
                "select datname from pg_database where datname like any(%s) and datname is distinct from %s",
                (patterns, keep),
            ).fetchall()
        ]
        dropped = []
        for name in stale:
            try:
                # A template cannot be dropped; this one waits for a concurrent clone of it to finish.
                conn.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(sql.Identifier(name)))
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            except psycopg.Error:  # in use right now (a run of older files): a later run drops it
                continue
            dropped.append(name)
    return dropped


def apply_migrations(cfg: Config, url: str) -> None:
    """Every migration in ``cfg.migrations_dir``, through the migration runner."""
    from ops.migrations import migrate

    migrate(cfg, url, include_all=True)


# -- targets and output --------------------------------------------------------------


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


@contextmanager
def _connect(url: str) -> Iterator[Any]:
    from ops.pg.connect import connect

    conn = connect(url, application_name="ops db.diff")
    try:
        yield conn
    finally:
        conn.close()


_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")


def check_migration_name(name: str) -> None:
    if not _NAME.match(name):
        raise UsageError(f"invalid migration name '{name}'", "use lowercase letters, digits and underscores")


def write_migration(cfg: Config, name: str, sql: str, now: datetime | None = None) -> Path:
    """``supabase/migrations/<UTC YYYYMMDDHHMMSS>_<name>.sql`` with ``sql``."""
    check_migration_name(name)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    directory = cfg.migrations_dir
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stamp}_{name}.sql"
    if path.exists():
        raise UsageError(f"{path.name} already exists", "wait a second or pick another name")
    path.write_text(sql)
    return path


# -- rendering -----------------------------------------------------------------------


def render(out: Any, report: DiffReport) -> None:
    """Print the diff (or where it was written), warn on DROPs, write the JSON
    document (``report.failure()`` is the closing error line)."""
    for statement in report.drops:
        out.warn(f"DROP statement: {_first_line(statement)}")
    if report.written:
        out.line(f"Wrote {report.written} ({len(report.statements)} statements)")
    elif report.statements:
        out.line(report.sql.rstrip())
    elif not report.missed:
        out.line("No schema changes found")
    for line in report.missed:
        out.line(f"  {line}")
    out.result(report.to_dict())
