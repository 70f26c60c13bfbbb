"""How long `inv dev.up` takes to a healthy stack, against the raw floor.

Three figures from one run, in a temp project with free ports:
  cold   `ops dev.up` after `ops dev.down --purge` (initdb, bootstrap, migrations, seed, app, Caddy + new CA)
  warm   `ops dev.up` after `ops dev.down` (state kept: start the three processes, wait until healthy)
  floor  by hand: initdb --no-sync + pg_ctl start -w + Caddy started and serving TLS (no bootstrap, no app)
and the ratios cold/floor and warm/floor. Targets here: cold <= 3 s, warm <= 1 s.

    python bench/dev_up.py [--runs N]
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


def ops(root: Path, *args: str, steps: dict[str, list[float]] | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "ops", *args],
        cwd=root,
        env={**os.environ, "OPS_PROJECT_ROOT": str(root)},
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"ops {' '.join(args)} failed: {result.stderr.strip()}")
    if steps is not None:
        for name, seconds in json.loads(result.stdout)["step_seconds"].items():
            steps.setdefault(name, []).append(seconds)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="repetitions; the median is reported (default 3)")
    parser.add_argument("--quick", action="store_true", help="one run")
    args = parser.parse_args()
    runs = 1 if args.quick else max(1, args.runs)

    base = Path(tempfile.mkdtemp(prefix="ops-bench-dev-up-"))
    base.chmod(0o755)
    root = make_project(base)
    cold: list[float] = []
    warm: list[float] = []
    floor: list[float] = []
    cold_steps: dict[str, list[float]] = {}
    warm_steps: dict[str, list[float]] = {}
    try:
        for _ in range(runs):
            ops(root, "dev.down", "--purge")
            cold.append(ops(root, "dev.up", "--json", steps=cold_steps))
            ops(root, "dev.down")
            warm.append(ops(root, "dev.up", "--json", steps=warm_steps))
            floor.append(raw_floor(base))
    finally:
        subprocess.run(
            [sys.executable, "-m", "ops", "dev.down", "--purge"],
            cwd=root,
            env={**os.environ, "OPS_PROJECT_ROOT": str(root)},
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)

    c, w, f = statistics.median(cold), statistics.median(warm), statistics.median(floor)
    print(f"runs: {runs} (median)")
    print(f"cold dev.up  (after --purge):        {c:6.2f} s   target <= 3 s   ratio to floor {c / f:5.2f}")
    print(f"warm dev.up  (stopped, state kept):  {w:6.2f} s   target <= 1 s   ratio to floor {w / f:5.2f}")
    print(f"raw floor    (initdb+pg_ctl+caddy):  {f:6.2f} s")
    for label, steps in (("cold", cold_steps), ("warm", warm_steps)):
        parts = ", ".join(f"{name} {statistics.median(values):.2f}" for name, values in steps.items())
        print(f"{label} steps (s): {parts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
