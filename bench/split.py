"""Benchmark: statement splitting, ours against pglast's own split of the same text.

Ours is what reading a migration file costs: ``split_sql`` (pglast's split,
which parses every statement, plus our statement records) and
``stored_statements`` (the Supabase CLI's history form). The baseline is
``pglast.parser.split(text, with_parser=True)`` alone. It prints the times for
1k, 10k and 100k statements, so the growth shows, and the ratio (goal: <= 1.5
at 100k).
Times are the process's CPU time (the best of the runs, as timeit reports): splitting is pure
CPU work in one process, and CPU time does not count the waits of a shared
machine.

    python bench/split.py [--sizes 1000,10000,100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ops.migrations.split import split_sql, stored_statements

# A data-dump-like mix: inserts with strings holding ';', a comment, DDL with a dollar-quoted body.
BLOCK = (
    "insert into items (id, name, note) values ({n}, 'item {n}', 'a; b');\n"
    "-- row {n}\n"
    "update items set note = 'x' where id = {n};\n"
    "create or replace function f_{n}() returns int language plpgsql as $$ begin return {n}; end $$;\n"
)
STATEMENTS_PER_BLOCK = 3


def make_sql(statements: int) -> str:
    return "".join(BLOCK.format(n=n) for n in range(statements // STATEMENTS_PER_BLOCK + 1))


def best_of(repeat: int, action: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.process_time()
        action()
        times.append(time.process_time() - started)
    return min(times)


def ours(text: str) -> None:
    stored_statements(text, split_sql(text))


def baseline(text: str) -> None:
    from pglast import parser

    parser.split(text, with_parser=True, only_slices=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each; the best is reported")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    print(f"{'statements':>10}  {'pglast split':>12}  {'ours':>8}  {'ratio':>5}")
    ratio = 0.0
    for size in sizes:
        text = make_sql(size)
        base = best_of(args.repeat, lambda: baseline(text))  # noqa: B023
        mine = best_of(args.repeat, lambda: ours(text))  # noqa: B023
        ratio = mine / base
        print(f"{size:>10}  {base:>11.3f}s  {mine:>7.3f}s  {ratio:>5.2f}")
    print(f"ratio at {sizes[-1]} statements: {ratio:.2f} (goal <= 1.5)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
