"""The migration lock: a session advisory lock taken by polling.

A blocking ``pg_advisory_lock`` keeps the waiter's transaction open, and
``CREATE INDEX CONCURRENTLY`` waits for every open transaction: the holder
would wait for the waiter forever. Polling ``pg_try_advisory_lock`` keeps
each attempt a short, finished statement.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ops.errors import ExternalError

# An arbitrary fixed key: every runner against one database must agree on it.
LOCK_KEY = 0x2C1F_5A3B_7D6E_4F01
POLL_INTERVAL = 0.1


@contextmanager
def migration_lock(
    conn: Any,
    *,
    timeout: float = 900.0,
    on_wait: Callable[[float], None] | None = None,
) -> Iterator[float]:
    """Hold the migration lock on ``conn`` (autocommit); yields the seconds waited."""
    started = time.monotonic()
    waited = 0.0
    while not conn.execute("select pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()[0]:
        waited = time.monotonic() - started
        if waited > timeout:
            raise ExternalError(
                f"another migration runner held the migration lock for more than {timeout:g}s",
                "wait for it to finish, or find it in pg_stat_activity",
            )
        if on_wait is not None:
            on_wait(waited)
        time.sleep(POLL_INTERVAL)
    try:
        yield waited
    finally:
        if not conn.closed:
            # on a broken connection the server drops the lock with the session
            with contextlib.suppress(Exception):
                conn.execute("select pg_advisory_unlock(%s)", (LOCK_KEY,))
