"""backup.export / list / verify / drill against real PostgreSQL.

Two databases on the test cluster stand in for production and staging; the
drill creates drill_<id> on "staging"'s server and runs the real sample app
against it. Every command runs through the real CLI in a temp project.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
import pytest

from ops.backup.manifest import checksum_tree, sha256_file
from ops.backup.pgtools import target
from ops.backup.restore import row_counts
from ops.pg.bootstrap import apply_bootstrap
from ops.pg.cluster import Cluster
from tests.conftest import REPO, CliResult, LocalStack, reachable_tempdir, run_cli, running_cluster, tiny_filesystem

HISTORY_DDL = """
create schema if not exists supabase_migrations;
create table if not exists supabase_migrations.schema_migrations (
  version text primary key, statements text[], name text
);
"""


JWT_SECRET = "jwt-" + uuid.uuid4().hex


@dataclass
class Environments:
    """Production's database on the shared test cluster; staging's on a server of
    its own (a drill creates databases on staging's server, never on production's)."""

    cluster: Cluster
    production: str
    staging: str
    staging_cluster: Cluster

    def url(self, name: str) -> str:
        return self.staging_cluster.url(name) if name == self.staging else self.cluster.url(name)


def apply_app_schema(cluster: Cluster, dbname: str) -> str:
    """The repo's real migrations and seed, recorded in the Supabase history table."""
    migrations = sorted((REPO / "supabase" / "migrations").glob("*.sql"))
    with cluster.connection(dbname) as conn:
        conn.execute(HISTORY_DDL)
        for path in migrations:
            conn.execute(path.read_text())  # type: ignore[arg-type]
            version, _, name = path.stem.partition("_")
            conn.execute(
                "insert into supabase_migrations.schema_migrations (version, name) values (%s, %s)", (version, name)
            )
        conn.execute((REPO / "supabase" / "seed.sql").read_text())  # type: ignore[arg-type]
    return migrations[-1].stem.partition("_")[0]


@pytest.fixture(scope="session")
def staging_cluster() -> Iterator[Cluster]:
    """A second server, Supabase-shaped (roles included), standing in for staging's."""
    with running_cluster("ops-test-pg-staging-") as cluster:
        yield cluster


@pytest.fixture(scope="module")
def environments(pg_cluster: Cluster, template_db: str, staging_cluster: Cluster) -> Iterator[Environments]:
    suffix = uuid.uuid4().hex[:8]
    production, staging = f"bk_prod_{suffix}", f"bk_staging_{suffix}"
    pg_cluster.create_database(production, template=template_db)
    staging_cluster.create_database(staging)
    with staging_cluster.connection(staging) as conn:
        apply_bootstrap(conn)
    apply_app_schema(pg_cluster, production)
    with pg_cluster.connection() as conn:
        # Supabase keeps the JWT secret as a database setting: it must restore, never be printed.
        conn.execute(f"alter database {production} set app.settings.jwt_secret to '{JWT_SECRET}'")
    try:
        yield Environments(pg_cluster, production, staging, staging_cluster)
    finally:
        pg_cluster.drop_database(production)
        staging_cluster.drop_database(staging)


@dataclass
class Project:
    root: Path
    env: dict[str, str]
    password: str
    staging_password: str

    def ops(self, *args: str) -> CliResult:
        result = run_cli(*args, cwd=self.root, env=self.env)
        assert self.password not in result.output, "a password reached the output"
        assert self.staging_password not in result.output, "a password reached the output"
        assert JWT_SECRET not in result.output, "a database setting's secret reached the output"
        return result

    def ops_json(self, *args: str) -> tuple[CliResult, dict]:  # type: ignore[type-arg]
        result = self.ops(*args, "--json")
        assert result.stdout, result.output
        return result, json.loads(result.stdout)

    @property
    def backups(self) -> Path:
        return self.root / "backups"


