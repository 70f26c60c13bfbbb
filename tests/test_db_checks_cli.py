"""db.diff and db.test through the real command line, on the real dev stack,
and db.test's failure path on the shipped RLS tests with a planted broken policy."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ops.config import load
from ops.errors import CheckFailed
from ops.migrations.lint import lint
from ops.migrations.pgtap import render, run_tests
from ops.pg.cluster import Cluster
from tests.conftest import REPO, LocalStack, make_stack_project, reachable_tempdir, run_cli

if TYPE_CHECKING:
    from tests.conftest import TestDatabase


def stack_cli(stack: LocalStack, *args: str):  # type: ignore[no-untyped-def]
    return run_cli(*args, cwd=stack.root, env={"OPS_PROJECT_ROOT": str(stack.root)})


def test_diff_of_the_migrated_dev_database_is_empty(local_stack: LocalStack) -> None:
    result = stack_cli(local_stack, "db.diff", "--check")
    assert result.code == 0, result.output
    assert result.stdout == "" and result.stderr.strip() == "No schema changes found"


def test_diff_check_fails_on_a_changed_database_with_json(local_stack: LocalStack, database: TestDatabase) -> None:
    """The shipped migrations against a bare Supabase-shaped database: the
    diff drops the app's tables, and --check fails."""
    result = stack_cli(local_stack, "db.diff", "--to", database.url, "--check", "--json")
    assert result.code == 1, result.output
    document = json.loads(result.stdout)
    assert document["changed"] is True and document["complete"] is True
    assert 'drop table "public"."orders";' in document["statements"]
    assert 'warning: DROP statement: drop table "public"."orders";' in result.stderr
    assert database.cluster.password not in result.output  # the target URL is masked
    assert result.stderr.strip().splitlines()[-1].startswith("error: postgresql://postgres:***@127.0.0.1:")


def test_db_test_passes_on_the_shipped_tests(local_stack: LocalStack) -> None:
    result = stack_cli(local_stack, "db.test")
    assert result.code == 0, result.output
    assert "supabase/tests/rls_orders.sql" in result.stdout
    assert result.stdout.splitlines()[-1] == "All 18 pgTAP assertions passed in 1 file(s)"


@pytest.fixture
def broken_policy_project(tmp_path: Path) -> Path:
    """This repo's supabase/ plus a migration that opens orders to every signed-in user."""
    root = tmp_path / "project"
    shutil.copytree(REPO / "supabase", root / "supabase")
    (root / "pyproject.toml").write_text('[project]\nname = "broken"\n\n[tool.ops]\n')
    (root / "supabase" / "migrations" / "29990101000000_open_orders.sql").write_text(
        'drop policy "users read their own orders" on public.orders;\n'
        'create policy "users read their own orders" on public.orders for select to authenticated using (true);\n'
    )
    return root


