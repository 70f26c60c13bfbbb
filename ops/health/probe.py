"""Probing ``/healthz`` and ``/readyz``: bounded timeouts, retries, and ``--wait`` rounds.

The stdlib HTTP client keeps start-up light. Nothing here raises for an
unhealthy or unreachable app: that is the report's verdict.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ops.errors import UsageError
from ops.health.report import EndpointResult, HealthReport

ENDPOINTS = ("/healthz", "/readyz")
_MAX_BODY = 64 * 1024


def ssl_context(ca_file: Path | str | None) -> ssl.SSLContext:
    """The system trust store, plus ``ca_file`` (e.g. Caddy's local root CA)."""
    context = ssl.create_default_context()
    if ca_file:
        path = Path(ca_file)
        if not path.is_file():
            raise UsageError(
                f"CA file {path} does not exist", "pass an existing PEM file (for local: the Caddy root CA, root.crt)"
            )
        context.load_verify_locations(cafile=str(path))
    return context


def probe(url: str, *, context: ssl.SSLContext, timeout: float) -> EndpointResult:
    """One GET: status, latency and the (JSON if possible) body; never raises for HTTP failures."""
    result = EndpointResult(path=url, url=url, attempts=1)
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "ops-health"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            result.status = response.status
            raw = response.read(_MAX_BODY)
    except urllib.error.HTTPError as exc:
        # A non-2xx answer still tells us the server is there: keep its body (per-check detail).
        result.status = exc.code
        raw = exc.read(_MAX_BODY) if exc.fp else b""
    except (urllib.error.URLError, TimeoutError, ConnectionError, ssl.SSLError, OSError, ValueError) as exc:
        # ValueError: http.client rejects a malformed URL (a non-numeric port) before connecting.
        result.error = _reason(exc)
        return result
    result.latency_ms = round((time.perf_counter() - started) * 1000, 1)
    result.body = _decode(raw)
    return result


def check(
    base_url: str,
    *,
    ca_file: Path | str | None = None,
    timeout: float = 5.0,
    retries: int = 2,
    retry_delay: float = 1.0,
    wait: float = 0.0,
    wait_interval: float = 2.0,
    endpoints: tuple[str, ...] = ENDPOINTS,
    on_round: Callable[[HealthReport, float], None] | None = None,
) -> HealthReport:
    """Probe ``/healthz`` and ``/readyz`` under ``base_url``.

    An endpoint that does not answer is retried ``retries`` times; an HTTP answer
    is final for that round. With ``wait`` > 0 rounds repeat every
    ``wait_interval`` seconds until healthy or ``wait`` seconds have passed
    (deploy smoke tests: the new release may still be starting); ``on_round``
    hears about each failed round and the seconds left.
    """
    if timeout <= 0 or retries < 0 or wait < 0:
        raise UsageError("timeout must be > 0, retries and wait >= 0", "fix --timeout/--retries/--wait")
    base_url = base_url.rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise UsageError(f"base URL '{base_url}' is not http(s)", "pass a URL like https://app.example.com")
    context = ssl_context(ca_file)
    started = time.monotonic()
    deadline = started + wait
    rounds = 0
    while True:
        rounds += 1
        report = HealthReport(base_url=base_url, rounds=rounds)
        for path in endpoints:
            report.endpoints.append(
                _probe_with_retries(
                    base_url, path, context=context, timeout=timeout, retries=retries, delay=retry_delay
                )
            )
        report.waited_s = time.monotonic() - started
        remaining = deadline - time.monotonic()
        if report.healthy or remaining <= 0:
            return report
        if on_round is not None:
            on_round(report, remaining)
        time.sleep(min(wait_interval, remaining))


def _probe_with_retries(
    base_url: str, path: str, *, context: ssl.SSLContext, timeout: float, retries: int, delay: float
) -> EndpointResult:
    attempts = 0
    while True:
        attempts += 1
        result = probe(base_url + path, context=context, timeout=timeout)
        if result.reachable or attempts > retries:
            result.path = path
            result.attempts = attempts
            return result
        time.sleep(delay)


def _decode(raw: bytes) -> Any:
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text.strip()[:500]


def _reason(exc: BaseException) -> str:
    reason: Any = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"TLS verification failed: {reason.verify_message}"
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    text = getattr(reason, "strerror", None) or str(reason)
    return " ".join(str(text).split()) or type(reason).__name__
