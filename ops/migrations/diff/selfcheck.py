"""The self-check: apply the generated SQL to a fresh shadow and diff again.

The generated SQL (exactly the text ``-f`` writes) is applied, as the runner
would apply that file, to a shadow cloned from the migrated template; the
shadow is then diffed against the target again, by the engine (whatever it
would still change) and by our catalog inventory. Anything left over is an
incomplete diff.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.errors import UsageError
from ops.migrations.diff.catalog import compare_inventories, inventory, inventory_of
from ops.migrations.diff.engine import connect_to, generate, inspect
from ops.migrations.diff.shadow import template_session

if TYPE_CHECKING:
    from ops.pg.cluster import Cluster

# How the generated SQL is named in the self-check's failure messages.
GENERATED = "generated.sql"


def as_sql(statements: list[str]) -> str:
    """The statements as the text of a migration file (what ``-f`` writes)."""
    return "".join(statement.rstrip() + "\n\n" for statement in statements).rstrip() + ("\n" if statements else "")


@dataclass
class TargetSnapshot:
    """The target's schema as the engine sees it, and as our inventory does."""

    url: str
    inspector: Any
    inventory: dict[str, str] | None

    @classmethod
    def take(cls, url: str, schemas: tuple[str, ...] = (), inventory_too: bool = True) -> TargetSnapshot:
        with connect_to(url) as conn:
            return cls(url, inspect(conn, schemas), inventory(conn, schemas) if inventory_too else None)


def verify(checked_url: str, target: TargetSnapshot, statements: list[str], schemas: tuple[str, ...] = ()) -> list[str]:
    """Apply ``statements`` to ``checked_url`` (a fresh shadow: it is changed)
    and list what still differs from the target: the engine's re-diff as
    ``re-diff: <statement>`` lines, then our inventory's as
    ``missing|unexpected|different: <kind> <name>`` lines."""
    from concurrent.futures import ThreadPoolExecutor

    from ops.migrations.execute import StatementFailed

    with connect_to(checked_url) as conn:
        try:
            # Exactly the text ``-f`` writes, applied the way the runner would apply that file.
            apply_sql(conn, as_sql(statements))
        except (StatementFailed, UsageError) as failure:
            return [f"the generated SQL fails to apply: {failure.message}"]
        # The inventory's deparsers run on the server: let them overlap the engine's inspection.
        with ThreadPoolExecutor(1) as pool:
            applied = pool.submit(inventory_of, checked_url, schemas)
            leftover = generate(inspect(conn, schemas), target.inspector)
    expected = target.inventory if target.inventory is not None else inventory_of(target.url, schemas)
    return [
        *(f"re-diff: {first_line(s)}" for s in leftover if not s.lower().startswith("set check_function_bodies")),
        *compare_inventories(applied.result(), expected),
    ]


def verify_on_template(
    cluster: Cluster, template: str, target: TargetSnapshot, statements: list[str], schemas: tuple[str, ...] = ()
) -> list[str] | None:
    """``verify`` without a clone: the SQL is applied in a transaction on the
    migrated template itself, inspected there, and rolled back, so the
    template is left as it was. Cloning the template costs more than the rest
    of a warm diff (PostgreSQL 15 copies it block by block through the WAL).
    None when the SQL holds a statement that cannot run in a transaction:
    then it needs a clone (``verify``). The session is gone, server side too,
    before this returns: a later clone of the template must find none."""
    import psycopg

    from ops.migrations.execute import StatementFailed
    from ops.migrations.split import split_sql

    sql = as_sql(statements)
    if any(statement.kind == "standalone" for statement in split_sql(sql, source=GENERATED)):
        return None
    failed: list[str] = []
    with template_session(cluster, template) as conn, conn.transaction():
        try:
            # Exactly the text ``-f`` writes, applied the way the runner would apply that file.
            apply_sql(conn, sql)
        except (StatementFailed, UsageError) as failure:
            failed = [f"the generated SQL fails to apply: {failure.message}"]
            raise psycopg.Rollback() from None
        leftover = generate(inspect(conn, schemas), target.inspector)
        applied = inventory(conn, schemas)
        raise psycopg.Rollback()  # the template stays as the migrations left it
    if failed:
        return failed
    expected = target.inventory if target.inventory is not None else inventory_of(target.url, schemas)
    return [
        *(f"re-diff: {first_line(s)}" for s in leftover if not s.lower().startswith("set check_function_bodies")),
        *compare_inventories(applied, expected),
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


def first_line(statement: str) -> str:
    lines = [line.strip() for line in statement.strip().splitlines() if line.strip()]
    return " ".join(lines)[:160]
