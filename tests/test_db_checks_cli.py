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
from ops.migrations.pgtap import render, run_tests
from ops.pg.cluster import Cluster
from tests.conftest import REPO, LocalStack, run_ops

if TYPE_CHECKING:
    from tests.conftest import TestDatabase


def stack_cli(stack: LocalStack, *args: str):  # type: ignore[no-untyped-def]
    return run_ops(*args, cwd=stack.root, env={"OPS_PROJECT_ROOT": str(stack.root)})


def test_diff_of_the_migrated_dev_database_is_empty(local_stack: LocalStack) -> None:
    result = stack_cli(local_stack, "db.diff", "--check")
    assert result.code == 0, result.output
    assert result.stdout == "No schema changes found\n"


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
    with pytest.raises(CheckFailed) as failure:
        render(Output(), report)
    assert failure.value.exit_code == 1
    out = capsys.readouterr().out.splitlines()
    assert "supabase/tests/rls_orders.sql: not ok 2 - Ann sees only her own order" in out
    at = out.index("supabase/tests/rls_orders.sql: not ok 2 - Ann sees only her own order")
    assert out[at + 1].strip() == "#     Results differ beginning at row 1:"
    assert not pg_cluster.database_exists(report.database)  # the test database is dropped

    with pytest.raises(CheckFailed):  # --json: one document on stdout, the human text on stderr
        render(Output(json_mode=True), report)
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
