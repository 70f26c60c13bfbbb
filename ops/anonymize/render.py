"""Human output and the JSON document of ``db.refresh`` and ``db.anonymize --check``."""

from __future__ import annotations

from typing import Any

from ops.anonymize.check import CheckReport
from ops.console import Output


def render_refresh(out: Output, report: dict[str, Any]) -> None:
    out.table(
        ["step", "status", "seconds", "detail"],
        [(s["name"], s["status"], f"{s['seconds']:.2f}", s["detail"]) for s in report["steps"]],
        title=f"db.refresh {report['from']} -> {report['to']}",
    )
    for warning in report["warnings"]:
        out.warn(warning)
    if report["status"] == "ok":
        out.table(["table", "rows"], sorted(report["tables"].items()), title="loaded")
        out.line(
            f"{report['to']} refreshed from {report['from']} backup {report['backup']}: {report['rows']} rows in"
            f" {len(report['tables'])} tables, {len(report['masked_columns'])} masked columns,"
            f" {len(report['emptied_tables'])} tables emptied, in {report['seconds']:.1f}s"
        )
    else:
        failed = next((s["name"] for s in report["steps"] if s["status"] == "failed"), "?")
        out.line(f"refresh FAILED at step '{failed}'; {report['to']} is unchanged")
        hint = f" (fix: {report['hint']})" if report["hint"] else ""
        out.line(f"error: {report['error']}{hint}")
    out.result(report)


def render_check(out: Output, report: CheckReport) -> None:
    for item in report.unruled:
        out.line(f"{item['column']}: looks personal by {item['reason']} and has no rule")
    for problem in report.problems:
        out.line(problem)
    if report.exit_code == 0:
        out.line(f"anonymize rules cover {report.database}: {report.columns_checked} columns checked")
    else:
        out.line(
            f"{len(report.unruled)} personal-looking column(s) without a rule, {len(report.problems)} rule problem(s)"
            ' (fix: add rules in [tool.ops.anonymize], e.g. "public.t.col" = "email" or "keep")'
        )
    out.result(report.to_dict())
