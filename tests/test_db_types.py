"""``db.types`` (issue 16.5): Supabase's own generator, run as the CLI runs it, without Docker."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ops.errors import BinaryNotFound
from ops.migrations import migrate
from ops.migrations.types import GENERATOR, find_generator, generator_env, types
from tests.conftest import REPO

TSC = REPO / "node_modules" / ".bin" / "tsc"
USES_THE_TYPES = """
import type { Database } from "./database.types"

type Product = Database["public"]["Tables"]["products"]["Row"]
type NewOrder = Database["public"]["Tables"]["orders"]["Insert"]

export const product: Product = {
  id: 1, slug: "tea", name: "Tea", description: null, price_cents: 450, stock: 3, created_at: null,
}
export const order: NewOrder = { status: "pending" }
// @ts-expect-error price_cents is a number, not a string
export const wrong: Product = { ...product, price_cents: "450" }
"""


def _needs_generator() -> None:
    if not (REPO / GENERATOR).is_file() or shutil.which("node") is None:
        # ./scripts/bootstrap (the README's test command) installs both: a missing one is a broken set-up.
        pytest.fail("@supabase/postgres-meta or node is missing: run ./scripts/bootstrap (npm ci)")


@pytest.fixture
def sample_project(migration_project: Any) -> Any:
    """This repo's sample schema (supabase/migrations, config.toml) in a team-shaped repo
    whose node_modules has the generator."""
    _needs_generator()
    for path in sorted((REPO / "supabase" / "migrations").glob("*.sql")):
        shutil.copy(path, migration_project.migrations / path.name)
    shutil.copy(REPO / "supabase" / "config.toml", migration_project.root / "supabase" / "config.toml")
    (migration_project.root / "node_modules").symlink_to(REPO / "node_modules", target_is_directory=True)
    return migration_project


def test_the_environment_is_the_one_the_supabase_cli_gives_pg_meta() -> None:
    # supabase/cli internal/gen/types/types.go, with the CLI's defaults (--query-timeout 15s,
    # --swift-access-control internal, no --postgrest-v9-compat) and a --db-url without a database.
    env = generator_env("postgresql://postgres:s3cret@127.0.0.1:5432", ["public", "graphql_public"], 15.0)
    assert env == {
        "PG_META_DB_URL": "postgresql://postgres:s3cret@127.0.0.1:5432/postgres",
        "PG_CONN_TIMEOUT_SECS": "15",
        "PG_QUERY_TIMEOUT_SECS": "15",
        "PG_META_GENERATE_TYPES": "typescript",
        "PG_META_GENERATE_TYPES_INCLUDED_SCHEMAS": "public,graphql_public",
        "PG_META_GENERATE_TYPES_SWIFT_ACCESS_CONTROL": "internal",
        "PG_META_GENERATE_TYPES_DETECT_ONE_TO_ONE_RELATIONSHIPS": "true",
    }


def test_a_missing_generator_is_one_line_saying_what_to_install(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("npm_config_cache", raising=False)
    with pytest.raises(BinaryNotFound) as info:
        find_generator(tmp_path / "repo")
    assert info.value.one_line() == (
        "error: Supabase's type generator (@supabase/postgres-meta) is not installed"
        " (fix: npm i -D @supabase/postgres-meta)"
    )
    assert info.value.exit_code == 3


@pytest.mark.integration
def test_types_of_the_sample_schema_compile_with_tsc(sample_project: Any, database: Any) -> None:
    cfg = sample_project.config()
    migrate(cfg, database.url)
    report = types(cfg, database.url)
    assert report.written and report.output == "database.types.ts"
    assert report.schemas == ["public", "graphql_public"]
    generated = (sample_project.root / "database.types.ts").read_text()
    assert generated.startswith("export type Json =")
    assert "export type Database = {" in generated
    for table in ("products", "orders", "order_items"):
        assert f"      {table}: {{\n        Row: {{" in generated
    (sample_project.root / "use.ts").write_text(USES_THE_TYPES)
    assert TSC.is_file(), "typescript is missing: run ./scripts/bootstrap (npm ci)"
    compiled = subprocess.run(
        [str(TSC), "--noEmit", "--strict", "--skipLibCheck", "use.ts", "database.types.ts"],
        cwd=sample_project.root,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    # The check can fail: a wrong use does not compile.
    (sample_project.root / "use.ts").write_text(USES_THE_TYPES.replace("// @ts-expect-error", "//"))
    broken = subprocess.run(
        [str(TSC), "--noEmit", "--strict", "use.ts", "database.types.ts"],
        cwd=sample_project.root,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert broken.returncode != 0 and "use.ts(12,45): error TS2322" in broken.stdout


@pytest.mark.integration
def test_check_exits_1_when_the_committed_file_is_stale(sample_project: Any, database: Any) -> None:
    cfg = sample_project.config()
    migrate(cfg, database.url)
    env = {"SUPABASE_STAGING_DB_URL": database.url}
    written = sample_project.cli("db.types", "--env", "staging", "--output", "src/db.ts", env=env)
    assert written.code == 0, written.output
    assert (sample_project.root / "src" / "db.ts").is_file()
    fresh = sample_project.cli("db.types", "--env", "staging", "--output", "src/db.ts", "--check", "--json", env=env)
    assert fresh.code == 0, fresh.output
    assert json.loads(fresh.stdout)["stale"] is False
    with database.connect() as conn:
        conn.execute("alter table public.products add column sku text")
    before = (sample_project.root / "src" / "db.ts").read_text()
    stale = sample_project.cli("db.types", "--env", "staging", "--output", "src/db.ts", "--check", env=env)
    assert stale.code == 1, stale.output
    assert "src/db.ts is stale: run inv db.types" in stale.output
    assert (sample_project.root / "src" / "db.ts").read_text() == before  # --check writes nothing
    assert database.cluster.password not in stale.output


def test_ops_init_points_db_types_at_the_repos_types_file(tmp_path: Path) -> None:
    """The db-types CI step checks the file the repo already has, wherever it is."""
    from ops.config import load
    from ops.init import init
    from ops.migrations.types import TypesSettings
    from ops.settings import section
    from tests.test_init import next_app, write

    root = next_app(tmp_path / "shop")
    write(root, {"src/lib/database.types.ts": "export type Database = {};\n"})
    init(root)
    cfg = load(root)
    assert section(cfg, TypesSettings).output == "src/lib/database.types.ts"
    assert "db-types" in cfg.raw["ci"]["steps"]