@pytest.fixture
def project(environments: Environments) -> Iterator[Project]:
    root = reachable_tempdir("ops-backup-project-")
    # The sample app's smoke checks, as this repo configures them.
    smoke = (
        "[[tool.ops.backup.drill.smoke]]"
        + (REPO / "pyproject.toml").read_text().split("[[tool.ops.backup.drill.smoke]]", 1)[1].split("\n# ", 1)[0]
    )
    (root / "pyproject.toml").write_text(
        '[tool.ops]\nstate_dir = ".ops"\n\n[tool.ops.backup]\nroot = "backups"\n\n' + smoke
    )
    env = {
        "SUPABASE_DB_URL": environments.url(environments.production),
        "SUPABASE_STAGING_DB_URL": environments.url(environments.staging),
    }
    try:
        yield Project(root, env, environments.cluster.password, environments.staging_cluster.password)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def real_counts(environments: Environments) -> dict[str, int]:
    with environments.cluster.connection(environments.production) as conn:
        return {
            table: conn.execute(f"select count(*) from {table}").fetchone()[0]  # type: ignore[index]
            for table in ("public.products", "public.orders", "public.order_items", "auth.users")
        }


def drill_databases(environments: Environments) -> list[str]:
    with environments.staging_cluster.connection() as conn:
        return [r[0] for r in conn.execute("select datname from pg_database where datname like 'drill\\_%'")]


def export(project: Project) -> dict:  # type: ignore[type-arg]
    result, manifest = project.ops_json("backup.export", "--env", "production")
    assert result.code == 0, result.output
    return manifest


