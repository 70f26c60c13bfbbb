"""``db.diff``: what SQL turns one schema into another.

The source is usually "the migrations": a shadow database on the local cluster
gets the Supabase-shaped bootstrap and every migration, then the ``results``
engine (migra's maintained successor) diffs it against the target. Managed
schemas are left out the way the Supabase CLI leaves them out (DESIGN.md §4).

Self-check: the generated SQL is applied to the shadow (only read until then,
so it is exactly a fresh copy of the source) and the result is compared with
the target twice: by the engine again, and by our own catalog inventory, which
covers object kinds the engine does not know (publication membership, for
one). Anything left over is an incomplete diff.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.console import mask_url
from ops.errors import ExternalError, UsageError

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

    @property
    def sql(self) -> str:
        return "".join(statement.rstrip() + "\n\n" for statement in self.statements).rstrip() + (
            "\n" if self.statements else ""
        )

    @property
    def changed(self) -> bool:
        return bool(self.statements) or bool(self.missed)

    @property
    def complete(self) -> bool:
        return not self.missed

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
    step: Step | None = None,
) -> DiffReport:
    """Diff ``source`` (``migrations``, an environment name or a URL) against
    ``target`` (an environment name or a URL). With ``name``, write the SQL as a
    new migration file. ``cluster`` hosts the shadow database (default: the
    local dev cluster)."""
    step = step or (lambda _text: None)
    schemas = tuple(schemas)
    target_url = resolve_url(cfg, target)
    if source == "migrations":
        shadow_cluster = cluster or _local_cluster(cfg)
        with shadow_database(cfg, shadow_cluster, step=step) as shadow_url:
            report = diff_urls(shadow_url, target_url, schemas=schemas, step=step, self_check=self_check)
        report.source = "migrations"
    else:
        report = diff_urls(resolve_url(cfg, source), target_url, schemas=schemas, step=step, self_check=False)
        report.source = _describe(source)
    report.target = _describe(target)
    if name and report.statements:
        report.written = write_migration(cfg, name, report.sql)
    return report


def diff_urls(
    source_url: str,
    target_url: str,
    *,
    schemas: Iterable[str] = (),
    self_check: bool = False,
    step: Step | None = None,
) -> DiffReport:
    """Diff two databases. With ``self_check`` the generated SQL is applied to
    ``source_url`` afterwards: only pass a throwaway database."""
    step = step or (lambda _text: None)
    schemas = tuple(schemas)
    step("inspecting both databases")
    with _connect(source_url) as source_conn, _connect(target_url) as target_conn:
        source_inspector = inspect(source_conn, schemas)
        target_inspector = inspect(target_conn, schemas)
    statements = generate(source_inspector, target_inspector)
    report = DiffReport(
        source=mask_url(source_url),
        target=mask_url(target_url),
        statements=statements,
        drops=[s for s in statements if _DROP.match(s)],
    )
    if self_check:
        step("self-check: applying the diff to the shadow")
        report.missed = verify(source_url, target_url, statements, target_inspector, schemas)
        report.self_checked = True
    return report


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
        return schema in schemas
    if schema in EXCLUDED_SCHEMAS or schema.startswith("pg_"):
        return False
    if schema in TRIGGERS_AND_POLICIES_ONLY:
        return prop in _KEEP_IN_MANAGED
    return True


class _EngineChanges:
    """results' ordered plan asks for enum changes with modifications=True and
    no "only" flag, which repeats every enum CREATE and DROP of the dedicated
    create/drop steps (a duplicate ``create type`` aborts the migration). Ask
    for the modifications alone there."""

    def __init__(self, changes: Any) -> None:
        self._changes = changes

    def __getattr__(self, name: str) -> Any:
        return getattr(self._changes, name)

    def enums(self, **kwargs: Any) -> Any:
        if kwargs == {"modifications": True}:
            kwargs = {"modifications_only": True}
        return self._changes.enums(**kwargs)


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


def verify(
    source_url: str,
    target_url: str,
    statements: list[str],
    target_inspector: Any,
    schemas: tuple[str, ...] = (),
) -> list[str]:
    """Apply ``statements`` to the source database and list what still differs
    from the target: what the engine missed."""
    missed: list[str] = []
    import psycopg

    with _connect(source_url) as conn:
        if statements:
            try:
                with conn.transaction():
                    conn.execute("\n".join(_terminated(statements)))  # type: ignore[arg-type]
            except psycopg.Error as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                return [f"the generated SQL fails to apply: {first}"]
            leftover = generate(inspect(conn, schemas), target_inspector)
            missed += [f"engine re-diff: {_first_line(s)}" for s in leftover]
        source_inventory = inventory(conn, schemas)
    with _connect(target_url) as conn:
        target_inventory = inventory(conn, schemas)
    missed += compare_inventories(source_inventory, target_inventory)
    return missed


def _terminated(statements: list[str]) -> list[str]:
    return [s if s.rstrip().endswith(";") else s + ";" for s in statements]


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
        where t.typtype in ('e', 'd')
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
}
# What counts in auth and storage: the project's own policies and triggers.
_MANAGED_KINDS = frozenset({"policy", "trigger"})


def inventory(conn: Any, schemas: tuple[str, ...] = ()) -> dict[str, str]:
    """``{"<kind> <schema>.<name>": definition}`` for everything we diff."""
    found: dict[str, str] = {}
    for kind, query in _INVENTORY_QUERIES.items():
        for schema, name, definition in conn.execute(query).fetchall():  # type: ignore[arg-type]
            if not _keep("triggers" if kind in _MANAGED_KINDS else kind, schema, schemas):
                continue
            found[f"{kind} {schema}.{name}"] = definition or ""
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


@contextmanager
def shadow_database(cfg: Config, cluster: Cluster, *, step: Step | None = None) -> Iterator[str]:
    """A throwaway database with the bootstrap and every migration applied;
    dropped on the way out, whatever happened (errors, Ctrl-C)."""
    from ops.pg.bootstrap import apply_bootstrap

    step = step or (lambda _text: None)
    name = SHADOW_PREFIX + secrets.token_hex(6)
    step("creating the shadow database")
    cluster.create_database(name)
    try:
        with cluster.connection(name) as conn:
            apply_bootstrap(conn)
        step("applying the migrations to the shadow")
        apply_migrations(cfg, cluster.url(name))
        yield cluster.url(name)
    finally:
        cluster.drop_database(name)


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
    from ops.stack import local_cluster

    return local_cluster(cfg)


@contextmanager
def _connect(url: str) -> Iterator[Any]:
    import psycopg

    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else "connection failed"
        raise ExternalError(f"cannot connect to {mask_url(url)}: {detail}", "check that the database is up") from None
    try:
        yield conn
    finally:
        conn.close()


_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")


def write_migration(cfg: Config, name: str, sql: str, now: datetime | None = None) -> Path:
    """``supabase/migrations/<UTC YYYYMMDDHHMMSS>_<name>.sql`` with ``sql``."""
    if not _NAME.match(name):
        raise UsageError(f"invalid migration name '{name}'", "use lowercase letters, digits and underscores")
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M%S")
    directory = cfg.migrations_dir
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stamp}_{name}.sql"
    if path.exists():
        raise UsageError(f"{path.name} already exists", "wait a second or pick another name")
    path.write_text(sql)
    return path


# -- rendering -----------------------------------------------------------------------


def render(out: Any, report: DiffReport, *, check: bool = False) -> None:
    """Print the diff (or where it was written), warn on DROPs, write the JSON
    document; raise ``CheckFailed`` for an incomplete diff, or for any
    difference under ``check``."""
    from ops.errors import CheckFailed

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
    if report.missed:
        raise CheckFailed(
            f"incomplete diff: the engine missed {len(report.missed)} difference(s) listed above",
            "add SQL for them by hand (in the migration), then run db.diff again",
        )
    if check and report.statements:
        raise CheckFailed(
            f"{report.target} differs from {report.source}: {len(report.statements)} statement(s)",
            "run: inv db.diff -f NAME, review the file and commit it",
        )
