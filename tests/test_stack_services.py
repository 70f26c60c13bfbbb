"""``dev.up`` runs a whole application: a team repo with three Node programs and Redis.

The team repo (no Python packaging: its settings are in ``ops.toml``) has
- ``web`` serving ``/``;
- ``api``, which pushes a job onto a Redis list on ``POST /api/jobs`` (routed by Caddy);
- ``worker`` (run through ``npm run``, so it has a child process), which pops the job
  and writes a row into Postgres;
- the built-in Redis.

The programs use only Node itself (a tiny RESP client over ``net``, psql for Postgres).
Tests run in file order on one module-scoped stack; each starts from ``dev.up``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import stat
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from conftest import REPO, CliResult, reachable_tempdir, run_ops

from ops.config import load
from ops.local.state import StackPaths
from ops.pg.binaries import pg_bin

pytestmark = pytest.mark.integration

PROGRAMS = REPO / "tests" / "data" / "team_services"
SERVICES = ["db", "redis", "web", "api", "worker", "caddy"]


def make_team_repo(root: Path, *, extra: str = "") -> Path:
    root.mkdir(parents=True)
    root.chmod(0o755)
    for program in PROGRAMS.iterdir():
        shutil.copy(program, root / program.name)
    migrations = root / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "20240101000000_jobs.sql").write_text(
        "create table public.jobs_done (id bigserial primary key, payload text not null,"
        " created_at timestamptz not null default now());\n"
    )
    (root / "ops.toml").write_text(
        f"""state_dir = ".ops"

[dev]
db_port = 0
http_port = 0
https_port = 0
ready_timeout = 60

[dev.services.redis]
kind = "redis"

[dev.services.web]
command = "node web.js"
ready_path = "/"

[dev.services.api]
command = "node api.js"
ready_path = "/healthz"

[dev.services.worker]
command = "npm run --silent worker"
depends_on = ["api"]
ready_after = "1s"
env = {{ PSQL = "{pg_bin("psql")}" }}

