"""Human rendering of a ``HealthReport`` (the JSON form is ``HealthReport.to_dict``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ops.console import Output
from ops.health.report import HealthReport, describe


def render(out: Output, report: HealthReport) -> None:
    rows: list[list[Any]] = []
    for endpoint in report.endpoints:
        latency = f"{endpoint.latency_ms:.1f} ms" if endpoint.latency_ms is not None else "-"
        rows.append([endpoint.path, endpoint.status or "-", latency, describe(endpoint)])
        for name, value in endpoint.checks.items():
            if isinstance(value, dict):
                detail = f"{value.get('latency_ms')} ms" if value.get("latency_ms") is not None else "-"
                rows.append([f"  {name}", value.get("status", "?"), detail, value.get("error") or ""])
    out.table(["endpoint", "status", "latency", "detail"], rows, title=f"health of {report.base_url}")
    waited = f" after {report.rounds} rounds ({report.waited_s:.1f}s)" if report.rounds > 1 else ""
    out.line(f"{report.verdict}: {report.base_url}{waited}")


@contextmanager
def waiting(out: Output, wait: float) -> Iterator[Callable[[HealthReport, float], None] | None]:
    """A progress line on stderr while ``--wait`` polls; None (no display) without --wait."""
    if wait <= 0:
        yield None
        return
    with out.progress() as progress:
        task = progress.add_task("checking health", total=None)

        def on_round(report: HealthReport, remaining: float) -> None:
            failing = next((e for e in report.endpoints if not e.healthy), None)
            reason = f"{failing.path} {describe(failing)}" if failing else report.verdict
            progress.update(task, description=f"waiting for {report.base_url}: {reason} ({remaining:.0f}s left)")

        yield on_round
