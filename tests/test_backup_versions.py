"""pg_dump/pg_restore of the server's major version: a PostgreSQL 16 server
(the embedded pgserver wheel's binaries) is never dumped with PostgreSQL 15's
pg_dump, which refuses a newer server ("server version mismatch")."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.errors import BinaryNotFound
from ops.pg.binaries import client_bindir, installations
from ops.pg.cluster import Cluster
from tests.conftest import reachable_tempdir, run_cli, running_cluster

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pg16() -> Iterator[Cluster]:
    # The dev extra installs the pgserver wheel (PostgreSQL 16), so this always runs.
    assert any(inst.major == 16 and inst.has_server for inst in installations()), (
        "no PostgreSQL 16 server: run ./scripts/bootstrap (the dev extra installs pgserver)"
    )
    with running_cluster("ops-backup-pg16-", version=16) as cluster:
        yield cluster


def test_a_pg16_server_is_dumped_and_verified_with_pg16_binaries(pg16: Cluster) -> None:
    assert any(inst.major == 15 for inst in installations()), "the point is that PostgreSQL 15 is installed too"
    pg16.create_database("app16")
    with pg16.connection("app16") as conn:
        conn.execute("create table notes (id int primary key, body text)")
        conn.execute("insert into notes select g, 'note ' || g from generate_series(1, 25) g")
        # a PG16-only catalog shape pg_dump 15 could not read
        assert conn.execute("show server_version_num").fetchone()[0].startswith("16")  # type: ignore[index]
    root = reachable_tempdir("ops-backup-pg16-project-")
    try:
        (root / "pyproject.toml").write_text('[tool.ops]\n\n[tool.ops.backup]\nrepository = "backups"\n')
        env = {"SUPABASE_DB_URL": pg16.url("app16"), "OPS_PROJECT_ROOT": str(root)}
        exported = run_cli("backup.export", "--json", cwd=root, env=env)
        assert exported.code == 0, exported.output
        manifest = json.loads(exported.stdout)
        assert manifest["server_version"].startswith("16.") and manifest["client_version"].startswith("16.")
        assert manifest["row_counts"] == {"public.notes": 25}
        verified = run_cli("backup.verify", "--latest", "--json", cwd=root, env=env)
        assert verified.code == 0, verified.output
        assert json.loads(verified.stdout)["toc_entries"] > 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_no_client_of_a_new_enough_major_is_one_line_that_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPS_PG_BINDIR", raising=False)
    monkeypatch.setenv("OPS_PROJECT_ROOT", str(Path(__file__).resolve().parents[1]))
    with pytest.raises(BinaryNotFound) as caught:
        client_bindir(18, "pg_dump")
    error = caught.value
    assert error.exit_code == 3
    assert error.message.startswith("no pg_dump of PostgreSQL 18 or newer (found: ")
    assert "15 (/usr/lib/postgresql/15/bin)" in error.message
    assert "apt-get install postgresql-client-18" in (error.hint or "")