[dev.routes]
"/api/*" = "api"
{extra}"""
    )
    return root


class Team:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.paths = StackPaths.of(load(root))

    def cli(self, *args: str, env: dict[str, str] | None = None) -> CliResult:
        return run_ops(*args, cwd=self.root, env={"OPS_PROJECT_ROOT": str(self.root), **(env or {})}, timeout=180)

    def up(self) -> dict:  # type: ignore[type-arg]
        result = self.cli("dev.up", "--json")
        assert result.code == 0, result.output
        return json.loads(result.stdout)

    def services(self) -> dict[str, dict]:  # type: ignore[type-arg]
        result = self.cli("dev.status", "--json")
        assert result.code == 0, result.output
        return {row["service"]: row for row in json.loads(result.stdout)["services"]}

    def env(self) -> dict[str, str]:
        result = self.cli("dev.env", "--reveal")
        assert result.code == 0, result.output
        return dict(line.removeprefix("export ").split("=", 1) for line in result.stdout.splitlines())


@pytest.fixture(scope="module")
def team() -> Iterator[Team]:
    base = reachable_tempdir("ops-test-team-")
    repo = Team(make_team_repo(base / "repo"))
    try:
        yield repo
    finally:
        repo.cli("dev.down", "--purge")
        shutil.rmtree(base, ignore_errors=True)


def client(ca_path: str | Path) -> httpx.Client:
    return httpx.Client(verify=ssl.create_default_context(cafile=str(ca_path)), timeout=10)


def test_up_brings_up_web_api_worker_redis_postgres_and_caddy(team: Team) -> None:
    report = team.up()
    assert report["steps"]["services"] == "started redis, web, api, worker"
    assert [row["service"] for row in report["services"]] == SERVICES
    status = team.services()
    assert list(status) == SERVICES
    for name, row in status.items():
        assert row["state"] == "running" and row["pid"] > 0, name
        assert row["health"] == "ok", name
    assert status["worker"]["port"] is None  # a worker needs no port
    # Caddy sends everything but /api/* to the default service, web.
    with client(report["ca_path"]) as http:
        home = http.get(report["base_url"] + "/")
    assert home.status_code == 200 and home.text.startswith("web / api=http://127.0.0.1:")
    assert home.headers["x-request-id"]


def test_a_job_posted_through_caddy_becomes_a_row_written_by_the_worker(team: Team) -> None:
    import psycopg

    report = team.up()
    job = f"job-{uuid.uuid4().hex[:8]}"
    request_id = f"req-{uuid.uuid4().hex[:8]}"
    with client(report["ca_path"]) as http:
        response = http.post(f"{report['base_url']}/api/jobs", content=job, headers={"X-Request-Id": request_id})
    assert response.status_code == 202, response.text
    assert response.json()["queued"] == job
    assert response.headers["x-request-id"] == request_id  # the caller's id is kept through Caddy
    db_url = team.env()["DATABASE_URL"]
    deadline = time.monotonic() + 20
    rows: list[tuple[str]] = []
    while time.monotonic() < deadline and not rows:
        with psycopg.connect(db_url) as conn:
            rows = conn.execute("select payload from public.jobs_done where payload = %s", (job,)).fetchall()
        time.sleep(0.1)
    assert rows == [(job,)]
    api_log = team.cli("dev.logs", "-s", "api", "--lines", "20")
    assert f"queued {job} request_id={request_id}" in api_log.stdout


def test_every_service_gets_the_wiring_and_dev_env_exports_every_url(team: Team) -> None:
    team.up()
    env = team.env()
    ports = json.loads(team.paths.state_file.read_text())["ports"]
    assert env["REDIS_URL"].startswith("redis://:") and env["REDIS_URL"].endswith(f"@127.0.0.1:{ports['redis']}/0")
    assert env["WEB_URL"] == f"http://127.0.0.1:{ports['web']}"
    assert env["API_URL"] == f"http://127.0.0.1:{ports['api']}"
    assert env["DATABASE_URL"].startswith("postgresql://postgres:")
    masked = team.cli("dev.env")
    password = env["REDIS_URL"].split(":", 2)[2].split("@")[0]
    assert password not in masked.output and "export REDIS_URL=redis://:***@" in masked.stdout


def test_redis_refuses_a_connection_without_the_password_and_keeps_its_files_private(team: Team) -> None:
    team.up()
    port = json.loads(team.paths.state_file.read_text())["ports"]["redis"]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"PING\r\n")
        reply = conn.recv(200)
    assert reply.startswith(b"-NOAUTH"), reply
    listening = {c.laddr.ip for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port}
    assert listening == {"127.0.0.1"}
    directory = team.paths.service_dir("redis")
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / "redis.conf").stat().st_mode) == 0o600
    assert (directory / "redis.sock").is_socket()
    # The password is in the 0600 config, never on a command line.
    password = team.env()["REDIS_URL"].split(":", 2)[2].split("@")[0]
    redis_pid = team.services()["redis"]["pid"]
    assert password not in " ".join(psutil.Process(redis_pid).cmdline())


def test_up_again_restarts_only_the_worker_killed_with_sigkill(team: Team) -> None:
    team.up()
    before = team.services()
    os.kill(before["worker"]["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while team.services()["worker"]["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    report = team.up()
    assert report["steps"]["services"] == "started worker"
    assert (report["steps"]["postgres"], report["steps"]["caddy"]) == ("running", "running")
    after = team.services()
    assert after["worker"]["pid"] != before["worker"]["pid"] and after["worker"]["state"] == "running"
    for name in ("db", "redis", "web", "api", "caddy"):
        assert after[name]["pid"] == before[name]["pid"], name


def test_restart_one_service_by_name(team: Team) -> None:
    team.up()
    before = team.services()
    result = team.cli("dev.restart", "-s", "api")
    assert result.code == 0, result.output
    assert result.stderr.strip().startswith("restarted api (") or result.stdout.strip().startswith("restarted api (")
    after = team.services()
    assert after["api"]["pid"] != before["api"]["pid"] and after["api"]["health"] == "ok"
    assert after["web"]["pid"] == before["web"]["pid"]
    unknown = team.cli("dev.restart", "-s", "nope")
    assert unknown.code == 2 and "unknown service 'nope'" in unknown.stderr


def test_a_changed_route_is_loaded_into_the_running_caddy_through_its_admin_socket(team: Team) -> None:
    before = team.up()
    caddy_pid = team.services()["caddy"]["pid"]
    with (team.root / "ops.toml").open("a") as handle:
        handle.write('"/hello/*" = "api"\n')  # the routes table is the file's last
    report = team.up()
    assert report["steps"]["caddy"] == "reloaded"
    assert team.services()["caddy"]["pid"] == caddy_pid  # no restart: the config was swapped in place
    with client(before["ca_path"]) as http:
        routed = http.get(before["base_url"] + "/hello/x")
    assert routed.status_code == 404 and routed.text == ""  # the api's own 404, not web's page
    assert team.up()["steps"]["caddy"] == "running"


def _family(pid: int) -> list[psutil.Process]:
    leader = psutil.Process(pid)
    return [leader, *leader.children(recursive=True)]


def test_down_stops_in_reverse_order_and_leaves_no_process_behind(team: Team) -> None:
    team.up()
    status = team.services()
    processes = [process for row in status.values() for process in _family(row["pid"])]
    worker_family = _family(status["worker"]["pid"])
    assert len(worker_family) >= 2  # npm and the node it spawned
    result = team.cli("dev.down")
    assert result.code == 0, result.output
    assert result.stdout.strip() == "stopped: caddy, worker, api, web, redis, db"
    _, alive = psutil.wait_procs(processes, timeout=5)
    assert not alive, [(p.pid, p.cmdline()) for p in alive]
    assert all(row["state"] == "stopped" for row in team.services().values())


def test_a_service_that_fails_to_start_stops_what_the_run_had_started() -> None:
    base = reachable_tempdir("ops-test-team-broken-")
    extra = '\n[dev.services.broken]\ncommand = "node -e process.exit(3)"\nready_after = "2s"\n'
    team = Team(make_team_repo(base / "repo", extra=extra))
    try:
        result = team.cli("dev.up")
        assert result.code == 3
        assert result.stderr.strip().startswith("error: service 'broken' exited")
        status = team.services()
        assert all(row["state"] == "stopped" for row in status.values()), status
    finally:
        team.cli("dev.down", "--purge")
        shutil.rmtree(base, ignore_errors=True)


def test_a_missing_redis_binary_is_a_one_line_error_before_anything_starts(tmp_path: Path) -> None:
    team = Team(make_team_repo(tmp_path / "repo"))
    result = team.cli("dev.up", env={"OPS_REDIS_BIN": str(tmp_path / "no-redis-server")})
    assert (result.code, result.stdout) == (3, "")
    assert result.stderr.strip() == (
        f"error: redis-server was not found at {tmp_path / 'no-redis-server'}"
        " (fix: install Redis: apt-get install redis-server (Debian/Ubuntu) or brew install redis (macOS))"
    )
    assert not team.paths.pidfile("caddy").exists() and not team.paths.postgres_dir.exists()


def test_services_settings_are_checked_before_anything_starts(tmp_path: Path) -> None:
    extra = '\n[dev.services.loop]\ncommand = "x"\ndepends_on = ["nope"]\n'
    team = Team(make_team_repo(tmp_path / "repo", extra=extra))
    result = team.cli("dev.up")
    assert (result.code, result.stdout) == (2, "")
    assert "service 'loop' depends on 'nope', which is not a service" in result.stderr
    assert not (team.root / ".ops").exists()


def test_health_checks_each_http_services_ready_path(team: Team) -> None:
    team.up()
    healthy = team.cli("health", "--json")
    assert healthy.code == 0, healthy.output
    paths = [endpoint["path"] for endpoint in json.loads(healthy.stdout)["endpoints"]]
    assert paths == ["/", "/ (web)", "/healthz (api)"]
    # A service that stops answering fails the check, named.
    os.kill(team.services()["api"]["pid"], signal.SIGKILL)
    unhealthy = team.cli("health", "--json", "--retries", "0")
    assert unhealthy.code != 0
    failed = [e["path"] for e in json.loads(unhealthy.stdout)["endpoints"] if not e["healthy"]]
    assert failed == ["/healthz (api)"]


def test_the_drills_app_runner_starts_the_default_service_of_a_team_repo(tmp_path: Path) -> None:
    from ops.pg.cluster import free_port
    from ops.stack.app import AppProcess

    root = make_team_repo(tmp_path / "repo")
    app = AppProcess(load(root), "postgresql://postgres:x@127.0.0.1:1/restored", free_port(), tmp_path / "app.log")
    assert app.argv == ["node", "web.js"] and app.ready_path == "/"
    try:
        assert app.start()
        app.wait_ready(30)
        assert httpx.get(app.url + "/").text.startswith("web / ")
    finally:
        app.stop()
