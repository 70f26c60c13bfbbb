"""Migration files and statement splitting: no database needed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ops.errors import UsageError
from ops.migrations.files import load_migrations, new_migration
from ops.migrations.split import classify, cli_split, normalise, split_sql, stored_statements

REPO = Path(__file__).resolve().parents[1]

TRICKY = """-- leading comment
create table a (id int, note text default 'semi;colon');

/* block; comment */
create function f() returns trigger language plpgsql security definer as $fn$
begin
  insert into a values (1, 'x;y');  -- inside the body
  return new;
end
$fn$;
create function g() returns int language sql
begin atomic
  select 1;
  select 2;
end;
insert into a values (2, $$dollar;quoted$$);
"""


def test_split_keeps_dollar_quotes_begin_atomic_and_lines() -> None:
    statements = split_sql(TRICKY)
    assert [s.line for s in statements] == [2, 5, 11, 16]
    assert statements[0].text == "create table a (id int, note text default 'semi;colon')"
    assert statements[1].text.endswith("return new;\nend\n$fn$")
    assert statements[2].text.startswith("create function g()") and statements[2].text.endswith("select 2;\nend")
    assert statements[3].text == "insert into a values (2, $$dollar;quoted$$)"
    assert TRICKY[statements[1].offset :].startswith("create function f()")


def test_syntax_error_names_file_line_and_column() -> None:
    with pytest.raises(UsageError) as caught:
        split_sql("select 1;\nselect * fro x where;\n", source="20240101000000_bad.sql")
    assert caught.value.message == '20240101000000_bad.sql: line 2, column 10: syntax error at or near "fro"'


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("create index concurrently i on t (x)", "standalone"),
        ("create unique index concurrently if not exists i on public.t (x)", "standalone"),
        ("drop index concurrently if exists i", "standalone"),
        ("reindex index concurrently i", "standalone"),
        ("vacuum analyze t", "standalone"),
        ("alter system set work_mem = '8MB'", "standalone"),
        ("create database other", "standalone"),
        ("analyze t", "transactional"),
        ("create index i on t (x)", "transactional"),
        ("select 'create index concurrently'", "transactional"),
        ("alter type mood add value 'meh'", "transactional"),
        ("begin", "transaction_control"),
        ("commit", "transaction_control"),
    ],
)
def test_classify_statements_that_cannot_run_in_a_transaction(sql: str, kind: str) -> None:
    assert classify(sql) == kind
    assert split_sql(sql + ";")[0].kind == kind


def test_normalise_ignores_comments_whitespace_and_comment_only_tokens() -> None:
    stored_by_supabase_cli = ["-- create it\ncreate table a (id int)", "-- trailing comment only"]
    ours = ["create   table a\n(id int)"]
    assert normalise(stored_by_supabase_cli) == normalise(ours) == ["create table a ( id int )"]
    assert normalise(["select 'a  b'"]) != normalise(["select 'a b'"])


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        # what supabase/cli pkg/parser SplitAndTrim returns for the same text
        (
            TRICKY.split("create function g()")[0],
            [
                "-- leading comment\ncreate table a (id int, note text default 'semi;colon')",
                "/* block; comment */\ncreate function f() returns trigger language plpgsql security definer as $fn$\n"
                "begin\n  insert into a values (1, 'x;y');  -- inside the body\n  return new;\nend\n$fn$",
            ],
        ),
        ("select 1;; ;\nselect 2 -- no semicolon at the end", ["select 1", "select 2 -- no semicolon at the end"]),
        ("-- only a comment\n", ["-- only a comment"]),
        ("", []),
        # measured with supabase 2.117.0: a last-line comment ending in ';' with no final newline loses the ';'
        ("select 1;\n-- c;", ["select 1", "-- c"]),
        ("select 1;\n-- c;\n", ["select 1", "-- c;"]),
        ("select 1 /* a; */ ;\n/* b; */;-- c; d\n;select 2", ["select 1 /* a; */", "/* b; */", "-- c; d", "select 2"]),
        # the CLI's tokenizer ignores backslash escapes in E-strings (its repair stores exactly this)
        (
            "create table e (t text);\ninsert into e values (E'it\\'s; ok');\nselect 2;\n",
            ["create table e (t text)", "insert into e values (E'it\\'s; ok');\nselect 2;"],
        ),
    ],
)
def test_statements_are_stored_in_the_supabase_cli_form(text: str, stored: list[str]) -> None:
    assert stored_statements(text, split_sql(text)) == stored


def test_the_linear_split_agrees_with_the_port_of_the_cli_tokenizer() -> None:
    """The fast path (pglast's statement slices) and the CLI's own state machine
    store the same pieces for every file without a backslash-escaped quote."""
    texts = [TRICKY, *(path.read_text() for path in sorted((REPO / "supabase" / "migrations").glob("*.sql")))]
    texts += [
        "select 1;; ;\nselect 2 -- no semicolon at the end",
        "create table t (a int); -- trailing; comment\n/* nested /* block; */ still; */ select 3;",
        "do $$ begin perform 1; end $$;\nselect $tag$ ; $tag$;",
    ]
    for text in texts:
        assert stored_statements(text, split_sql(text)) == cli_split(text), text[:80]


def test_splitting_a_large_file_keeps_every_statement() -> None:
    text = "".join(f"insert into t values ({n}, 'a; b'); -- row {n}\n" for n in range(30_000))
    statements = split_sql(text)
    stored = stored_statements(text, statements)
    assert len(statements) == 30_000 and statements[-1].line == 30_000
    assert stored[0] == "insert into t values (0, 'a; b')" and stored[1] == "-- row 0\ninsert into t values (1, 'a; b')"
    assert stored[-1] == "-- row 29999"


def test_a_leading_byte_order_mark_is_not_part_of_the_sql(tmp_path: Path) -> None:
    (tmp_path / "20240101000000_bom.sql").write_bytes("\ufeffcreate table bom (id int);\n".encode())
    (migration,) = load_migrations(tmp_path)
    assert migration.statements == ["create table bom (id int)"]
    assert [s.text for s in migration.parsed] == ["create table bom (id int)"]


def test_load_orders_by_file_name_and_skips_other_files(tmp_path: Path) -> None:
    for name in ["20240102000000_b.sql", "20240101000000_a.sql", "README.md", "notes_x.sql", "2_short.sql"]:
        (tmp_path / name).write_text("select 1;")
    files = load_migrations(tmp_path)
    assert [(f.version, f.name) for f in files] == [("20240101000000", "a"), ("20240102000000", "b"), ("2", "short")]
    assert files[0].statements == ["select 1"]


def test_new_writes_a_utc_timestamped_file_after_every_existing_one_and_refuses_bad_names(tmp_path: Path) -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
    path = new_migration(tmp_path, "add_orders", now=now)
    assert path.name == "20260102030405_add_orders.sql" and path.read_text() == ""
    # Within the same second: the next second, not a clash.
    assert new_migration(tmp_path, "other", now=now).name == "20260102030406_other.sql"
    # A file from a clock ahead of ours: the new one still sorts last.
    (tmp_path / "20260102040000_ahead.sql").write_text("")
    (tmp_path / "2_short.sql").write_text("")
    assert new_migration(tmp_path, "after", now=now).name == "20260102040001_after.sql"
    later = datetime(2026, 1, 3, tzinfo=UTC)
    assert new_migration(tmp_path, "tomorrow", now=later).name == "20260103000000_tomorrow.sql"
    versions = [m.version for m in load_migrations(tmp_path)]
    assert len(versions) == len(set(versions)) == 6
    with pytest.raises(UsageError) as bad:
        new_migration(tmp_path, "Add-Orders", now=now)
    assert bad.value.one_line() == (
        "error: invalid migration name 'Add-Orders'"
        " (fix: use lower-case letters, digits and underscores, e.g. add_orders)"
    )


def test_a_name_too_long_for_a_file_name_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as long_name:
        new_migration(tmp_path, "a" * 300)
    assert long_name.value.one_line() == (
        "error: migration name is 300 characters long (fix: use at most 200, e.g. add_orders)"
    )
    assert list(tmp_path.iterdir()) == []
