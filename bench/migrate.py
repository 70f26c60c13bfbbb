"""Benchmark: ``db.migrate`` against one psql session applying the same files.

Creates N small migration files (default 500), then in the same run and on
the same throwaway cluster applies them
  - with psql: one session, ``BEGIN; \\i file; COMMIT;`` per file (the baseline),
  - with the runner (``ops.migrations.migrate``, the code behind ``db.migrate``),
  - with the real command line (``python -m ops db.migrate --env staging``),
each to a fresh database, and prints the times and the ratios. Target: <= 1.3.

    python bench/migrate.py [--files 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ops.config import load  # noqa: E402
from ops.migrations import migrate  # noqa: E402
from ops.pg.binaries import pg_bin  # noqa: E402
from ops.pg.cluster import Cluster  # noqa: E402

FILE_SQL = """-- migration {n}
create table t_{n} (id bigint generated always as identity primary key, name text not null, created_at timestamptz default now());
insert into t_{n} (name) values ('a'), ('b');
create index t_{n}_name on t_{n} (name);
"""


def make_project(root: Path, count: int) -> Path:
    migrations = root / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    (root / "pyproject.toml").write_text("[tool.ops]\n")
    for n in range(count):
        (migrations / f"{20240101000000 + n}_m{n}.sql").write_text(FILE_SQL.format(n=n))
    return migrations


def psql_script(migrations: Path, target: Path) -> Path:
    lines = []
    for path in sorted(migrations.iterdir()):
        lines += ["BEGIN;", f"\\i {path}", "COMMIT;"]
    target.write_text("\n".join(lines) + "\n")
    return target


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median is reported")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="ops-bench-migrate-"))
    base.chmod(0o755)
    cluster = Cluster(base / "pg", settings={"fsync": "off", "synchronous_commit": "off"})
    cluster.init()
    cluster.start()
    try:
        root = base / "project"
        migrations = make_project(root, args.files)
        script = psql_script(migrations, base / "apply.sql")
        cfg = load(root)
        psql = str(pg_bin("psql"))
        results: dict[str, list[float]] = {"psql": [], "runner": [], "cli": []}
        counter = 0

        def fresh() -> str:
            nonlocal counter
            counter += 1
            cluster.create_database(f"bench_{counter}")
            return cluster.url(f"bench_{counter}")

        for _ in range(args.repeat):
            url = fresh()
            results["psql"].append(
                timed(lambda url=url: subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(script), url], check=True, capture_output=True))  # type: ignore[misc]
            )
            url = fresh()
            results["runner"].append(timed(lambda url=url: migrate(cfg, url)))  # type: ignore[misc]
            url = fresh()
            env = {**os.environ, "OPS_PROJECT_ROOT": str(root), "SUPABASE_STAGING_DB_URL": url}
            results["cli"].append(
                timed(lambda env=env: subprocess.run([sys.executable, "-m", "ops", "db.migrate", "--env", "staging"], check=True, capture_output=True, env=env, cwd=root))  # type: ignore[misc]
            )
        median = {name: statistics.median(times) for name, times in results.items()}
        print(f"{args.files} files, median of {args.repeat} runs each (fresh database per run)")
        print(f"psql (one session, BEGIN/\\i/COMMIT per file): {median['psql']:.3f}s")
        print(f"ops.migrations.migrate (in process):          {median['runner']:.3f}s  ratio {median['runner'] / median['psql']:.2f}")
        print(f"python -m ops db.migrate (whole CLI):          {median['cli']:.3f}s  ratio {median['cli'] / median['psql']:.2f}")
        print("target: ratio <= 1.3")
    finally:
        cluster.destroy()
        import shutil

        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
