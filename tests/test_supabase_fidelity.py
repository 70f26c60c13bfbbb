"""Real Supabase migration sets apply unchanged (issue 16.1, 16.2): the bootstrap
enables exactly Supabase's default extensions, missing extensions are refused up
front, and the local server preloads what the migrations' extensions need."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ops.migrations import migrate
from ops.migrations.extensions import ExtensionsMissing, install_hint
from ops.pg.bootstrap import DEFAULT_EXTENSIONS, missing_defaults
from ops.pg.cluster import Cluster
from ops.stack.database import server_settings, start_cluster
from tests.conftest import FAST_SETTINGS, reachable_tempdir

pytestmark = pytest.mark.integration


def history_rows(conn: Any) -> int:
    return conn.execute("select count(*) from supabase_migrations.schema_migrations").fetchone()[0]


def test_the_bootstrap_enables_exactly_supabases_default_extensions(database: Any) -> None:
    with database.connect() as conn:
        rows = conn.execute(
            "select e.extname, n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace"
        ).fetchall()
        available = {row[0] for row in conn.execute("select name from pg_available_extensions")}
        missing = missing_defaults(conn)
    enabled = dict(rows)
    expected = {name: schema for name, schema in DEFAULT_EXTENSIONS.items() if name in available}
    assert enabled == {"plpgsql": "pg_catalog", **expected}
    # What this server lacks is named, never faked.
    assert missing == [name for name in DEFAULT_EXTENSIONS if name not in available]
    for name in ("pg_trgm", "citext", "moddatetime", "btree_gist", "unaccent"):
        assert name not in enabled


def test_pg_trgm_created_in_public_by_a_migration_is_used_there(migration_project: Any, database: Any) -> None:
    """The bootstrap used to pre-create pg_trgm in extensions, so this `if not exists`
    was a no-op and `public.gin_trgm_ops` did not exist."""
    migration_project.write(
        "20240101000000_search.sql",
        "create extension if not exists pg_trgm with schema public;\n"
        "create table public.places (id bigint primary key, name text not null);\n"
        "create index places_name_trgm on public.places using gin (name public.gin_trgm_ops);\n",
    )
    migration_project.write(
        "20240102000000_similar.sql",
        "create function public.similar_places(q text) returns setof public.places language sql stable as $$\n"
        "  select * from public.places where public.word_similarity(q, name) > 0.3\n$$;\n",
    )
    report = migrate(migration_project.config(), database.url)
    assert [f.version for f in report.applied] == ["20240101000000", "20240102000000"]
    with database.connect() as conn:
        schema = conn.execute(
            "select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace"
            " where e.extname = 'pg_trgm'"
        ).fetchone()
        assert schema == ("public",)
        conn.execute("insert into public.places values (1, 'Amsterdam'), (2, 'Rotterdam')")
        assert conn.execute("select id from public.similar_places('amsterdm')").fetchall() == [(1,)]


def test_missing_extensions_are_refused_up_front_all_listed(migration_project: Any, database: Any) -> None:
    migration_project.write("20240101000000_ok.sql", "create table public.ok (id int);")
    migration_project.write(
        "20240102000000_embeddings.sql",
        "create extension if not exists vector with schema extensions;\n"
        "create table public.docs (id int, embedding extensions.vector(3));\n",
    )
    migration_project.write(
        "20240103000000_webhooks.sql",
        "-- create extension pg_trgm; (a comment is not a statement)\ncreate extension if not exists pg_net;\n",
    )
    (migration_project.root / "supabase" / "seed.sql").write_text("create extension if not exists pgmq;\n")
    with database.connect() as conn:
        available = {row[0] for row in conn.execute("select name from pg_available_extensions")}
    if {"vector", "pg_net", "pgmq"} & available:
        pytest.skip("this server has vector, pg_net or pgmq")
    with pytest.raises(ExtensionsMissing) as info:
        migrate(migration_project.config(), database.url)
    line = info.value.one_line()
    assert info.value.exit_code == 3
    assert line.startswith(
        "error: the database lacks extension(s) the migrations create: vector (20240102000000_embeddings.sql:1),"
        " pg_net (20240103000000_webhooks.sql:2), pgmq (supabase/seed.sql:1); nothing was applied (fix: "
    )
    assert "pg_trgm" not in line
    assert "vector: apt-get install postgresql-15-pgvector (Debian/Ubuntu, PGDG), brew install pgvector" in line
    assert "pg_net: no package; build from supabase/pg_net" in line
    assert line.count("docker provider") == 3
    with database.connect() as conn:
        assert history_rows(conn) == 0
        assert conn.execute("select to_regclass('public.ok')").fetchone() == (None,)


def test_the_json_document_of_a_refusal(migration_project: Any, database: Any) -> None:
    migration_project.write("20240101000000_vec.sql", "create extension vector;")
    with database.connect() as conn:
        if conn.execute("select 1 from pg_available_extensions where name = 'vector'").fetchone():
            pytest.skip("this server has vector")
    result = migration_project.cli(
        "db.migrate", "--env", "staging", "--json", env={"SUPABASE_STAGING_DB_URL": database.url}
    )
    assert result.code == 3, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert "vector (20240101000000_vec.sql:1)" in document["error"]["message"]
    assert database.cluster.password not in result.output


def test_install_hints_name_each_way() -> None:
    assert install_hint("pg_cron", 16) == (
        "apt-get install postgresql-16-cron (Debian/Ubuntu, PGDG), brew install pg_cron (macOS),"
        " or run the stack with the docker provider on Supabase's image (supabase/postgres), which has it"
    )
    assert install_hint("citext", 17).startswith("apt-get install postgresql-17 (Debian/Ubuntu, PGDG)")
    assert "build it from its project's source" in install_hint("made_up_ext", 15)


def test_pg_cron_migrations_get_a_preloaded_server_and_schedule_jobs(migration_project: Any) -> None:
    """pg_cron needs shared_preload_libraries and cron.database_name: the local server
    gets them when a migration creates it, and is restarted for it."""
    cluster = Cluster(reachable_tempdir("ops-pg-cron-") / "pg", settings=FAST_SETTINGS)
    cfg = migration_project.config()
    try:
        lib = cluster.pkglibdir()
        # ./scripts/bootstrap installs postgresql-NN-cron with the server.
        assert lib is not None and (lib / "pg_cron.so").is_file(), "pg_cron is missing: run ./scripts/bootstrap"
        # Running before the migration exists: nothing to preload but Supabase's pg_stat_statements.
        assert start_cluster(cluster, cfg=cfg) is True
        assert "pg_cron" not in server_settings(cfg, cluster).get("shared_preload_libraries", "")
        migration_project.write(
            "20240101000000_jobs.sql",
            "create extension if not exists pg_cron with schema pg_catalog;\n"
            "grant usage on schema cron to postgres;\n"
            "select cron.schedule('nightly-vacuum', '0 3 * * *', 'vacuum');\n",
        )
        settings = server_settings(cfg, cluster)
        assert settings["shared_preload_libraries"].split(",") == ["pg_stat_statements", "pg_cron"]
        assert settings["cron.database_name"] == "postgres"
        assert start_cluster(cluster, cfg=cfg) is True
        assert cluster.restart_reason == "settings changed: cron.database_name, shared_preload_libraries"
        assert start_cluster(cluster, cfg=cfg) is False  # nothing changed: no restart
        with cluster.connection() as conn:
            from ops.pg.bootstrap import apply_bootstrap

            apply_bootstrap(conn)
        report = migrate(cfg, cluster.url())
        assert [f.version for f in report.applied] == ["20240101000000"]
        with cluster.connection() as conn:
            assert conn.execute("show shared_preload_libraries").fetchone() == ("pg_stat_statements,pg_cron",)
            assert conn.execute("select jobname, schedule from cron.job").fetchall() == [
                ("nightly-vacuum", "0 3 * * *")
            ]
            conn.execute("select cron.schedule('hourly', '0 * * * *', 'select 1')")
            assert conn.execute("select count(*) from cron.job").fetchone() == (2,)
            # pg_stat_statements, enabled by the bootstrap as on Supabase, works: it is preloaded.
            assert conn.execute("select count(*) >= 0 from extensions.pg_stat_statements").fetchone() == (True,)
    finally:
        cluster.destroy()


def test_server_settings_from_the_dev_section_add_to_the_preload_list(tmp_path: Any) -> None:
    from ops.config import load

    root = tmp_path / "p"
    (root / "supabase" / "migrations").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[tool.ops.dev]\nserver_settings = { shared_preload_libraries = "auto_explain", work_mem = "64MB",'
        " jit = false }\n"
    )
    # A migration being written that does not parse yet does not stop dev.up here.
    (root / "supabase" / "migrations" / "20240101000000_wip.sql").write_text("create tabel (")
    cluster = Cluster(tmp_path / "pg")
    settings = server_settings(load(root), cluster)
    assert settings["shared_preload_libraries"] == "pg_stat_statements,auto_explain"
    assert settings["work_mem"] == "64MB"
    assert settings["jit"] == "off"


def test_dev_up_restarts_the_server_when_a_migration_needs_pg_cron(tmp_path: Any) -> None:
    """Issue 16.2 end to end: `dev.up`, then a migration that creates pg_cron, then `dev.up`
    restarts Postgres with pg_cron preloaded, and `db.migrate` schedules a job."""
    import shutil

    from tests.conftest import REPO, make_stack_project, run_ops

    lib = Cluster(tmp_path / "probe").pkglibdir()
    assert lib is not None and (lib / "pg_cron.so").is_file(), "pg_cron is missing: run ./scripts/bootstrap"
    base = reachable_tempdir("ops-test-cron-stack-")
    root = base / "project"
    root.mkdir()
    shutil.copytree(REPO / "supabase", root / "supabase")
    make_stack_project(root)
    env = {"OPS_PROJECT_ROOT": str(root)}
    try:
        first = run_ops("dev.up", "--json", cwd=root, env=env)
        assert first.code == 0, first.output
        assert json.loads(first.stdout)["steps"]["postgres"] == "initialised"
        (root / "supabase" / "migrations" / "20990101000000_jobs.sql").write_text(
            "create extension if not exists pg_cron with schema pg_catalog;\n"
            "select cron.schedule('nightly', '0 3 * * *', 'vacuum');\n"
        )
        again = run_ops("dev.up", "--json", cwd=root, env=env)
        assert again.code == 0, again.output
        assert json.loads(again.stdout)["steps"]["postgres"] == (
            "restarted (settings changed: cron.database_name, shared_preload_libraries)"
        )
        migrated = run_ops("db.migrate", cwd=root, env=env)
        assert migrated.code == 0, migrated.output
        jobs = run_ops("dev.psql", "-c", "select jobname from cron.job", cwd=root, env=env)
        assert jobs.code == 0 and "nightly" in jobs.stdout, jobs.output
        unchanged = run_ops("dev.up", "--json", cwd=root, env=env)
        assert json.loads(unchanged.stdout)["steps"]["postgres"] == "running"
    finally:
        run_ops("dev.down", "--purge", cwd=root, env=env)
        shutil.rmtree(base, ignore_errors=True)
