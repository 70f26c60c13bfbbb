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
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@contextmanager
def running_cluster(prefix: str, **options: Any) -> Iterator[Cluster]:
    """A started throwaway cluster in a temp dir the server account can enter; destroyed after."""
    base = reachable_tempdir(prefix)
    cluster = Cluster(base / "pg", settings=FAST_SETTINGS, **options)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    with running_cluster("ops-test-pg-") as cluster:
        yield cluster


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


# --- the command line in-process (issue 11.8) -------------------------------------
# ``run_ops`` starts a real ``python -m ops`` (0.6-0.8 s each): keep it for what is
# about start-up (the console script, import cost, signals). ``run_cli`` runs the
# same Program in this process, with a fresh namespace (Invoke consumes help
# strings while parsing), the given cwd and environment, and captures stdout and
# stderr at the file-descriptor level, so the output of child processes (psql,
# ruff, pg_prove) is captured too.


@contextmanager
def _process_state(cwd: Path | str, env: dict[str, str]) -> Iterator[None]:
    """cwd, os.environ, argv and the signal handlers a task may change, restored afterwards."""
    import signal

    saved_cwd, saved_env, saved_argv = os.getcwd(), dict(os.environ), sys.argv
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        sys.argv = saved_argv
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


@contextmanager
def _captured_output() -> Iterator[list[str]]:
    """Capture fds 1 and 2 (and sys.stdout/sys.stderr on them) into the yielded [stdout, stderr]."""
    captured: list[str] = []
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        files = (out_file, err_file)
        saved_fds = [os.dup(1), os.dup(2)]
        saved_streams = (sys.stdout, sys.stderr)
        for fd, handle in zip((1, 2), files, strict=True):
            os.dup2(handle.fileno(), fd)
        sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        try:
            yield captured
        finally:
            for stream in (sys.stdout, sys.stderr):
                with suppress(OSError, ValueError):  # a task may have closed its pipe
                    stream.flush()
            sys.stdout, sys.stderr = saved_streams
            for fd, saved in zip((1, 2), saved_fds, strict=True):
                os.dup2(saved, fd)
                os.close(saved)
            for handle in files:
                handle.seek(0)
                captured.append(handle.read().decode("utf-8", errors="replace"))


def run_cli(*args: str, cwd: Path | str = REPO, env: dict[str, str] | None = None, timeout: float = 300) -> CliResult:
    """The ``ops`` command line run in this process: same arguments and result as ``run_ops``.

    ``timeout`` is accepted for symmetry with ``run_ops`` and not enforced in-process.
    ``OPS_TEST_SUBPROCESS=1`` runs every call as a real process instead (to compare, or
    to rule the in-process runner out when a test behaves oddly)."""
    if os.environ.get("OPS_TEST_SUBPROCESS") == "1":
        return run_ops(*args, cwd=cwd, env=env, timeout=timeout)
    from ops import __version__
    from ops.tasks import build_namespace, named_namespaces
    from ops.tasks.program import OpsProgram

    full_env = {**os.environ, **(env or {})}
    if env is None or "OPS_PROJECT_ROOT" not in env:
        full_env.pop("OPS_PROJECT_ROOT", None)
    code = 0
    with _process_state(cwd, full_env), _captured_output() as captured:
        sys.argv = ["ops", *args]
        namespace = build_namespace(only=named_namespaces(list(args)))  # as ops.tasks.program.main does
        program = OpsProgram(namespace=namespace, version=__version__, name="ops", binary="ops")
        try:
            program.run(["ops", *args])
        except SystemExit as exc:
            if isinstance(exc.code, int):
                code = exc.code
            elif exc.code is not None:  # sys.exit("message"): printed, exit 1
                print(exc.code, file=sys.stderr)
                code = 1
    return CliResult(code, captured[0], captured[1])


@pytest.fixture
def cli():  # type: ignore[no-untyped-def]
    """``run_cli``: the command line in-process."""
    return run_cli


