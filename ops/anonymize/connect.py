"""The one way this domain connects: autocommit, a timeout, errors as one line."""

from __future__ import annotations

from typing import Any

from ops.errors import ExternalError


def connect(url: str, application_name: str = "ops anonymize") -> Any:
    import psycopg

    from ops.backup.pgtools import error_line, target

    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10, application_name=application_name)
    except psycopg.Error as exc:
        raise ExternalError(
            f"cannot connect to {target(url).display()}: {error_line(exc)}",
            "check the database URL and that the server is reachable",
        ) from None
