"""The one way the toolkit reaches Postgres: ``connect`` and ``error_text``.

Every connection goes through ``connect``: the URL's password is registered
as a secret first (so no output ever shows it), a failure becomes one masked
line (``DatabaseUnreachable``, exit 3) instead of libpq's multi-line text, and
every session says who it is (``application_name``) in ``pg_stat_activity``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ops.console import mask, mask_url, register_secret
from ops.errors import ExternalError

if TYPE_CHECKING:
    import psycopg

CONNECT_TIMEOUT = 10


class DatabaseUnreachable(ExternalError):
    """No connection could be opened; ``reason`` is the driver's first line, masked."""

    def __init__(self, message: str, hint: str, *, reason: str) -> None:
        super().__init__(message, hint)
        self.reason = reason


def error_text(exc: BaseException) -> str:
    """The first line of a driver error, masked: psycopg's messages can span
    several lines (libpq adds hints) or be empty (then the error's type names it)."""
    lines = str(exc).strip().splitlines()
    return mask(lines[0].strip() if lines else type(exc).__name__)


def register_password(url: str) -> None:
    """Register the password a URL or key/value DSN carries, as libpq reads it."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        password = conninfo_to_dict(url).get("password")
    except Exception:  # an unparsable URL fails in connect() with libpq's own message
        return
    if password:
        register_secret(str(password))


def connect(
    url: str,
    *,
    application_name: str = "ops",
    autocommit: bool = True,
    connect_timeout: float = CONNECT_TIMEOUT,
    where: str | None = None,
) -> psycopg.Connection[Any]:
    """An open connection to ``url``; ``DatabaseUnreachable`` names ``where``
    (default: the URL, masked) when none can be opened."""
    import psycopg

    register_password(url)
    try:
        return psycopg.connect(
            url,
            autocommit=autocommit,
            connect_timeout=max(1, round(connect_timeout)),
            application_name=application_name,
        )
    except psycopg.Error as exc:
        reason = error_text(exc)
        raise DatabaseUnreachable(
            f"cannot connect to {where or mask_url(url)}: {reason}",
            "check the database URL and that the server is up",
            reason=reason,
        ) from None