# --- unit vs integration (issue 8) -------------------------------------------
# A test that uses a real service is an integration test: `inv ci` runs
# `pytest -m "not integration"` first, then `pytest -m integration`. Tests that
# start services without these fixtures mark themselves with
# @pytest.mark.integration. fixturenames is the transitive closure, so a new
# fixture built on `database` is covered too.
SERVICE_FIXTURES = frozenset({"pg_cluster", "template_db", "database", "local_stack", "private_stack"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


# --- migration runner (issue 4) ------------------------------------------------
@dataclass
class MigrationProject:
    """A temp project: its own pyproject.toml ([tool.ops]) and supabase/ dir."""

    root: Path

    @property
    def migrations(self) -> Path:
        return self.root / "supabase" / "migrations"

    def write(self, filename: str, sql: str) -> Path:
        path = self.migrations / filename
        path.write_text(sql)
        return path

    def config(self):  # type: ignore[no-untyped-def]
        from ops.config import load

        return load(self.root)

    def cli(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> CliResult:
        """The real CLI in this project; staging's DB URL from ``env``. ``CI`` is cleared
        unless ``env`` sets it: the suite itself runs in CI on v* tags (deploy-prod.yml),
        where the production guard would otherwise let everything through."""
        env = {"CI": "", "OPS_PROJECT_ROOT": str(self.root), **(env or {})}
        return run_cli(*args, cwd=self.root, env=env, timeout=timeout)


@pytest.fixture
def migration_project(tmp_path: Path) -> MigrationProject:
    root = tmp_path / "project"
    (root / "supabase" / "migrations").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "sample"\n\n[tool.ops]\n')
    return MigrationProject(root)


# -- the local dev stack (issue 3) ----------------------------------------------------


def make_stack_project(root: Path, **dev: object) -> Path:
    """A temp project for the dev stack: its own pyproject.toml ([tool.ops]
    state_dir, [tool.ops.dev] with every port 0 = free; the app is the packaged
    sample app, ``ops.sample_app``) and this repo's supabase/ symlinked in. ``dev`` overrides [tool.ops.dev] keys."""
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    for name in ("supabase",):
        link = root / name
        if not link.exists():
            link.symlink_to(REPO / name, target_is_directory=True)
    settings: dict[str, object] = {
        "provider": "native",
        "db_port": 0,
        "app_port": 0,
        "http_port": 0,
        "https_port": 0,
        "admin_port": 0,
        **dev,
    }
    lines = ["[project]", 'name = "stack-sample"', "", "[tool.ops]", 'state_dir = ".ops"', "", "[tool.ops.dev]"]
    for key, value in settings.items():
        lines.append(f"{key} = {value!r}".replace("'", '"') if isinstance(value, str) else f"{key} = {value}")
    (root / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return root


@dataclass
class LocalStack:
    """A running native dev stack (Postgres + app + Caddy) for a temp project."""

    cfg: object  # ops.config.Config
    root: Path
    base_url: str  # https through Caddy
    app_url: str  # direct http to the app
    db_url: str
    ca_path: Path
    app_env: dict[str, str]


@contextmanager
def running_stack(prefix: str) -> Iterator[LocalStack]:
    """A REAL native stack for a fresh temp project, brought up with ``ops.stack.up``;
    stopped and deleted (state, temp dir) on exit."""
    from ops import stack
    from ops.config import load

    base = reachable_tempdir(prefix)
    root = make_stack_project(base / "project")
    cfg = load(root)
    try:
        stack.up(cfg)
        yield LocalStack(
            cfg=cfg,
            root=root,
            base_url=stack.local_base_url(cfg),
            app_url=stack.local_app_url(cfg),
            db_url=stack.local_db_url(cfg),
            ca_path=stack.local_ca_path(cfg),
            app_env=stack.local_app_env(cfg),
        )
    finally:
        stack.down(cfg, purge=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    """One stack shared by the whole session."""
    with running_stack("ops-test-stack-") as running:
        yield running


@pytest.fixture
def private_stack() -> Iterator[LocalStack]:
    """A dev stack of its own, for tests that break what they touch (``db.reset``)."""
    with running_stack("ops-test-private-stack-") as running:
        yield running


# A private stack is a real service too: its tests are integration tests (hook above).
SERVICE_FIXTURES = SERVICE_FIXTURES | {"private_stack"}


@contextmanager
def tiny_filesystem(path: Path, size: str) -> Iterator[Path]:
    """A real filesystem of ``size`` mounted at ``path`` (tmpfs; needs root and mount rights)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
