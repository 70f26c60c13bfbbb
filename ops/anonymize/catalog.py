"""What a database holds, read from pg_catalog: tables, columns (with their
base types), foreign keys and the sequences owned by table columns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TableKey = tuple[str, str]


@dataclass(frozen=True)
class Column:
    name: str
    type_sql: str  # format_type(): what a cast to this column's type says
    base_type: str  # the type's name, through domains (text, varchar, citext, inet, jsonb...)
    generated: bool
    not_null: bool


@dataclass
class Table:
    schema: str
    name: str
    columns: dict[str, Column] = field(default_factory=dict)

    @property
    def key(self) -> TableKey:
        return (self.schema, self.name)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def loadable_columns(self) -> list[str]:
        """Columns COPY can write: generated columns are computed by the server."""
        return [name for name, column in self.columns.items() if not column.generated]


@dataclass(frozen=True)
class ForeignKey:
    name: str
    child: TableKey
    child_columns: tuple[str, ...]
    parent: TableKey
    parent_columns: tuple[str, ...]


@dataclass(frozen=True)
class OwnedSequence:
    schema: str
    name: str
    table: TableKey


@dataclass
class Catalog:
    tables: dict[TableKey, Table]
    foreign_keys: list[ForeignKey]
    sequences: list[OwnedSequence]

    def table(self, schema: str, name: str) -> Table | None:
        return self.tables.get((schema, name))


_TABLES = """
select n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
       coalesce(bt.typname, t.typname), a.attgenerated <> '', a.attnotnull
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
join pg_type t on t.oid = a.atttypid
left join pg_type bt on bt.oid = t.typbasetype and t.typtype = 'd'
where c.relkind in ('r', 'p') and not c.relispartition
  and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'
order by n.nspname, c.relname, a.attnum
"""

_FOREIGN_KEYS = """
select con.conname, cn.nspname, cc.relname,
       array(select a.attname from unnest(con.conkey) with ordinality k(num, i)
             join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.num order by k.i),
       pn.nspname, pc.relname,
       array(select a.attname from unnest(con.confkey) with ordinality k(num, i)
             join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.num order by k.i)
from pg_constraint con
join pg_class cc on cc.oid = con.conrelid join pg_namespace cn on cn.oid = cc.relnamespace
join pg_class pc on pc.oid = con.confrelid join pg_namespace pn on pn.oid = pc.relnamespace
where con.contype = 'f' and con.conparentid = 0
order by cn.nspname, cc.relname, con.conname
"""

# Sequences a table's serial or identity column owns (pg_dump's "SEQUENCE OWNED BY").
_SEQUENCES = """
select sn.nspname, s.relname, tn.nspname, t.relname
from pg_class s
join pg_namespace sn on sn.oid = s.relnamespace
join pg_depend d on d.objid = s.oid and d.classid = 'pg_class'::regclass
 and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i')
join pg_class t on t.oid = d.refobjid
join pg_namespace tn on tn.oid = t.relnamespace
where s.relkind = 'S'
order by 1, 2
"""


def read_catalog(conn: Any) -> Catalog:
    tables: dict[TableKey, Table] = {}
    for schema, name, column, type_sql, base_type, generated, not_null in conn.execute(_TABLES).fetchall():
        table = tables.setdefault((schema, name), Table(schema, name))
        table.columns[column] = Column(column, type_sql, base_type, bool(generated), bool(not_null))
    foreign_keys = [
        ForeignKey(row[0], (row[1], row[2]), tuple(row[3]), (row[4], row[5]), tuple(row[6]))
        for row in conn.execute(_FOREIGN_KEYS).fetchall()
    ]
    sequences = [OwnedSequence(row[0], row[1], (row[2], row[3])) for row in conn.execute(_SEQUENCES).fetchall()]
    return Catalog(tables, foreign_keys, sequences)


def migration_versions(conn: Any) -> list[str] | None:
    """The applied versions in Supabase's history table, in order (None without one)."""
    exists = conn.execute("select to_regclass('supabase_migrations.schema_migrations') is not null").fetchone()
    if not exists or not exists[0]:
        return None
    return [row[0] for row in conn.execute("select version from supabase_migrations.schema_migrations order by 1")]