def test_db_test_fails_on_a_broken_policy_and_shows_the_assertion(
    broken_policy_project: Path, pg_cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    from ops.console import Output

    report = run_tests(load(broken_policy_project), cluster=pg_cluster)
    render(Output(), report)
    failure = report.failure()
    assert report.exit_code == 1 and isinstance(failure, CheckFailed)
    out = capsys.readouterr().out.splitlines()
    assert "supabase/tests/rls_orders.sql: not ok 2 - Ann sees only her own order" in out
    at = out.index("supabase/tests/rls_orders.sql: not ok 2 - Ann sees only her own order")
    assert out[at + 1].strip() == "#     Results differ beginning at row 1:"
    assert not pg_cluster.database_exists(report.database)  # the test database is dropped

    render(Output(json_mode=True), report)  # --json: one document on stdout, the human text on stderr
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["ok"] is False and document["failed"] == len(report.files[0].failed)
    assert document["files"][0]["failed"][0]["description"] == "Ann sees only her own order"
    assert "not ok 2 - Ann sees only her own order" in captured.err


def test_lint_default_targets_are_pending_migrations(local_stack: LocalStack) -> None:
    """Every shipped migration is applied to the dev database and the stack
    project is not a git checkout: nothing to lint."""
    result = stack_cli(local_stack, "db.lint", "--json")
    assert result.code == 0, result.output
    assert json.loads(result.stdout)["files"] == []
    assert "No migrations to lint" in result.stderr


def test_lint_default_targets_include_migrations_pending_on_the_dev_database(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    """A checkout of the stack's project (same dev database, not a git
    repository) with one migration the dev database has not applied yet:
    that file, and only that one, is linted."""
    root = tmp_path / "checkout"
    shutil.copytree(local_stack.root / "supabase" / "migrations", root / "supabase" / "migrations")
    state_dir = local_stack.root / ".ops"
    (root / "pyproject.toml").write_text(f'[project]\nname = "checkout"\n\n[tool.ops]\nstate_dir = "{state_dir}"\n')
    (root / "supabase" / "migrations" / "29990101000000_pending.sql").write_text(
        "create function public.promote() returns void language sql security definer as 'select 1';\n"
    )
    report = lint(load(root))
    assert report.notes == []  # the dev database was reachable
    assert report.files == ["supabase/migrations/29990101000000_pending.sql"]
    assert [(f.line, f.rule) for f in report.findings] == [(1, "security-definer-search-path")]


def test_db_test_names_the_file_and_line_of_a_sql_error(
    pg_cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A test file that errors half-way fails on its own, with psql's error and
    line; the other files still run (``*.pg`` included)."""
    from ops.console import Output

    root = tmp_path / "project"
    (root / "supabase" / "migrations").mkdir(parents=True)
    (root / "supabase" / "tests").mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "tap"\n\n[tool.ops]\n')
    (root / "supabase" / "tests" / "bad.sql").write_text(
        "begin;\nselect plan(2);\nselect ok(true, 'fine');\nselect ok(no_such_function(), 'broken');\n"
        "select * from finish();\nrollback;\n"
    )
    (root / "supabase" / "tests" / "good.pg").write_text(
        "begin;\nselect plan(1);\nselect ok(true, 'fine');\nselect * from finish();\nrollback;\n"
    )
    report = run_tests(load(root), cluster=pg_cluster)
    assert [(f.file, f.ok, f.passed) for f in report.files] == [
        ("supabase/tests/bad.sql", False, 1),
        ("supabase/tests/good.pg", True, 1),
    ]
    render(Output(), report)
    failure = report.failure()
    assert failure is not None and failure.message == "1 of 2 pgTAP file(s) failed (0 failing assertion(s))"
    assert (
        "supabase/tests/bad.sql: line 4: ERROR: function no_such_function() does not exist"
        in capsys.readouterr().out.splitlines()
    )


TEAM_SCHEMA = """\
create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  username text unique,
  created_at timestamptz not null default now()
);
alter table public.profiles enable row level security;
create policy "own profile" on public.profiles for select to authenticated using ((select auth.uid()) = id);
create table public.posts (
  id bigint generated always as identity primary key,
  author uuid not null references auth.users (id),
  body text
);
alter table public.posts enable row level security;
create policy "own posts" on public.posts for all to authenticated using ((select auth.uid()) = author);
"""


@pytest.mark.integration
def test_the_diff_loop_closes_after_a_hand_change() -> None:
    """A team's schema with foreign keys to auth.users; `alter table profiles
    add column age int` by hand; db.diff -f add_age writes just that, records it
    as applied on the local database (which has it), so db.migrate has nothing
    to do, db.status shows it applied, and db.lint passes with its defaults."""
    import psycopg

    from ops import stack

    base = reachable_tempdir("ops-test-diff-loop-")
    root = base / "project"
    (root / "supabase" / "migrations").mkdir(parents=True)
    (root / "supabase" / "migrations" / "20240101000000_team.sql").write_text(TEAM_SCHEMA)
    # The team's app is not ours to run: a static server that answers the health checks will do.
    (root / "healthz").write_text("ok\n")
    make_stack_project(root, app_command="{python} -m http.server {port} --bind 127.0.0.1", app_ready_path="/healthz")
    cfg = load(root)
    env = {"OPS_PROJECT_ROOT": str(root)}
    try:
        stack.up(cfg, seed=False)
        with psycopg.connect(stack.local_db_url(cfg), autocommit=True) as conn:
            conn.execute("alter table profiles add column age int")

        written = run_cli("db.diff", "-f", "add_age", cwd=root, env=env)
        assert written.code == 0, written.output
        [path] = sorted((root / "supabase" / "migrations").glob("*_add_age.sql"))
        # The foreign key to auth.users did not change: it is neither dropped nor re-created.
        assert path.read_text() == 'alter table "public"."profiles" add column "age" integer;\n'
        assert written.stdout.splitlines() == [
            f"Wrote {path} (1 statements)",
            "Recorded it as applied on the local database, which already has these changes",
        ]

        migrated = run_cli("db.migrate", cwd=root, env=env)
        assert migrated.code == 0, migrated.output
        assert migrated.stdout.startswith("up to date: nothing to apply on postgresql://")
        status = run_cli("db.status", "--json", cwd=root, env=env)
        assert status.code == 0, status.output
        versions = json.loads(status.stdout)["versions"]
        assert [(v["version"], v["state"]) for v in versions] == [
            ("20240101000000", "applied"),
            (path.name.split("_")[0], "applied"),
        ]
        linted = run_cli("db.lint", "--all", cwd=root, env=env)
        assert linted.code == 0, linted.output
        assert "0 error(s)" in linted.stdout
        again = run_cli("db.diff", "--check", cwd=root, env=env)
        assert again.code == 0 and again.stdout == "", again.output
        assert again.stderr.strip() == "No schema changes found"
        # A new foreign key on an existing table: its VALIDATE goes to a file of its own, so lint passes.
        with psycopg.connect(stack.local_db_url(cfg), autocommit=True) as conn:
            conn.execute("alter table posts add column reviewer uuid references public.profiles (id)")
        keyed = run_cli("db.diff", "-f", "add_reviewer", cwd=root, env=env)
        assert keyed.code == 0, keyed.output
        [first] = sorted((root / "supabase" / "migrations").glob("*_add_reviewer.sql"))
        [second] = sorted((root / "supabase" / "migrations").glob("*_add_reviewer_validate.sql"))
        assert "NOT VALID" in first.read_text() and "validate constraint" not in first.read_text()
        assert second.read_text() == 'alter table "public"."posts" validate constraint "posts_reviewer_fkey";\n'
        assert run_cli("db.migrate", cwd=root, env=env).stdout.startswith("up to date: nothing to apply")
        relinted = run_cli("db.lint", "--all", cwd=root, env=env)
        assert relinted.code == 0, relinted.output
        assert run_cli("db.diff", "--check", cwd=root, env=env).code == 0
        # As SQL on stdout (no warnings mixed in) for a change that drops something.
        with psycopg.connect(stack.local_db_url(cfg), autocommit=True) as conn:
            conn.execute("alter table posts drop column body")
        printed = run_cli("db.diff", cwd=root, env=env)
        assert printed.code == 0, printed.output
        assert printed.stdout == 'alter table "public"."posts" drop column "body";\n'
        assert 'warning: DROP statement: alter table "public"."posts" drop column "body";' in printed.stderr
    finally:
        stack.down(cfg, purge=True)
        shutil.rmtree(base, ignore_errors=True)
