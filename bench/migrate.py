"""Benchmark: ``db.migrate`` against one psql session applying the same files.

Creates N small migration files (default 500), then in the same run and on
the same throwaway cluster applies them
  - with psql: one session, ``BEGIN; \\i file; COMMIT;`` per file (the baseline),
  - with the runner (``ops.migrations.migrate``, the code behind ``db.migrate``),
  - with the real command line (``python -m ops db.migrate --env staging``),
each to a fresh database, and prints the times and the ratios (target: the whole
CLI at most 1.1x psql at 500 files); then one run of each at 5,000 files, so the
growth shows. It also prints the CLI's fixed cost: the same command against a
database that is up to date (start-up, imports, reading and splitting the files,
reading the history) beside ``python3 -c pass``, and the CPU seconds of the CLI
process, which the machine's load moves less than wall time.

    python bench/migrate.py [--files 500] [--repeat 3] [--more 5000]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ops.config import load
from ops.migrations import migrate
from ops.pg.binaries import pg_bin
from ops.pg.cluster import Cluster

FILE_SQL = """-- migration {n}
create table t_{n} (
  id bigint generated always as identity primary key, name text not null, created_at timestamptz default now()
);
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


class CpuMeter:
    """CPU seconds of a run on each side: this process and the programs it waited for
    (getrusage), and the server, whose backends the postmaster accounts for once it
    has reaped them (/proc/<postmaster>/stat utime stime cutime cstime; Linux)."""

    def __init__(self, cluster: Cluster) -> None:
        pid = (cluster.data_dir / "postmaster.pid").read_text().split()[0]
        self._stat = Path(f"/proc/{pid}/stat")
        self._ticks = os.sysconf("SC_CLK_TCK")

    def server(self) -> float:
        if not self._stat.exists():
            return 0.0
        fields = self._stat.read_text().rsplit(")", 1)[1].split()
        return sum(int(value) for value in fields[11:15]) / self._ticks

    @staticmethod
    def client() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    def run(self, action: Callable[[], object]) -> tuple[float, float, float]:
        """Wall seconds, client CPU seconds, server CPU seconds."""
        server, client = self.server(), self.client()
        wall = timed(action)
        client = self.client() - client
        time.sleep(0.2)  # the run's backend exits and is reaped
        return wall, client, self.server() - server


def measure(cluster: Cluster, base: Path, count: int, repeat: int) -> dict[str, tuple[float, float, float]]:
    """Median (wall, client CPU, server CPU) seconds of psql, the runner in process and
    the whole CLI applying ``count`` files; then the CLI's fixed cost."""
    root = base / f"project-{count}"
    migrations = make_project(root, count)
    script = psql_script(migrations, base / f"apply-{count}.sql")
    cfg = load(root)
    psql = str(pg_bin("psql"))
    meter = CpuMeter(cluster)
    results: dict[str, list[tuple[float, float, float]]] = {"psql": [], "runner": [], "cli": []}
    counter = 0

    def fresh() -> str:
        nonlocal counter
        counter += 1
        cluster.create_database(f"bench_{count}_{counter}")
        return cluster.url(f"bench_{count}_{counter}")

    def run_psql(url: str) -> None:
        command = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(script), url]
        subprocess.run(command, check=True, capture_output=True)

    def run_cli(url: str) -> None:
        env = {**os.environ, "OPS_PROJECT_ROOT": str(root), "SUPABASE_STAGING_DB_URL": url}
        command = [sys.executable, "-m", "ops", "db.migrate", "--env", "staging"]
        subprocess.run(command, check=True, capture_output=True, env=env, cwd=root)

    contenders: dict[str, Callable[[str], object]] = {
        "psql": run_psql,
        "runner": lambda url: migrate(cfg, url),
        "cli": run_cli,
    }
    migrated = ""
    for round_number in range(repeat):
        # rotate the order so that neither side always runs first
        names = list(contenders)
        names = names[round_number % 3 :] + names[: round_number % 3]
        for name in names:
            url = fresh()
            # Settle the previous run's WAL so that no run pays for another's checkpoint.
            with cluster.connection() as conn:
                conn.execute("CHECKPOINT")
            results[name].append(meter.run(lambda name=name, url=url: contenders[name](url)))  # type: ignore[misc]
            migrated = url if name == "cli" else migrated
    # The fixed cost: the CLI against a database it migrated, now up to date, and a bare interpreter.
    results["up_to_date"] = [meter.run(lambda: run_cli(migrated)) for _ in range(repeat)]
    results["python"] = [meter.run(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True))]
    return {
        name: (
            statistics.median(r[0] for r in runs),
            statistics.median(r[1] for r in runs),
            statistics.median(r[2] for r in runs),
        )
        for name, runs in results.items()
    }


def report(count: int, repeat: int, median: dict[str, tuple[float, float, float]]) -> None:
    psql_time = median["psql"][0]
    print(f"{count} files, median of {repeat} run(s) each (fresh database per run); wall, then CPU seconds")
    rows = [
        ("psql", "psql (one session, BEGIN/\\i/COMMIT per file)"),
        ("runner", "ops.migrations.migrate (in process)"),
        ("cli", "python -m ops db.migrate (whole CLI)"),
    ]
    for name, label in rows:
        wall, client, server = median[name]
        ratio = "" if name == "psql" else f"ratio {wall / psql_time:.2f}"
        print(f"  {label:47s} {wall:7.3f}s {ratio:11s} client CPU {client:.3f}s, server CPU {server:.3f}s")
    wall, client, _ = median["up_to_date"]
    print(
        f"  fixed cost: the CLI with nothing to apply {wall:.3f}s (client CPU {client:.3f}s);"
        f" python3 -c pass {median['python'][0]:.3f}s (CPU {median['python'][1]:.3f}s)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median is reported")
    parser.add_argument(
        "--more", type=int, default=5000, help="then one run of each with this many files, to show the growth (0: skip)"
    )
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="ops-bench-migrate-"))
    base.chmod(0o755)
    cluster = Cluster(base / "pg", settings={"fsync": "off", "synchronous_commit": "off"})
    cluster.init()
    cluster.start()
    try:
        report(args.files, args.repeat, measure(cluster, base, args.files, args.repeat))
        if args.more:
            report(args.more, 1, measure(cluster, base, args.more, 1))
        print(f"target: the whole CLI at most 1.1x psql at {args.files} files")
    finally:
        cluster.destroy()
        import shutil

        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
