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


def prepare_session(conn: Any) -> None:
    """The masking session's settings on the scratch database (ours alone):
    no triggers, no timeout, and memory enough that the joins against the
    mapping tables and the DISTINCTs hash in memory instead of spilling."""
    conn.execute("set session_replication_role = replica")
    conn.execute("set statement_timeout = 0")
    conn.execute("set work_mem = '256MB'")
    conn.execute("set maintenance_work_mem = '256MB'")


def empty_tables(conn: Any, plan: MaskPlan) -> None:
    for table in plan.empty_tables:
        conn.execute(sql.SQL("delete from only {}").format(table_sql(table)))


def mask(conn: Any, plan: MaskPlan, key: bytes, password_hash: str | None, progress: Progress) -> dict[str, int]:
    """Apply every source of ``plan``; returns rows updated per masked column
    (``schema.table.column``). A json column is rewritten once, all its keys
    in one UPDATE, however many keys its rule names."""
    mappings: dict[str, sql.Identifier] = {}
    for kind in MAPPED:
        sources = plan.by_kind(kind)
        if sources:
            progress(f"mapping {kind} values")
            looked_up = any(source.json_key is not None for source in sources)
            mappings[kind] = _load_mapping(conn, kind, sources, key, index=looked_up)
    updated: dict[str, int] = {}
    json_columns: dict[tuple[tuple[str, str], str], list[Source]] = {}
    for source in plan.sources:
        if source.kind == "keep":
            continue
        if source.json_key is not None:
            json_columns.setdefault((source.table.key, source.column.name), []).append(source)
            continue
        progress(f"masking {source.label} ({source.kind})")
        if source.kind in MAPPED:
            updated[source.label] = _update_mapped(conn, source, mappings[source.kind])
        else:
            value = password_hash if source.kind == "password" else source.value
            updated[source.label] = _update_constant(conn, source, value)
    for sources in json_columns.values():
        label = f"{sources[0].table.qualified}.{sources[0].column.name}"
        progress(f"masking {label} (json keys {', '.join(str(s.json_key) for s in sources)})")
        updated[label] = _update_json(conn, sources, mappings, password_hash)
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


def _load_mapping(conn: Any, kind: str, sources: list[Source], key: bytes, *, index: bool) -> sql.Identifier:
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
    if index:  # json keys look their fakes up one row at a time
        conn.execute(sql.SQL("create index on {} (original)").format(name))
    conn.execute(sql.SQL("analyze {}").format(name))
    return name


def _update_mapped(conn: Any, source: Source, mapping: sql.Identifier) -> int:
    column = sql.Identifier(source.column.name)
    template = "update only {table} t set {col} = m.fake::{type} from {mapping} m where {original} = m.original"
    query = sql.SQL(template).format(
        table=table_sql(source.table),
        col=column,
        type=sql.SQL(source.column.type_sql),
        mapping=mapping,
        original=normalised(source),
    )
    return int(conn.execute(query).rowcount)


def _update_constant(conn: Any, source: Source, value: str | None) -> int:
    column = sql.Identifier(source.column.name)
    table = table_sql(source.table)
    if source.kind == "null":
        query = sql.SQL("update only {} t set {} = null where t.{} is not null").format(table, column, column)
    else:
        query = sql.SQL("update only {} t set {} = {}::{} where t.{} is not null").format(
            table, column, sql.Literal(value), sql.SQL(source.column.type_sql), column
        )
    return int(conn.execute(query).rowcount)


def _update_json(
    conn: Any, sources: list[Source], mappings: dict[str, sql.Identifier], password_hash: str | None
) -> int:
    """One UPDATE for every key of one json column: each mapped key is looked
    up in its mapping, fixed keys set, null keys removed."""
    column = sql.Identifier(sources[0].column.name)
    document = sql.SQL("t.{}::jsonb").format(column)
    value: sql.Composable = document
    for source in sources:
        key = sql.Literal(source.json_key)
        if source.kind == "null":
            value = sql.SQL("({} - {})").format(value, key)
            continue
        if source.kind in MAPPED:
            replacement: sql.Composable = sql.SQL(
                "(select jsonb_build_object({key}, m.fake) from {mapping} m where m.original = {original})"
            ).format(key=key, mapping=mappings[source.kind], original=normalised(source))
        else:
            constant = password_hash if source.kind == "password" else source.value
            replacement = sql.SQL(
                "case when {doc} ? {key} then jsonb_build_object({key}, {constant}::text) end"
            ).format(doc=document, key=key, constant=sql.Literal(constant))
        value = sql.SQL("({} || coalesce({}, '{{}}'::jsonb))").format(value, replacement)
    keys = sql.Literal([source.json_key for source in sources])
    query = sql.SQL(
        "update only {table} t set {col} = {value}::{type} where jsonb_typeof({doc}) = 'object' and {doc} ?| {keys}"
    ).format(
        table=table_sql(sources[0].table),
        col=column,
        value=value,
        type=sql.SQL(sources[0].column.type_sql),
        doc=document,
        keys=keys,
    )
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
