"""How long `inv dev.up` takes to a healthy stack, against the raw floor.

Figures from one run, in temp projects with free ports:
  cold   `ops dev.up` after `ops dev.down --purge`, the template cache (the bench's own,
         OPS_INITDB_CACHE) primed by two earlier cold ups of the same project state, as a
         developer's is: the database is a copy of the prepared template (bootstrap, migrations
         and seed applied); app, Caddy + new CA
  cold, new state   the same for a project state seen for the first time (the cache holds only
         the pristine initdb): bootstrap, migrations and seed applied for real
  cold, no cache    the same with OPS_INITDB_CACHE=off: initdb, bootstrap, migrations, seed (CI's
         first run on a fresh machine)
  warm   `ops dev.up` after `ops dev.down` (state kept: start the three processes, wait until healthy)
  floor  by hand: initdb --no-sync + pg_ctl start -w + Caddy started and serving TLS (no bootstrap, no app)
and the ratios to the floor. Targets: cold <= 1.1x the floor, warm <= 1 s.

The same for a team repo with three Node services (web, api, worker) and the built-in Redis
(tests/data/team_services): its floor adds, by hand, redis-server and the three programs
started together until each listens (the worker: until it printed that it waits for jobs).

    python bench/dev_up.py [--runs N] [--quick] [--no-services]
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ops.pg.binaries import find_bindir  # noqa: E402
from ops.pg.cluster import free_port  # noqa: E402
from ops.stack.caddy import find_caddy  # noqa: E402


def make_project(base: Path) -> Path:
    root = base / "project"
    root.mkdir()
    for name in ("supabase",):
        (root / name).symlink_to(REPO / name, target_is_directory=True)
    ports = "\n".join(f"{key} = 0" for key in ("db_port", "app_port", "http_port", "https_port", "admin_port"))
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "bench"\n\n[tool.ops]\nstate_dir = ".ops"\n\n[tool.ops.dev]\nprovider = "native"\n{ports}\n'
    )
    return root


PROGRAMS = REPO / "tests" / "data" / "team_services"


def make_team_repo(base: Path) -> Path:
    """The three-service team repo of tests/test_stack_services.py (ops.toml, no Python packaging)."""
    from ops.pg.binaries import pg_bin

    root = base / "team"
    root.mkdir()
    for program in PROGRAMS.iterdir():
        shutil.copy(program, root / program.name)
    migrations = root / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    (migrations / "20240101000000_jobs.sql").write_text(
        "create table public.jobs_done (id bigserial primary key, payload text not null);\n"
    )
    (root / "ops.toml").write_text(
        'state_dir = ".ops"\n\n[dev]\nprovider = "native"\ndb_port = 0\nhttp_port = 0\nhttps_port = 0\n\n'
        '[dev.services.redis]\nkind = "redis"\n\n'
        '[dev.services.web]\ncommand = "node web.js"\nready_path = "/"\n\n'
        '[dev.services.api]\ncommand = "node api.js"\nready_path = "/healthz"\n\n'
        '[dev.services.worker]\ncommand = "node worker.js"\nready_after = "0s"\n'
        f'env = {{ PSQL = "{pg_bin("psql")}" }}\n\n'
        '[dev.routes]\n"/api/*" = "api"\n'
    )
    return root


def services_floor(base: Path) -> float:
    """redis-server and the three Node programs started together by hand, until each is ready."""
    import socket

    from ops.stack.services import find_redis

    work = base / "raw-services"
    work.mkdir()
    for program in PROGRAMS.iterdir():
        shutil.copy(program, work / program.name)
    password = "bench-password"
    redis_port, web_port, api_port = free_port(), free_port(), free_port()
    (work / "redis.conf").write_text(
        f'port {redis_port}\nbind 127.0.0.1\nrequirepass {password}\ndir {work}\nsave ""\n'
    )
    env = {
        **os.environ,
        "REDIS_URL": f"redis://:{password}@127.0.0.1:{redis_port}/0",
        "DATABASE_URL": "postgresql://postgres:x@127.0.0.1:1/postgres",
    }
    procs: list[subprocess.Popen[bytes]] = []

    def listening(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    started = time.perf_counter()
    try:
        procs.append(subprocess.Popen([find_redis(), str(work / "redis.conf")], stdout=subprocess.DEVNULL, cwd=work))
        while not listening(redis_port):
            time.sleep(0.01)
        for program, port in (("web.js", web_port), ("api.js", api_port)):
            procs.append(
                subprocess.Popen(["node", program], cwd=work, env={**env, "PORT": str(port)}, stdout=subprocess.DEVNULL)
            )
        worker = subprocess.Popen(["node", "worker.js"], cwd=work, env=env, stdout=subprocess.PIPE)
        procs.append(worker)
        while not (listening(web_port) and listening(api_port)):
            time.sleep(0.01)
        assert worker.stdout is not None
        worker.stdout.readline()  # "worker waiting for jobs"
        return time.perf_counter() - started
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def ops(
    root: Path, *args: str, steps: dict[str, list[float]] | None = None, env: dict[str, str] | None = None
) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "ops", *args],
        cwd=root,
        env={**os.environ, "OPS_PROJECT_ROOT": str(root), **(env or {})},
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"ops {' '.join(args)} failed: {result.stderr.strip()}")
    if steps is not None:
        report = json.loads(result.stdout)
        for name, seconds in report["step_seconds"].items():
            steps.setdefault(name, []).append(seconds)
        # The command's fixed cost: the interpreter, the imports, the task layer and the exit.
        steps.setdefault("outside the steps", []).append(round(elapsed - report["elapsed_s"], 3))
    return elapsed


def as_server_user() -> dict[str, Any]:
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam("postgres")
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def raw_floor(base: Path) -> float:
    """initdb + pg_ctl start + Caddy serving TLS, by hand; cleaned up afterwards."""
    bindir, caddy = find_bindir(), find_caddy_binary()
    pg_dir, caddy_dir = base / "raw-pg", base / "raw-caddy"
    pg_dir.mkdir()
    caddy_dir.mkdir()
    kwargs = as_server_user()
    if kwargs:
        os.chown(pg_dir, kwargs["user"], kwargs["group"])
    https_port, http_port, admin_port = free_port(), free_port(), free_port()
    caddyfile = caddy_dir / "Caddyfile"
    caddyfile.write_text(
        f"{{\n\tadmin 127.0.0.1:{admin_port}\n\tlocal_certs\n\tskip_install_trust\n\thttp_port {http_port}\n"
        f"\thttps_port {https_port}\n\tdefault_bind 127.0.0.1\n\tstorage file_system {caddy_dir / 'data'}\n}}\n\n"
        'localhost {\n\trespond "ok"\n}\n'
    )
    data = pg_dir / "data"
    env = {**os.environ, "LC_ALL": "C"}
    caddy_proc = None
    started = time.perf_counter()
    try:
        subprocess.run(
            [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"],
            check=True,
            capture_output=True,
            env=env,
            cwd=pg_dir,
            **kwargs,
        )
        port = free_port()
        options = f"-p {port} -k {pg_dir} -c listen_addresses=127.0.0.1"
        subprocess.run(
            [str(bindir / "pg_ctl"), "start", "-w", "-D", str(data), "-o", options, "-l", str(pg_dir / "log")],
            check=True,
            capture_output=True,
            env=env,
            cwd=pg_dir,
            **kwargs,
        )
        caddy_proc = subprocess.Popen(
            [str(caddy), "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**env, "XDG_CONFIG_HOME": str(caddy_dir), "XDG_DATA_HOME": str(caddy_dir)},
        )
        root_ca = caddy_dir / "data" / "pki" / "authorities" / "local" / "root.crt"
        while True:
            try:
                context = ssl.create_default_context(cafile=str(root_ca))
                with urllib.request.urlopen(f"https://localhost:{https_port}/", context=context, timeout=2):
                    break
            except (OSError, ssl.SSLError):
                time.sleep(0.02)
        return time.perf_counter() - started
    finally:
        if caddy_proc is not None:
            caddy_proc.terminate()
            caddy_proc.wait(10)
        subprocess.run(
            [str(bindir / "pg_ctl"), "stop", "-m", "immediate", "-D", str(data)],
            capture_output=True,
            cwd=pg_dir,
            **kwargs,
        )
        shutil.rmtree(pg_dir, ignore_errors=True)
        shutil.rmtree(caddy_dir, ignore_errors=True)


def find_caddy_binary() -> Path:
    from ops.config import load

    return find_caddy(load(REPO))


class Caches:
    """The bench's own template caches (not the user's): one primed with the prepared
    database of the project state, one that only ever holds the pristine initdb."""

    def __init__(self, base: Path) -> None:
        self.primed = {"OPS_INITDB_CACHE": str(base / "cache-primed")}
        self.pristine_dir = base / "cache-pristine"
        self.pristine = {"OPS_INITDB_CACHE": str(self.pristine_dir)}
        self.off = {"OPS_INITDB_CACHE": "off"}

    def prime(self, root: Path, variants: bool) -> None:
        """Two cold ups: the second keeps the prepared database (as a developer's second one does)."""
        for env in (self.primed, self.primed, *([self.pristine] if variants else [])):
            ops(root, "dev.down", "--purge", env=env)
            ops(root, "dev.up", "--json", env=env)
        ops(root, "dev.down", "--purge")

    def forget_states(self) -> None:
        for entry in self.pristine_dir.glob("*-prepared-*"):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def measure(root: Path, runs: int, floor_of: Any, base: Path, caches: Caches, variants: bool) -> dict[str, Any]:
    figures: dict[str, list[float]] = {"cold": [], "warm": [], "floor": [], "cold_new_state": [], "cold_no_cache": []}
    cold_steps: dict[str, list[float]] = {}
    warm_steps: dict[str, list[float]] = {}
    new_state_steps: dict[str, list[float]] = {}
    try:
        caches.prime(root, variants)
        for _ in range(runs):
            ops(root, "dev.down", "--purge", env=caches.primed)
            figures["cold"].append(ops(root, "dev.up", "--json", steps=cold_steps, env=caches.primed))
            ops(root, "dev.down", env=caches.primed)
            figures["warm"].append(ops(root, "dev.up", "--json", steps=warm_steps, env=caches.primed))
            ops(root, "dev.down", env=caches.primed)
            figures["floor"].append(floor_of(base))
            if variants:
                ops(root, "dev.down", "--purge")
                caches.forget_states()
                figures["cold_new_state"].append(
                    ops(root, "dev.up", "--json", steps=new_state_steps, env=caches.pristine)
                )
                ops(root, "dev.down", "--purge")
                figures["cold_no_cache"].append(ops(root, "dev.up", "--json", env=caches.off))
                ops(root, "dev.down")
    finally:
        subprocess.run(
            [sys.executable, "-m", "ops", "dev.down", "--purge"],
            cwd=root,
            env={**os.environ, "OPS_PROJECT_ROOT": str(root)},
            capture_output=True,
        )
    return {"figures": figures, "cold_steps": cold_steps, "warm_steps": warm_steps, "new_state_steps": new_state_steps}


def report(title: str, floor_label: str, measured: dict[str, Any]) -> None:
    figures = {name: statistics.median(values) for name, values in measured["figures"].items() if values}
    f = figures["floor"]
    print(title)
    lines = [
        ("cold", "cold dev.up  (after --purge):       ", " (target <= 1.10)"),
        ("cold_new_state", "cold, a project state seen first:  ", ""),
        ("cold_no_cache", "cold, no cache (OPS_INITDB_CACHE=off):", ""),
        ("warm", "warm dev.up  (stopped, state kept): ", ""),
    ]
    for key, label, target in lines:
        if key in figures:
            print(f"  {label} {figures[key]:6.2f} s   ratio to floor {figures[key] / f:5.2f}{target}")
    print(f"  raw floor    ({floor_label}):  {f:6.2f} s")
    for key, values in measured["figures"].items():
        if values:
            print(f"  {key} runs (s): {' '.join(f'{value:.2f}' for value in values)}")
    for label, steps in (
        ("cold", measured["cold_steps"]),
        ("cold, new state", measured["new_state_steps"]),
        ("warm", measured["warm_steps"]),
    ):
        if steps:
            parts = ", ".join(f"{name} {statistics.median(values):.2f}" for name, values in steps.items())
            print(f"  {label} steps (s): {parts}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="repetitions; the median is reported (default 3)")
    parser.add_argument("--quick", action="store_true", help="one run")
    parser.add_argument("--no-services", action="store_true", help="skip the three-service team repo")
    args = parser.parse_args()
    runs = 1 if args.quick else max(1, args.runs)

    base = Path(tempfile.mkdtemp(prefix="ops-bench-dev-up-"))
    base.chmod(0o755)
    try:
        caches = Caches(base)
        single = measure(make_project(base), runs, raw_floor, base, caches, variants=True)
        services = None
        if not args.no_services:

            def with_services(where: Path) -> float:
                return raw_floor(where) + services_floor(where)

            services = measure(make_team_repo(base), runs, with_services, base, caches, variants=False)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"runs: {runs} (median)")
    report("the sample app (Postgres + app + Caddy)", "initdb+pg_ctl+caddy", single)
    if services is not None:
        report("a team repo: web + api + worker + Redis + Postgres + Caddy", "floor + redis + 3 node", services)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
