"""db.test --env staging: the pgTAP suite against staging's own database,
every file rolled back, pgTAP installed there when missing; never production."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ops.config import load
from ops.migrations import migrate, seed
from ops.pg.cluster import Cluster
from tests.conftest import REPO, CliResult, reachable_tempdir, run_cli


@dataclass
class Staging:
    root: Path
    cluster: Cluster
    database: str
    production: str
    env: dict[str, str]

    def ops(self, *args: str) -> CliResult:
        result = run_cli(*args, cwd=self.root, env=self.env)
        assert self.cluster.password not in result.output
        return result

    def snapshot(self) -> dict[str, object]:
        with self.cluster.connection(self.database) as conn:
            counts = {
                table: conn.execute(f"select count(*) from {table}").fetchone()[0]  # type: ignore[index]
                for table in ("auth.users", "public.products", "public.orders", "public.order_items")
            }
            tables = conn.execute("select count(*) from pg_tables where schemaname = 'public'").fetchone()
        return {**counts, "public tables": tables}


@pytest.fixture
def staging(pg_cluster: Cluster, template_db: str) -> Iterator[Staging]:
    base = reachable_tempdir("ops-anonymize-pgtap-")
    root = base / "project"
    shutil.copytree(REPO / "supabase", root / "supabase")
    (root / "pyproject.toml").write_text('[project]\nname = "team"\n\n[tool.ops]\nstate_dir = ".ops"\n')
    suffix = uuid.uuid4().hex[:8]
    database, production = f"pgtap_staging_{suffix}", f"pgtap_prod_{suffix}"
    for name in (database, production):
        pg_cluster.create_database(name, template=template_db)
    cfg = load(root)
    migrate(cfg, pg_cluster.url(database))
    seed(cfg, pg_cluster.url(database))
    env = {
        "CI": "",
        "OPS_PROJECT_ROOT": str(root),
        "SUPABASE_STAGING_DB_URL": pg_cluster.url(database),
        "SUPABASE_DB_URL": pg_cluster.url(production),
    }
    try:
        yield Staging(root, pg_cluster, database, production, env)
    finally:
        for name in (database, production):
            pg_cluster.drop_database(name)
        shutil.rmtree(base, ignore_errors=True)


def test_db_test_runs_the_suite_on_staging_and_leaves_nothing(staging: Staging) -> None:
    with staging.cluster.connection(staging.database) as conn:
        assert conn.execute("select count(*) from pg_extension where extname = 'pgtap'").fetchone() == (0,)
    before = staging.snapshot()
    result = staging.ops("db.test", "--env", "staging")
    assert result.code == 0, result.output
    assert result.stdout.splitlines()[-1] == "All 18 pgTAP assertions passed in 1 file(s)"
    assert staging.snapshot() == before  # the tests' users, products and orders were rolled back
    with staging.cluster.connection(staging.database) as conn:
        assert conn.execute("select count(*) from pg_extension where extname = 'pgtap'").fetchone() == (1,)


def test_db_test_refuses_a_file_that_would_leave_data(staging: Staging) -> None:
    leaky = staging.root / "supabase" / "tests" / "leaky.sql"
    leaky.write_text("begin;\nselect plan(1);\ncreate table public.left_behind (id int);\nselect pass('x');\ncommit;\n")
    result = staging.ops("db.test", "--env", "staging")
    assert result.code == 2
    assert result.stderr.strip() == (
        "error: supabase/tests/leaky.sql: does not run in one transaction that rolls back"
        " (fix: wrap the file in begin; ... rollback; so that nothing it does stays in the database)"
    )
    leaky.write_text("begin;\nselect plan(1);\ncommit;\nbegin;\nselect pass('x');\nrollback;\n")
    result = staging.ops("db.test", "--env", "staging")
    assert result.code == 2 and "ends its transaction before the final rollback" in result.stderr
    with staging.cluster.connection(staging.database) as conn:
        assert conn.execute("select to_regclass('public.left_behind')").fetchone() == (None,)


def test_db_test_never_runs_on_production(staging: Staging) -> None:
    result = staging.ops("db.test", "--env", "production")
    assert result.code == 2 and "db.test never targets production" in result.stderr
    port, password = staging.cluster.port, staging.cluster.password
    staging.env["SUPABASE_STAGING_DB_URL"] = f"postgresql://postgres:{password}@127.1:{port}/{staging.production}"
    result = staging.ops("db.test", "--env", "staging")
    assert result.code == 2 and "reaches production's database" in result.stderr
    with staging.cluster.connection(staging.production) as conn:
        assert conn.execute("select count(*) from pg_extension where extname = 'pgtap'").fetchone() == (0,)
