"""Health checks: ``/healthz`` (the process answers) and ``/readyz`` (its dependencies work).

``check(base_url)`` (``probe.py``) probes both endpoints with bounded timeouts
and retries and returns a ``HealthReport`` (``report.py``), whose ``exit_code``
is the verdict: 0 healthy, 1 unhealthy, 3 unreachable. ``check_environment(cfg,
env)`` finds the base URL (and, for local, the Caddy root CA) first, with the
defaults of ``[tool.ops.health]`` (``settings.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ops.config import Config
from ops.health.probe import ENDPOINTS, check, probe, ssl_context
from ops.health.report import EndpointResult, HealthReport, describe

__all__ = [
    "ENDPOINTS",
    "EndpointResult",
    "HealthReport",
    "check",
    "check_environment",
    "describe",
    "probe",
    "ssl_context",
]


def check_environment(
    cfg: Config,
    env: str = "local",
    *,
    url: str | None = None,
    ca_file: Path | str | None = None,
    wait: float = 0.0,
    timeout: float | None = None,
    retries: int | None = None,
    on_round: Callable[[HealthReport, float], None] | None = None,
) -> HealthReport:
    """``check`` against ``url`` or the base URL of ``env``; local trusts the Caddy root CA.

    ``timeout`` and ``retries`` default to ``[tool.ops.health]``.
    """
    from ops.health.settings import health_settings

    settings = health_settings(cfg)
    cfg.env(env)  # an unknown environment is a usage error even with a URL
    endpoints: tuple[str, ...] = ENDPOINTS
    services: dict[str, tuple[str, str]] = {}
    if url is None and env == "local":
        endpoints, services = local_service_endpoints(cfg)
    if url is None:
        from ops.targets import base_url

        url = base_url(cfg, env)
        if env == "local" and ca_file is None and url.startswith("https://"):
            from ops.local import local_ca_path

            ca_file = local_ca_path(cfg)
    timeout = settings.timeout if timeout is None else timeout
    report = check(
        url,
        ca_file=ca_file,
        timeout=timeout,
        retries=settings.retries if retries is None else retries,
        retry_delay=settings.retry_delay,
        wait=wait,
        wait_interval=settings.wait_interval,
        endpoints=endpoints,
        on_round=on_round,
    )
    # Each HTTP service of the local stack answers its own ready path too (directly, not via Caddy).
    context = ssl_context(None)
    for name, (service_url, ready_path) in services.items():
        result = probe(service_url + ready_path, context=context, timeout=timeout)
        result.path = f"{ready_path} ({name})"
        report.endpoints.append(result)
    return report


def local_service_endpoints(cfg: Config) -> tuple[tuple[str, ...], dict[str, tuple[str, str]]]:
    """For a local stack with ``[tool.ops.dev.services]``: the default service's ready path
    (through Caddy) and every HTTP service's own (direct URL, ready path). A single-app
    project keeps ``/healthz`` and ``/readyz``."""
    from ops.local import local_http_services
    from ops.local.settings import dev_settings

    dev = dev_settings(cfg)
    if not dev.services:
        return ENDPOINTS, {}
    services = local_http_services(cfg)
    default = services.get(dev.default_service)
    return ((default[1],) if default else ENDPOINTS), services
