"""db.refresh --anonymize and db.anonymize --check against real PostgreSQL.

Two databases on the test cluster stand in for production and staging, both
Supabase-shaped (the bootstrap) and migrated by the real runner from a
project's migrations (profiles, products, orders). Production gets users
with identities, profiles, orders, sessions, refresh tokens and MFA factors;
staging gets rows of its own that the refresh must replace. The refresh
restores production's verified backup into a scratch database on the same
cluster (scratch_db_url_env), masks it there and loads staging.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ops.config import load
from ops.migrations import migrate
from ops.pg.cluster import Cluster
from tests.conftest import CliResult, reachable_tempdir, run_cli

TEST_PASSWORD = "staging-" + uuid.uuid4().hex[:10]

MIGRATIONS = {
    "20250101000000_profiles.sql": """
create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  email text not null unique,
  full_name text,
  bio text,
  last_ip inet,
  settings jsonb not null default '{}'
);
create table public.products (
  id bigint generated always as identity primary key,
  name text not null,
  price_cents int not null
);
""",
    "20250101000100_orders.sql": """
create table public.orders (
  id bigint generated always as identity primary key,
  profile_id uuid not null references public.profiles (id),
  product_id bigint not null references public.products (id),
  shipping_address text,
  contact_email text,
  total_cents int not null
);
""",
}

RULES = """
[tool.ops.anonymize]
scratch_db_url_env = "OPS_TEST_SCRATCH_URL"
"public.profiles.email" = "email"
"public.profiles.full_name" = "name"
"public.profiles.bio" = "text"
"public.profiles.last_ip" = "ip"
"public.profiles.settings" = "json:{phone: phone, nickname: first_name, theme: keep}"
"public.products.name" = "keep"
"public.orders.shipping_address" = "address"
"public.orders.contact_email" = "email"
"""

USERS = [
    # id, email, phone, full name
    ("a0000000-0000-4000-8000-000000000001", "ann.real@corp.test", "447700900001", "Ann Realperson"),
    ("a0000000-0000-4000-8000-000000000002", "ben.real@corp.test", "447700900002", "Ben Realperson"),
    ("a0000000-0000-4000-8000-000000000003", "cat.real@corp.test", None, "Cat Realperson"),
    ("a0000000-0000-4000-8000-000000000004", "dan.real@corp.test", "447700900004", "Dan Realperson"),
]
ORIGINAL_SECRETS = [
    "$2a$10$originalhashoriginalhashoriginalhashoriginalhashorigin",
    "totp-secret-JBSWY3DP",
    "tok-9f8e7d",
]


@dataclass
class Project:
    root: Path
    cluster: Cluster
    production: str
    staging: str
    env: dict[str, str]

    def ops(self, *args: str) -> CliResult:
        result = run_cli(*args, cwd=self.root, env=self.env)
        assert self.cluster.password not in result.output, "a password reached the output"
        assert TEST_PASSWORD not in result.output, "the test password reached the output"
        return result

    def refresh(self, *extra: str) -> tuple[CliResult, dict[str, Any]]:
        result = self.ops("db.refresh", "--anonymize", "--yes", "--json", *extra)
        return result, json.loads(result.stdout)

    def connect(self, dbname: str) -> psycopg.Connection[Any]:
        return self.cluster.connect(dbname)

    def write_migration(self, name: str, sql: str) -> None:
        (self.root / "supabase" / "migrations" / name).write_text(sql)

    def set_rules(self, rules: str) -> None:
        (self.root / "pyproject.toml").write_text(_pyproject(rules))


def _pyproject(rules: str) -> str:
    return (
        '[project]\nname = "team-app"\n\n[tool.ops]\nstate_dir = ".ops"\n\n[tool.ops.backup]\nroot = "backups"\n'
        + rules
    )


def bio(name: str, email: str) -> str:
    # tabs, newlines and backslashes go through COPY's escapes both ways
    return f"I am {name},\treach me at\n{email} \\o/"


def seed_production(conn: psycopg.Connection[Any]) -> None:
    for index, (user_id, email, phone, name) in enumerate(USERS):
        meta = json.dumps({"full_name": name, "email": email, "avatar_url": f"https://cdn.test/{index}.png"})
        conn.execute(
            "insert into auth.users (id, aud, role, email, phone, encrypted_password, raw_user_meta_data,"
            " raw_app_meta_data, confirmation_token, created_at)"
            " values (%s, 'authenticated', 'authenticated', %s, %s, %s, %s, '{\"provider\":\"email\"}', %s, now())",
            (user_id, email, phone, ORIGINAL_SECRETS[0], meta, ORIGINAL_SECRETS[2]),
        )
        conn.execute(
            "insert into auth.identities (provider_id, user_id, identity_data, provider, created_at)"
            " values (%s, %s, %s, 'email', now())",
            (user_id, user_id, json.dumps({"sub": user_id, "email": email, "email_verified": True})),
        )
        profile_email = email.upper() if index == 0 else email  # case differs from auth.users: still one person
        settings = {"phone": phone, "nickname": name.split()[0], "theme": "dark"} if phone else {"theme": "light"}
        conn.execute(
            "insert into public.profiles (id, email, full_name, bio, last_ip, settings)"
            " values (%s, %s, %s, %s, %s, %s)",
            (
                user_id,
                profile_email,
                name,
                bio(name, email),
                f"192.0.2.{index + 10}",
                json.dumps(settings),
            ),
        )
        session_id = str(uuid.uuid4())
        conn.execute(
            "insert into auth.sessions (id, user_id, created_at) values (%s, %s, now())", (session_id, user_id)
        )
        conn.execute(
            "insert into auth.refresh_tokens (token, user_id, session_id, revoked) values (%s, %s, %s, false)",
            (f"refresh-{uuid.uuid4().hex}", user_id, session_id),
        )
    conn.execute(
        "insert into auth.mfa_factors (id, user_id, factor_type, status, created_at, updated_at, secret)"
        " values (gen_random_uuid(), %s, 'totp', 'verified', now(), now(), %s)",
        (USERS[0][0], ORIGINAL_SECRETS[1]),
    )
    conn.execute("insert into public.products (name, price_cents) values ('Shoe', 1000), ('Hat', 500)")
    for index, (user_id, email, _phone, _name) in enumerate(USERS):
        conn.execute(
            "insert into public.orders (profile_id, product_id, shipping_address, contact_email, total_cents)"
            " values (%s, (select min(id) from public.products), %s, %s, %s)",
            (user_id, f"{index + 1} Real Street, Realtown", email, 1000 * (index + 1)),
        )


def seed_staging(conn: psycopg.Connection[Any]) -> None:
    """Staging's own rows, which the refresh replaces."""
    user_id = "b0000000-0000-4000-8000-000000000001"
    conn.execute(
        "insert into auth.users (id, email, aud) values (%s, 'old-staging@corp.test', 'authenticated')", (user_id,)
    )
    conn.execute("insert into public.profiles (id, email) values (%s, 'old-staging@corp.test')", (user_id,))
    conn.execute("insert into auth.sessions (id, user_id) values (gen_random_uuid(), %s)", (user_id,))


