"""The masking plan for one database: every rule matched to a real column,
with the SQL that reads the value as text (a column, or one key of a json
column); and the problems that stop a refresh (a project rule naming a column
that does not exist, a strategy that cannot apply to the column's type)."""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql

from ops.anonymize.catalog import Catalog, Column, Table, TableKey
from ops.anonymize.rules import RuleSet
from ops.anonymize.settings import MAPPED, Strategy

TEXT_TYPES = frozenset({"text", "varchar", "bpchar", "citext", "name"})
JSON_TYPES = frozenset({"json", "jsonb"})
IP_TYPES = frozenset({"inet", "cidr"})


@dataclass(frozen=True)
class Source:
    """One masked value: a column, or one top-level key of a json column."""

    table: Table
    column: Column
    kind: str
    json_key: str | None = None
    value: str | None = None  # fixed:<value>

    @property
    def label(self) -> str:
        base = f"{self.table.qualified}.{self.column.name}"
        return f"{base}->{self.json_key}" if self.json_key else base

    def text_sql(self, alias: str = "t") -> sql.Composable:
        """The value as text (NULL when absent)."""
        column = sql.Identifier(alias, self.column.name)
        if self.json_key is None:
            return sql.SQL("{}::text").format(column)
        return sql.SQL("({}::jsonb ->> {})").format(column, sql.Literal(self.json_key))


@dataclass
class MaskPlan:
    sources: list[Source] = field(default_factory=list)
    empty_tables: list[Table] = field(default_factory=list)
    copied_tables: list[Table] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def by_kind(self, kind: str) -> list[Source]:
        return [source for source in self.sources if source.kind == kind]

    @property
    def masked_columns(self) -> list[str]:
        return sorted({f"{s.table.qualified}.{s.column.name}" for s in self.sources if s.kind != "keep"})


def make_plan(catalog: Catalog, rules: RuleSet) -> MaskPlan:
    plan = MaskPlan()
    for key, present in sorted(catalog.tables.items()):
        if rules.copied(*key):
            plan.copied_tables.append(present)
        elif not rules.skipped(*key) and key in rules.empty_tables:
            plan.empty_tables.append(present)
    for (schema, table_name, column_name), strategy in sorted(rules.rules.items()):
        table = catalog.table(schema, table_name)
        column = table.columns.get(column_name) if table else None
        where = f"{schema}.{table_name}.{column_name}"
        if table is None or column is None:
            if (schema, table_name, column_name) in rules.project_keys:
                plan.problems.append(f"rule {where}: no such column in the database")
            continue  # a built-in rule for a table this database does not have
        if not rules.copied(schema, table_name):
            continue  # emptied or never copied: nothing of it reaches staging
        plan.problems += _add_sources(plan, table, column, strategy, where)
    return plan


def _add_sources(plan: MaskPlan, table: Table, column: Column, strategy: Strategy, where: str) -> list[str]:
    if column.generated and strategy.kind != "keep":
        return [f"rule {where}: a generated column cannot be masked; mask the columns it is computed from"]
    if strategy.kind == "json":
        if column.base_type not in JSON_TYPES:
            return [f"rule {where}: json:{{...}} needs a json or jsonb column, not {column.type_sql}"]
        problems = []
        for key, inner in strategy.keys:
            problems += _check_type(column, inner, f"{where}->{key}", json_value=True)
            plan.sources.append(Source(table, column, inner.kind, key, inner.value))
        return problems
    problems = _check_type(column, strategy, where, json_value=False)
    plan.sources.append(Source(table, column, strategy.kind, None, strategy.value))
    return problems


def _check_type(column: Column, strategy: Strategy, where: str, *, json_value: bool) -> list[str]:
    if json_value or strategy.kind in ("null", "fixed", "keep"):
        return []
    allowed = TEXT_TYPES | (IP_TYPES if strategy.kind == "ip" else frozenset())
    if strategy.kind in (*MAPPED, "password") and column.base_type not in allowed:
        return [f"rule {where}: '{strategy.kind}' needs a text column, not {column.type_sql}"]
    return []


def table_sql(table: Table | TableKey) -> sql.Identifier:
    schema, name = table.key if isinstance(table, Table) else table
    return sql.Identifier(schema, name)
