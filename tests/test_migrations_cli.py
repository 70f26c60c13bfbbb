"""The db.* command line against real Postgres: guards, concurrency, kill -9, status, seed."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from ops.migrations.lock import LOCK_KEY


def staging(database: Any) -> dict[str, str]:
    return {"SUPABASE_STAGING_DB_URL": database.url}


def query(database: Any, sql: str) -> list[tuple[Any, ...]]:
    with database.connect() as conn:
        return conn.execute(sql).fetchall()


def spawn_runner(project: Any, database: Any, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OPS_PROJECT_ROOT": str(project.root), **staging(database)}
    return subprocess.Popen(
        [sys.executable, "-m", "ops", "db.migrate", "--env", "staging", *args],
        cwd=project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def wait_for(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def lock_holder_pid(database: Any) -> int | None:
    rows = query(
        database,
        f"select pid from pg_locks where locktype = 'advisory' and granted"
        f" and ((classid::bigint << 32) | objid::bigint) = {LOCK_KEY}",
    )
    return rows[0][0] if rows else None


def test_migrate_applies_pending_files_and_reports_json(migration_project: Any, database: Any) -> None:
    migration_project.write("20240101000000_a.sql", "create table a (id int);\ninsert into a values (1);")
    result = migration_project.cli("db.migrate", "--env", "staging", "--json", env=staging(database))
    assert result.code == 0, result.output
    document = json.loads(result.stdout)
    assert [(item["version"], item["statements"]) for item in document["applied"]] == [("20240101000000", 2)]
    assert "applied 1 migration(s) on postgresql://postgres:***@" in result.stderr
    again = migration_project.cli("db.migrate", "--env", "staging", env=staging(database))
    assert again.code == 0 and again.stdout.startswith("up to date: nothing to apply on postgresql://postgres:***@")


def test_dry_run_lists_statement_counts(migration_project: Any, database: Any) -> None:
    migration_project.write("20240101000000_a.sql", "create table a (id int);\ninsert into a values (1);")
    result = migration_project.cli("db.migrate", "--env", "staging", "--dry-run", env=staging(database))
    assert result.code == 0, result.output
    assert result.stdout.splitlines()[1:] == ["  20240101000000_a.sql (2 statements)"]
    assert query(database, "select to_regclass('a') is null") == [(True,)]


def test_a_failing_file_exits_3_with_file_line_and_caret(migration_project: Any, database: Any) -> None:
    migration_project.write("20240101000000_ok.sql", "create table ok (id int);")
    migration_project.write("20240102000000_bad.sql", "create table bad (id int);\nselect nope\n  from ok;\n")
    result = migration_project.cli("db.migrate", "--env", "staging", env=staging(database))
    assert result.code == 3
    assert result.stdout.splitlines() == [
        "20240102000000_bad.sql, statement 2, line 2:",
        "2 | select nope",
        "           ^",
    ]
    assert result.stderr.strip() == (
        'error: 20240102000000_bad.sql: statement 2 (line 2, column 8) failed: 42703 column "nope" does not exist'
        " (fix: fix the statement and run it again; this file was rolled back, earlier files stay applied)"
    )
    assert query(database, "select version from supabase_migrations.schema_migrations") == [("20240101000000",)]
    assert query(database, "select to_regclass('bad') is null") == [(True,)]


def test_a_failing_run_with_json_prints_one_document_with_the_error(migration_project: Any, database: Any) -> None:
    migration_project.write("20240101000000_ok.sql", "create table ok (id int);")
    migration_project.write("20240102000000_bad.sql", "create table bad (id int);\nselect nope\n  from ok;\n")
    result = migration_project.cli("db.migrate", "--env", "staging", "--json", env=staging(database))
    assert result.code == 3
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert document["error"]["message"] == (
        '20240102000000_bad.sql: statement 2 (line 2, column 8) failed: 42703 column "nope" does not exist'
    )
    error = document["error"]
    assert (error["sqlstate"], error["line"], error["exit_code"]) == ("42703", 2, 3)
    assert [item["version"] for item in document["applied"]] == ["20240101000000"]
    assert "postgresql://postgres:***@" in document["target"]
    assert "2 | select nope" in result.stderr  # the excerpt is human text: stderr in --json mode
    # a refusal before any database work is a JSON document too
    guarded = migration_project.cli(
        "db.migrate", "--env", "production", "--json", env={"SUPABASE_DB_URL": database.url}
    )
    assert guarded.code == 2
    assert json.loads(guarded.stdout)["error"]["message"].startswith("db.migrate on production needs")


def test_eight_runners_at_once_apply_every_file_exactly_once(migration_project: Any, database: Any) -> None:
    migration_project.write("20240101000000_log.sql", "create table applied_log (version text not null);")
    for n in range(1, 16):
        version = f"202401010000{n:02d}"
        migration_project.write(
            f"{version}_t{n}.sql", f"create table t{n} (id int);\ninsert into applied_log values ('{version}');"
        )
    migration_project.write(
        "20240101000016_idx.sql", "create index concurrently applied_log_version on applied_log (version);"
    )
    runners = [spawn_runner(migration_project, database) for _ in range(8)]
    outcomes = [(runner.wait(timeout=120), runner.stderr.read()) for runner in runners]
    for runner in runners:
        runner.stdout.close()  # type: ignore[union-attr]
        runner.stderr.close()  # type: ignore[union-attr]
    assert [code for code, _ in outcomes] == [0] * 8, outcomes
    assert query(database, "select count(*), count(distinct version) from applied_log") == [(15, 15)]
    assert query(database, "select count(*) from supabase_migrations.schema_migrations") == [(17,)]


SLEEPING_RUNNER = (
    "select count(*) from pg_stat_activity where application_name = 'ops-migrate' and wait_event = 'PgSleep'"
)


def test_kill_9_mid_migration_leaves_a_file_boundary_and_a_rerun_finishes(
    migration_project: Any, database: Any
) -> None:
    migration_project.write("20240101000000_first.sql", "create table first (id int);")
    migration_project.write(
        "20240102000000_slow.sql",
        "create table slow (id int);\nselect pg_sleep(3);\ncreate table after_sleep (id int);",
    )
    runner = spawn_runner(migration_project, database)
    try:
        wait_for(lambda: query(database, SLEEPING_RUNNER)[0][0])
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(timeout=10)
    finally:
        runner.stdout.close()  # type: ignore[union-attr]
        runner.stderr.close()  # type: ignore[union-attr]
    assert query(database, "select version from supabase_migrations.schema_migrations") == [("20240101000000",)]
    assert query(database, "select to_regclass('first') is not null, to_regclass('slow') is null") == [(True, True)]
    rerun = migration_project.cli("db.migrate", "--env", "staging", env=staging(database))
    assert rerun.code == 0, rerun.output
    assert "applied 20240102000000_slow.sql (3 statements" in rerun.stdout
    assert query(database, "select to_regclass('after_sleep') is not null") == [(True,)]


def test_concurrent_index_applies_while_another_runner_waits_for_the_lock(
    migration_project: Any, database: Any
) -> None:
    migration_project.write(
        "20240101000000_items.sql", "create table items (id int);\ninsert into items select generate_series(1, 1000);"
    )
    migration_project.write(
        "20240102000000_idx.sql",
        # Hold the lock until a second runner has connected (however slowly it starts on a
        # loaded machine), then a little longer so that it polls for the lock.
        "do $$ begin\n"
        "  for i in 1..1200 loop\n"
        "    perform pg_stat_clear_snapshot();\n"
        "    exit when (select count(*) from pg_stat_activity\n"
        "               where application_name = 'ops-migrate' and pid <> pg_backend_pid()) > 0;\n"
        "    perform pg_sleep(0.05);\n"
        "  end loop;\n"
        "end $$;\n"
        "select pg_sleep(0.5);\ncreate index concurrently items_id on items (id);\nselect pg_sleep(0.5);",
    )
    first = spawn_runner(migration_project, database)
    wait_for(lambda: lock_holder_pid(database) is not None)
    second = spawn_runner(migration_project, database, "--json")
    try:
        assert first.wait(timeout=60) == 0, first.stderr.read()  # type: ignore[union-attr]
        assert second.wait(timeout=60) == 0, second.stderr.read()  # type: ignore[union-attr]
        document = json.loads(second.stdout.read())  # type: ignore[union-attr]
    finally:
        for runner in (first, second):
            runner.stdout.close()  # type: ignore[union-attr]
            runner.stderr.close()  # type: ignore[union-attr]
    assert document["applied"] == [] and document["waited_for_lock_seconds"] > 0
    assert query(database, "select indisvalid from pg_index where indexrelid = 'items_id'::regclass") == [(True,)]


def test_production_needs_yes_and_no_password_is_printed(migration_project: Any, database: Any) -> None:
    migration_project.write("20240101000000_a.sql", "create table a (id int);")
    password = database.cluster.password
    env = {"SUPABASE_DB_URL": database.url}
    refused = migration_project.cli("db.migrate", "--env", "production", env=env)
    assert refused.code == 2
    assert refused.stderr.strip() == (
        "error: db.migrate on production needs explicit confirmation"
        " (fix: pass --yes, or run it from CI on an annotated v* tag at HEAD)"
    )
    dry = migration_project.cli("db.migrate", "--env", "production", "--dry-run", "--json", env=env)
    ok = migration_project.cli("db.migrate", "--env", "production", "--yes", "--json", env=env)
    tag = migration_project.cli(
        "db.status", "--env", "production", "--json", env={**env, "CI": "true", "GITHUB_REF": "refs/tags/v1.2.0"}
    )
    assert (dry.code, ok.code, tag.code) == (0, 0, 0), ok.output
    assert json.loads(ok.stdout)["target"].startswith("postgresql://postgres:***@127.0.0.1:")
    for result in (refused, dry, ok, tag):
        assert password not in result.output


def test_ci_on_a_release_tag_may_migrate_production(migration_project: Any, database: Any) -> None:
    migration_project.write("20240101000000_a.sql", "create table a (id int);")
    git = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"}
    for command in (
        ["init", "-q"],
        ["add", "-A"],
        ["commit", "-q", "-m", "a"],
        ["tag", "-a", "v1.2.0", "-m", "v1.2.0"],
    ):
        subprocess.run(["git", *command], cwd=migration_project.root, env={**os.environ, **git}, check=True)
    env = {"SUPABASE_DB_URL": database.url, "CI": "true", "GITHUB_REF": "refs/tags/v1.2.0"}
    assert migration_project.cli("db.migrate", "--env", "production", env=env).code == 0


def test_the_transaction_pooler_is_refused(migration_project: Any) -> None:
    url = "postgresql://postgres.abc:s3cretpw@aws-0-eu-west-1.pooler.supabase.com:6543/postgres"
    result = migration_project.cli("db.migrate", "--env", "staging", env={"SUPABASE_STAGING_DB_URL": url})
    assert result.code == 2
    assert result.stderr.strip() == (
        "error: the database URL points at the transaction pooler (port 6543), where session locks don't hold"
        " (fix: use the direct connection or the session pooler (port 5432))"
    )
    assert "s3cretpw" not in result.output


def test_unreachable_database_is_an_external_failure_without_the_password(migration_project: Any) -> None:
    from ops.pg.cluster import free_port

    url = f"postgresql://app:hunter2secret@127.0.0.1:{free_port()}/app"
    result = migration_project.cli("db.migrate", "--env", "staging", env={"SUPABASE_STAGING_DB_URL": url})
    assert result.code == 3
    assert result.stderr.startswith("error: cannot connect to postgresql://app:***@127.0.0.1:")
    assert "hunter2secret" not in result.output


def test_reset_and_seed_refuse_other_environments_before_touching_anything(
    migration_project: Any, database: Any
) -> None:
    env = {**staging(database), "SUPABASE_DB_URL": database.url}
    before = query(database, "select count(*) from pg_tables")
    reset = migration_project.cli("db.reset", "--env", "staging", env=env)
    assert (reset.code, reset.stderr.strip()) == (
        2,
        "error: db.reset is local only, not 'staging' (fix: run it without --env (or with --env local))",
    )
    seed = migration_project.cli("db.seed", "--env", "production", env=env)
    assert (seed.code, seed.stderr.strip()) == (
        2,
        "error: db.seed never targets production (fix: use --env staging or --env local)",
    )
    # staging pointing at production's database is production too
    same = migration_project.cli("db.seed", "--env", "staging", env=env)
    assert same.code == 2 and "reaches production's database" in same.stderr
    assert query(database, "select count(*) from pg_tables") == before
    assert database.cluster.password not in reset.output + seed.output + same.output


def test_status_drift_and_repair_through_the_cli(migration_project: Any, database: Any) -> None:
    path = migration_project.write("20240101000000_a.sql", "create table a (id int);")
    migration_project.write("20240102000000_b.sql", "create table b (id int);")
    assert migration_project.cli("db.migrate", "--env", "staging", env=staging(database)).code == 0
    migration_project.write("20240103000000_c.sql", "create table c (id int);")
    path.write_text("create table a (id bigint);")
    status = migration_project.cli("db.status", "--env", "staging", "--json", env=staging(database))
    assert status.code == 1
    states = [(v["version"], v["state"]) for v in json.loads(status.stdout)["versions"]]
    assert states == [("20240101000000", "drift"), ("20240102000000", "applied"), ("20240103000000", "pending")]
    assert (
        "drift: 20240101000000 was edited after it was applied"
        " (fix: revert the edit, or inv db.repair 20240101000000 --status applied)"
    ) in status.stderr
    refused = migration_project.cli("db.migrate", "--env", "staging", env=staging(database))
    assert refused.code == 1 and "migration 20240101000000 was edited after it was applied" in refused.stderr
    repaired = migration_project.cli(
        "db.repair", "20240101000000", "--status", "applied", "--env", "staging", env=staging(database)
    )
    assert repaired.code == 0 and repaired.stdout.startswith(
        "marked applied: 20240101000000 on postgresql://postgres:***@"
    )
    assert migration_project.cli("db.migrate", "--env", "staging", env=staging(database)).code == 0
    clean = migration_project.cli("db.status", "--env", "staging", env=staging(database))
    assert clean.code == 0 and "3 applied, 0 pending, 0 problem(s)" in clean.stdout


def test_repair_takes_several_versions_as_the_refusal_hint_spells_them(migration_project: Any, database: Any) -> None:
    for day in (1, 2, 3):
        migration_project.write(f"2024010{day}000000_t{day}.sql", f"create table t{day} (id int);")
    assert migration_project.cli("db.migrate", "--env", "staging", env=staging(database)).code == 0
    for path in migration_project.migrations.glob("2024010[12]*.sql"):
        path.unlink()
    refused = migration_project.cli("db.migrate", "--env", "staging", "--json", env=staging(database))
    assert refused.code == 1
    hint = json.loads(refused.stdout)["error"]["hint"]
    assert hint.endswith("mark them reverted: inv db.repair 20240101000000,20240102000000 --status reverted")
    # the hint's command, run as printed
    repaired = migration_project.cli(*hint.split(": ", 1)[1].split()[1:], "--env", "staging", env=staging(database))
    assert repaired.code == 0, repaired.output
    assert repaired.stdout.startswith("marked reverted: 20240101000000, 20240102000000 on ")
    assert query(database, "select version from supabase_migrations.schema_migrations") == [("20240103000000",)]


def test_status_with_two_environments_prints_parity_and_exits_1_when_they_differ(
    migration_project: Any, database: Any, pg_cluster: Any, template_db: str
) -> None:
    migration_project.write("20240101000000_a.sql", "create table a (id int);")
    production_name = f"{database.name}_prod"
    pg_cluster.create_database(production_name, template=template_db)
    try:
        env = {**staging(database), "SUPABASE_DB_URL": pg_cluster.url(production_name)}
        assert migration_project.cli("db.migrate", "--env", "staging", env=env).code == 0
        differ = migration_project.cli("db.status", "--env", "staging", "--env", "production", "--json", env=env)
        assert differ.code == 1
        document = json.loads(differ.stdout)
        assert document["versions"] == [
            {"version": "20240101000000", "name": "a", "states": {"staging": "applied", "production": "pending"}}
        ]
        assert "1 version(s) differ between staging and production" in differ.stderr
        assert migration_project.cli("db.migrate", "--env", "production", "--yes", env=env).code == 0
        same = migration_project.cli("db.status", "--env", "staging", "--env", "production", env=env)
        assert same.code == 0
        assert "in parity: staging and production have the same migrations applied" in same.stdout
    finally:
        pg_cluster.drop_database(production_name)


def test_seed_applies_new_files_records_changed_ones_as_the_cli_does_and_force_reruns(
    migration_project: Any, database: Any
) -> None:
    supabase = migration_project.root / "supabase"
    migration_project.write("20240101000000_t.sql", "create table things (name text);")
    (supabase / "config.toml").write_text(
        '[db.seed]\nenabled = true\nsql_paths = ["./seed.sql", "./seeds/*.sql", "./nothing/*.sql"]\n'
    )
    (supabase / "seed.sql").write_text("insert into things values ('base');")
    (supabase / "seeds").mkdir()
    (supabase / "seeds" / "b.sql").write_text("insert into things values ('b');")
    (supabase / "seeds" / "a.sql").write_text("insert into things values ('a');")
    assert migration_project.cli("db.migrate", "--env", "staging", env=staging(database)).code == 0
    first = migration_project.cli("db.seed", "--env", "staging", env=staging(database))
    assert first.code == 0, first.output
    assert first.stdout.splitlines()[:4] == [
        "warning: no seed files match pattern: ./nothing/*.sql",
        "applied: supabase/seed.sql",
        "applied: supabase/seeds/a.sql",
        "applied: supabase/seeds/b.sql",
    ]
    digest = hashlib.sha256((supabase / "seed.sql").read_bytes()).hexdigest()
    assert ("supabase/seed.sql", digest) in query(database, "select path, hash from supabase_migrations.seed_files")
    (supabase / "seeds" / "a.sql").write_text("insert into things values ('a2');")
    second = migration_project.cli("db.seed", "--env", "staging", "--json", env=staging(database))
    assert second.code == 0, second.output
    statuses = {f["path"]: f["status"] for f in json.loads(second.stdout)["files"]}
    # The Supabase CLI's behaviour: a changed seed gets its new hash, and is not run again.
    assert statuses == {
        "supabase/seed.sql": "unchanged",
        "supabase/seeds/a.sql": "recorded",
        "supabase/seeds/b.sql": "unchanged",
    }
    new_digest = hashlib.sha256((supabase / "seeds" / "a.sql").read_bytes()).hexdigest()
    assert ("supabase/seeds/a.sql", new_digest) in query(
        database, "select path, hash from supabase_migrations.seed_files"
    )
    assert query(database, "select name from things order by 1") == [("a",), ("b",), ("base",)]
    human = migration_project.cli("db.seed", "--env", "staging", env=staging(database))
    assert "recorded: supabase/seeds/a.sql" not in human.stdout  # recorded once; now unchanged
    (supabase / "seeds" / "a.sql").write_text("insert into things values ('a3');")
    told = migration_project.cli("db.seed", "--env", "staging", env=staging(database))
    assert told.code == 0, told.output
    assert (
        "recorded: supabase/seeds/a.sql (changed: new hash recorded, not run again; db.seed --force runs it)"
        in told.stdout
    )
    assert "seeded 0 file(s)" in told.stdout
    forced = migration_project.cli("db.seed", "--env", "staging", "--force", env=staging(database))
    assert forced.code == 0 and "seeded 3 file(s)" in forced.stdout
    assert query(database, "select name, count(*) from things group by 1 order by 1") == [
        ("a", 1),
        ("a3", 1),
        ("b", 2),
        ("base", 2),
    ]
    (supabase / "seeds" / "c.sql").write_bytes("insert into things values ('caf\u00e9');".encode("latin-1"))
    broken = migration_project.cli("db.seed", "--env", "staging", env=staging(database))
    assert broken.code == 2
    assert broken.stderr.strip().startswith("error: cannot read seed file supabase/seeds/c.sql: 'utf-8' codec")
    assert broken.stderr.strip().endswith("(fix: save it as UTF-8 text)")


def test_db_new_creates_a_timestamped_file(migration_project: Any) -> None:
    result = migration_project.cli("db.new", "add_orders")
    assert result.code == 0, result.output
    created = list(migration_project.migrations.iterdir())
    assert len(created) == 1 and created[0].name.endswith("_add_orders.sql") and len(created[0].name) == 29
    assert result.stdout.strip() == f"created {created[0]}"
    bad = migration_project.cli("db.new", "Add Orders")
    assert bad.code == 2 and bad.stderr.startswith("error: invalid migration name 'Add Orders'")


@pytest.mark.parametrize("status", ["applied", "reverted"])
def test_repair_with_a_bad_status_or_version_is_a_usage_error(migration_project: Any, status: str) -> None:
    result = migration_project.cli("db.repair", "2024x", "--status", status)
    assert result.code == 2
    assert result.stderr.strip() == (
        "error: invalid migration version '2024x' (fix: versions are the digits before _ in the file name)"
    )


def test_the_dev_stack_database_is_migrated_and_seeded_by_the_runner(local_stack: Any, ops_cli: Any) -> None:
    env = {"OPS_PROJECT_ROOT": str(local_stack.root)}
    status = ops_cli("db.status", "--json", cwd=local_stack.root, env=env)
    assert status.code == 0, status.output
    versions = json.loads(status.stdout)["versions"]
    assert versions and {v["state"] for v in versions} == {"applied"}
    migrated = ops_cli("db.migrate", cwd=local_stack.root, env=env)
    assert migrated.code == 0 and migrated.stdout.startswith("up to date: nothing to apply on postgresql://")
    seeded = ops_cli("db.seed", "--json", cwd=local_stack.root, env=env)
    assert seeded.code == 0, seeded.output
    files = json.loads(seeded.stdout)["files"]
    assert [(f["path"], f["status"]) for f in files] == [("supabase/seed.sql", "unchanged")]


@pytest.mark.integration
def test_reset_recreates_the_local_database_end_to_end(private_stack: Any, ops_cli: Any) -> None:
    import psycopg

    env = {"OPS_PROJECT_ROOT": str(private_stack.root)}
    with psycopg.connect(private_stack.db_url, autocommit=True) as conn:
        conn.execute("create table leftover (id int)")
        conn.execute("delete from public.order_items")
    result = ops_cli("db.reset", "--json", cwd=private_stack.root, env=env)
    assert result.code == 0, result.output
    document = json.loads(result.stdout)
    assert document["database"] == "postgres"
    assert len(document["migrate"]["applied"]) == len(
        list((private_stack.root / "supabase" / "migrations").glob("*.sql"))
    )
    assert [(f["path"], f["status"]) for f in document["seed"]["files"]] == [("supabase/seed.sql", "applied")]
    with psycopg.connect(private_stack.db_url, autocommit=True) as conn:
        assert conn.execute("select to_regclass('leftover') is null").fetchone() == (True,)
        assert conn.execute("select count(*) > 0 from public.order_items").fetchone() == (True,)
    assert document["migrate"]["target"].startswith("postgresql://postgres:***@127.0.0.1:")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("lock_retries = -1", "error: [tool.ops.migrations] lock_retries: "),
        (
            "lock_retrys = 3",
            "error: [tool.ops.migrations] unknown key 'lock_retrys' (fix: did you mean 'lock_retries'?",
        ),
        ('retry_backoff_seconds = "soon"', "error: [tool.ops.migrations] retry_backoff_seconds: "),
        ('lock_timeout = "5 sec"', "error: [tool.ops.migrations] lock_timeout: "),  # one spelling: "5s"
        ('lock_timeout = "5s"', None),
        ('lock_timeout = "5 seconds"', "error: [tool.ops.migrations] lock_timeout: "),
    ],
)
def test_bad_migration_settings_exit_2_before_anything_is_applied(
    migration_project: Any, database: Any, table: str, message: str | None
) -> None:
    (migration_project.root / "pyproject.toml").write_text(f"[tool.ops.migrations]\n{table}\n")
    migration_project.write("20240101000000_a.sql", "create table a (id int);")
    result = migration_project.cli("db.migrate", "--env", "staging", "--json", env=staging(database))
    if message is None:
        assert result.code == 0, result.output
        return
    assert result.code == 2, result.output
    assert result.stderr.startswith(message) and len(result.stderr.strip().splitlines()) == 1
    assert json.loads(result.stdout)["ok"] is False
    assert query(database, "select to_regclass('a') is null") == [(True,)]


def test_kill_9_after_a_concurrent_index_was_built_adopts_the_valid_index_on_rerun(
    migration_project: Any, database: Any
) -> None:
    """The server finished a valid index, the runner was killed before the
    history row: the rerun adopts the index instead of failing on 42P07."""
    migration_project.write(
        "20240101000000_items.sql",
        "create table items (id int);\ninsert into items select generate_series(1, 1000);\n"
        "create table go_slow (flag boolean);\ninsert into go_slow values (true);",
    )
    migration_project.write(
        "20240102000000_idx.sql",
        "create unique index concurrently items_id on items (id);\n"
        "select pg_sleep(60) from go_slow;\n"
        "comment on index items_id is 'built once';",
    )
    runner = spawn_runner(migration_project, database)
    try:
        wait_for(lambda: query(database, SLEEPING_RUNNER)[0][0])
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait(timeout=10)
    finally:
        runner.stdout.close()  # type: ignore[union-attr]
        runner.stderr.close()  # type: ignore[union-attr]
    assert query(database, "select version from supabase_migrations.schema_migrations") == [("20240101000000",)]
    assert query(database, "select indisvalid from pg_index where indexrelid = 'items_id'::regclass") == [(True,)]
    with database.connect() as conn:
        conn.execute("delete from go_slow")
    rerun = migration_project.cli("db.migrate", "--env", "staging", env=staging(database))
    assert rerun.code == 0, rerun.output
    assert "20240102000000_idx.sql: adopted the index public.items_id an interrupted run had built" in rerun.stdout
    assert query(database, "select version from supabase_migrations.schema_migrations order by 1") == [
        ("20240101000000",),
        ("20240102000000",),
    ]
    assert query(database, "select obj_description('items_id'::regclass)") == [("built once",)]