@pytest.fixture
def project(pg_cluster: Cluster, template_db: str) -> Iterator[Project]:
    base = reachable_tempdir("ops-anonymize-")
    root = base / "project"
    (root / "supabase" / "migrations").mkdir(parents=True)
    for name, sql in MIGRATIONS.items():
        (root / "supabase" / "migrations" / name).write_text(sql)
    (root / "pyproject.toml").write_text(_pyproject(RULES))
    suffix = uuid.uuid4().hex[:8]
    production, staging = f"anon_prod_{suffix}", f"anon_staging_{suffix}"
    cfg = load(root)
    for name in (production, staging):
        pg_cluster.create_database(name, template=template_db)
        migrate(cfg, pg_cluster.url(name))
    with pg_cluster.connection(production) as conn:
        seed_production(conn)
    with pg_cluster.connection(staging) as conn:
        seed_staging(conn)
    env = {
        "CI": "",
        "OPS_PROJECT_ROOT": str(root),
        "SUPABASE_DB_URL": pg_cluster.url(production),
        "SUPABASE_STAGING_DB_URL": pg_cluster.url(staging),
        "OPS_TEST_SCRATCH_URL": pg_cluster.url("postgres"),
        "STAGING_TEST_PASSWORD": TEST_PASSWORD,
    }
    try:
        yield Project(root, pg_cluster, production, staging, env)
    finally:
        for name in (production, staging):
            pg_cluster.drop_database(name)
        shutil.rmtree(base, ignore_errors=True)


