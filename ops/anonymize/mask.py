"""Masking in the scratch database, set-based.

Per strategy, the distinct originals of every column (and json key) it
applies to are read once, mapped to fakes in Python (``fakes.Mapper``),
copied into a temporary mapping table, and each column is then rewritten by
one ``UPDATE ... FROM`` join on it. No row-by-row updates, and the originals
never leave this session's memory and temporary tables.

The session runs with ``session_replication_role = replica``: the app's
triggers (``updated_at``, audit rows...) must not fire on masking writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from psycopg import sql

from ops.anonymize.fakes import NORMALISE_SQL, Mapper
from ops.anonymize.plan import MaskPlan, Source, table_sql
from ops.anonymize.settings import MAPPED

Progress = Callable[[str], None]


def normalised(source: Source, alias: str = "t") -> sql.Composable:
    template = NORMALISE_SQL.get(source.kind)
    value = source.text_sql(alias)
    return sql.SQL(template).format(value) if template else value


def empty_tables(conn: Any, plan: MaskPlan) -> None:
    for table in plan.empty_tables:
        conn.execute(sql.SQL("delete from only {}").format(table_sql(table)))


def mask(conn: Any, plan: MaskPlan, key: bytes, password_hash: str | None, progress: Progress) -> dict[str, int]:
    """Apply every source of ``plan``; returns rows updated per masked column label."""
    updated: dict[str, int] = {}
    for kind in MAPPED:
        sources = plan.by_kind(kind)
        if not sources:
            continue
        progress(f"mapping {kind} values")
        mapping = _load_mapping(conn, kind, sources, key)
        for source in sources:
            progress(f"masking {source.label} ({kind})")
            updated[source.label] = _update_mapped(conn, source, mapping)
    for source in plan.sources:
        if source.kind in ("null", "fixed", "password"):
            progress(f"masking {source.label} ({source.kind})")
            value = password_hash if source.kind == "password" else source.value
            updated[source.label] = _update_constant(conn, source, value)
    return updated


def _distinct_originals(conn: Any, kind: str, sources: list[Source]) -> Iterator[str]:
    selects = [
        sql.SQL("select {value} from only {table} t where {value} <> ''").format(
            value=normalised(source), table=table_sql(source.table)
        )
        for source in sources
    ]
    query = sql.SQL("copy ({}) to stdout").format(sql.SQL(" union ").join(selects))
    # COPY's text format read by hand: a line per value, backslash escapes only
    # where the value has a tab, newline, carriage return or backslash (rare),
    # about five times faster than parsing row by row.
    encoding = conn.info.encoding
    with conn.cursor().copy(query) as copy:
        pending = b""
        for block in copy:
            lines = (pending + bytes(block)).split(b"\n")
            pending = lines.pop()
            for line in lines:
                value = line.decode(encoding)
                yield _unescape(value) if "\\" in value else value


_ESCAPES = {"\\": "\\", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v"}


def _unescape(value: str) -> str:
    out, chars = [], iter(value)
    for char in chars:
        out.append(_ESCAPES.get(next(chars, ""), "") if char == "\\" else char)
    return "".join(out)


def _escape(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _load_mapping(conn: Any, kind: str, sources: list[Source], key: bytes) -> sql.Identifier:
    name = sql.Identifier(f"ops_map_{kind}")
    conn.execute(sql.SQL("drop table if exists {}").format(name))
    conn.execute(sql.SQL("create temporary table {} (original text not null, fake text not null)").format(name))
    pairs = Mapper(kind, key).map(list(_distinct_originals(conn, kind, sources)))
    with conn.cursor().copy(sql.SQL("copy {} (original, fake) from stdin").format(name)) as copy:
        chunk: list[str] = []
        for original, fake in pairs:
            chunk.append(f"{_escape(original)}\t{_escape(fake)}\n")
            if len(chunk) >= 10_000:
                copy.write("".join(chunk))
                chunk.clear()
        copy.write("".join(chunk))
    conn.execute(sql.SQL("analyze {}").format(name))
    return name


def _update_mapped(conn: Any, source: Source, mapping: sql.Identifier) -> int:
    column = sql.Identifier(source.column.name)
    column_type = sql.SQL(source.column.type_sql)
    if source.json_key is None:
        new_value = sql.SQL("m.fake::{}").format(column_type)
    else:
        new_value = sql.SQL("jsonb_set(t.{col}::jsonb, {path}, to_jsonb(m.fake))::{type}").format(
            col=column, path=sql.Literal([source.json_key]), type=column_type
        )
    query = sql.SQL("update only {table} t set {col} = {value} from {mapping} m where {original} = m.original").format(
        table=table_sql(source.table), col=column, value=new_value, mapping=mapping, original=normalised(source)
    )
    return int(conn.execute(query).rowcount)


def _update_constant(conn: Any, source: Source, value: str | None) -> int:
    column = sql.Identifier(source.column.name)
    column_type = sql.SQL(source.column.type_sql)
    table = table_sql(source.table)
    if source.json_key is None:
        if source.kind == "null":
            query = sql.SQL("update only {} t set {} = null where t.{} is not null").format(table, column, column)
        else:
            query = sql.SQL("update only {} t set {} = {}::{} where t.{} is not null").format(
                table, column, sql.Literal(value), column_type, column
            )
        return int(conn.execute(query).rowcount)
    key = sql.Literal(source.json_key)
    if source.kind == "null":  # a json key masked with null is removed
        new_value = sql.SQL("(t.{}::jsonb - {})::{}").format(column, key, column_type)
    else:
        new_value = sql.SQL("jsonb_set(t.{}::jsonb, {}, to_jsonb({}::text))::{}").format(
            column, sql.Literal([source.json_key]), sql.Literal(value), column_type
        )
    query = sql.SQL(
        "update only {} t set {} = {} where jsonb_typeof(t.{}::jsonb) = 'object' and t.{}::jsonb ? {}"
    ).format(table, column, new_value, column, column, key)
    return int(conn.execute(query).rowcount)


def test_password_hash(conn: Any, password: str) -> str:
    """bcrypt of the test password, as GoTrue stores it (pgcrypto, cost 10)."""
    row = conn.execute(
        "select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace"
        " where e.extname = 'pgcrypto'"
    ).fetchone()
    if row is None:
        conn.execute("create schema if not exists ops_anonymize")
        conn.execute("create extension pgcrypto schema ops_anonymize")
        schema = "ops_anonymize"
    else:
        schema = row[0]
    query = sql.SQL("select {}.crypt(%s, {}.gen_salt('bf', 10))").format(sql.Identifier(schema), sql.Identifier(schema))
    return str(conn.execute(query, (password,)).fetchone()[0])
