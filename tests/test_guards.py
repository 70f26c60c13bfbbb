"""Production guards compare targets by what they reach (issue 14 items 5 and 6).

The URL variants below are the bypasses measured in issue 14; each is run
through the one comparison, and the dangerous ones through the real commands
against a real database, asserting that nothing was touched.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from ops import config, guards, targets
from ops.errors import ConfigError, GuardRefused

PROD = "postgresql://postgres:pw@db.prod.example.com:5432/postgres"


@pytest.mark.parametrize(
    ("variant", "same"),
    [
        (PROD, True),
        ("postgresql://postgres:pw@DB.PROD.EXAMPLE.COM/postgres", True),
        ("postgres://other:x@db.prod.example.com./postgres", True),
        ("postgresql://u:p@decoy.invalid:1/postgres?host=db.prod.example.com&port=5432", True),
        ("postgresql://u:p@db.prod.example.com/stg?dbname=postgres", True),
        ("postgresql://u:p@db.prod.example.com/p%6Fstgres", True),
        ("host=db.prod.example.com dbname=postgres user=x", True),
        ("host=db.prod.example.com port=5432 dbname=postgres", True),
        ("postgresql://u@staging.example.com,db.prod.example.com/postgres", True),
        ("postgresql://u@d%62.prod.example.com/postgres", True),
        ("postgresql://u:p@db.prod.example.com/staging", False),
        ("postgresql://u:p@db.prod.example.com:5433/postgres", False),
        ("postgresql://u:p@db.staging.example.com/postgres", False),
        ("host=db.staging.example.com dbname=postgres", False),
    ],
)
def test_database_urls_compare_by_what_they_reach(variant: str, same: bool) -> None:
    assert targets.same_database(variant, PROD) is same


@pytest.mark.parametrize(
    "variant",
    [
        "postgresql://u:p@127.0.0.1:7000/prod",
        "postgresql://u:p@127.1:7000/prod",
        "postgresql://u:p@2130706433:7000/prod",
        "postgresql://u:p@0x7f.0.0.1:7000/prod",
        "postgresql://u:p@localhost.:7000/prod",
        "postgresql://u:p@LOCALHOST:7000/prod",
        "postgresql://u:p@[::1]:7000/prod",
        "postgresql://u:p@[::ffff:127.0.0.1]:7000/prod",
        "postgresql://u:p@[0:0:0:0:0:0:0:1]:7000/prod",
        "postgresql://u:p@decoy.invalid:1/stg?host=127.0.0.1&port=7000&dbname=prod",
        "postgresql://u:p@decoy.invalid:1/prod?hostaddr=127.0.0.1&port=7000",
        "postgresql:///prod?host=/var/run/postgresql&port=7000",
        "host=localhost port=7000 dbname=prod",
        "hostaddr=127.0.0.1 port=7000 dbname=prod",
    ],
)
def test_loopback_spellings_reach_the_same_server(variant: str) -> None:
    assert targets.same_database(variant, "postgresql://postgres@localhost:7000/prod")


def test_supabase_pooler_projects_are_told_apart_by_the_user_name() -> None:
    """Supavisor serves every project of a region on one host and port; the user picks the project."""
    pooler = "aws-0-eu-west-1.pooler.supabase.com:5432/postgres"
    production = f"postgresql://postgres.prodref:pw@{pooler}"
    assert not targets.same_database(f"postgresql://postgres.stagingref:pw@{pooler}", production)
    assert not targets.same_server(f"postgresql://postgres.stagingref:pw@{pooler}", production)
    assert targets.same_database(
        "postgresql://other.PRODREF:x@AWS-0-eu-west-1.pooler.supabase.com./postgres", production
    )
    assert targets.same_database(
        "host=aws-0-eu-west-1.pooler.supabase.com user=postgres.prodref dbname=postgres", production
    )


def test_defaults_are_libpqs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGPORT", raising=False)
    monkeypatch.delenv("PGDATABASE", raising=False)
    # No port means 5432; no database means the user's name.
    assert targets.same_database("postgresql://app@db.example.com", "postgresql://x@db.example.com:5432/app")
    monkeypatch.setenv("PGPORT", "6000")
    assert targets.same_database("host=db.example.com dbname=d", "postgresql://db.example.com:6000/d")


def test_a_service_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    services = tmp_path / "pg_service.conf"
    services.write_text("[prod]\nhost=db.prod.example.com\nport=5432\ndbname=postgres\n")
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    assert targets.same_database("service=prod", PROD)
    assert targets.same_database("postgresql:///?service=prod", PROD)


def test_an_invalid_connection_string_is_one_line_without_the_secret() -> None:
    with pytest.raises(ConfigError) as info:
        targets.database_target("host=x password='s3cret")
    assert "s3cret" not in info.value.one_line()
    with pytest.raises(ConfigError):
        targets.database_target("postgresql://u:p@h:notaport/d")


@pytest.mark.parametrize(
    ("variant", "same"),
    [
        ("https://shop.example.com", True),
        ("HTTPS://Shop.Example.COM:443/some/path", True),
        ("https://shop.example.com.", True),
        ("https://user@shop.example.com/", True),
        ("http://shop.example.com", True),  # redirects to the https site
        ("https://sh%6Fp.example.com", True),
        ("https://shop.example.com:8443", False),
        ("https://staging.example.com", False),
        ("https://example.com", False),
    ],
)
def test_base_urls_compare_by_scheme_host_and_port(variant: str, same: bool) -> None:
    assert targets.same_base_url(variant, "https://shop.example.com/") is same


@pytest.mark.parametrize(
    "variant",
    ["https://127.0.0.1:9443", "https://127.1:9443", "https://2130706433:9443", "https://localhost.:9443",
     "https://[::1]:9443", "https://0x7f000001:9443", "https://0.0.0.0:9443", "https://LocalHost:9443/x"],
)  # fmt: skip
def test_loopback_base_urls_are_one_site(variant: str) -> None:
    assert targets.same_base_url(variant, "https://localhost:9443")
    assert not targets.same_base_url(variant, "https://localhost:9444")


def test_keyword_dsn_on_the_transaction_pooler_is_refused() -> None:
    for url in (
        "host=aws-0-eu-west-1.pooler.supabase.com port=6543 dbname=postgres user=postgres.abc",
        "postgresql://u:p@aws-0-eu-west-1.pooler.supabase.com/postgres?port=6543",
        "postgresql://u:p@a:5432,b:6543/postgres",
    ):
        with pytest.raises(GuardRefused, match="6543"):
            guards.refuse_transaction_pooler(url)
    guards.refuse_transaction_pooler("host=aws-0-eu-west-1.pooler.supabase.com port=5432 dbname=postgres")


def _project(root: Path, extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "supabase" / "migrations").mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f'[project]\nname = "team"\n\n[tool.ops]\n{extra}')
    return root


def test_production_target_refused_by_name_and_by_reach(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config.load(_project(tmp_path))
    monkeypatch.setenv("SUPABASE_DB_URL", "postgresql://postgres:pw@127.0.0.1:7000/postgres")
    monkeypatch.setenv("PRODUCTION_BASE_URL", "https://localhost:9443")
    with pytest.raises(GuardRefused, match="never targets production"):
        guards.refuse_production_target(cfg, "production", "load.run")
    with pytest.raises(GuardRefused, match="reaches production's base URL"):
        guards.refuse_production_target(cfg, "staging", "load.run", base_url="https://2130706433:9443")
    with pytest.raises(GuardRefused, match="reaches production's database"):
        guards.refuse_production_target(cfg, "staging", "db.seed", db_url="host=127.1 port=7000 dbname=postgres")
    # Another database on production's server: fine for a seed, not for a drill (it creates databases there).
    guards.refuse_production_target(cfg, "staging", "db.seed", db_url="postgresql://u@127.0.0.1:7000/staging")
    with pytest.raises(GuardRefused, match="on production's server"):
        guards.refuse_production_target(
            cfg, "staging", "backup.drill", db_url="postgresql://u@[::1]:7000/drill_x", whole_server=True
        )
    guards.refuse_production_target(cfg, "staging", "load.run", base_url="https://localhost:9444")


# -- the CI tag bypass (issue 14 item 6) ------------------------------------------------------------


def _git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    return subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = _project(tmp_path / "repo")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "first")
    return root


def _bypassed(root: Path, monkeypatch: pytest.MonkeyPatch) -> bool:
    cfg = config.load(root)
    try:
        guards.require_production_confirmation("production", False, "db.migrate", cfg=cfg)
    except GuardRefused:
        return False
    return True


CI_SPOOFS = [
    {"CI": "true", "GITHUB_REF": "refs/tags/v1"},
    {"CI": "true", "GITHUB_REF": "refs/tags/vanity"},
    {"CI": "true", "GITHUB_REF_TYPE": "tag", "GITHUB_REF_NAME": "v0"},
]


@pytest.mark.parametrize("spoof", CI_SPOOFS)
def test_ci_variables_alone_never_bypass(repo: Path, monkeypatch: pytest.MonkeyPatch, spoof: dict[str, str]) -> None:
    for key, value in spoof.items():
        monkeypatch.setenv(key, value)
    assert not _bypassed(repo, monkeypatch)


def test_only_an_annotated_matching_tag_at_head_bypasses(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("GITHUB_REF", "refs/tags/v1.0.0")
    _git(repo, "tag", "v1.0.0")  # lightweight
    assert not _bypassed(repo, monkeypatch)
    _git(repo, "tag", "-a", "release-1", "-m", "not matching v*")
    assert not _bypassed(repo, monkeypatch)
    _git(repo, "tag", "-a", "v0.9.0", "-m", "v0.9.0")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "second")  # the annotated tag is no longer at HEAD
    assert not _bypassed(repo, monkeypatch)
    _git(repo, "tag", "-a", "v1.1.0", "-m", "v1.1.0")
    assert _bypassed(repo, monkeypatch)
    monkeypatch.setenv("CI", "")
    assert not _bypassed(repo, monkeypatch)  # outside CI a tag does not replace --yes


def test_tag_pattern_comes_from_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path / "repo", '\n[tool.ops.release]\ntag_pattern = "release-*"\n')
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "first")
    monkeypatch.setenv("CI", "true")
    _git(root, "tag", "-a", "v1.0.0", "-m", "v1.0.0")
    assert not _bypassed(root, monkeypatch)
    _git(root, "tag", "-a", "release-7", "-m", "release-7")
    assert _bypassed(root, monkeypatch)


# -- the real commands, against a real database --------------------------------------------------


def _variants(url: str) -> list[str]:
    """Spellings of ``url`` (a loopback TCP URL) that reach the same database."""
    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(url)
    user, password, port, db = parts["user"], parts["password"], parts["port"], parts["dbname"]
    credentials = f"{quote(user)}:{quote(password, safe='')}"
    encoded_db = "".join(f"%{ord(char):02X}" if index == 1 else char for index, char in enumerate(db))
    return [
        url,
        f"postgresql://{credentials}@decoy.invalid:1/{db}?host=127.0.0.1&port={port}",
        f"postgresql://{credentials}@127.0.0.1:{port}/stg?dbname={db}",
        f"postgresql://{credentials}@127.0.0.1:{port}/{encoded_db}",
        f"host=127.1 port={port} dbname={db} user={user} password={password}",
        f"postgresql://{credentials}@localhost.:{port}/{db}",
    ]


def _tables(database: Any) -> set[str]:
    with database.connect() as conn:
        rows = conn.execute("select tablename from pg_tables where schemaname = 'public'").fetchall()
    return {row[0] for row in rows}


def test_staging_set_to_production_cannot_migrate_without_yes(migration_project: Any, database: Any) -> None:
    migration_project.write("20240101000000_a.sql", "create table guarded (id int);")
    for variant in _variants(database.url):
        env = {"SUPABASE_DB_URL": database.url, "SUPABASE_STAGING_DB_URL": variant}
        for command in (
            ("db.migrate", "--env", "staging"),
            ("db.repair", "20240101000000", "--status", "applied", "--env", "staging"),
        ):
            result = migration_project.cli(*command, env=env)
            assert result.code == 2, (variant, result.output)
            assert "reaches production's database" in result.stderr
            assert database.cluster.password not in result.output
    assert "guarded" not in _tables(database)
    with database.connect() as conn:
        history = conn.execute("select to_regclass('supabase_migrations.schema_migrations')").fetchone()
    assert history == (None,)


def test_seed_refuses_every_spelling_of_production(migration_project: Any, database: Any) -> None:
    (migration_project.root / "supabase" / "seed.sql").write_text("create table seeded (id int);")
    for variant in _variants(database.url):
        env = {"SUPABASE_DB_URL": database.url, "SUPABASE_STAGING_DB_URL": variant}
        result = migration_project.cli("db.seed", "--env", "staging", env=env)
        assert result.code == 2, (variant, result.output)
        assert "reaches production's database" in result.stderr
    assert "seeded" not in _tables(database)


def test_drill_refuses_production_server(migration_project: Any, database: Any) -> None:
    """Any database on production's server is refused: a drill creates drill_* there."""
    other_db = database.url.rsplit("/", 1)[0] + "/postgres"
    for variant in [*_variants(database.url), other_db]:
        env = {"SUPABASE_DB_URL": database.url, "SUPABASE_STAGING_DB_URL": variant}
        result = migration_project.cli("backup.drill", "--to", "staging", env=env)
        assert result.code == 2, (variant, result.output)
        assert "production's" in result.stderr
    with database.connect() as conn:
        drills = conn.execute("select count(*) from pg_database where datname like 'drill%'").fetchone()
    assert drills == (0,)