def take_verified_backup(project: Project) -> str:
    exported = project.ops("backup.export", "--env", "production", "--json")
    assert exported.code == 0, exported.output
    verified = project.ops("backup.verify", "--latest")
    assert verified.code == 0, verified.output
    return str(json.loads(exported.stdout)["id"])


def all_text(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """(column, value) for every text-like and json value of every table outside the catalogs."""
    columns = conn.execute(
        "select n.nspname, c.relname, a.attname from pg_attribute a join pg_class c on c.oid = a.attrelid"
        " join pg_namespace n on n.oid = c.relnamespace join pg_type t on t.oid = a.atttypid"
        " where c.relkind = 'r' and a.attnum > 0 and not a.attisdropped"
        " and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'"
        " and t.typname in ('text', 'varchar', 'bpchar', 'citext', 'json', 'jsonb', 'inet', 'name')"
    ).fetchall()
    values = []
    for schema, table, column in columns:
        query = psycopg.sql.SQL("select {}::text from {} where {} is not null").format(
            psycopg.sql.Identifier(column), psycopg.sql.Identifier(schema, table), psycopg.sql.Identifier(column)
        )
        values += [(f"{schema}.{table}.{column}", row[0]) for row in conn.execute(query)]
    return values


def counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    tables = ("auth.users", "auth.identities", "public.profiles", "public.products", "public.orders")
    return {table: conn.execute(f"select count(*) from {table}").fetchone()[0] for table in tables}  # type: ignore[index]


def test_refresh_masks_everything_and_keeps_joins(project: Project) -> None:
    backup_id = take_verified_backup(project)
    result, report = project.refresh()
    assert result.code == 0, result.output
    assert report["status"] == "ok" and report["backup"] == backup_id
    summary = result.stderr.strip().splitlines()[-1]
    assert summary.startswith(f"staging refreshed from production backup {backup_id}: {report['rows']} rows in"), (
        summary
    )
    assert [s["status"] for s in report["steps"]] == ["ok"] * 7
    assert "public.profiles.email" in report["masked_columns"] and "auth.users.email" in report["masked_columns"]
    assert report["tables"]["public.orders"] == 4 and report["tables"]["auth.users"] == 4
    assert "auth.sessions" in report["emptied_tables"]
    with project.connect(project.production) as prod:
        expected_counts = counts(prod)
    with project.connect(project.staging) as staging:
        assert counts(staging) == expected_counts
        # No original email, name, phone or secret anywhere in staging (every text column of every table).
        originals = [u[1] for u in USERS] + [u[3] for u in USERS] + [u[2] for u in USERS if u[2]]
        originals += ["Realperson", "Real Street", "192.0.2.", "corp.test", "cdn.test", *ORIGINAL_SECRETS]
        leaks = [
            (where, original)
            for where, value in all_text(staging)
            for original in originals
            if original.lower() in value.lower()
        ]
        assert leaks == []
        # Joins hold; one person's masked email is the same in auth.users, profiles, identities and orders.
        rows = staging.execute(
            "select u.email, p.email, i.identity_data->>'email', i.email, o.contact_email,"
            " u.raw_user_meta_data->>'full_name', p.full_name"
            " from auth.users u join public.profiles p on p.id = u.id join auth.identities i on i.user_id = u.id"
            " join public.orders o on o.profile_id = p.id order by u.id"
        ).fetchall()
        assert len(rows) == 4
        for user_email, profile_email, identity_email, generated_email, order_email, meta_name, profile_name in rows:
            assert user_email == profile_email == identity_email == generated_email == order_email
            assert user_email.endswith(("@example.com", "@example.net", "@example.org"))
            assert meta_name == profile_name and meta_name
        assert len({row[0] for row in rows}) == 4  # unique stays unique
        # Sign-in works with the test password for every user (bcrypt via pgcrypto, as GoTrue checks it).
        signed_in = staging.execute(
            "select count(*) from auth.users where encrypted_password = extensions.crypt(%s, encrypted_password)",
            (TEST_PASSWORD,),
        ).fetchone()
        assert signed_in == (4,)
        assert staging.execute("select count(*) from auth.users where confirmation_token <> ''").fetchone() == (0,)
        # No sessions, tokens or MFA secrets; staging's own rows are gone.
        for table in ("auth.sessions", "auth.refresh_tokens", "auth.mfa_factors"):
            assert staging.execute(f"select count(*) from {table}").fetchone() == (0,), table
        assert staging.execute("select count(*) from auth.users where email like 'old-staging%'").fetchone() == (0,)
        # Masked shapes: same-length text, ip, json keys, phones; what is kept is kept.
        masked_bio, ip, settings = staging.execute(
            "select bio, host(last_ip), settings from public.profiles where id = %s", (USERS[0][0],)
        ).fetchone()  # type: ignore[misc]
        assert len(masked_bio) == len(bio(USERS[0][3], USERS[0][1]))
        assert ip.startswith("10.")
        assert settings["theme"] == "dark" and settings["phone"].startswith("1555") and settings["nickname"] != "Ann"
        phone = staging.execute("select phone from auth.users where id = %s", (USERS[0][0],)).fetchone()[0]  # type: ignore[index]
        assert phone == settings["phone"]  # the same phone in auth.users and in profiles.settings
        assert staging.execute("select string_agg(name, ',' order by id) from public.products").fetchone() == (
            "Shoe,Hat",
        )
        # Sequences follow the data: a new product gets the next id.
        assert staging.execute(
            "insert into public.products (name, price_cents) values ('New', 1) returning id"
        ).fetchone() == (3,)
    # The scratch database is gone.
    with project.connect("postgres") as conn:
        assert conn.execute("select count(*) from pg_database where datname like 'ops\\_refresh\\_%'").fetchone() == (
            0,
        )


def test_without_a_scratch_server_the_refresh_makes_a_throwaway_cluster(project: Project) -> None:
    project.set_rules(RULES.replace('scratch_db_url_env = "OPS_TEST_SCRATCH_URL"\n', ""))
    take_verified_backup(project)
    result, report = project.refresh()
    assert result.code == 0, result.output
    restore = next(step for step in report["steps"] if step["name"] == "restore into scratch")
    assert "on a throwaway cluster" in restore["detail"]
    with project.connect(project.staging) as staging:
        emails = [row[0] for row in staging.execute("select email from auth.users order by email")]
    assert len(emails) == 4 and not {user[1] for user in USERS} & set(emails)
    assert list((project.root / ".ops").glob("ops_refresh_*")) == []  # the cluster is gone


def staging_snapshot(project: Project) -> list[tuple[str, str]]:
    with project.connect(project.staging) as staging:
        return sorted(all_text(staging))


def test_refresh_refuses_a_staging_at_another_migration_head(project: Project) -> None:
    take_verified_backup(project)
    with project.connect(project.staging) as staging:
        staging.execute(
            "insert into supabase_migrations.schema_migrations (version, name, statements)"
            " values ('20990101000000', 'ahead', '{}')"
        )
    before = staging_snapshot(project)
    result, report = project.refresh()
    assert result.code == 2, result.output
    assert report["steps"][1]["status"] == "failed"
    assert report["error"] == "staging is at migration 20990101000000, the backup at 20250101000100"
    assert staging_snapshot(project) == before


def test_a_failure_during_masking_leaves_staging_untouched(project: Project) -> None:
    project.set_rules(RULES + '"public.orders.total_cents" = "fixed:lots"\n')
    take_verified_backup(project)
    before = staging_snapshot(project)
    result, report = project.refresh()
    assert result.code != 0
    failed = [s for s in report["steps"] if s["status"] == "failed"]
    assert [s["name"] for s in failed] == ["mask and verify"]
    assert "invalid input syntax for type integer" in failed[0]["detail"]
    assert report["steps"][-1] == {"name": "load into target", "status": "skipped", "seconds": 0.0, "detail": ""}
    assert staging_snapshot(project) == before
    with project.connect("postgres") as conn:
        assert conn.execute("select count(*) from pg_database where datname like 'ops\\_refresh\\_%'").fetchone() == (
            0,
        )


def test_a_failed_verification_stops_the_refresh_before_staging(project: Project) -> None:
    """Single letters under `text` (same length): with all 26 taken by originals, some fake
    must equal an original, and the verification must catch it."""
    for dbname in (project.production, project.staging):
        with project.connect(dbname) as conn:
            conn.execute("create table public.initials (letter text)")
    with project.connect(project.production) as prod:
        prod.execute("insert into public.initials select chr(c) from generate_series(97, 122) c")
    project.set_rules(RULES + '"public.initials.letter" = "text"\n')
    take_verified_backup(project)
    before = staging_snapshot(project)
    result, report = project.refresh()
    assert result.code == 1, result.output
    assert report["steps"][4]["name"] == "mask and verify" and report["steps"][4]["status"] == "failed"
    assert report["error"].startswith("masking verification failed (1 problem(s)): public.initials.letter:")
    assert report["error"].endswith("value(s) still equal an original")
    assert staging_snapshot(project) == before


def test_a_lock_held_on_staging_times_out_and_changes_nothing(project: Project) -> None:
    project.set_rules(RULES + 'lock_timeout = "1s"\n')
    take_verified_backup(project)
    before = staging_snapshot(project)
    with project.connect(project.staging) as reader:
        reader.execute("begin")
        reader.execute("lock table public.orders in access share mode")  # a long read by the staging app
        result, report = project.refresh()
        reader.execute("rollback")
    assert result.code == 3, result.output
    assert report["steps"][-1]["name"] == "load into target" and report["steps"][-1]["status"] == "failed"
    assert "lock timeout" in report["error"] and "raise lock_timeout" in report["hint"]
    assert staging_snapshot(project) == before


def test_refresh_needs_anonymize_and_yes(project: Project) -> None:
    result = project.ops("db.refresh", "--yes")
    assert result.code == 2 and "pass --anonymize" in result.stderr
    result = project.ops("db.refresh", "--anonymize")
    assert result.code == 2 and "pass --yes" in result.stderr
    result = project.ops("db.refresh", "--anonymize", "--yes", "--to", "production")
    assert result.code == 2 and "never targets production" in result.stderr


def test_production_as_the_target_is_refused_in_every_spelling(project: Project) -> None:
    port, password, prod = project.cluster.port, project.cluster.password, project.production
    spellings = [
        f"postgresql://postgres:{password}@127.1:{port}/{prod}",
        f"postgresql://postgres:{password}@2130706433:{port}/{prod}",
        f"postgresql://postgres:{password}@localhost.:{port}/{prod}",
        f"postgresql://postgres:{password}@[::ffff:127.0.0.1]:{port}/{prod}",
        f"postgresql://postgres:{password}@decoy.invalid:1/staging?host=127.0.0.1&port={port}&dbname={prod}",
        f"host=localhost port={port} dbname={prod} user=postgres password={password}",
    ]
    before = staging_snapshot(project)
    for spelling in spellings:
        project.env["SUPABASE_STAGING_DB_URL"] = spelling
        result = project.ops("db.refresh", "--anonymize", "--yes")
        assert result.code == 2, (spelling, result.output)
        assert "reaches production's database" in result.stderr, spelling
    assert staging_snapshot(project) == before
    with project.connect("postgres") as conn:
        assert conn.execute("select count(*) from pg_database where datname like 'ops\\_refresh\\_%'").fetchone() == (
            0,
        )


def test_refresh_refuses_an_unruled_personal_column(project: Project) -> None:
    with project.connect(project.production) as prod:
        prod.execute("alter table public.profiles add column home_address text")
    with project.connect(project.staging) as staging:
        staging.execute("alter table public.profiles add column home_address text")
    take_verified_backup(project)
    before = staging_snapshot(project)
    result, report = project.refresh()
    assert result.code == 1, result.output
    assert "public.profiles.home_address looks personal" in report["error"]
    assert staging_snapshot(project) == before


def test_anonymize_check_follows_the_migrations(project: Project) -> None:
    check_db = f"anon_check_{uuid.uuid4().hex[:8]}"
    url = project.cluster.url(check_db)

    def check() -> tuple[CliResult, dict[str, Any]]:
        result = project.ops("db.anonymize", "--check", "--db", url, "--json")
        return result, json.loads(result.stdout)

    project.cluster.create_database(check_db, template="ops_test_template")
    try:
        migrate(load(project.root), url)
        result, document = check()
        assert result.code == 0, result.output
        assert document["unruled"] == [] and document["problems"] == []

        project.write_migration("20250101000200_phone.sql", "alter table public.profiles add column phone_number text;")
        migrate(load(project.root), url)
        result, document = check()
        assert result.code == 1
        assert document["unruled"] == [{"column": "public.profiles.phone_number", "reason": "name (phone)"}]
        assert "public.profiles.phone_number: looks personal by name (phone) and has no rule" in result.stderr

        project.set_rules(RULES + '"public.profiles.phone_number" = "phone"\n"public.profiles.gone" = "name"\n')
        result, document = check()
        assert result.code == 1
        assert document["unruled"] == []
        assert document["problems"] == ["rule public.profiles.gone: no such column in the database"]

        project.set_rules(RULES + '"public.profiles.phone_number" = "phone"\n')
        result, document = check()
        assert result.code == 0, result.output
    finally:
        project.cluster.drop_database(check_db)


def test_anonymize_check_on_the_migrations_shadow(project: Project) -> None:
    from ops.anonymize import check

    project.write_migration("20250101000200_phone.sql", "alter table public.profiles add column phone_number text;")
    report = check(load(project.root), cluster=project.cluster)
    assert report.exit_code == 1
    assert [item["column"] for item in report.unruled] == ["public.profiles.phone_number"]


def test_anonymize_check_without_a_dev_stack_builds_the_shadow_on_a_throwaway_cluster(project: Project) -> None:
    project.write_migration("20250101000200_phone.sql", "alter table public.profiles add column phone_number text;")
    result = project.ops("db.anonymize", "--check", "--json")
    assert result.code == 1, result.output
    document = json.loads(result.stdout)
    assert document["database"] == "the migrations (shadow database)"
    assert document["unruled"] == [{"column": "public.profiles.phone_number", "reason": "name (phone)"}]
    assert list((project.root / ".ops").glob("ops-scratch-*")) == []


def test_bad_rules_are_config_errors(project: Project) -> None:
    project.set_rules('[tool.ops.anonymize]\n"public.profiles.email" = "emial"\n')
    result = project.ops("db.anonymize", "--check", "--db", "staging")
    assert result.code == 2
    assert "unknown strategy 'emial' (did you mean 'email'?)" in result.stderr
    project.set_rules('[tool.ops.anonymize]\nscratch_url_env = "X"\n')
    result = project.ops("db.anonymize", "--check", "--db", "staging")
    assert result.code == 2
    assert "unknown key 'scratch_url_env'" in result.stderr and "scratch_db_url_env" in result.stderr
