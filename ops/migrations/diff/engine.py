"""The ``results`` adapter: inspect a database, keep what we diff, generate the SQL.

Managed schemas are left out the way the Supabase CLI leaves them out: the
platform's own schemas entirely, and in ``auth`` and ``storage`` everything
but the project's policies and triggers. ``_EngineChanges`` corrects the
engine's change plan where it would write wrong or needless SQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

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


@contextmanager
def connect_to(url: str) -> Iterator[Any]:
    """An autocommit session on ``url`` for the diff, closed on the way out."""
    from ops.pg.connect import connect

    conn = connect(url, application_name="ops db.diff")
    try:
        yield conn
    finally:
        conn.close()


def inspect(conn: Any, schemas: tuple[str, ...] = ()) -> Any:
    """Inspect one database with results, keeping only what we diff."""
    from results.schemainspect import get_inspector

    with conn.cursor() as cursor:
        inspector = get_inspector(cursor)
    for prop in _INSPECTED:
        items = getattr(inspector, prop, None)
        if items is None:
            continue
        kept = {key: value for key, value in items.items() if in_scope(prop, getattr(value, "schema", None), schemas)}
        setattr(inspector, prop, type(items)(kept))
    return inspector


def in_scope(prop: str, schema: str | None, schemas: tuple[str, ...]) -> bool:
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