def test_export_verify_drill_end_to_end(project: Project, environments: Environments) -> None:
    manifest = export(project)
    backup_dir = Path(manifest["path"])
    assert backup_dir == project.backups / "production" / manifest["id"]
    assert manifest["migration_head"] == "20250101000100"
    counts = real_counts(environments)
    assert {table: manifest["row_counts"][table] for table in counts} == counts
    assert (backup_dir / "roles.sql").is_file() and manifest["roles"] == {"file": "roles.sql", "skipped": None}
    assert "dump/toc.dat" in manifest["files"] and "roles.sql" in manifest["files"]
    assert manifest["dump"] == {"format": "directory", "path": "dump", "jobs": 2, "compression": 6}
    assert manifest["verification"] is None
    assert json.loads((backup_dir / "manifest.json").read_text())["row_counts"] == manifest["row_counts"]
    with environments.cluster.connection(environments.production) as conn:
        live_size = conn.execute("select pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
    assert manifest["database_size_bytes"] == pytest.approx(live_size, rel=0.2)
    # The table files were hashed while pg_dump -j2 still ran: the same checksums as reading the backup afresh.
    assert manifest["files"] == checksum_tree(backup_dir)
    assert len([name for name in manifest["files"] if name.endswith(".dat.gz")]) >= len(counts)

    listed = project.ops_json("backup.list")[1]["backups"]
    assert [(b["id"], b["verification"], b["migration_head"]) for b in listed] == [
        (manifest["id"], "unverified", "20250101000100")
    ]

    verified = project.ops("backup.verify", "--latest")
    assert verified.code == 0, verified.output
    assert verified.stdout.startswith(f"backup {manifest['id']} verified: {len(manifest['files'])} files match")
    stored = json.loads((backup_dir / "manifest.json").read_text())["verification"]
    assert stored["status"] == "ok" and stored["problems"] == []

    result, report = project.ops_json("backup.drill")
    assert result.code == 0, result.output
    assert report["status"] == "ok" and report["error"] is None
    assert [(s["name"], s["status"]) for s in report["steps"]] == [
        ("verify backup", "ok"),
        ("create database", "ok"),
        ("restore", "ok"),
        ("analyze", "ok"),
        ("check migration head", "ok"),
        ("check row counts", "ok"),
        ("start app", "ok"),
        ("smoke GET /healthz", "ok"),
        ("smoke GET /readyz", "ok"),
        ("smoke GET /api/products", "ok"),
    ]
    checks = {c["name"]: (c["status"], c["actual"]) for c in report["checks"]}
    assert checks["migration head"] == ("ok", "20250101000100")
    for table, count in counts.items():
        assert checks[f"rows {table}"] == ("ok", count)
    assert checks["GET /healthz"] == checks["GET /readyz"] == checks["GET /api/products"] == ("ok", 200)
    assert report["rto_seconds"] > 0 and report["rpo_seconds"] > 0
    assert report["database"] == "drill_" + manifest["id"].lower()
    assert report["kept"] is False and drill_databases(environments) == []
    assert json.loads(Path(report["report_json"]).read_text())["rto_seconds"] == report["rto_seconds"]
    markdown = Path(report["report_markdown"]).read_text()
    assert markdown.startswith(f"# Restore drill {report['drill_id']}: OK")
    assert "- RTO (restore start to smoke pass):" in markdown and "| smoke GET /api/products | ok |" in markdown
    assert Path(report["report_json"]).parent == project.backups / "drills"
    assert manifest["database_settings"]["file"] == "database_settings.json"
    assert "app.settings.jwt_secret" in manifest["database_settings"]["names"]
    written = [backup_dir / "manifest.json", *(project.backups / "drills").iterdir()]
    assert {path.suffix for path in written} == {".json", ".md", ".log"}  # the drill app's log too
    for path in written:
        assert project.password not in path.read_text() and JWT_SECRET not in path.read_text(), path


def test_the_export_shows_its_progress_bar_on_a_terminal_only(project: Project) -> None:
    """On a terminal the bar moves per table; piped (CI logs, --json into a file) nothing of it is drawn."""
    import pty
    import threading

    env = {**os.environ, **project.env, "TERM": "xterm-256color", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    command = [sys.executable, "-m", "ops", "backup.export", "--json"]
    controller, terminal = pty.openpty()
    drawn = bytearray()

    def read_terminal() -> None:
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                return
            if not chunk:
                return
            drawn.extend(chunk)

    reader = threading.Thread(target=read_terminal, daemon=True)
    reader.start()
    try:
        on_terminal = subprocess.run(command, cwd=project.root, env=env, stdout=subprocess.PIPE, stderr=terminal)
    finally:
        os.close(terminal)
        reader.join(timeout=10)
        os.close(controller)
    assert on_terminal.returncode == 0 and json.loads(on_terminal.stdout)["row_counts"]
    assert "━".encode() in drawn  # rich's bar
    piped = subprocess.run(command, cwd=project.root, env=env, capture_output=True, text=True)
    assert piped.returncode == 0 and "━" not in piped.stderr
    assert piped.stderr.startswith("backup ") and project.password not in piped.stderr + drawn.decode(errors="replace")


def test_restored_row_counts_are_exact_and_name_missing_tables(environments: Environments) -> None:
    """The drill's counts: every table in one pipeline, quoted names included; a missing table is None."""
    name = f"bk_counts_{uuid.uuid4().hex[:8]}"
    environments.staging_cluster.create_database(name)
    try:
        with environments.staging_cluster.connection(name) as conn:
            conn.execute('create schema "Odd Schema"; create table "Odd Schema"."Mixed ""Case""" (id int)')
            conn.execute('insert into "Odd Schema"."Mixed ""Case""" select generate_series(1, 1234)')
            conn.execute("create table public.parent (id int); create table public.child () inherits (public.parent)")
            conn.execute("insert into public.parent values (1), (2); insert into public.child values (3)")
        tables = ["public.parent", "public.child", "public.gone", 'Odd Schema.Mixed "Case"']
        counts = row_counts(environments.staging_cluster.url(name), tables)
        assert counts == {"public.parent": 2, "public.child": 1, "public.gone": None, 'Odd Schema.Mixed "Case"': 1234}
        assert row_counts(environments.staging_cluster.url(name), []) == {}
    finally:
        environments.staging_cluster.drop_database(name)


def test_checksum_tree_reads_again_only_what_it_was_not_told(tmp_path: Path) -> None:
    """Entries taken while files were written are kept; a file whose size changed since is hashed again."""
    (tmp_path / "dump").mkdir()
    for relative, data in {"dump/1.dat.gz": b"one", "dump/2.dat.gz": b"two", "dump/toc.dat": b"toc"}.items():
        (tmp_path / relative).write_bytes(data)
    (tmp_path / "manifest.json").write_text("{}")
    taken_while_written = {
        "dump/1.dat.gz": {"sha256": "a" * 64, "bytes": 3},
        "dump/2.dat.gz": {"sha256": "b", "bytes": 1},
    }
    files = checksum_tree(tmp_path, known=taken_while_written)
    assert files == {
        "dump/1.dat.gz": {"sha256": "a" * 64, "bytes": 3},  # trusted: not read again
        "dump/2.dat.gz": {"sha256": sha256_file(tmp_path / "dump/2.dat.gz"), "bytes": 3},  # grew since: re-read
        "dump/toc.dat": {"sha256": sha256_file(tmp_path / "dump/toc.dat"), "bytes": 3},
    }


def test_flipped_byte_fails_verify_and_stops_the_drill(project: Project, environments: Environments) -> None:
    manifest = export(project)
    backup_dir = Path(manifest["path"])
    data_file = max((backup_dir / "dump").glob("*.dat.gz"), key=lambda p: p.stat().st_size)
    raw = bytearray(data_file.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    data_file.write_bytes(bytes(raw))
    relative = data_file.relative_to(backup_dir).as_posix()

    result = project.ops("backup.verify", "--backup", manifest["id"])
    assert result.code == 1
    assert result.stdout.splitlines() == [
        f"backup {manifest['id']} FAILED verification:",
        f"  {relative}: checksum mismatch",
    ]
    assert json.loads((backup_dir / "manifest.json").read_text())["verification"]["status"] == "failed"
    assert project.ops_json("backup.list")[1]["backups"][0]["verification"] == "failed"

    result, report = project.ops_json("backup.drill", "--backup", manifest["id"])
    assert result.code == 1
    assert report["steps"][0] == {
        "name": "verify backup",
        "status": "failed",
        "seconds": report["steps"][0]["seconds"],
        "detail": f"backup {manifest['id']} failed verification: {relative}: checksum mismatch",
    }
    assert {s["status"] for s in report["steps"][1:]} == {"skipped"}
    assert report["rto_seconds"] is None
    assert drill_databases(environments) == []
    assert result.stderr.splitlines()[-3:] == [
        "drill FAILED at step 'verify backup'",
        f"error: backup {manifest['id']} failed verification: {relative}: checksum mismatch"
        " (fix: drill an intact backup (--backup ID) and take a new export)",
        f"report: {report['report_markdown']}",
    ]


def test_truncated_file_is_named(project: Project) -> None:
    manifest = export(project)
    toc = Path(manifest["path"]) / "dump" / "toc.dat"
    toc.write_bytes(toc.read_bytes()[:10])
    result = project.ops("backup.verify", "--latest")
    assert result.code == 1
    assert f"  dump/toc.dat: size 10 bytes, expected {manifest['files']['dump/toc.dat']['bytes']}" in result.stdout


def test_kill_9_during_export_leaves_nothing_listed(project: Project, environments: Environments) -> None:
    # pg_dump waits for the lock, so the export is reliably mid-way when killed.
    with export_held_at_lock(project, environments, "public.products", start_new_session=True) as proc:
        assert len(list((project.backups / "production").glob("*.partial"))) == 1
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    partial = next((project.backups / "production").glob("*.partial"))
    assert project.ops_json("backup.list")[1] == {"backups": [], "unfinished": [str(partial)], "damaged": []}
    listed = project.ops("backup.list")
    assert listed.stdout.splitlines() == [
        f"warning: unfinished export (running, or interrupted: delete it once nothing runs): {partial}",
        "no backups",
    ]
    manifest = export(project)
    assert [b["id"] for b in project.ops_json("backup.list")[1]["backups"]] == [manifest["id"]]


def test_row_counts_and_dump_come_from_one_snapshot(project: Project, environments: Environments) -> None:
    """Rows committed while the export runs are in neither the counts nor the dump."""
    before = real_counts(environments)["public.products"]
    held = export_held_at_lock(project, environments, "public.order_items", "--json", stdout=subprocess.PIPE)
    with held as proc, environments.cluster.connection(environments.production) as writer:
        writer.execute(
            "insert into public.products (slug, name, price_cents) select 'late-' || g, 'Late ' || g, 100"
            " from generate_series(1, 5) g"
        )
    stdout, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    manifest = json.loads(stdout)
    assert real_counts(environments)["public.products"] == before + 5
    assert manifest["row_counts"]["public.products"] == before

    result, report = project.ops_json("backup.drill", "--backup", manifest["id"], "--keep")
    assert result.code == 0, result.output
    checks = {c["name"]: (c["status"], c["actual"]) for c in report["checks"]}
    assert checks["rows public.products"] == ("ok", before)
    assert report["kept"] is True and drill_databases(environments) == [report["database"]]
    assert f"kept database {report['database']} (--keep)" in result.stderr
    with environments.staging_cluster.connection() as conn:
        settings = conn.execute(
            "select s.setconfig from pg_db_role_setting s join pg_database d on d.oid = s.setdatabase"
            " where d.datname = %s and s.setrole = 0",
            (report["database"],),
        ).fetchone()[0]  # type: ignore[index]
    assert f"app.settings.jwt_secret={JWT_SECRET}" in settings
    environments.staging_cluster.drop_database(report["database"])


@contextmanager
def export_held_at_lock(
    project: Project, environments: Environments, table: str, *args: str, **popen: Any
) -> Iterator[subprocess.Popen[str]]:
    """A real export in a subprocess, held mid-dump: pg_dump waits for our lock on
    ``table`` until the block ends."""
    blocker = environments.cluster.connect(environments.production, autocommit=False)
    blocker.execute(f"lock table {table} in access exclusive mode")  # type: ignore[arg-type]
    popen = {"stdout": subprocess.DEVNULL, **popen}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ops", "backup.export", *args],
        cwd=project.root,
        env={**os.environ, **project.env},
        stderr=subprocess.DEVNULL,
        text=True,
        **popen,
    )
    try:
        _wait_for_pg_dump_blocked(environments)
        yield proc
    finally:
        blocker.rollback()
        blocker.close()


def _wait_for_pg_dump_blocked(environments: Environments) -> None:
    """Bounded wait (not a timing assertion) until pg_dump waits on our lock."""
    deadline = time.monotonic() + 60
    with environments.cluster.connection() as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "select count(*) from pg_stat_activity where application_name = 'pg_dump' and wait_event_type = 'Lock'"
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.05)
    raise AssertionError("pg_dump never started waiting for the lock")


def test_drill_into_production_is_refused_before_anything_is_touched(
    project: Project, environments: Environments
) -> None:
    manifest = export(project)
    before = (Path(manifest["path"]) / "manifest.json").read_text()

    result = project.ops("backup.drill", "--to", "production")
    assert (result.code, result.stdout) == (2, "")
    assert (
        result.stderr.strip()
        == "error: backup.drill never restores into production (fix: use --to staging or --to local)"
    )

    project.env["SUPABASE_STAGING_DB_URL"] = project.env["SUPABASE_DB_URL"].replace("127.0.0.1", "localhost")
    result = project.ops("backup.drill", "--to", "staging")
    assert result.code == 2
    assert result.stderr.strip() == (
        "error: backup.drill refused: the database URL of 'staging' reaches production's database"
        " (fix: point it at a staging or local database)"
    )
    assert (Path(manifest["path"]) / "manifest.json").read_text() == before
    assert not (project.backups / "drills").exists() and drill_databases(environments) == []


def test_unreachable_source_is_an_external_failure_without_password(project: Project) -> None:
    project.env["SUPABASE_DB_URL"] = "postgresql://app:s3cret-pass@127.0.0.1:1/db"
    result = project.ops("backup.export")
    assert result.code == 3
    assert "s3cret-pass" not in result.output
    assert result.stderr.startswith("error: cannot connect to 127.0.0.1:1/db")
    assert list((project.backups / "production").iterdir()) == []


def test_nothing_to_verify_or_drill_is_a_usage_error(project: Project) -> None:
    expected = (
        f"error: no backups of 'production' in {project.backups / 'production'}"
        " (fix: run: inv backup.export --env production)"
    )
    for command in (["backup.verify"], ["backup.drill"]):
        result = project.ops(*command)
        assert (result.code, result.stderr.strip()) == (2, expected)
    result = project.ops("backup.drill", "--backup", "20200101T000000Z")
    assert (result.code, result.stderr.strip()) == (
        2,
        "error: no backup '20200101T000000Z' of 'production' (fix: see: inv backup.list --env production)",
    )


def test_bad_arguments_are_refused_before_anything_is_touched(project: Project, environments: Environments) -> None:
    manifest = export(project)
    result = project.ops("backup.verify", "--backup", manifest["id"], "--latest")
    assert (result.code, result.stderr.strip()) == (
        2,
        "error: pass either --backup ID or --latest, not both (fix: drop one of them)",
    )
    result = project.ops("backup.drill", "--jobs", "-1")
    assert (result.code, result.stderr.strip()) == (
        2,
        "error: --jobs expects a whole number >= 1, got '-1' (fix: for example --jobs 4)",
    )
    assert not (project.backups / "drills").exists() and drill_databases(environments) == []
    assert json.loads((Path(manifest["path"]) / "manifest.json").read_text())["verification"] is None


def test_a_damaged_manifest_is_named_and_listed(project: Project) -> None:
    manifest = export(project)
    manifest_path = Path(manifest["path"]) / "manifest.json"
    manifest_path.write_text(manifest_path.read_text()[:40])
    result = project.ops("backup.verify", "--backup", manifest["id"])
    assert result.code == 1
    assert result.stderr.startswith(f"error: {manifest_path} is unreadable: ")
    listing = project.ops_json("backup.list")[1]
    assert listing == {"backups": [], "unfinished": [], "damaged": [manifest["path"]]}
    listed = project.ops("backup.list")
    assert listed.stdout.splitlines() == [
        f"warning: damaged backup (manifest.json missing or unreadable; run backup.verify on it): {manifest['path']}",
        "no backups",
    ]
    pruned = project.ops("backup.prune", "--apply")
    assert pruned.code == 0 and Path(manifest["path"]).is_dir()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("retention = 5", "[tool.ops.backup] retention: Input should be a valid dictionary or instance of Retention"),
        ("root = 5", "[tool.ops.backup] root: Input should be a valid string"),
        ("drill = 3", "[tool.ops.backup] drill: Input should be a valid dictionary or instance of DrillSettings"),
        (
            "drill = {app_timeout = 'x'}",
            "[tool.ops.backup] drill.app_timeout: Input should be a valid number, unable to parse string as a number",
        ),
        ("jobs = 0", "[tool.ops.backup] jobs: Input should be greater than or equal to 1"),
        (
            "encrypt_to = ['AGE-SECRET-KEY-1QQQ']",
            "[tool.ops.backup] encrypt_to: must be age public keys (age1...);"
            " keep the identity (AGE-SECRET-KEY-1...) out of the config",
        ),
    ],
)
def test_bad_config_is_a_one_line_config_error(setting: str, message: str, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.ops]\n\n[tool.ops.backup]\n{setting}\n")
    key = message.split("] ", 1)[1].split(":", 1)[0]
    for command in ("backup.list", "backup.prune", "backup.drill"):
        result = run_cli(command, cwd=tmp_path, env={"OPS_PROJECT_ROOT": str(tmp_path)})
        assert (result.code, result.stderr.strip()) == (
            2,
            f"error: {message} (fix: fix {key} in [tool.ops.backup] of pyproject.toml)",
        )


