"""``inv health``: is the app up (/healthz) and ready (/readyz)?"""

from __future__ import annotations

from typing import Any

from ops.tasks._base import ops_task


@ops_task(
    help={
        "env": "environment whose base URL to check: local (through Caddy), staging or production",
        "url": "check this base URL instead of the environment's",
        "cacert": "extra CA certificate (PEM) to trust, e.g. Caddy's root.crt",
        "wait": "keep checking for up to SECONDS until healthy (deploy smoke tests)",
        "timeout": "seconds per request (default from [tool.ops.health], 5)",
        "retries": "extra attempts when an endpoint does not answer (default 2)",
        "json_": "print one JSON document on stdout",
    }
)
def health(
    c: Any,
    env: str = "local",
    url: str | None = None,
    cacert: str | None = None,
    wait: str = "0",
    timeout: str | None = None,
    retries: str | None = None,
    json_: bool = False,
) -> None:
    """Check /healthz and /readyz: exit 0 healthy, 1 unhealthy, 3 unreachable."""
    from ops.config import load
    from ops.console import Output
    from ops.health import check_environment
    from ops.health.render import render, waiting

    out = Output(json_)
    with waiting(out, wait) as on_round:
        report = check_environment(
            load(), env, url=url, ca_file=cacert, wait=wait, timeout=timeout, retries=retries, on_round=on_round
        )
    render(out, report)
    out.result(report.to_dict())
    report.raise_for_status()
