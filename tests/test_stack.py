"""The local dev stack end to end: real Postgres, the real app, real Caddy TLS.

One module-scoped project goes through a life: up from nothing, a no-op
second up, status, recovery after kill -9, down. Tests run in file order and
each one starts from ``dev.up``, so any of them also runs on its own.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from conftest import REPO, CliResult, LocalStack, make_stack_project, reachable_tempdir, run_ops

from ops.config import load
from ops.local.state import StackPaths

# Every test here runs a real stack (most through their own `project`, not the shared
# fixtures), or `dev.up` up to its first check.
pytestmark = pytest.mark.integration


class Project:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.paths = StackPaths.of(load(root))

    def cli(self, *args: str) -> CliResult:
        return run_ops(*args, cwd=self.root, env={"OPS_PROJECT_ROOT": str(self.root)}, timeout=120)

    def up_json(self) -> dict:  # type: ignore[type-arg]
        result = self.cli("dev.up", "--json")
        assert result.code == 0, result.output
        return json.loads(result.stdout)

    def status(self) -> dict:  # type: ignore[type-arg]
        result = self.cli("dev.status", "--json")
        assert result.code == 0, result.output
        return json.loads(result.stdout)


def get_products(base_url: str, ca_path: str | Path) -> httpx.Response:
    # Verified against Caddy's own root CA: no verify=False anywhere.
    with httpx.Client(verify=ssl.create_default_context(cafile=str(ca_path)), timeout=10) as client:
        return client.get(f"{base_url}/api/products")


@pytest.fixture(scope="module")
def project() -> Iterator[Project]:
    base = reachable_tempdir("ops-test-stack-life-")
    proj = Project(make_stack_project(base / "project"))
    try:
        yield proj
    finally:
        proj.cli("dev.down", "--purge")
        shutil.rmtree(base, ignore_errors=True)


def test_local_stack_fixture_serves_the_catalog_through_caddy(local_stack: LocalStack) -> None:
    response = get_products(local_stack.base_url, local_stack.ca_path)
    assert response.status_code == 200
    assert response.headers["via"].endswith("Caddy")
    assert response.headers["x-request-id"]
    body = response.json()
    assert body["count"] >= 20 and len(body["products"]) == body["count"]
    assert local_stack.base_url.startswith("https://localhost:")
    assert local_stack.app_env["DATABASE_URL"] == local_stack.db_url
    assert {"ADMIN_TOKEN", "RATE_LIMIT_BYPASS_TOKEN"} <= set(local_stack.app_env)


def test_up_from_nothing_serves_catalog_rows_from_postgres_over_https(project: Project) -> None:
    result = project.cli("dev.up")
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"dev stack ready \(native, \d+\.\ds\)", lines[0])
    ports = json.loads(project.paths.state_file.read_text())["ports"]
    ca = project.paths.ca_path
    assert f"  app (https):  https://localhost:{ports['https']}" in lines
    assert f"  app (direct): http://127.0.0.1:{ports['app']}" in lines
    assert f"  database:     postgresql://postgres:***@127.0.0.1:{ports['db']}/postgres" in lines
    assert f"  CA:           {ca}" in lines
    trust = lines[lines.index("trust the CA:") + 1 :]
    assert trust[:3] == [
        f"  curl:   curl --cacert {ca} https://localhost:{ports['https']}/",
        f"  node:   export NODE_EXTRA_CA_CERTS={ca}",
        f"  system: caddy trust --address unix/{project.paths.caddy_dir / 'admin.sock'}",
    ]

    response = get_products(f"https://localhost:{ports['https']}", ca)
    assert response.status_code == 200
    slugs = [product["slug"] for product in response.json()["products"]]
    psql = project.cli("dev.psql", "-c", "select slug from public.products order by id")
    assert psql.code == 0, psql.output
    assert sorted(slugs) == sorted(line.strip() for line in psql.stdout.splitlines()[2:-2])


def test_second_up_is_a_quick_no_op(project: Project) -> None:
    project.up_json()
    pids = {row["service"]: row["pid"] for row in project.status()["services"]}
    report = project.up_json()
    assert report["changed"] is False
    assert report["steps"] == {
        "ports": "ok",
        "postgres": "running",
        "schema": "up to date",
        "services": "running",
        "caddy": "running",
        "ready": "healthy",
    }
    assert {row["service"]: row["pid"] for row in report["services"]} == pids
    human = project.cli("dev.up")
    assert human.stdout.startswith("dev stack already running (nothing to do) (native, ")


def test_status_lists_each_service_with_state_pid_port_and_health(project: Project) -> None:
    project.up_json()
    report = project.status()
    ports = json.loads(project.paths.state_file.read_text())["ports"]
    assert report["provider"] == "native" and report["healthy"] is True
    by_service = {row["service"]: row for row in report["services"]}
    assert list(by_service) == ["db", "app", "caddy"]
    assert {name: row["port"] for name, row in by_service.items()} == {
        "db": ports["db"],
        "app": ports["app"],
        "caddy": ports["https"],
    }
    for row in by_service.values():
        assert row["state"] == "running" and row["health"] == "ok" and row["pid"] > 0
    assert "***" in by_service["db"]["url"]
    human = project.cli("dev.status")
    # No secret reaches any output: the cluster password, the app's tokens.
    password = json.loads((project.paths.postgres_dir / "cluster.json").read_text())["password"]
    tokens = json.loads(project.paths.state_file.read_text())
    outputs = project.cli("dev.up", "--json").output + project.cli("dev.up").output + human.output
    for secret in (password, tokens["admin_token"], tokens["bypass_token"]):
        assert secret not in outputs + json.dumps(report)
    assert re.search(rf"│ app\s+│ running │ {by_service['app']['pid']}\s+│ {ports['app']}\s+│ ok", human.stdout)


def _kill9_and_wait(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("service", "step", "action"),
    [("db", "postgres", "started"), ("app", "services", "started app"), ("caddy", "caddy", "started")],
)
def test_up_repairs_a_service_killed_with_sigkill(project: Project, service: str, step: str, action: str) -> None:
    project.up_json()
    before = {row["service"]: row for row in project.status()["services"]}
    _kill9_and_wait(before[service]["pid"])

    after_kill = {row["service"]: row for row in project.status()["services"]}
    assert after_kill[service]["state"] == "stopped"

    report = project.up_json()
    assert report["changed"] is True
    assert report["steps"][step] == action
    assert report["steps"]["schema"] == "up to date"
    repaired = {row["service"]: row for row in project.status()["services"]}
    assert repaired[service]["state"] == "running" and repaired[service]["pid"] != before[service]["pid"]
    response = get_products(report["base_url"], report["ca_path"])
    assert response.status_code == 200 and response.json()["count"] >= 20


def test_up_does_not_trust_a_stale_pid_file_whose_pid_now_belongs_to_another_process(project: Project) -> None:
    import subprocess

    project.up_json()
    before = {row["service"]: row for row in project.status()["services"]}
    for service in ("app", "caddy"):
        _kill9_and_wait(before[service]["pid"])
    # After a reboot or a long time, the app's recorded pid may be an unrelated process.
    stranger = subprocess.Popen(["sleep", "300"])
    try:
        project.paths.pidfile("app").write_text(f"{stranger.pid} 1\n")
        project.paths.pidfile("caddy").write_text("not a pid\n")
        after = {row["service"]: row for row in project.status()["services"]}
        assert (after["app"]["state"], after["caddy"]["state"]) == ("stopped", "stopped")

        report = project.up_json()
        assert (report["steps"]["services"], report["steps"]["caddy"]) == ("started app", "started")
        assert stranger.poll() is None  # never signalled
        repaired = {row["service"]: row for row in project.status()["services"]}
        assert repaired["app"]["pid"] not in {stranger.pid, before["app"]["pid"]}
        assert get_products(report["base_url"], report["ca_path"]).status_code == 200
    finally:
        stranger.kill()
        stranger.wait()


def _squat(port: int) -> socket.socket:
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", port))
    squatter.listen()
    return squatter


def test_a_free_port_taken_by_another_process_meanwhile_is_picked_anew(project: Project) -> None:
    project.up_json()
    project.cli("dev.down")
    before = json.loads(project.paths.state_file.read_text())["ports"]
    with _squat(before["app"]):
        report = project.up_json()
    after = json.loads(project.paths.state_file.read_text())["ports"]
    assert after["app"] != before["app"]
    assert {k: v for k, v in after.items() if k != "app"} == {k: v for k, v in before.items() if k != "app"}
    assert report["app_url"] == f"http://127.0.0.1:{after['app']}"
    assert get_products(report["base_url"], report["ca_path"]).status_code == 200


def test_a_taken_port_of_an_existing_database_is_refused_with_how_to_move_it(project: Project) -> None:
    project.up_json()
    project.cli("dev.down")
    port = json.loads(project.paths.state_file.read_text())["ports"]["db"]
    with _squat(port):
        result = project.cli("dev.up")
    assert (result.code, result.stdout) == (3, "")
    assert result.stderr.strip() == (
        f"error: port {port} (db_port) is already in use by another process (fix: stop whatever listens on"
        f" 127.0.0.1:{port}, or run inv dev.down --purge to make the database anew on the db_port set in"
        " [tool.ops.dev] (0 picks a free port))"
    )
    assert [row["state"] for row in project.status()["services"]] == ["stopped", "stopped", "stopped"]

    # Another db_port for the existing database is refused too, instead of a URL that leads nowhere.
    pyproject = project.root / "pyproject.toml"
    original = pyproject.read_text()
    other = port + 1 if port < 65535 else port - 1
    pyproject.write_text(original.replace("db_port = 0", f"db_port = {other}"))
    try:
        moved = project.cli("dev.up")
    finally:
        pyproject.write_text(original)
    assert (moved.code, moved.stderr.strip()) == (
        2,
        f"error: db_port {other} in [tool.ops.dev] differs from the port {port} the local database was created with"
        " (fix: run inv dev.down --purge to make it anew on the new port, or set db_port back)",
    )


def test_down_stops_everything_and_purge_deletes_the_state(project: Project) -> None:
    project.up_json()
    result = project.cli("dev.down")
    assert result.code == 0, result.output
    assert result.stdout.splitlines() == ["stopped: caddy, app, db"]
    assert [row["state"] for row in project.status()["services"]] == ["stopped", "stopped", "stopped"]
    assert project.cli("dev.down").stdout.splitlines() == ["stopped: nothing was running"]

    # Warm start: the state is kept, so nothing is initialised again.
    report = project.up_json()
    assert report["steps"]["postgres"] == "started" and report["steps"]["schema"] == "up to date"

    purge = project.cli("dev.down", "--purge")
    assert purge.stdout.splitlines() == ["stopped: caddy, app, db", f"deleted {project.paths.root}"]
    assert not project.paths.root.exists()


def test_busy_port_is_a_one_line_error_naming_the_port_and_its_key(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        base = reachable_tempdir("ops-test-stack-busy-")
        try:
            root = make_stack_project(base / "project", https_port=port)
            result = run_ops("dev.up", cwd=root, env={"OPS_PROJECT_ROOT": str(root)})
        finally:
            shutil.rmtree(base, ignore_errors=True)
    assert result.code == 3
    assert result.stderr.strip() == (
        f"error: port {port} (https_port) is already in use by another process"
        f" (fix: stop whatever listens on 127.0.0.1:{port} or set https_port in [tool.ops.dev] (0 picks a free port))"
    )
    assert result.stdout == ""


@pytest.mark.skipif(os.geteuid() != 0, reason="the root path only exists when the suite runs as root")
def test_as_root_postgres_and_caddy_run_as_the_postgres_user(local_stack: LocalStack) -> None:
    from ops.local import local_cluster
    from ops.local.pids import live_pid

    postmaster = local_cluster(local_stack.cfg).pid()
    caddy = live_pid(StackPaths.of(local_stack.cfg).pidfile("caddy"))  # type: ignore[arg-type]
    app = live_pid(StackPaths.of(local_stack.cfg).pidfile("app"))  # type: ignore[arg-type]
    assert postmaster and caddy and app
    assert psutil.Process(postmaster).username() == "postgres"
    assert psutil.Process(caddy).username() == "postgres"
    assert psutil.Process(app).username() == "root"  # the project's own programs run as us


def _cli(stack: LocalStack, *args: str) -> CliResult:
    return run_ops(*args, cwd=stack.root, env={"OPS_PROJECT_ROOT": str(stack.root)})


def test_env_prints_masked_exports_and_reveal_prints_the_values_for_eval(local_stack: LocalStack) -> None:
    port = local_stack.db_url.rsplit(":", 1)[1].split("/")[0]
    masked = _cli(local_stack, "dev.env")
    assert masked.code == 0, masked.output
    assert f"export DATABASE_URL=postgresql://postgres:***@127.0.0.1:{port}/postgres" in masked.stdout.splitlines()
    assert "export ADMIN_TOKEN=***" in masked.stdout.splitlines()
    assert local_stack.app_env["ADMIN_TOKEN"] not in masked.output

    revealed = _cli(local_stack, "dev.env", "--reveal")
    exported = dict(line.removeprefix("export ").split("=", 1) for line in revealed.stdout.splitlines())
    # The app's own environment, and every service's URL (here the one app's).
    expected = {k: v for k, v in local_stack.app_env.items() if k != "PORT"} | {"APP_URL": local_stack.app_url}
    assert exported == expected  # token_urlsafe values and these URLs need no shell quoting


def test_logs_shows_each_service_and_refuses_an_unknown_one(local_stack: LocalStack) -> None:
    result = _cli(local_stack, "dev.logs", "-s", "app", "--lines", "3")
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    assert 1 <= len(lines) <= 3 and all(line.startswith("app   | {") for line in lines)
    every = _cli(local_stack, "dev.logs", "--lines", "1").stdout.splitlines()
    assert [line.split("|")[0].strip() for line in every] == ["db", "app", "caddy"]

    unknown = _cli(local_stack, "dev.logs", "--service", "web")
    assert unknown.code == 2
    assert unknown.stderr.strip() == "error: unknown service 'web' (fix: use one of: db, app, caddy)"


def test_logs_follow_prints_new_app_lines_with_the_request_id(local_stack: LocalStack) -> None:
    import contextlib
    import queue
    import subprocess
    import sys
    import threading
    import uuid

    request_id = f"follow-{uuid.uuid4().hex}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ops", "dev.logs", "--service", "app", "--follow", "--lines", "0"],
        cwd=local_stack.root,
        env={**os.environ, "OPS_PROJECT_ROOT": str(local_stack.root)},
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    # A reader thread, so that waiting for a line can time out.
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or []], daemon=True).start()
    try:
        # Requests are sent until one is logged after `--follow` has reached the end of the
        # log (how long the subprocess takes to start is unknown), within a generous bound.
        found = ""
        deadline = time.monotonic() + 30
        with httpx.Client(verify=ssl.create_default_context(cafile=str(local_stack.ca_path))) as client:
            while not found and time.monotonic() < deadline:
                client.get(f"{local_stack.base_url}/healthz", headers={"X-Request-Id": request_id})
                with contextlib.suppress(queue.Empty):
                    while not found:
                        line = lines.get(timeout=0.5)
                        found = line if request_id in line else ""
        assert found.startswith("app   | {") and json.loads(found.split("| ", 1)[1])["request_id"] == request_id
    finally:
        proc.terminate()
        proc.wait(10)


def test_psql_runs_a_command_on_the_local_database(local_stack: LocalStack) -> None:
    result = _cli(local_stack, "dev.psql", "-c", "select count(*) >= 20 as enough from public.products")
    assert result.code == 0, result.output
    assert [line.strip() for line in result.stdout.splitlines()] == ["enough", "--------", "t", "(1 row)", ""]


@pytest.mark.skipif(os.geteuid() != 0, reason="the root path only exists when the suite runs as root")
def test_as_root_a_state_dir_the_postgres_user_cannot_enter_is_refused_and_nothing_keeps_running(
    tmp_path: Path,
) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    root = make_stack_project(private / "project")
    result = run_ops("dev.up", cwd=root, env={"OPS_PROJECT_ROOT": str(root)})
    assert result.code == 2
    assert result.stderr.strip() == (
        f"error: Caddy runs as 'postgres', who cannot enter {private}"
        f" (fix: chmod o+x {private}, or keep the state dir under a directory others can enter)"
    )
    # Refused before anything started: nothing runs.
    paths = StackPaths.of(load(root))
    assert not paths.pidfile("caddy").exists()
    status = run_ops("dev.status", "--json", cwd=root, env={"OPS_PROJECT_ROOT": str(root)})
    assert [row["state"] for row in json.loads(status.stdout)["services"]] == ["stopped", "stopped", "stopped"]


def test_no_seed_applies_the_migrations_but_not_the_seed() -> None:
    base = reachable_tempdir("ops-test-stack-noseed-")
    root = make_stack_project(base / "project")
    env = {"OPS_PROJECT_ROOT": str(root)}
    try:
        result = run_ops("dev.up", "--no-seed", "--json", cwd=root, env=env)
        assert result.code == 0, result.output
        assert json.loads(result.stdout)["steps"]["schema"].startswith("migrations: ")
        products = "select count(*) from public.products"
        counts = run_ops("dev.psql", "-c", products, cwd=root, env=env)
        assert counts.code == 0, counts.output
        assert counts.stdout.splitlines()[2].strip() == "0"
    finally:
        run_ops("dev.down", "--purge", cwd=root, env=env)
        shutil.rmtree(base, ignore_errors=True)


def test_app_process_runs_the_app_against_any_database(database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from ops.pg.cluster import free_port
    from ops.stack.app import AppProcess

    root = make_stack_project(tmp_path / "project")
    app = AppProcess(load(root), database.url, free_port(), tmp_path / "app.log", extra_env={"ADMIN_TOKEN": "t0ken-x"})
    try:
        assert app.start() is True
        assert app.start() is False  # already running
        app.wait_ready(timeout=30)
        response = httpx.get(f"{app.url}/readyz", timeout=5)
        assert response.json()["checks"]["database"]["status"] == "ok"
    finally:
        assert app.stop() is True
    assert not app.running() and not app.pid_file.exists()


def test_a_users_own_app_command_runs_in_the_project_root(tmp_path: Path) -> None:
    from ops.pg.cluster import free_port
    from ops.stack.app import AppProcess

    root = make_stack_project(
        tmp_path / "project", app_command="{python} -m http.server {port} --bind {host}", app_ready_path="/"
    )
    (root / "marker.txt").write_text("served from the project root")
    app = AppProcess(load(root), "postgresql://app@127.0.0.1:1/app", free_port(), tmp_path / "app.log")
    try:
        assert app.start() is True
        app.wait_ready(timeout=30)
        assert httpx.get(f"{app.url}/marker.txt", timeout=5).text == "served from the project root"
    finally:
        assert app.stop() is True


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("runuser") or not shutil.which("curl"), reason="needs root to act as nobody"
)
def test_another_local_user_can_read_no_state_and_cannot_reach_caddys_admin_api(local_stack: LocalStack) -> None:
    paths = StackPaths.of(local_stack.cfg)  # type: ignore[arg-type]
    secrets_and_data = [
        paths.state_file,
        paths.log("app"),
        paths.log("caddy"),
        paths.caddyfile,
        paths.ca_path.parent / "root.key",
    ]
    for path in secrets_and_data:
        assert path.is_file(), path
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
        tried = subprocess.run(["runuser", "-u", "nobody", "--", "cat", str(path)], capture_output=True, text=True)
        assert tried.returncode != 0 and "Permission denied" in tried.stderr, path
    for directory in (paths.logs_dir, paths.caddy_dir, paths.root / "pids"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    # Caddy's admin API is a unix socket in its private directory: no TCP door, none for nobody.
    admin = paths.caddy_dir / "admin.sock"
    assert admin.is_socket()
    caddy_pid = int(paths.pidfile("caddy").read_text().split()[0])
    listening = {c.laddr.port for c in psutil.Process(caddy_pid).net_connections("tcp") if c.status == "LISTEN"}
    ports = json.loads(paths.state_file.read_text())["ports"]
    assert listening == {ports["http"], ports["https"]}
    curl = ["curl", "-sS", "--unix-socket", str(admin), "http://localhost/config/"]
    assert subprocess.run(curl, capture_output=True).returncode == 0  # we can use it
    refused = subprocess.run(["runuser", "-u", "nobody", "--", *curl], capture_output=True, text=True)
    assert refused.returncode == 7, refused.stderr  # curl: could not connect (the socket is out of its reach)


def test_up_restarts_a_postgres_whose_binaries_changed_under_it(tmp_path: Path) -> None:
    from ops.pg.binaries import find_bindir

    base = reachable_tempdir("ops-test-stack-upgrade-")
    # A bin directory of links to the real binaries: replacing a link is what a package upgrade
    # does to the files under a running server.
    bindir = base / "bin"
    bindir.mkdir()
    for binary in find_bindir().iterdir():
        (bindir / binary.name).symlink_to(binary)
    root = make_stack_project(base / "project")
    env = {"OPS_PROJECT_ROOT": str(root), "OPS_PG_BINDIR": str(bindir)}
    try:
        first = run_ops("dev.up", "--json", cwd=root, env=env, timeout=120)
        assert first.code == 0, first.output
        before = {row["service"]: row["pid"] for row in json.loads(first.stdout)["services"]}
        time.sleep(1.5)  # process start times are known to about a second
        replacement = bindir / "postgres.new"
        replacement.symlink_to((bindir / "postgres").resolve())
        replacement.replace(bindir / "postgres")

        second = run_ops("dev.up", cwd=root, env=env, timeout=120)
        assert second.code == 0, second.output
        assert f"warning: postgres restarted: {bindir / 'postgres'} changed since the server started" in second.output
        report = json.loads(run_ops("dev.up", "--json", cwd=root, env=env).stdout)
        assert report["steps"]["postgres"] == "running"  # once restarted, it is current again
        after = {row["service"]: row["pid"] for row in report["services"]}
        assert after["db"] != before["db"] and after["app"] == before["app"]
    finally:
        run_ops("dev.down", "--purge", cwd=root, env=env)
        shutil.rmtree(base, ignore_errors=True)


def test_a_cold_up_copies_the_prepared_database_but_never_a_stale_one(tmp_path: Path) -> None:
    """The second cold up of a project state keeps its database (bootstrap, migrations,
    seed) in the cache and the third is a copy of it; a changed migration or seed file is
    a new state, applied for real; a cached copy that will not start is made anew."""
    base = reachable_tempdir("ops-test-stack-prepared-")
    root = base / "project"
    root.mkdir()
    shutil.copytree(REPO / "supabase", root / "supabase")
    make_stack_project(root)
    cache = tmp_path / "cache"
    env = {"OPS_PROJECT_ROOT": str(root), "OPS_INITDB_CACHE": str(cache)}
    migration = root / "supabase" / "migrations" / "20250101000100_create_orders.sql"
    seed = root / "supabase" / "seed.sql"
    original_migration, original_seed = migration.read_text(), seed.read_text()

    def cold_up() -> dict:  # type: ignore[type-arg]
        assert run_ops("dev.down", "--purge", cwd=root, env=env).code == 0
        result = run_ops("dev.up", "--json", cwd=root, env=env)
        assert result.code == 0, result.output
        return json.loads(result.stdout)  # type: ignore[no-any-return]

    def query(sql: str) -> list[str]:
        result = run_ops("dev.psql", "-c", sql, cwd=root, env=env)
        assert result.code == 0, result.output
        return [line.strip() for line in result.stdout.splitlines()[2:-2]]

    def migration_status() -> list[tuple[str, str]]:
        result = run_ops("db.status", "--json", cwd=root, env=env)
        assert result.code == 0, result.output
        return [(row["file"], row["state"]) for row in json.loads(result.stdout)["versions"]]

    applied = [
        ("20250101000000_create_products.sql", "applied"),
        ("20250101000100_create_orders.sql", "applied"),
    ]
    try:
        steps = [cold_up()["steps"] for _ in range(3)]
        assert [step["database"] for step in steps] == [
            "new",
            "new, kept in the cache with its schema",
            "copied from the cache, schema applied",
        ]
        assert steps[0]["schema"] == "migrations: 2 applied, seed: 1 file(s)"
        assert steps[2]["schema"] == "migrations: 2 applied, seed: 1 file(s) (from the cache)"
        assert migration_status() == applied
        seeded = query("select count(*) from public.products")
        assert int(seeded[0]) >= 20
        assert query("select path from supabase_migrations.seed_files") == ["supabase/seed.sql"]

        # A migration changed under the same file name: a new state, applied for real.
        migration.write_text(original_migration + "\nalter table public.orders add column gift_note text;\n")
        report = cold_up()
        assert report["steps"]["database"] == "new"
        assert report["steps"]["schema"] == "migrations: 2 applied, seed: 1 file(s)"
        assert query("select count(*) from information_schema.columns where column_name = 'gift_note'") == ["1"]
        assert migration_status() == applied

        # The seed changed: likewise.
        seed.write_text(
            original_seed + "\ninsert into public.products (slug, name, price_cents) values"
            " ('cache-probe', 'Cache probe', 1);\n"
        )
        assert cold_up()["steps"]["database"] == "new"
        assert query("select count(*) from public.products where slug = 'cache-probe'") == ["1"]

        # Back to the first state: its copy serves again, without the later changes.
        migration.write_text(original_migration)
        seed.write_text(original_seed)
        assert cold_up()["steps"]["database"] == "copied from the cache, schema applied"
        assert query("select count(*) from information_schema.columns where column_name = 'gift_note'") == ["0"]
        assert query("select count(*) from public.products") == seeded

        # A cached copy whose control file is damaged (same size, bad checksum) will not start.
        (prepared,) = cache.glob("*-prepared-*/data/global/pg_control")
        control = bytearray(prepared.read_bytes())
        control[40:48] = bytes(8)
        prepared.write_bytes(bytes(control))
        report = cold_up()
        assert report["notes"] == ["the cached database template would not start: it was deleted and made anew"]
        assert report["steps"]["schema"] == "migrations: 2 applied, seed: 1 file(s)"
        assert not list(cache.glob("*-prepared-*/complete"))
        assert migration_status() == applied
        assert query("select count(*) from public.products") == seeded
    finally:
        run_ops("dev.down", "--purge", cwd=root, env=env)
        shutil.rmtree(base, ignore_errors=True)