def test_an_unknown_key_gets_a_did_you_mean(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.ops]\n\n[tool.ops.backup.retention]\ndayly = 3\n")
    result = run_cli("backup.list", cwd=tmp_path, env={"OPS_PROJECT_ROOT": str(tmp_path)})
    assert (result.code, result.stderr.strip()) == (
        2,
        "error: [tool.ops.backup] unknown key 'retention.dayly' (fix: did you mean 'daily'? (in pyproject.toml))",
    )


def test_drill_from_staging_into_the_local_stack(local_stack: LocalStack, environments: Environments) -> None:
    """--from staging exports and drills staging's backup; --to local restores on the dev stack's server."""
    apply_app_schema(environments.staging_cluster, environments.staging)
    local_password = str(unquote(urlsplit(local_stack.db_url).password or ""))
    env = {
        "OPS_PROJECT_ROOT": str(local_stack.root),
        "SUPABASE_DB_URL": environments.url(environments.production),
        "SUPABASE_STAGING_DB_URL": environments.url(environments.staging),
    }
    backups = local_stack.root / ".ops" / "backups"
    try:
        exported = run_cli("backup.export", "--env", "staging", "--json", cwd=local_stack.root, env=env)
        assert exported.code == 0, exported.output
        manifest = json.loads(exported.stdout)
        assert Path(manifest["path"]).parent == backups / "staging"
        result = run_cli("backup.drill", "--from", "staging", "--to", "local", "--json", cwd=local_stack.root, env=env)
        assert result.code == 0, result.output
        report = json.loads(result.stdout)
        assert (report["from_env"], report["to_env"], report["status"]) == ("staging", "local", "ok")
        assert report["backup"]["id"] == manifest["id"]
        assert report["server"] == target(local_stack.db_url).display().rsplit("/", 1)[0]
        for output in (exported.output, result.output):
            assert environments.cluster.password not in output and local_password not in output
            assert environments.staging_cluster.password not in output
        with psycopg.connect(local_stack.db_url) as conn:
            assert (
                conn.execute("select 1 from pg_database where datname = %s", (report["database"],)).fetchone() is None
            )
    finally:
        shutil.rmtree(backups, ignore_errors=True)


