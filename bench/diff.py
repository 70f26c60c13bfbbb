"""Benchmark: ``db.diff`` against a raw ``results`` diff of the same two databases.

A throwaway cluster (the dev stack's settings) gets a project whose
migrations build N tables (default 200), each with an index, row level
security, two policies and a function. Two databases are prepared from those
migrations: the target (plus one extra table, so there is a diff) and a
reference copy of the migrations' schema.

  raw      results alone: inspect reference + target, generate the SQL
  db.diff  ops.migrations.diff.diff(): warm, the template's inspection read
           from its on-disk cache (nothing but the target is inspected); the
           same diff; the self-check (the generated SQL applied to the template
           in a transaction that is rolled back, re-diffed by results and by the
           inventory)

Each side runs --rounds times, interleaved. db.diff's first round also builds
the template (bootstrap + every migration through the runner) and inspects it
in place (then caches that inspection): it is printed on its own. The warm
rounds (2..N) are compared with the raw rounds, best and median. A run
without the cache (a throwaway template, built and dropped) is printed too.
The goal is warm ratio <= 1.5 (median). A clone of the template and its drop
are timed alone too: the self-check needs one only for SQL that cannot run in
a transaction.

    python bench/diff.py                 # 200 tables, 5 rounds
    python bench/diff.py --tables 50     # quicker
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ops.config import load  # noqa: E402
from ops.migrations.diff import SHADOW_PREFIX, diff, generate, inspect, inspection_cache_path, template_name  # noqa: E402
from ops.migrations.runner import migrate  # noqa: E402
from ops.pg.bootstrap import apply_bootstrap  # noqa: E402
from ops.pg.cluster import Cluster  # noqa: E402
from ops.stack.database import DEV_SETTINGS  # noqa: E402

TABLES_PER_FILE = 10
FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def table_sql(n: int) -> str:
    t = f"public.bench_{n:03d}"
    return f"""
create table {t} (
  id bigint generated always as identity primary key,
  owner uuid not null default auth.uid(),
  title text not null,
  amount_cents int not null default 0 check (amount_cents >= 0),
  created_at timestamptz not null default now()
);
create index bench_{n:03d}_owner_idx on {t} (owner, created_at);
alter table {t} enable row level security;
create policy "owners read {n}" on {t} for select to authenticated using (owner = (select auth.uid()));
create policy "owners write {n}" on {t} for insert to authenticated with check (owner = (select auth.uid()));
create function public.bench_{n:03d}_total(p_owner uuid) returns bigint
  language sql stable set search_path = '' as $$
    select coalesce(sum(amount_cents), 0) from {t} where owner = p_owner
  $$;