def test_migrate_refuses_a_keyword_dsn_on_the_pooler(migration_project: Any) -> None:
    dsn = "host=aws-0-eu-west-1.pooler.supabase.com port=6543 dbname=postgres user=postgres.abc password=s3cretpw"
    result = migration_project.cli("db.migrate", "--env", "staging", env={"SUPABASE_STAGING_DB_URL": dsn})
    assert result.code == 2
    assert "transaction pooler (port 6543)" in result.stderr
    assert "s3cretpw" not in result.output


def test_ci_tag_bypass_in_the_real_command(migration_project: Any, database: Any) -> None:
    root = migration_project.root
    migration_project.write("20240101000000_a.sql", "create table tagged (id int);")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "first")
    env = {"SUPABASE_DB_URL": database.url, "CI": "true", "GITHUB_REF": "refs/tags/v1.2.0"}
    _git(root, "tag", "v1.2.0")
    refused = migration_project.cli("db.migrate", "--env", "production", env=env)
    assert refused.code == 2 and "needs explicit confirmation" in refused.stderr
    assert "tagged" not in _tables(database)
    _git(root, "tag", "-f", "-a", "v1.2.0", "-m", "v1.2.0")
    assert migration_project.cli("db.migrate", "--env", "production", env=env).code == 0
    assert "tagged" in _tables(database)