def test_a_user_who_cannot_read_every_table_gets_a_clear_error(project: Project, environments: Environments) -> None:
    role, password = f"bk_limited_{uuid.uuid4().hex[:6]}", "limited-" + uuid.uuid4().hex
    with environments.cluster.connection() as conn:
        conn.execute(f"create role {role} login password '{password}'")  # type: ignore[arg-type]
    try:
        project.env["SUPABASE_DB_URL"] = environments.cluster.url(environments.production, user=role, password=password)
        result = project.ops("backup.export")
        assert result.code == 3 and password not in result.output
        assert result.stderr.startswith("error: the database user cannot read ")
        assert result.stderr.strip().endswith(
            "(fix: back up as the owner (or a superuser), or grant SELECT on every table)"
        )
        assert list((project.backups / "production").iterdir()) == []
    finally:
        with environments.cluster.connection() as conn:
            conn.execute(f"drop role {role}")  # type: ignore[arg-type]


def test_prune_reverifies_the_newest_verified_backup_and_keeps_the_intact_one(project: Project) -> None:
    """Issue 14.1: a stale "ok" stamp on a damaged backup must not cost the only intact one."""
    first = export(project)
    assert project.ops("backup.verify", "--backup", first["id"]).code == 0
    second = export(project)
    assert project.ops("backup.verify", "--backup", second["id"]).code == 0
    second_dir = Path(second["path"])
    largest = max((p for p in (second_dir / "dump").iterdir()), key=lambda p: p.stat().st_size)
    subprocess.run(["truncate", "-s", "10", str(largest)], check=True)

    result, plan = project.ops_json("backup.prune", "--apply")
    assert result.code == 0, result.output
    assert [(c["id"], c["status"]) for c in plan["reverified"]] == [(second["id"], "failed"), (first["id"], "ok")]
    assert plan["deleted"] == [second["id"]]
    assert Path(first["path"]).is_dir() and not second_dir.exists()
    kept = {d["id"]: d for d in plan["decisions"]}[first["id"]]
    assert kept["action"] == "keep" and kept["verification"] == "ok"
    assert project.ops("backup.verify", "--backup", first["id"]).code == 0


