"""The one way this domain connects: autocommit, a timeout, errors as one line."""

from __future__ import annotations

from typing import Any


def connect(url: str, application_name: str = "ops anonymize") -> Any:
    from ops.backup.pgtools import target
    from ops.pg.connect import connect as open_connection

    return open_connection(url, application_name=application_name, where=target(url).display())
