"""A team's repository, as a new user meets the toolkit: the wheel built from this
checkout, installed (not editable) into a fresh virtualenv; ``ops init`` in a git repo
holding a small Node HTTP app (no Python) and the team's own Supabase migrations; then
the daily loop, every step through ``inv`` in that repo and asserted on behaviour.

The steps are ordered tests over one module-scoped repo and stack, so that a step
whose fix has not landed yet fails (or xfails) alone and the loop goes on.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import ssl
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest
from conftest import REPO, reachable_tempdir

pytestmark = pytest.mark.integration

ALICE = "00000000-0000-4000-8000-000000000001"
BOB = "00000000-0000-4000-8000-000000000002"

SERVER_JS = """\
// The team's app: plain Node HTTP, no framework. `inv dev.up` sets PORT and DATABASE_URL.
const http = require('node:http');

const ready = () => Boolean(process.env.DATABASE_URL);
const server = http.createServer((req, res) => {
  const json = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.url === '/healthz') return json(200, { status: 'ok' });
  if (req.url === '/readyz') return json(ready() ? 200 : 503, { status: ready() ? 'ok' : 'fail' });
  if (req.url === '/') return json(200, { app: 'team-app' });
  return json(404, { error: 'not found' });
});
server.listen(Number(process.env.PORT || 3000), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
"""

PROFILES_SQL = """\
-- Profiles, one per auth user; readable and editable only by their owner.
create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  username text not null unique,
  created_at timestamptz not null default now()
);

alter table public.profiles enable row level security;

create policy "profiles are readable by their owner" on public.profiles
  for select to authenticated using (auth.uid() = id);

create policy "owners update their profile" on public.profiles
  for update to authenticated using (auth.uid() = id) with check (auth.uid() = id);
"""

POSTS_SQL = """\
create table public.posts (
  id bigint generated always as identity primary key,
  author_id uuid not null references public.profiles (id) on delete cascade,
  body text not null,
  published boolean not null default false
);

alter table public.posts enable row level security;

create policy "published posts are public" on public.posts
  for select to anon, authenticated using (published or auth.uid() = author_id);

create policy "authors write their posts" on public.posts
  for insert to authenticated with check (auth.uid() = author_id);
"""

SEED_SQL = f"""
insert into auth.users (id, email) values
  ('{ALICE}', 'alice@example.test'),
  ('{BOB}', 'bob@example.test')
on conflict do nothing;
insert into public.profiles (id, username) values ('{ALICE}', 'alice'), ('{BOB}', 'bob') on conflict do nothing;
"""

PROFILES_TEST_SQL = f"""\
-- The team's own RLS test: a user sees their own profile and no one else's.
begin;
select plan(2);
set local role authenticated;
select set_config('request.jwt.claims', '{{"sub": "{ALICE}", "role": "authenticated"}}', true);
select results_eq('select username from public.profiles', array['alice'], 'alice sees only her profile');
select is_empty($$ select 1 from public.profiles where id = '{BOB}' $$, 'alice cannot read bob''s profile');
select * from finish();
rollback;
"""

TEST_JS = "const assert = require('node:assert');\nassert.strictEqual(1 + 1, 2);\nconsole.log('team tests ok');\n"

FAILING_CHECKS_JS = """\
// A team scenario whose checks fail on every request: the body never says "broken".
import http from 'k6/http';
import { check } from 'k6';

export default function () {
  const res = http.get(`${__ENV.BASE_URL}/healthz`);
  check(res, { 'body says broken': (r) => r.json('status') === 'broken' });
}
"""


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class TeamRepo:
    root: Path
    venv_python: Path
    wheel: Path
    init: Run
    env: dict[str, str]
    pids: dict[str, int] = field(default_factory=dict)

    def run(self, *argv: str, timeout: float = 300) -> Run:
        proc = subprocess.run(
            list(argv),
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    def inv(self, *args: str, timeout: float = 300) -> Run:
        """``inv`` of the installed toolkit, reading this repo's tasks.py."""
        return self.run(str(self.venv_python), "-m", "invoke", *args, timeout=timeout)

    def db_url(self) -> str:
        exports = self.inv("dev.env", "--reveal")
        assert exports.code == 0, exports.output
        found = re.search(r"^export DATABASE_URL=(.+)$", exports.stdout, re.MULTILINE)
        assert found, exports.stdout
        return shlex.split(found.group(1))[0]

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.db_url(), autocommit=True) as conn:
            return conn.execute(sql).fetchall()  # type: ignore[arg-type]

    def execute(self, sql: str) -> None:
        with psycopg.connect(self.db_url(), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]