"""


def write_project(root: Path, tables: int) -> None:
    migrations = root / "supabase" / "migrations"
    migrations.mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "bench-diff"\n\n[tool.ops]\n')
    for start in range(0, tables, TABLES_PER_FILE):
        body = "".join(table_sql(n) for n in range(start, min(start + TABLES_PER_FILE, tables)))
        (migrations / f"2025010100{start // TABLES_PER_FILE:04d}_bench_{start:03d}.sql").write_text(body)


def prepare(cluster: Cluster, cfg, name: str, extra: str = "") -> str:  # type: ignore[no-untyped-def]
    cluster.create_database(name)
    with cluster.connection(name) as conn:
        apply_bootstrap(conn)
    migrate(cfg, cluster.url(name))
    if extra:
        with cluster.connection(name) as conn:
            conn.execute(extra)  # type: ignore[arg-type]
    return cluster.url(name)


def raw_results(reference: str, target: str) -> list[str]:
    import psycopg

    with psycopg.connect(reference, autocommit=True) as a, psycopg.connect(target, autocommit=True) as b:
        return generate(inspect(a), inspect(b))


def databases(cluster: Cluster, prefix: str) -> list[str]:
    with cluster.connection() as conn:
        rows = conn.execute("select datname from pg_database where datname like %s", (prefix + "%",)).fetchall()
    return sorted(row[0] for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fast-cluster", action="store_true", help="fsync off (as the test suite's cluster)")
    args = parser.parse_args(argv)
    rounds = max(args.rounds, 2)

    base = Path(tempfile.mkdtemp(prefix="ops-bench-diff-"))
    base.chmod(0o755)
    cluster = Cluster(base / "pg", settings=FAST if args.fast_cluster else DEV_SETTINGS)
    try:
        cluster.init()
        cluster.start()
        write_project(base / "project", args.tables)
        cfg = load(base / "project")
        target = prepare(cluster, cfg, "bench_target", "create table public.bench_extra (id bigint primary key);")
        reference = prepare(cluster, cfg, "bench_reference")
        with cluster.connection() as conn:  # the first run should not pay for flushing this set-up
            conn.execute("CHECKPOINT")

        raw_times, ops_times = [], []
        for round_number in range(rounds):
            steps: list[str] = []
            started = time.perf_counter()
            raw_sql = raw_results(reference, target)
            raw_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            report = diff(cfg, target=target, cluster=cluster, step=steps.append)
            ops_times.append(time.perf_counter() - started)
            # The first round inspects the template in place and caches that; the others read the cache.
            assert any(("is cached" in step) == (round_number > 0) for step in steps), steps
            assert inspection_cache_path(cfg, template_name(cfg)).is_file()
            assert report.statements == raw_sql, "db.diff and raw results disagree"
            assert report.self_checked and report.missed == [], report.missed
            # Every shadow is gone; only the template stays.
            assert databases(cluster, SHADOW_PREFIX) == [template_name(cfg)], databases(cluster, SHADOW_PREFIX)

        started = time.perf_counter()
        uncached = diff(cfg, target=target, cluster=cluster, cache=False)
        uncached_time = time.perf_counter() - started
        assert uncached.statements == raw_sql and uncached.missed == []

        # What the shadows cost on their own: one clone of the template and its drop (a checkpoint on PG 15).
        clone_times, drop_times = [], []
        for _ in range(3):
            started = time.perf_counter()
            cluster.create_database("bench_clone", template=template_name(cfg))
            clone_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            cluster.drop_database("bench_clone")
            drop_times.append(time.perf_counter() - started)

        warm = ops_times[1:]
        raw_best, warm_best = min(raw_times), min(warm)
        raw_median, warm_median = statistics.median(raw_times), statistics.median(warm)
        print(f"schema: {args.tables} tables ({args.tables} indexes, {2 * args.tables} policies, "
              f"{args.tables} functions) in {len(list(cfg.migrations_dir.iterdir()))} migrations; "
              f"cluster: {'fsync off' if args.fast_cluster else 'the dev stack settings'}")  # fmt: skip
        print(f"diff: {len(report.statements)} statement(s); {rounds} rounds, interleaved")
        print(f"raw results diff      : best {raw_best:7.3f} s  median {raw_median:7.3f} s")
        print(f"db.diff, warm (2..{rounds}) : best {warm_best:7.3f} s  median {warm_median:7.3f} s"
              "  (cached template inspection, self-check on the template, rolled back)")  # fmt: skip
        print(f"ratio, warm           : best {warm_best / raw_best:7.2f}x  median {warm_median / raw_median:7.2f}x"
              "  (goal: median <= 1.5)")  # fmt: skip
        print(f"one clone, one drop   : median {statistics.median(clone_times):7.3f} s,"
              f" {statistics.median(drop_times):7.3f} s  (of the template, alone)")  # fmt: skip
        print(f"db.diff, 1st run      : {ops_times[0]:7.3f} s  ({ops_times[0] / raw_median:.2f}x raw median:"
              " builds the template, inspects it in place, caches that)")  # fmt: skip
        print(f"db.diff, no cache     : {uncached_time:7.3f} s  ({uncached_time / raw_median:.2f}x raw median:"
              " builds a throwaway template, inspects it in place)")  # fmt: skip
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
