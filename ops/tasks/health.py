"""``inv health``: is the app up (/healthz) and ready (/readyz)?"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ops.tasks._base import number_option, ops_task

if TYPE_CHECKING:
    from ops.health import HealthReport


# --url needs no project: a deploy smoke test may run from anywhere.
@ops_task(
    project=False,
    help={
        "env": "environment whose base URL to check: local (through Caddy), staging or production",
        "url": "check this base URL instead of the environment's",
        "cacert": "extra CA certificate (PEM) to trust, e.g. Caddy's root.crt",
        "wait": "keep checking for up to SECONDS until healthy (deploy smoke tests)",
        "timeout": "seconds per request (default from [tool.ops.health], 5)",
        "retries": "extra attempts when an endpoint does not answer (default 2)",
        "json_": "print one JSON document on stdout",
    },
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
) -> HealthReport:
    """Check /healthz and /readyz: exit 0 healthy, 1 unhealthy, 3 unreachable."""
    from ops.config import load
    from ops.console import Output
    from ops.health import check_environment
    from ops.health.render import render, waiting

    seconds = number_option(wait, "--wait", whole=False) or 0.0
    per_request = number_option(timeout, "--timeout", whole=False, minimum=None)
    attempts = number_option(retries, "--retries")
    out = Output(json_)
    with waiting(out, seconds) as on_round:
        report = check_environment(
            load(), env, url=url, ca_file=cacert, wait=seconds, timeout=per_request, retries=attempts, on_round=on_round
        )
    render(out, report)
    out.result(report.to_dict())
    return report
