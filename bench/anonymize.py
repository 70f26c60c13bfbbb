"""Benchmark: rows masked per second by ``db.refresh``'s masking step on a
1M-row table, against a plain ``UPDATE people SET email = md5(email)`` of the
same table, in the same run.

A throwaway cluster gets ``public.people(id, email unique)`` with ``--rows``
distinct emails; every measurement runs on a fresh clone of it (CREATE
DATABASE ... TEMPLATE) after a CHECKPOINT, interleaved for ``--rounds``
rounds (alternating which goes first); the best time of each side counts.
The masking side is the real code path: the distinct emails read out, mapped
to Faker-based fakes in Python (keyed HMAC), copied in, one UPDATE ... FROM
join. "with verification" adds the keyed hashes of the originals taken before
and the check after (what a refresh also runs).

    python bench/anonymize.py                  # 1,000,000 rows, 1 round
    python bench/anonymize.py --rows 200000 --rounds 3
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ops.anonymize import mask as masking  # noqa: E402
from ops.anonymize.catalog import read_catalog  # noqa: E402
from ops.anonymize.plan import make_plan  # noqa: E402
from ops.anonymize.rules import rule_set  # noqa: E402
from ops.anonymize.settings import AnonymizeSettings  # noqa: E402
from ops.anonymize.verify import record_originals, row_counts, verify_masking  # noqa: E402
from ops.pg.cluster import Cluster  # noqa: E402

SOURCE = "bench_people"


def _fill(cluster: Cluster, rows: int) -> None:
    cluster.create_database(SOURCE)
    with cluster.connection(SOURCE) as conn:
        conn.execute("create table public.people (id bigint primary key, email text not null unique)")
        conn.execute(
            "insert into public.people select i, 'user' || i || '.' || md5(i::text) || '@corp.example'"
            " from generate_series(1, %s) i",
            (rows,),
        )
        conn.execute("vacuum analyze public.people")


def _on_a_clone(cluster: Cluster, work: Callable[[Any], None]) -> float:
    name = "bench_" + secrets.token_hex(4)
    cluster.create_database(name, template=SOURCE)
    try:
        with cluster.connection() as admin:
            admin.execute("checkpoint")
        with cluster.connection(name) as conn:
            started = time.perf_counter()
            work(conn)
            return time.perf_counter() - started
    finally:
        cluster.drop_database(name)


def _md5(conn: Any) -> None:
    conn.execute("update public.people set email = md5(email)")


def _masking(verify: bool) -> Callable[[Any], None]:
    rules = rule_set(AnonymizeSettings.model_validate({"builtin_rules": False, "public.people.email": "email"}))

    def run(conn: Any) -> None:
        key = secrets.token_bytes(32)
        plan = make_plan(read_catalog(conn), rules)
        masking.prepare_session(conn)
        counts = row_counts(conn, plan.copied_tables) if verify else {}
        if verify:
            record_originals(conn, plan, key)
        masking.mask(conn, plan, key, None, lambda _text: None)
        if verify:
            result = verify_masking(conn, plan, counts)
            assert not result.problems, result.problems

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the table (default 1,000,000)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds (default 1)")
    args = parser.parse_args(argv)

    base = Path(tempfile.mkdtemp(prefix="ops-bench-anonymize-"))
    base.chmod(0o755)
    cluster = Cluster(base / "pg", settings={"max_wal_size": "4GB", "checkpoint_timeout": "30min"})
    try:
        cluster.start()
        print(f"filling public.people with {args.rows:,} rows ...", flush=True)
        _fill(cluster, args.rows)
        sides: dict[str, Callable[[Any], None]] = {
            "md5 UPDATE (baseline)": _md5,
            "masking (email strategy)": _masking(verify=False),
            "masking + verification": _masking(verify=True),
        }
        best = {name: float("inf") for name in sides}
        for round_number in range(args.rounds):
            order = list(sides) if round_number % 2 == 0 else list(reversed(sides))
            for name in order:
                seconds = _on_a_clone(cluster, sides[name])
                best[name] = min(best[name], seconds)
                print(f"  round {round_number + 1}: {name}: {seconds:.2f}s", flush=True)
        baseline = best["md5 UPDATE (baseline)"]
        print()
        for name, seconds in best.items():
            rate = args.rows / seconds
            print(f"{name:28} best {seconds:7.2f}s  {rate:>12,.0f} rows/s  {seconds / baseline:5.2f}x the baseline")
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