def build_wheel(workdir: Path) -> Path:
    """The wheel of this checkout, built from a copy (the build leaves nothing in the repo)."""
    source = workdir / "source"
    source.mkdir()
    shutil.copytree(REPO / "ops", source / "ops", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(workdir / "dist"), str(source)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (wheel,) = (workdir / "dist").glob("ops_toolkit-*.whl")
    return wheel


def make_venv(workdir: Path, wheel: Path) -> Path:
    """A fresh virtualenv with the wheel installed, not editable. The dependencies come from
    this interpreter's site-packages (--system-site-packages): no download, and the same
    versions the suite runs with."""
    venv = workdir / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "--disable-pip-version-check", str(wheel)],
        check=True,
        env=env,
        timeout=600,
    )  # fmt: skip
    return python


def write_team_repo(root: Path) -> None:
    files = {
        "package.json": json.dumps(
            {"name": "team-app", "private": True, "scripts": {"dev": "node server.js", "test": "node test.js"}},
            indent=2,
        ),
        "server.js": SERVER_JS,
        "test.js": TEST_JS,
        "README.md": "# team-app\n",
        ".gitignore": "node_modules/\n",
        "supabase/migrations/20250101000000_profiles.sql": PROFILES_SQL,
        "supabase/migrations/20250102000000_posts.sql": POSTS_SQL,
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run(["git", "config", "user.email", "team@example.test"], cwd=root, check=True)
    subprocess.run(["git", "config", "user.name", "Team"], cwd=root, check=True)


@pytest.fixture(scope="module")
def team() -> Iterator[TeamRepo]:
    workdir = reachable_tempdir("ops-team-repo-")
    root = workdir / "team-app"
    root.mkdir()
    root.chmod(0o755)
    wheel = build_wheel(workdir)
    python = make_venv(workdir, wheel)
    write_team_repo(root)
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "OPS_PROJECT_ROOT", "VIRTUAL_ENV"}}
    # CI cleared: the suite may itself run in CI on a v* tag, where the production guard opens.
    env.update({"CI": "", "PATH": f"{python.parent}{os.pathsep}{env.get('PATH', '')}"})
    repo = TeamRepo(root, python, wheel, Run(0, "", ""), env)
    repo.init = repo.run(str(python.parent / "ops"), "init")
    if repo.init.code == 0:
        # Free ports (the defaults may be taken on this machine), the team's seed and RLS test.
        settings = (root / "ops.toml").read_text()
        ports = "".join(f"{key} = 0\n" for key in ("db_port", "app_port", "http_port", "https_port", "admin_port"))
        (root / "ops.toml").write_text(settings.replace("[dev]\n", "[dev]\n" + ports, 1))
        with (root / "supabase" / "seed.sql").open("a") as seed:
            seed.write(SEED_SQL)
        (root / "supabase" / "tests" / "profiles_test.sql").write_text(PROFILES_TEST_SQL)
        subprocess.run(["git", "add", "-A"], cwd=root, check=True)
        subprocess.run(["git", "commit", "-q", "-m", "ops init"], cwd=root, check=True)
    try:
        yield repo
    finally:
        repo.inv("dev.down", "--purge", timeout=120)
        shutil.rmtree(workdir, ignore_errors=True)


def test_the_wheel_installs_only_ops_and_its_resources_not_editable(team: TeamRepo) -> None:
    with zipfile.ZipFile(team.wheel) as wheel:
        names = wheel.namelist()
        top_level = wheel.read(next(n for n in names if n.endswith("top_level.txt"))).decode().split()
    assert top_level == ["ops"]
    assert not any(name.startswith("app/") for name in names)
    for resource in ("caddy/Caddyfile", "docker/compose.yml", "load/smoke.js", "init/workflows/ci.yml"):
        assert f"ops/resources/{resource}" in names
    located = team.run(str(team.venv_python), "-c", "import ops, ops.resources as r; print(ops.__file__)")
    assert located.code == 0, located.output
    assert Path(located.stdout.strip()).is_relative_to(team.venv_python.parents[1]), located.stdout


def test_ops_init_scaffolds_the_node_repo(team: TeamRepo) -> None:
    assert team.init.code == 0, team.init.output
    lines = team.init.stdout.splitlines()
    assert lines[0] == "detected: npm project; app: npm run dev"
    assert "left alone  supabase/migrations/ (exists)" in lines
    for created in ("ops.toml", "tasks.py", "supabase/config.toml", ".github/workflows/ci.yml", ".env.example"):
        assert f"created     {created}" in lines
    settings = (team.root / "ops.toml").read_text()
    assert 'app_command = "npm run dev"' in settings and 'app_ready_path = "/readyz"' in settings
    assert not (team.root / "pyproject.toml").exists()
    listed = team.inv("--list")
    assert listed.code == 0 and "dev.up" in listed.stdout and "init" in listed.stdout


