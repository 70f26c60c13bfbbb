"""Opening the one connection a runner uses."""

from __future__ import annotations

import contextlib
from typing import Any

from ops.pg.connect import connect as open_connection


def connect(db_url: str, application_name: str = "ops-migrate") -> Any:
    """An autocommit psycopg connection; the server notices a killed runner quickly.

    ``client_connection_check_interval`` makes the backend of a runner killed
    in the middle of a long statement give up (and release the migration lock)
    within a second instead of when the statement ends.
    """
    import psycopg

    conn = open_connection(db_url, application_name=application_name)
    with contextlib.suppress(psycopg.Error):  # the setting exists from PostgreSQL 14
        conn.execute("set client_connection_check_interval = '1s'")
    return conn
