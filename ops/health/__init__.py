"""Health checks: ``/healthz`` (the process answers) and ``/readyz`` (its dependencies work).

``check(base_url)`` probes both endpoints with bounded timeouts and retries and
returns a ``HealthReport``; ``check_environment(cfg, env)`` finds the base URL
(and, for local, the Caddy root CA) first. Nothing here raises for an unhealthy
app: ``HealthReport.raise_for_status()`` turns the verdict into the exit code
(0 healthy, 1 unhealthy, 3 unreachable). The stdlib HTTP client keeps start-up light.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

from ops.config import Config
from ops.errors import CheckFailed, ExternalError, UsageError

ENDPOINTS = ("/healthz", "/readyz")
DEFAULTS: dict[str, Any] = {
    "timeout": 5.0,  # seconds per request
    "retries": 2,  # extra attempts when the endpoint does not answer at all
    "retry_delay": 1.0,  # seconds between those attempts
    "wait_interval": 2.0,  # seconds between rounds while --wait runs
}
_MAX_BODY = 64 * 1024


@dataclass
class EndpointResult:
    """One endpoint's answer (or the lack of one)."""

    path: str
    url: str
    status: int | None = None
    latency_ms: float | None = None
    body: Any = None
    error: str | None = None
    attempts: int = 0

    @property
    def reachable(self) -> bool:
        return self.status is not None

    @property
    def healthy(self) -> bool:
        if self.status is None or not 200 <= self.status < 300:
            return False
        # The body's own verdict wins over a 2xx: {"status": "fail"} is not healthy.
        if isinstance(self.body, dict) and "status" in self.body:
            return self.body["status"] in {"ok", "healthy", "pass"}
        return True

    @property
    def checks(self) -> dict[str, Any]:
        """Per-dependency results from a readyz-style body (``{"checks": {...}}``)."""
        if isinstance(self.body, dict) and isinstance(self.body.get("checks"), dict):
            return self.body["checks"]
        return {}


@dataclass
class HealthReport:
    base_url: str
    endpoints: list[EndpointResult] = field(default_factory=list)
    rounds: int = 1
    waited_s: float = 0.0

    @property
    def reachable(self) -> bool:
        return all(endpoint.reachable for endpoint in self.endpoints)

    @property
    def healthy(self) -> bool:
        return all(endpoint.healthy for endpoint in self.endpoints)

    @property
    def verdict(self) -> str:
        if self.healthy:
            return "healthy"
        return "unhealthy" if self.reachable else "unreachable"

    @property
    def exit_code(self) -> int:
        return {"healthy": 0, "unhealthy": 1, "unreachable": 3}[self.verdict]

    def to_dict(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "status": self.verdict,
            "healthy": self.healthy,
            "rounds": self.rounds,
            "waited_s": round(self.waited_s, 3),
            "endpoints": [
                {**asdict(endpoint), "healthy": endpoint.healthy, "reachable": endpoint.reachable}
                for endpoint in self.endpoints
            ],
        }

    def raise_for_status(self) -> None:
        """CheckFailed (exit 1) when unhealthy, ExternalError (exit 3) when unreachable."""
        if self.verdict == "unreachable":
            failed = next(endpoint for endpoint in self.endpoints if not endpoint.reachable)
            raise ExternalError(
                f"{failed.url} is unreachable: {failed.error}",
                "start the app (local: inv dev.up) or check the base URL",
            )
        if self.verdict == "unhealthy":
            failed = next(endpoint for endpoint in self.endpoints if not endpoint.healthy)
            raise CheckFailed(
                f"{failed.url} is unhealthy: {describe(failed)}",
                "see the failing check above and the app's logs",
            )


def describe(endpoint: EndpointResult) -> str:
    """A short human verdict for one endpoint: ``200 ok``, ``503 database: fail (...)``."""
    if endpoint.status is None:
        return f"unreachable ({endpoint.error})"
    failing = [
        f"{name}: {value.get('status')}" + (f" ({value['error']})" if value.get("error") else "")
        for name, value in endpoint.checks.items()
        if isinstance(value, dict) and value.get("status") not in {"ok", "healthy", "pass"}
    ]
    if failing:
        return f"{endpoint.status} " + "; ".join(failing)
    if isinstance(endpoint.body, dict) and "status" in endpoint.body:
        return f"{endpoint.status} {endpoint.body['status']}"
    if endpoint.healthy:
        return f"{endpoint.status} ok"
    try:
        return f"{endpoint.status} {HTTPStatus(endpoint.status).phrase}"
    except ValueError:
        return f"{endpoint.status} unexpected status"


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
    except (urllib.error.URLError, TimeoutError, ConnectionError, ssl.SSLError, OSError) as exc:
        result.error = _reason(exc)
        return result
    result.latency_ms = round((time.perf_counter() - started) * 1000, 1)
    result.body = _decode(raw)
    return result


def check(
    base_url: str,
    *,
    ca_file: Path | str | None = None,
    timeout: float = DEFAULTS["timeout"],
    retries: int = DEFAULTS["retries"],
    retry_delay: float = DEFAULTS["retry_delay"],
    wait: float = 0.0,
    wait_interval: float = DEFAULTS["wait_interval"],
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


def check_environment(
    cfg: Config,
    env: str = "local",
    *,
    url: str | None = None,
    ca_file: Path | str | None = None,
    wait: float | str = 0.0,
    timeout: float | str | None = None,
    retries: int | str | None = None,
    on_round: Callable[[HealthReport, float], None] | None = None,
) -> HealthReport:
    """``check`` against ``--url`` or the base URL of ``env``; local trusts the Caddy root CA.

    Defaults come from ``[tool.ops.health]`` (timeout, retries, retry_delay, wait_interval).
    """
    settings = cfg.section("health", DEFAULTS)
    cfg.env(env)  # an unknown environment is a usage error even with --url
    if url is None:
        from ops.targets import base_url

        url = base_url(cfg, env)
        if env == "local" and ca_file is None and url.startswith("https://"):
            from ops.local import local_ca_path

            ca_file = local_ca_path(cfg)
    return check(
        url,
        ca_file=ca_file,
        timeout=_number("timeout", timeout if timeout is not None else settings["timeout"], float),
        retries=_number("retries", retries if retries is not None else settings["retries"], int),
        retry_delay=float(settings["retry_delay"]),
        wait=wait_seconds(wait),
        wait_interval=float(settings["wait_interval"]),
        on_round=on_round,
    )


def wait_seconds(wait: float | str) -> float:
    """``--wait`` as seconds (the command line passes text)."""
    return float(_number("wait", wait, float))


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


def _number(name: str, value: Any, kind: type[float] | type[int]) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise UsageError(f"--{name} must be a number, got '{value}'", f"pass --{name} as a {kind.__name__}") from None


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