def test_dev_up_runs_postgres_the_node_app_and_caddy(team: TeamRepo) -> None:
    up = team.inv("dev.up", "--json", timeout=180)
    assert up.code == 0, up.output
    report = up.json()
    ca = team.root / ".ops" / "stack" / "caddy" / "data" / "pki" / "authorities" / "local" / "root.crt"
    response = httpx.get(f"{report['base_url']}/readyz", verify=ssl.create_default_context(cafile=ca), timeout=10)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    status = team.inv("dev.status", "--json")
    assert status.code == 0, status.output
    services = {s["service"]: s for s in status.json()["services"]}
    assert {name: s["state"] for name, s in services.items()} == {"db": "running", "app": "running", "caddy": "running"}
    # The app is the team's node program (npm's child), not the sample app.
    app = psutil.Process(services["app"]["pid"])
    assert any("server.js" in " ".join(child.cmdline()) for child in [app, *app.children(recursive=True)])
    team.pids = {name: s["pid"] for name, s in services.items()}
    # The team's migrations and seed applied: RLS policies calling auth.uid(), the FK to auth.users.
    assert team.query("select username from public.profiles order by 1") == [("alice",), ("bob",)]
    assert team.query("select count(*) from pg_policies where schemaname = 'public'") == [(4,)]
    health = team.inv("health")
    assert health.code == 0, health.output


def test_db_new_migrate_status(team: TeamRepo) -> None:
    new = team.inv("db.new", "add_bio")
    assert new.code == 0, new.output
    (path,) = (team.root / "supabase" / "migrations").glob("*_add_bio.sql")
    path.write_text("alter table public.profiles add column bio text;\n")
    migrate = team.inv("db.migrate")
    assert migrate.code == 0, migrate.output
    assert f"applied {path.name}" in migrate.stdout
    status = team.inv("db.status", "--json")
    assert status.code == 0, status.output
    versions = status.json()["versions"]
    assert [(v["file"], v["state"]) for v in versions][-1] == (path.name, "applied")
    assert {v["state"] for v in versions} == {"applied"}
    assert team.query(
        "select 1 from information_schema.columns where table_name = 'profiles' and column_name = 'bio'"
    ) == [(1,)]


def test_a_hand_change_closes_through_db_diff(team: TeamRepo) -> None:
    change = team.inv("dev.psql", "-c", "alter table public.profiles add column age int")
    assert change.code == 0, change.output
    migrations = team.root / "supabase" / "migrations"
    try:
        diff = team.inv("db.diff", "-f", "add_age", timeout=300)
        assert diff.code == 0, diff.output
        (written,) = migrations.glob("*_add_age.sql")
        sql = written.read_text()
        assert '"age"' in sql
        assert "drop constraint" not in sql.lower()  # the FK to auth.users did not change
        migrate = team.inv("db.migrate", "--json")
        assert migrate.code == 0, migrate.output
        assert migrate.json()["applied"] == []  # nothing to do: the local database already has it
        status = team.inv("db.status", "--json")
        assert [(v["file"], v["state"]) for v in status.json()["versions"]][-1] == (written.name, "applied")
        lint = team.inv("db.lint", "--all")
        assert lint.code == 0, lint.output
        assert "0 error(s)" in lint.stdout
    finally:
        # Leave the loop's database as the files say, whatever happened above.
        states = {v["file"]: v["state"] for v in team.inv("db.status", "--json").json()["versions"]}
        for leftover in migrations.glob("*_add_age.sql"):
            if states.get(leftover.name) != "applied":
                leftover.unlink()
                team.execute("alter table public.profiles drop column if exists age")


def test_db_seed_and_db_reset(team: TeamRepo) -> None:
    team.execute(f"delete from public.profiles where id = '{BOB}'")
    unchanged = team.inv("db.seed")
    assert unchanged.code == 0, unchanged.output
    assert team.query("select count(*) from public.profiles") == [(1,)]  # an applied seed is not run again
    forced = team.inv("db.seed", "--force")
    assert forced.code == 0, forced.output
    assert team.query("select username from public.profiles order by 1") == [("alice",), ("bob",)]

    team.execute("create table public.scratch (id int)")
    reset = team.inv("db.reset", timeout=300)
    assert reset.code == 0, reset.output
    assert team.query("select to_regclass('public.scratch') is null") == [(True,)]
    files = sorted(p.name.split("_", 1)[0] for p in (team.root / "supabase" / "migrations").glob("*.sql"))
    history = team.query("select version from supabase_migrations.schema_migrations order by 1")
    assert [version for (version,) in history] == files
    assert team.query("select username from public.profiles order by 1") == [("alice",), ("bob",)]


