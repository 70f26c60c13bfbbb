"""Shared fixtures: a real PostgreSQL cluster from the project's own engine,
and a way to run the real command line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ops.pg.bootstrap import apply_bootstrap
from ops.pg.cluster import Cluster

REPO = Path(__file__).resolve().parents[1]
TEMPLATE_DB = "ops_test_template"
# Durability is irrelevant for throwaway test clusters.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def reachable_tempdir(prefix: str) -> Path:
    """A temp dir the unprivileged server account can enter when we are root."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    base = reachable_tempdir("ops-test-pg-")
    cluster = Cluster(base / "pg", settings=FAST_SETTINGS)
    cluster.init()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def template_db(pg_cluster: Cluster) -> str:
    """A bootstrapped (Supabase-shaped) database that test databases clone."""
    pg_cluster.create_database(TEMPLATE_DB)
    with pg_cluster.connection(TEMPLATE_DB) as conn:
        apply_bootstrap(conn)
    return TEMPLATE_DB


@dataclass
class TestDatabase:
    cluster: Cluster
    name: str

    @property
    def url(self) -> str:
        return self.cluster.url(self.name)

    def connect(self):  # type: ignore[no-untyped-def]
        return self.cluster.connect(self.name)


@pytest.fixture
def database(pg_cluster: Cluster, template_db: str) -> Iterator[TestDatabase]:
    """A fresh Supabase-shaped database, cloned from the template."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg_cluster.create_database(name, template=template_db)
    try:
        yield TestDatabase(pg_cluster, name)
    finally:
        pg_cluster.drop_database(name)


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_ops(*args: str, cwd: Path | str = REPO, env: dict[str, str] | None = None, timeout: float = 300) -> CliResult:
    """Run the real ``ops`` command line (the same namespace as ``inv``)."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("OPS_PROJECT_ROOT", None) if env is None or "OPS_PROJECT_ROOT" not in env else None
    proc = subprocess.run(
        [sys.executable, "-m", "ops", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def ops_cli():  # type: ignore[no-untyped-def]
    return run_ops
