"""Opening the one connection a runner uses."""

from __future__ import annotations

import contextlib
from typing import Any

from ops.console import mask
from ops.errors import ExternalError
from ops.targets import register_url_password


def connect(db_url: str, application_name: str = "ops-migrate") -> Any:
    """An autocommit psycopg connection; the server notices a killed runner quickly.

    ``client_connection_check_interval`` makes the backend of a runner killed
    in the middle of a long statement give up (and release the migration lock)
    within a second instead of when the statement ends.
    """
    import psycopg

    register_url_password(db_url)
    try:
        conn = psycopg.connect(db_url, autocommit=True, connect_timeout=10, application_name=application_name)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExternalError(
            f"cannot connect to the database: {mask(reason)}", "check the URL and that the database is up"
        ) from None
    with contextlib.suppress(psycopg.Error):  # the setting exists from PostgreSQL 14
        conn.execute("set client_connection_check_interval = '1s'")
    return conn
