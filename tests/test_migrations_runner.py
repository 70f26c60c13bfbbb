"""The runner against real Postgres: compatibility, failures, drift, locks, retries."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from ops.console import Output
from ops.errors import CheckFailed, ExternalError, UsageError
from ops.migrations import migrate, seed
from ops.migrations.execute import StatementFailed
from ops.migrations.repair import repair
from ops.migrations.settings import RunnerSettings
from ops.migrations.status import target_status

# The Supabase CLI's own DDL (supabase/cli pkg/migration/history.go), run verbatim.
SUPABASE_CLI_DDL = [
    "CREATE SCHEMA IF NOT EXISTS supabase_migrations",
    "CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (version text NOT NULL PRIMARY KEY)",
    "ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS statements text[]",
    "ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text",
    "CREATE TABLE IF NOT EXISTS supabase_migrations.seed_files (path text NOT NULL PRIMARY KEY, hash text NOT NULL)",
]
DESCRIBE = """
select c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       coalesce((select string_agg(pg_get_constraintdef(k.oid), ',') from pg_constraint k
                 where k.conrelid = c.oid and a.attnum = any(k.conkey)), '')
from pg_class c join pg_namespace n on n.oid = c.relnamespace
join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
where n.nspname = 'supabase_migrations' and c.relname in ('schema_migrations', 'seed_files')
order by 1, 2
"""


def applied_versions(database: Any) -> list[tuple[str, str]]:
    with database.connect() as conn:
        return conn.execute("select version, name from supabase_migrations.schema_migrations order by 1").fetchall()


def table_exists(database: Any, name: str) -> bool:
    with database.connect() as conn:
        return conn.execute("select to_regclass(%s) is not null", (name,)).fetchone()[0]


def test_history_and_seed_tables_match_the_supabase_cli_ddl(
    migration_project: Any, database: Any, pg_cluster: Any
) -> None:
    migration_project.write("20240101000000_a.sql", "create table a (id int);")
    (migration_project.root / "supabase" / "seed.sql").write_text("insert into a values (1);")
    cfg = migration_project.config()
    migrate(cfg, database.url)
    seed(cfg, database.url)
    reference = f"{database.name}_cli"
    pg_cluster.create_database(reference)
    try:
        with pg_cluster.connection(reference) as conn:
            for statement in SUPABASE_CLI_DDL:
                conn.execute(statement)
            expected = conn.execute(DESCRIBE).fetchall()
        with database.connect() as conn:
            ours = conn.execute(DESCRIBE).fetchall()
    finally:
        pg_cluster.drop_database(reference)
    assert ours == expected
    assert ("schema_migrations", 2, "statements", "text[]", False, "") in ours


def test_a_history_row_written_by_the_supabase_cli_is_honoured(migration_project: Any, database: Any) -> None:
    migration_project.write("20240101000000_init.sql", "-- the CLI keeps leading comments\ncreate table a (id int);\n")
    migration_project.write("20240102000000_legacy.sql", "create table b (id int);")
    migration_project.write("20240103000000_next.sql", "create table c (id int);")
    with database.connect() as conn:
        for statement in SUPABASE_CLI_DDL:
            conn.execute(statement)
        conn.execute("create table a (id int); create table b (id int)")
        # exactly what `supabase db push` inserts (statements split and trimmed, comments kept)
        conn.execute(
            "INSERT INTO supabase_migrations.schema_migrations(version, name, statements) VALUES(%s, %s, %s)",
            ("20240101000000", "init", ["-- the CLI keeps leading comments\ncreate table a (id int)"]),
        )
        # older CLI versions stored the version only
        conn.execute("insert into supabase_migrations.schema_migrations(version) values ('20240102000000')")
    report = migrate(migration_project.config(), database.url)
    assert [item.version for item in report.applied] == ["20240103000000"]
    status = target_status(migration_project.config(), database.url)
    assert [(v.version, v.state) for v in status.versions] == [
        ("20240101000000", "applied"),
        ("20240102000000", "applied"),
        ("20240103000000", "applied"),
    ]


def test_statements_are_stored_split_as_the_supabase_cli_does(migration_project: Any, database: Any) -> None:
    # pkg/parser SplitAndTrim: cut at each top-level `;`, trim `;` and whitespace, drop empty
    # pieces; comments before a statement stay with it, a trailing comment is a piece of its own.
    migration_project.write(
        "20240101000000_fn.sql",
        "-- tables\ncreate table a (id int); -- a; trailing note\n\ncreate function f() returns int"
        " language plpgsql as $$\nbegin\n  return 1;\nend $$;;\n"
        "create function g() returns int language sql begin atomic select 1; end;\n"
        "/* quotes */ select 'it''s', E'back\\\\slash', 'é', $q$%s$q$;\n-- the end\n",
    )
    migrate(migration_project.config(), database.url)
    with database.connect() as conn:
        row = conn.execute("select name, statements from supabase_migrations.schema_migrations").fetchone()
    assert row == (
        "fn",
        [
            "-- tables\ncreate table a (id int)",
            "-- a; trailing note\n\ncreate function f() returns int language plpgsql as $$\nbegin\n  return 1;\nend $$",
            "create function g() returns int language sql begin atomic select 1; end",
            "/* quotes */ select 'it''s', E'back\\\\slash', 'é', $q$%s$q$",
            "-- the end",
        ],
    )


def test_a_failing_file_rolls_back_alone_and_points_at_the_line(
    migration_project: Any, database: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    migration_project.write("20240101000000_one.sql", "create table one (id int);")
    migration_project.write("20240102000000_two.sql", "create table two (id int);")
    migration_project.write(
        "20240103000000_three.sql",
        "create table three (id int);\n\ninsert into three\n  select id from missing_table;\n",
    )
    migration_project.write("20240104000000_four.sql", "create table four (id int);")
    with pytest.raises(StatementFailed) as caught:
        migrate(migration_project.config(), database.url, out=Output())
    assert caught.value.exit_code == 3
    assert caught.value.message == (
        "20240103000000_three.sql: statement 2 (line 4, column 18) failed:"
        ' 42P01 relation "missing_table" does not exist'
    )
    assert capsys.readouterr().out.splitlines() == [
        "20240103000000_three.sql, statement 2, line 4:",
        "4 |   select id from missing_table;",
        " " * len("4 |   select id from ") + "^",
    ]
    assert applied_versions(database) == [("20240101000000", "one"), ("20240102000000", "two")]
    assert table_exists(database, "two") and not table_exists(database, "three") and not table_exists(database, "four")


def test_an_edited_applied_file_is_refused_until_repair(migration_project: Any, database: Any) -> None:
    path = migration_project.write("20240101000000_a.sql", "create table a (id int);")
    cfg = migration_project.config()
    migrate(cfg, database.url)
    path.write_text("-- a comment and new spacing are not drift\ncreate   table a (id int);\n")
    assert migrate(cfg, database.url).applied == []
    path.write_text("create table a (id bigint);")
    migration_project.write("20240102000000_b.sql", "create table b (id int);")
    with pytest.raises(CheckFailed) as caught:
        migrate(cfg, database.url)
    assert caught.value.one_line() == (
        "error: migration 20240101000000 was edited after it was applied (its statements differ from the history)"
        " (fix: revert the edit, or record the new text: inv db.repair 20240101000000 --status applied)"
    )
    assert not table_exists(database, "b")
    assert [v.state for v in target_status(cfg, database.url).versions] == ["drift", "pending"]
    repair(cfg, database.url, ["20240101000000"], "applied")
    assert [item.version for item in migrate(cfg, database.url).applied] == ["20240102000000"]
    with database.connect() as conn:
        stored = conn.execute(
            "select statements from supabase_migrations.schema_migrations order by version"
        ).fetchone()
    assert stored == (["create table a (id bigint)"],)


def test_repair_reverted_forgets_versions_and_applied_needs_a_local_file(migration_project: Any, database: Any) -> None:
    migration_project.write("20240101000000_a.sql", "create table a (id int);")
    cfg = migration_project.config()
    migrate(cfg, database.url)
    repair(cfg, database.url, ["20240101000000"], "reverted")
    assert applied_versions(database) == []
    with pytest.raises(UsageError) as caught:
        repair(cfg, database.url, ["20990101000000"], "applied")
    assert caught.value.message == "no local migration file for version 20990101000000"


def test_versions_without_a_local_file_and_older_files_are_refused(migration_project: Any, database: Any) -> None:
    cfg = migration_project.config()
    migration_project.write("20240102000000_b.sql", "create table b (id int);")
    migrate(cfg, database.url)
    older = migration_project.write("20240101000000_a.sql", "create table a (id int);")
    with pytest.raises(UsageError) as caught:
        migrate(cfg, database.url)
    assert caught.value.one_line() == (
        "error: local migrations are older than the newest applied version: 20240101000000_a.sql"
        " (fix: rename them to a newer version, or pass --include-all to apply them anyway)"
    )
    assert [item.version for item in migrate(cfg, database.url, include_all=True).applied] == ["20240101000000"]
    older.unlink()
    with pytest.raises(CheckFailed) as missing:
        migrate(cfg, database.url)
    assert missing.value.one_line() == (
        "error: versions applied on the target have no local migration file: 20240101000000"
        " (fix: restore the files, or mark them reverted: inv db.repair 20240101000000 --status reverted)"
    )


def test_dry_run_lists_pending_files_and_changes_nothing(migration_project: Any, database: Any) -> None:
    migration_project.write("20240101000000_a.sql", "create table a (id int);\ninsert into a values (1);")
    report = migrate(migration_project.config(), database.url, dry_run=True)
    assert report.to_dict()["pending"] == [
        {"version": "20240101000000", "name": "a", "statements": 2, "file": "20240101000000_a.sql"}
    ]
    assert not table_exists(database, "supabase_migrations.schema_migrations")


def test_create_index_concurrently_and_explicit_begin_commit_apply(migration_project: Any, database: Any) -> None:
    migration_project.write(
        "20240101000000_items.sql",
        "begin;\ncreate table items (id int, sku text);\n"
        "insert into items select g, 's' || g from generate_series(1, 500) g;\ncommit;\n",
    )
    migration_project.write(
        "20240102000000_idx.sql",
        "create index concurrently items_sku on items (sku);\n"
        "create unique index concurrently if not exists items_id on public.items (id);\n"
        "comment on table items is 'indexed';\n",
    )
    migrate(migration_project.config(), database.url)
    with database.connect() as conn:
        indexes = conn.execute(
            "select c.relname, i.indisvalid from pg_index i join pg_class c on c.oid = i.indexrelid"
            " where i.indrelid = 'items'::regclass order by 1"
        ).fetchall()
        statements = conn.execute(
            "select statements from supabase_migrations.schema_migrations where version = '20240101000000'"
        ).fetchone()[0]
    assert indexes == [("items_id", True), ("items_sku", True)]
    assert statements[0] == "begin" and statements[-1] == "commit"


def test_a_failed_concurrent_index_is_cleaned_up_before_the_retry(migration_project: Any, database: Any) -> None:
    migration_project.write("20240101000000_t.sql", "create table t (id int);\ninsert into t values (1), (1);")
    path = migration_project.write("20240102000000_idx.sql", "create unique index concurrently t_id on t (id);")
    cfg = migration_project.config()
    with pytest.raises(StatementFailed) as caught:
        migrate(cfg, database.url)
    assert caught.value.sqlstate == "23505"
    with database.connect() as conn:
        assert conn.execute("select indisvalid from pg_index where indexrelid = 't_id'::regclass").fetchone() == (
            False,
        )
        conn.execute("delete from t where ctid = (select max(ctid) from t)")
    path.write_text(path.read_text())
    migrate(cfg, database.url)
    with database.connect() as conn:
        assert conn.execute("select indisvalid from pg_index where indexrelid = 't_id'::regclass").fetchone() == (True,)


def migrate_while_blocked(
    migration_project: Any, database: Any, pending: str, blocking_sql: str, others: dict[str, str] | None = None
) -> Any:
    """Table ``t`` applied, then ``pending`` (and ``others``) migrated while another session runs
    ``blocking_sql`` in a transaction it rolls back after 0.6s (lock_timeout 200ms)."""
    migration_project.write("20240101000000_t.sql", "create table t (id int);")
    cfg = migration_project.config()
    migrate(cfg, database.url)
    migration_project.write("20240102000000_next.sql", pending)
    for name, sql in (others or {}).items():
        migration_project.write(name, sql)
    blocker = database.connect()
    blocker.autocommit = False
    blocker.execute(blocking_sql)
    release = threading.Timer(0.6, blocker.rollback)
    release.start()
    try:
        settings = RunnerSettings(lock_timeout="200ms", lock_retries=4, retry_backoff_seconds=0.2)
        return migrate(cfg, database.url, out=Output(), settings=settings)
    finally:
        release.join()
        blocker.close()


RETRIED = "warning: 20240102000000_next.sql: lock_timeout hit (55P03); retrying in 0.2s"


def test_lock_timeout_is_retried_with_backoff(
    migration_project: Any, database: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    report = migrate_while_blocked(
        migration_project, database, "alter table t add column note text;", "lock table t in access exclusive mode"
    )
    assert [item.version for item in report.applied] == ["20240102000000"]
    assert RETRIED in capsys.readouterr().out


def test_a_lock_timeout_inside_a_batch_retries_that_file_alone_then_batches_the_rest(
    migration_project: Any, database: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Files without a CONCURRENTLY statement go to the server several per round trip:
    # the blocked one stops its batch; the file before it stays committed.
    report = migrate_while_blocked(
        migration_project,
        database,
        "alter table t add column note text;",
        "lock table t in access exclusive mode",
        others={
            "20240101500000_before.sql": "create table before (id int);",
            "20240103000000_after.sql": "create table after (id int);",
            "20240104000000_last.sql": "create table last (id int);",
        },
    )
    assert [item.name for item in report.applied] == ["before", "next", "after", "last"]
    assert RETRIED in capsys.readouterr().out
    assert [name for _, name in applied_versions(database)] == ["t", "before", "next", "after", "last"]
    assert all(table_exists(database, name) for name in ("before", "after", "last"))


def test_lock_timeout_on_a_concurrent_index_is_retried_after_dropping_the_invalid_index(
    migration_project: Any, database: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # An open writer: CONCURRENTLY creates the (invalid) index, then times out waiting for the writer.
    report = migrate_while_blocked(
        migration_project,
        database,
        "create index concurrently t_id on t (id);\ncomment on index t_id is 'ok';",
        "insert into t values (1)",
    )
    assert [item.version for item in report.applied] == ["20240102000000"]
    assert RETRIED in capsys.readouterr().out
    with database.connect() as conn:
        indexes = conn.execute(
            "select c.relname, i.indisvalid, obj_description(c.oid, 'pg_class') from pg_index i"
            " join pg_class c on c.oid = i.indexrelid where i.indrelid = 't'::regclass"
        ).fetchall()
    assert indexes == [("t_id", True, "ok")]


def test_lock_timeout_gives_up_after_the_retries(migration_project: Any, database: Any) -> None:
    migration_project.write("20240101000000_t.sql", "create table t (id int);")
    cfg = migration_project.config()
    migrate(cfg, database.url)
    migration_project.write("20240102000000_alter.sql", "alter table t add column note text;")
    settings = RunnerSettings(lock_timeout="100ms", lock_retries=1, retry_backoff_seconds=0.1)
    with database.connect() as blocker:
        blocker.autocommit = False
        blocker.execute("lock table t in access exclusive mode")
        with pytest.raises(ExternalError) as caught:
            migrate(cfg, database.url, settings=settings)
        blocker.rollback()
    assert caught.value.message == (
        "20240102000000_alter.sql: gave up after 2 attempts: lock_timeout (100ms) waiting for a table lock"
        " (SQLSTATE 55P03)"
    )
    assert [v.state for v in target_status(cfg, database.url).versions] == ["applied", "pending"]


def test_waiting_for_the_lock_times_out_with_a_clear_error(migration_project: Any, database: Any) -> None:
    from ops.migrations.lock import LOCK_KEY

    migration_project.write("20240101000000_t.sql", "create table t (id int);")
    with database.connect() as holder:
        holder.execute("select pg_advisory_lock(%s)", (LOCK_KEY,))
        started = time.monotonic()
        with pytest.raises(ExternalError) as caught:
            migrate(migration_project.config(), database.url, settings=RunnerSettings(lock_wait_seconds=0.3))
        assert time.monotonic() - started < 30
    assert caught.value.message == "another migration runner held the migration lock for more than 0.3s"


def test_reset_recreates_bootstraps_migrates_and_seeds_a_cluster_database(
    migration_project: Any, pg_cluster: Any
) -> None:
    from ops.migrations.reset import reset_cluster_database

    migration_project.write("20240101000000_t.sql", "create table things (name text);")
    (migration_project.root / "supabase" / "seed.sql").write_text("insert into things values ('seeded');")
    cfg = migration_project.config()
    name = "ops_reset_test"
    pg_cluster.create_database(name)
    try:
        with pg_cluster.connection(name) as conn:
            conn.execute("create table leftover (id int)")
        report = reset_cluster_database(cfg, pg_cluster, name)
        assert [a.version for a in report.migrate.applied] == ["20240101000000"]
        with pg_cluster.connection(name) as conn:
            assert conn.execute(
                "select to_regclass('leftover') is null, to_regclass('auth.users') is not null"
            ).fetchone() == (True, True)
            assert conn.execute("select name from things").fetchall() == [("seeded",)]
            assert "extensions" in conn.execute("show search_path").fetchone()[0]
    finally:
        pg_cluster.drop_database(name)


def test_reset_needs_the_local_stack(migration_project: Any) -> None:
    from ops.migrations import commands

    with pytest.raises(ExternalError) as caught:
        commands.reset(migration_project.config(), "local")
    assert caught.value.hint == "run: inv dev.up"


def test_empty_and_comment_only_files_are_recorded(migration_project: Any, database: Any) -> None:
    migration_project.write("20240101000000_empty.sql", "")
    migration_project.write("20240102000000_note.sql", "-- nothing to do yet\n")
    report = migrate(migration_project.config(), database.url)
    assert [(item.version, item.statements) for item in report.applied] == [
        ("20240101000000", 0),
        ("20240102000000", 0),
    ]
    assert applied_versions(database) == [("20240101000000", "empty"), ("20240102000000", "note")]


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        (
            "create table x (id int);\nrollback;\ncreate table y (id int);",
            "statement 2 (line 2): rollback would roll back",
        ),
        ("create table x (id int);\nabort;", "statement 2 (line 2): abort would roll back"),
        ("begin;\ncreate table x (id int);\ncommit;\ncreate table y (id int);", "statement 3 (line 3): commit would"),
        ("create table x (id int);\nprepare transaction 'p';", "statement 2 (line 2): prepare transaction 'p' would"),
        ("savepoint a;\ncreate table x (id int);\nrelease b;", "statement 3 (line 3): release b names savepoint b"),
        (
            "savepoint a;\ncreate index concurrently x_i on seen (id);\nrollback to savepoint a;",
            "statement 3 (line 3): rollback to savepoint a names savepoint a",
        ),
    ],
)
def test_statements_that_end_or_break_the_files_transaction_are_refused_before_anything_runs(
    migration_project: Any, database: Any, sql: str, named: str
) -> None:
    migration_project.write("20240101000000_first.sql", "create table seen (id int);")
    migration_project.write("20240102000000_bad.sql", sql)
    with pytest.raises(UsageError) as caught:
        migrate(migration_project.config(), database.url)
    assert caught.value.exit_code == 2
    assert caught.value.message.startswith(f"20240102000000_bad.sql: {named}")
    assert "\n" not in caught.value.message
    # Refused before any file ran: not even the good first file.
    assert not table_exists(database, "seen") and not table_exists(database, "x")
    assert applied_versions(database) == []


def test_savepoints_and_a_leading_begin_trailing_commit_still_apply(migration_project: Any, database: Any) -> None:
    migration_project.write(
        "20240101000000_ok.sql",
        "begin;\ncreate table a (id int);\nsavepoint s;\ninsert into a values (1);\nrollback to savepoint s;\n"
        "insert into a values (2);\nrelease savepoint s;\ncommit;\n",
    )
    migration_project.write(
        "20240102000000_ok.sql",
        "create table b (id int);\ncommit;\ncreate index concurrently b_id on b (id);\nbegin;\n"
        "insert into b values (1);\nend;\n",
    )
    migrate(migration_project.config(), database.url)
    with database.connect() as conn:
        assert conn.execute("select array_agg(id) from a").fetchone() == ([2],)
        assert conn.execute("select count(*) from b").fetchone() == (1,)
    assert [v for v, _ in applied_versions(database)] == ["20240101000000", "20240102000000"]


def test_a_seed_file_that_rolls_back_is_refused_before_any_seed_runs(migration_project: Any, database: Any) -> None:
    supabase = migration_project.root / "supabase"
    migration_project.write("20240101000000_t.sql", "create table things (name text);")
    (supabase / "config.toml").write_text('[db.seed]\nsql_paths = ["./a.sql", "./b.sql"]\n')
    (supabase / "a.sql").write_text("insert into things values ('a');")
    (supabase / "b.sql").write_text("insert into things values ('b');\nrollback;")
    cfg = migration_project.config()
    migrate(cfg, database.url)
    with pytest.raises(UsageError) as caught:
        seed(cfg, database.url)
    assert caught.value.message.startswith("supabase/b.sql: statement 2 (line 2): rollback would roll back")
    with database.connect() as conn:
        assert conn.execute("select count(*) from things").fetchone() == (0,)


def test_a_byte_order_mark_and_a_trailing_comment_are_stored_as_the_supabase_cli_stores_them(
    migration_project: Any, database: Any
) -> None:
    migration_project.write("20240101000000_a.sql", "select 1;\n-- c;")
    (migration_project.migrations / "20240102000000_bom.sql").write_bytes("\ufeffcreate table bom (id int);\n".encode())
    migration_project.write(
        "20240103000000_e.sql", "create table e (t text);\ninsert into e values (E'it\\'s; ok');\nselect 2;\n"
    )
    cfg = migration_project.config()
    migrate(cfg, database.url)
    with database.connect() as conn:
        rows = conn.execute(
            "select version, statements from supabase_migrations.schema_migrations order by 1"
        ).fetchall()
        assert conn.execute("select t from e").fetchone() == ("it's; ok",)  # applied as PostgreSQL reads it
    # What supabase 2.117.0 stores (db push for the first two, migration repair for the E-string file).
    assert rows == [
        ("20240101000000", ["select 1", "-- c"]),
        ("20240102000000", ["create table bom (id int)"]),
        ("20240103000000", ["create table e (t text)", "insert into e values (E'it\\'s; ok');\nselect 2;"]),
    ]
    assert all(v.state == "applied" for v in target_status(cfg, database.url, "staging").versions)


def test_an_existing_valid_index_is_adopted_only_when_it_is_the_statements_index(
    migration_project: Any, database: Any
) -> None:
    with database.connect() as conn:
        conn.execute("create table t (id int, name text)")
        conn.execute("create unique index t_id on public.t using btree (id) where id > 0")
        conn.execute("create index t_name on t (name)")
    migration_project.write(
        "20240101000000_same.sql", "create unique index concurrently t_id on t (id) where (id > 0);"
    )
    migrate(migration_project.config(), database.url)  # the same index: adopted, not built again
    assert [v for v, _ in applied_versions(database)] == ["20240101000000"]
    migration_project.write("20240102000000_other.sql", "create unique index concurrently t_name on t (name);")
    with pytest.raises(StatementFailed) as caught:  # another index under that name: not taken for this one
        migrate(migration_project.config(), database.url)
    assert caught.value.sqlstate == "42P07"
    with database.connect() as conn:
        assert conn.execute("select indisunique from pg_index where indexrelid = 't_name'::regclass").fetchone() == (
            False,
        )


def test_files_sent_in_one_round_trip_keep_their_own_time_and_history_time(
    migration_project: Any, database: Any
) -> None:
    migration_project.write("20240101000000_quick.sql", "create table quick (id int);")
    migration_project.write("20240102000000_slow.sql", "select pg_sleep(0.4);\ncreate table slow (id int);")
    migration_project.write("20240103000000_after.sql", "create table after (id int);")
    started = time.monotonic()
    report = migrate(migration_project.config(), database.url)
    elapsed = time.monotonic() - started
    seconds = {item.name: item.seconds for item in report.applied}
    # Each file gets its own share of the batch, not the batch's: pg_sleep bounds the slow one from
    # below, and the shares add up to no more than the whole run (three whole-batch times would).
    assert seconds["slow"] >= 0.4, seconds
    assert sum(seconds.values()) <= elapsed, (seconds, elapsed)
    with database.connect() as conn:
        times = [
            row[0]
            for row in conn.execute(
                "select extract(epoch from applied_at)::float8 from supabase_migrations.ops_applied order by version"
            ).fetchall()
        ]
    # each file's applied_at is when its own history row was written, not when the batch arrived
    assert times[1] - times[0] >= 0.4 and times[2] > times[1]


def test_history_rows_are_exact_after_a_migration_turns_standard_conforming_strings_off(
    migration_project: Any, database: Any
) -> None:
    # The history row of a later file in the same round trip is read under the setting the earlier file left.
    migration_project.write("20240101000000_legacy.sql", "set standard_conforming_strings = off;")
    migration_project.write("20240102000000_escapes.sql", "select E'a\\nb' as x, 'it''s' as y;\n-- done\n")
    migrate(migration_project.config(), database.url)
    with database.connect() as conn:
        rows = conn.execute(
            "select name, statements from supabase_migrations.schema_migrations order by version"
        ).fetchall()
    assert rows == [
        ("legacy", ["set standard_conforming_strings = off"]),
        ("escapes", ["select E'a\\nb' as x, 'it''s' as y", "-- done"]),
    ]


def test_strings_are_read_under_the_setting_the_statements_before_left_as_psql_reads_them(
    migration_project: Any, database: Any
) -> None:
    # The server parses a whole multi-statement query before running it: a file that turns
    # standard_conforming_strings off must not share one with the statements it affects.
    migration_project.write(
        "20240101000000_legacy.sql",
        "create table within (v text);\nset standard_conforming_strings = off;\ninsert into within values ('a\\\\b');",
    )
    migration_project.write(
        "20240102000000_next.sql", "create table later (v text);\ninsert into later values ('c\\\\d');"
    )
    migration_project.write(
        "20240103000000_back.sql", "set standard_conforming_strings = on;\ninsert into later values ('e\\\\f');"
    )
    migrate(migration_project.config(), database.url)
    with database.connect() as conn:
        values = conn.execute("select v from within union all select v from later order by 1").fetchall()
    # Off: a doubled backslash is one backslash; on again: both are kept.
    assert [v for (v,) in values] == ["a\\b", "c\\d", "e\\\\f"]


def test_a_connection_lost_inside_a_batch_is_one_line_and_keeps_the_files_before(
    migration_project: Any, database: Any
) -> None:
    migration_project.write("20240101000000_one.sql", "create table one (id int);")
    migration_project.write("20240102000000_gone.sql", "select pg_terminate_backend(pg_backend_pid());")
    migration_project.write("20240103000000_three.sql", "create table three (id int);")
    with pytest.raises(ExternalError) as caught:
        migrate(migration_project.config(), database.url)
    assert caught.value.exit_code == 3
    assert caught.value.message.startswith(
        "the connection broke while applying 20240101000000_one.sql .. 20240103000000_three.sql:"
    )
    assert [name for _, name in applied_versions(database)] == ["one"]
    assert not table_exists(database, "three")


def test_the_runner_defaults_without_pydantic_are_the_settings_models_defaults(migration_project: Any) -> None:
    from dataclasses import asdict

    from ops.migrations.knobs import DEFAULTS, runner_settings

    assert asdict(DEFAULTS) == RunnerSettings().model_dump()
    # The defaults are already in the form the model gives what it validates.
    assert RunnerSettings.model_validate(asdict(DEFAULTS)).model_dump() == asdict(DEFAULTS)
    assert runner_settings(migration_project.config()) is DEFAULTS
