"""Probes the stack waits on: a database query and HTTP(S) GETs verified against a CA."""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from ops.errors import ExternalError

POLL_INTERVAL = 0.05


def db_ok(url: str, timeout: float = 2.0) -> tuple[bool, str]:
    import psycopg

    from ops.pg.connect import DatabaseUnreachable, connect, error_text

    try:
        with connect(url, application_name="ops health", connect_timeout=timeout) as conn:
            conn.execute("select 1")
    except DatabaseUnreachable as exc:
        return False, exc.reason
    except psycopg.Error as exc:
        return False, error_text(exc)
    return True, "ok"


@lru_cache(maxsize=8)
def _tls_context(cafile: str, mtime: float) -> ssl.SSLContext:
    # mtime is part of the key so that a regenerated CA is picked up.
    return ssl.create_default_context(cafile=cafile)


def http_ok(
    url: str, *, cafile: Path | None = None, timeout: float = 2.0, accept: Callable[[int], bool] | None = None
) -> tuple[bool, str]:
    """GET ``url``; ok on a 2xx (or what ``accept`` accepts). HTTPS is verified against ``cafile``
    only (no verify=False anywhere)."""
    accepts = accept or (lambda status: 200 <= status < 300)
    context = None
    if url.startswith("https://"):
        if cafile is None or not cafile.is_file():
            return False, "no CA certificate yet"
        context = _tls_context(str(cafile), cafile.stat().st_mtime)
    request = urllib.request.Request(url, headers={"User-Agent": "ops-dev-stack"})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return accepts(response.status), f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return accepts(exc.code), f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, str(reason)


def wait_until(
    probe: Callable[[], tuple[bool, str]],
    *,
    timeout: float,
    what: str,
    hint: str,
    alive: Callable[[], bool] | None = None,
) -> None:
    """Poll ``probe`` until it passes; fail early when ``alive`` says the process died."""
    deadline = time.monotonic() + timeout
    detail = "not tried"
    while True:
        ok, detail = probe()
        if ok:
            return
        if alive is not None and not alive():
            raise ExternalError(f"{what} exited before it became healthy ({detail})", hint)
        if time.monotonic() >= deadline:
            raise ExternalError(f"{what} not healthy after {timeout:.0f}s ({detail})", hint)
        time.sleep(POLL_INTERVAL)
