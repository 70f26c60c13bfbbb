"""Loading the masked data into the target (staging): data only, one
transaction, ``session_replication_role = replica`` as Supabase's data dumps
do (no triggers, no foreign-key triggers while tables fill in any order).

Every loaded or emptied table is truncated and refilled with ``COPY``
streamed straight from the scratch database; owned sequences are moved to the
scratch's values. Before the commit, the target's row counts must equal the
scratch's and the foreign keys that cross into tables the refresh leaves
alone must hold; otherwise everything rolls back and the target is untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from ops.anonymize.catalog import Catalog, Table
from ops.anonymize.plan import MaskPlan, table_sql
from ops.anonymize.verify import foreign_keys_into, row_counts
from ops.errors import CheckFailed

Progress = Callable[[str], None]


@dataclass
class LoadResult:
    tables: dict[str, int] = field(default_factory=dict)  # rows loaded per table
    emptied: list[str] = field(default_factory=list)
    sequences: int = 0
    warnings: list[str] = field(default_factory=list)


def load(
    source: Any,
    target: Any,
    plan: MaskPlan,
    source_catalog: Catalog,
    target_catalog: Catalog,
    expected_counts: dict[str, int],
    progress: Progress,
    lock_timeout: str = "30s",
) -> LoadResult:
    """Replace the data of the planned tables in ``target`` (a connection
    outside any transaction) with ``source``'s; commits only if all checks pass."""
    result = LoadResult()
    loaded: list[tuple[Table, list[str]]] = []
    for table in plan.copied_tables:
        there = target_catalog.table(*table.key)
        if there is None:
            result.warnings.append(f"{table.qualified} is not in the target; its rows were not loaded")
            continue
        columns = [name for name in table.loadable_columns() if name in there.loadable_columns()]
        missing = [name for name in table.loadable_columns() if name not in there.columns]
        if missing:
            result.warnings.append(f"{table.qualified}: the target has no column {', '.join(missing)}; not loaded")
        loaded.append((there, columns))
    emptied = [t for t in (target_catalog.table(*e.key) for e in plan.empty_tables) if t is not None]

    with target.transaction():
        target.execute("set local session_replication_role = replica")
        target.execute("set local statement_timeout = 0")
        target.execute(sql.SQL("set local lock_timeout = {}").format(sql.Literal(lock_timeout)))
        truncated = [table for table, _ in loaded] + emptied
        if truncated:
            progress(f"emptying {len(truncated)} table(s) in the target")
            target.execute(sql.SQL("truncate table {}").format(sql.SQL(", ").join(table_sql(t) for t in truncated)))
        for table, columns in loaded:
            progress(f"loading {table.qualified}")
            result.tables[table.qualified] = _copy_table(source, target, table, columns)
        result.emptied = [table.qualified for table in emptied]
        result.sequences = _copy_sequences(source, target, source_catalog, {t.key for t, _ in loaded})
        progress("checking the target before commit")
        counts = row_counts(target, [table for table, _ in loaded])
        wrong = [name for name, count in counts.items() if count != expected_counts.get(name)]
        if wrong:
            first = wrong[0]
            raise CheckFailed(
                f"row counts differ after loading {len(wrong)} table(s), first {first}:"
                f" {counts[first]} in the target, {expected_counts.get(first)} masked",
                "nothing was changed in the target; look for triggers or rules on that table",
            )
        problems = foreign_keys_into(target, target_catalog, {t.key for t, _ in loaded} | {t.key for t in emptied})
        if problems:
            raise CheckFailed(
                f"the loaded data breaks {len(problems)} foreign key(s): {problems[0]}",
                "nothing was changed in the target; add the referencing table to the refresh or to skip_tables",
            )
    progress("analyzing the loaded tables")
    for table, _ in loaded:  # fresh statistics, so staging's plans (and load tests) see the new data
        target.execute(sql.SQL("analyze {}").format(table_sql(table)))
    return result


def _copy_table(source: Any, target: Any, table: Table, columns: list[str]) -> int:
    if not columns:
        return 0
    names = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    copy_out = sql.SQL("copy (select {} from only {}) to stdout").format(names, table_sql(table))
    copy_in = sql.SQL("copy {} ({}) from stdin").format(table_sql(table), names)
    with source.cursor() as out_cursor, target.cursor() as in_cursor:
        with out_cursor.copy(copy_out) as reader, in_cursor.copy(copy_in) as writer:
            for block in reader:
                writer.write(block)
        return int(in_cursor.rowcount)


def _copy_sequences(source: Any, target: Any, catalog: Catalog, loaded: set[tuple[str, str]]) -> int:
    moved = 0
    for sequence in catalog.sequences:
        if sequence.table not in loaded:
            continue
        name = sql.Identifier(sequence.schema, sequence.name)
        last_value, is_called = source.execute(sql.SQL("select last_value, is_called from {}").format(name)).fetchone()
        exists = target.execute("select to_regclass(%s) is not null", (name.as_string(target),)).fetchone()[0]
        if exists:
            target.execute("select setval(%s::regclass, %s, %s)", (name.as_string(target), last_value, is_called))
            moved += 1
    return moved