def test_db_test_runs_the_example_and_the_teams_rls_tests(team: TeamRepo) -> None:
    result = team.inv("db.test", "--json", timeout=300)
    assert result.code == 0, result.output
    files = {f["file"]: (f["passed"], len(f["failed"])) for f in result.json()["files"]}
    assert files == {"supabase/tests/profiles_test.sql": (2, 0), "supabase/tests/rls_test.sql": (3, 0)}


def test_env_check_passes_clean_and_catches_a_live_key(team: TeamRepo) -> None:
    """``inv env.check`` and the wheel's light commit-hook command agree."""
    hook = str(team.venv_python.parent / "ops-env-check")
    for command in (("inv",), (hook,)):
        clean = team.inv("env.check") if command == ("inv",) else team.run(hook)
        assert clean.code == 0, (command, clean.output)
    local = team.root / ".env.local"
    local.write_text("STRIPE_SECRET_KEY=sk_live_" + "a" * 24 + "\n")
    try:
        for caught in (team.inv("env.check"), team.run(hook)):
            assert caught.code == 1 and "ENV003" in caught.output, caught.output
            assert "a" * 24 not in caught.output
    finally:
        local.unlink()


def test_backup_export_verify_and_drill_local_to_local(team: TeamRepo) -> None:
    export = team.inv("backup.export", "--env", "local", "--json", timeout=300)
    assert export.code == 0, export.output
    manifest = export.json()
    assert manifest["row_counts"]["public.profiles"] == 2
    verify = team.inv("backup.verify", "--env", "local", "--latest")
    assert verify.code == 0, verify.output
    drill = team.inv("backup.drill", "--from", "local", "--to", "local", "--json", timeout=300)
    assert drill.code == 0, drill.output
    report = drill.json()
    assert report["status"] == "ok"
    steps = [(s["name"], s["status"]) for s in report["steps"]]
    assert steps[-3:] == [("start app", "ok"), ("smoke GET /healthz", "ok"), ("smoke GET /readyz", "ok")]
    assert team.query("select count(*) from pg_database where datname like 'drill_%'") == [(0,)]


def test_load_run_fails_when_the_teams_checks_fail(team: TeamRepo) -> None:
    script = team.root / "infra" / "tests" / "load" / "failing_checks.js"
    script.write_text(FAILING_CHECKS_JS)
    try:
        smoke = team.inv("load.run", "--env", "local", "--scenario", "smoke", "--vus", "1", "--duration", "2s")
        assert smoke.code == 0, smoke.output
        failing = team.inv(
            "load.run", "--env", "local", "--scenario", "failing_checks", "--vus", "1", "--duration", "2s", "--json"
        )
        assert failing.code == 1, failing.output
        report = failing.json()
        assert (report["passed"], report["exit_code"]) == (False, 1)
        assert any(not threshold["passed"] for threshold in report["thresholds"]), report["thresholds"]
    finally:
        script.unlink()


def test_inv_ci_runs_the_teams_pipeline(team: TeamRepo) -> None:
    result = team.inv("ci", timeout=600)
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith("==> ")] == [
        "==> env-check: env files match the schema",
        "==> env-example: .env.example matches the schema",
        "==> db-lint: migration lint",
        "==> db-test: pgTAP tests (RLS...)",
        "==> test: npm run test",
    ]
    assert "team tests ok" in result.stdout
    assert lines[-1] == "ci: 5/5 steps passed"


def test_dev_down_purge_leaves_no_process_and_no_state(team: TeamRepo) -> None:
    assert team.pids, "dev.up did not run"
    processes = []
    for pid in team.pids.values():
        try:
            process = psutil.Process(pid)
            processes += [process, *process.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    down = team.inv("dev.down", "--purge")
    assert down.code == 0, down.output
    _, alive = psutil.wait_procs(processes, timeout=10)
    assert alive == []
    assert not (team.root / ".ops" / "stack").exists()


def test_a_cold_up_is_served_from_the_prepared_database_cache(team: TeamRepo, tmp_path: Path) -> None:
    """The third cold up of the same state copies the database the second one kept: the
    team's migrations and seed are there, and db.status says they are applied."""
    env = team.env
    team.env = {**env, "OPS_INITDB_CACHE": str(tmp_path / "cache")}
    try:
        steps = []
        for _ in range(3):
            assert team.inv("dev.down", "--purge", timeout=120).code == 0
            up = team.inv("dev.up", "--json", timeout=180)
            assert up.code == 0, up.output
            steps.append(up.json()["steps"]["database"])
        assert steps == ["new", "new, kept in the cache with its schema", "copied from the cache, schema applied"]
        status = team.inv("db.status", "--json")
        assert status.code == 0, status.output
        assert {row["state"] for row in status.json()["versions"]} == {"applied"}
        assert team.query("select count(*) from public.profiles") == [(2,)]
    finally:
        team.inv("dev.down", "--purge", timeout=120)
        team.env = env