def test_a_verification_that_cannot_run_is_unknown_never_failed(project: Project) -> None:
    oldest, older, newer = export(project), export(project), export(project)
    for manifest in (older, newer):
        assert project.ops("backup.verify", "--backup", manifest["id"]).code == 0
    empty_bindir = reachable_tempdir("ops-empty-bindir-")
    try:
        project.env["OPS_PG_BINDIR"] = str(empty_bindir)
        result, verified = project.ops_json("backup.verify", "--backup", newer["id"])
        assert result.code == 3 and verified["status"] == "unknown"
        assert verified["problems"][0].startswith("pg_restore --list could not run: ")
        stored = json.loads((Path(newer["path"]) / "manifest.json").read_text())["verification"]
        assert stored["status"] == "unknown"
        listed = {b["id"]: b["verification"] for b in project.ops_json("backup.list")[1]["backups"]}
        assert listed == {oldest["id"]: "unverified", older["id"]: "ok", newer["id"]: "unknown"}

        # The plan deletes oldest, but the newest verified backup (older) cannot be
        # re-verified: nothing is deleted, exit 3.
        result = project.ops("backup.prune", "--apply")
        assert result.code == 3
        assert result.stderr.strip().startswith(f"error: cannot re-verify backup {older['id']} before deleting")
        assert all(Path(m["path"]).is_dir() for m in (oldest, older, newer))
        stored = json.loads((Path(older["path"]) / "manifest.json").read_text())["verification"]
        assert stored["status"] == "unknown"
    finally:
        shutil.rmtree(empty_bindir, ignore_errors=True)


def test_a_full_disk_during_export_says_the_disk_is_full(project: Project) -> None:
    """pg_dump -j's own last line is "a worker process died unexpectedly"; the user is told the disk is full,
    and no backup is listed."""
    with tiny_filesystem(project.backups, "24k"):
        result = project.ops("backup.export", "--env", "production")
        assert result.code == 3, result.output
        line = result.stderr.strip().splitlines()[-1]
        assert line.startswith("error: pg_dump failed: the disk is full ("), line
        assert line.endswith(
            "(fix: free space on the disk that holds the backup (or the state dir), then export again)"
        )
        assert "Traceback" not in result.output
        listed = project.ops_json("backup.list")[1]["backups"]
        assert listed == []