# -- load.run: not one request reaches production ----------------------------------------------


class _Counter(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def production_site() -> Iterator[tuple[int, type[_Counter]]]:
    handler = type("ProductionCounter", (_Counter,), {"hits": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.integration
def test_load_run_sends_nothing_to_production_spellings(
    migration_project: Any, production_site: tuple[int, type[_Counter]]
) -> None:
    port, counter = production_site
    script = migration_project.root / "smoke.js"
    script.write_text("import http from 'k6/http';\nexport default function () { http.get(`${__ENV.BASE_URL}/`); }\n")
    for host in ("127.0.0.1", "127.1", "2130706433", "localhost.", "[::ffff:7f00:1]", "0x7f.0.0.1"):
        env = {"PRODUCTION_BASE_URL": f"http://localhost:{port}", "STAGING_BASE_URL": f"http://{host}:{port}"}
        result = migration_project.cli("load.run", "--script", str(script), "--env", "staging", env=env)
        assert result.code == 2, (host, result.output)
        assert "reaches production's base URL" in result.stderr
    assert counter.hits == 0


def test_a_malformed_production_url_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config.load(_project(tmp_path))
    monkeypatch.setenv("SUPABASE_DB_URL", "postgresql://u:s3cret@db.example.com:port/postgres")
    with pytest.raises(ConfigError) as info:
        guards.refuse_production_target(cfg, "staging", "db.seed", db_url="postgresql://u@staging.example.com/x")
    line = info.value.one_line()
    assert "database URL" in line and "production" in line and "SUPABASE_DB_URL" in line
    assert "s3cret" not in line
