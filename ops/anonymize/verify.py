"""Checks on the scratch database before anything reaches staging.

Originals are kept only as keyed hashes (SHA-256 over the refresh key and
the value), in a temporary table of the masking session: no plain value is
ever written to a file or kept after the session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from ops.anonymize.catalog import Catalog, TableKey
from ops.anonymize.plan import MaskPlan, Source, Table, table_sql
from ops.anonymize.settings import MAPPED

# Strategies after which no value may equal any original of the same column.
_REPLACED = (*MAPPED, "password")


@dataclass
class Verification:
    problems: list[str] = field(default_factory=list)
    checks: int = 0

    def expect(self, ok: bool, problem: str) -> None:
        self.checks += 1
        if not ok:
            self.problems.append(problem)


def _digest(source: Source) -> sql.Composable:
    # The key sits in a temporary table (bound once, never in SQL text), so the
    # queries carry no placeholders that a '%' in a name could upset.
    return sql.SQL("sha256((select key from ops_refresh_key) || convert_to({}, 'UTF8'))").format(source.text_sql())


def record_originals(conn: Any, plan: MaskPlan, key: bytes) -> None:
    """The keyed hash of every distinct non-empty original of every replaced source."""
    conn.execute("drop table if exists ops_refresh_key")
    conn.execute("create temporary table ops_refresh_key (key bytea not null)")
    conn.execute("insert into ops_refresh_key values (%s)", (key,))
    conn.execute("drop table if exists ops_originals")
    conn.execute("create temporary table ops_originals (source int not null, digest bytea not null)")
    for number, source in enumerate(plan.sources):
        if source.kind not in _REPLACED:
            continue
        conn.execute(
            sql.SQL(
                "insert into ops_originals select distinct {n}, {digest} from only {table} t"
                " where {value} is not null and {value} <> ''"
            ).format(
                n=sql.Literal(number), digest=_digest(source), table=table_sql(source.table), value=source.text_sql()
            )
        )
    conn.execute("create index on ops_originals (source, digest)")
    conn.execute("analyze ops_originals")


def verify_masking(conn: Any, plan: MaskPlan, counts_before: dict[str, int]) -> Verification:
    result = Verification()
    for number, source in enumerate(plan.sources):
        table, value = table_sql(source.table), source.text_sql()
        if source.kind in _REPLACED:
            query = sql.SQL(
                "select count(*) from only {table} t join ops_originals o"
                " on o.source = {n} and o.digest = {digest} where {value} <> ''"
            ).format(table=table, n=sql.Literal(number), digest=_digest(source), value=value)
            left = int(conn.execute(query).fetchone()[0])
            result.expect(left == 0, f"{source.label}: {left} value(s) still equal an original")
        elif source.kind == "null":
            query = sql.SQL("select count(*) from only {} t where {} is not null").format(table, value)
            left = int(conn.execute(query).fetchone()[0])
            result.expect(left == 0, f"{source.label}: {left} value(s) not emptied")
        elif source.kind == "fixed":
            query = sql.SQL("select count(*) from only {} t where {} is distinct from {} and {} is not null").format(
                table, value, sql.Literal(source.value), value
            )
            left = int(conn.execute(query).fetchone()[0])
            result.expect(left == 0, f"{source.label}: {left} value(s) not set to the fixed value")
    counts_after = row_counts(conn, plan.copied_tables)
    for name, before in counts_before.items():
        after = counts_after.get(name)
        result.expect(after == before, f"{name}: {after} rows after masking, {before} before")
    for emptied in plan.empty_tables:
        left = int(conn.execute(sql.SQL("select count(*) from only {}").format(table_sql(emptied))).fetchone()[0])
        result.expect(left == 0, f"{emptied.qualified}: {left} rows left in a table that is emptied")
    return result


def row_counts(conn: Any, tables: list[Table]) -> dict[str, int]:
    return {
        table.qualified: int(
            conn.execute(sql.SQL("select count(*) from only {}").format(table_sql(table))).fetchone()[0]
        )
        for table in tables
    }


def broken_foreign_keys(conn: Any, catalog: Catalog, checked: set[TableKey]) -> list[str]:
    """Each foreign key between ``checked`` tables with rows whose parent is
    missing (MATCH SIMPLE: a row with a NULL key column is exempt)."""
    problems = []
    for fk in catalog.foreign_keys:
        if fk.child not in checked or fk.parent not in checked:
            continue
        problems += _orphans(conn, fk)
    return problems


def foreign_keys_into(conn: Any, catalog: Catalog, loaded: set[TableKey]) -> list[str]:
    """Foreign keys with exactly one side loaded (the other is staging's own
    rows): only the target database can check those."""
    problems = []
    for fk in catalog.foreign_keys:
        if (fk.child in loaded) != (fk.parent in loaded) and fk.child in catalog.tables and fk.parent in catalog.tables:
            problems += _orphans(conn, fk)
    return problems


def _orphans(conn: Any, fk: Any) -> list[str]:
    not_null = sql.SQL(" and ").join(
        sql.SQL("c.{} is not null").format(sql.Identifier(col)) for col in fk.child_columns
    )
    joined = sql.SQL(" and ").join(
        sql.SQL("p.{} = c.{}").format(sql.Identifier(parent), sql.Identifier(child))
        for child, parent in zip(fk.child_columns, fk.parent_columns, strict=True)
    )
    query = sql.SQL(
        "select count(*) from {child} c where {not_null} and not exists (select 1 from {parent} p where {joined})"
    ).format(child=table_sql(fk.child), parent=table_sql(fk.parent), not_null=not_null, joined=joined)
    orphans = int(conn.execute(query).fetchone()[0])
    if orphans:
        return [f"foreign key {fk.name} on {fk.child[0]}.{fk.child[1]}: {orphans} row(s) without a parent"]
    return []
