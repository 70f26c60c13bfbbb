"""Human rendering of a ``LoadReport``: one table for either engine, then the verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ops.console import Output
    from ops.load import LoadReport


def render_report(out: Output, report: LoadReport) -> None:
    """One table for either engine, then the verdict."""
    doc = report.to_dict()
    ms = "{:.2f} ms".format
    rows: list[tuple[str, str, str]] = [
        ("requests", str(doc["requests"]), ""),
        ("rps", f"{doc['rps']:.2f}", ""),
        *((name, ms(doc[key]) if doc[key] is not None else "-", "") for name, key in _LATENCIES),
        ("error rate", f"{doc['error_rate'] * 100:.2f}%", ""),
        *((f"status {code}", str(count), "") for code, count in doc["status_codes"].items()),
        *((f"error {name}", str(count), "") for name, count in doc["errors"].items()),
        *((f"threshold {t['name']}", _actual(t), "pass" if t["passed"] else "FAIL") for t in doc["thresholds"]),
    ]
    title = f"load.run {doc['scenario']} · {doc['engine']} · {doc['target']} · {doc['vus']} VUs"
    out.table(["metric", "value", "result"], rows, title=title)
    failed = [t["name"] for t in doc["thresholds"] if not t["passed"]]
    if failed:
        out.line(f"thresholds failed: {', '.join(failed)}")
    elif not report.passed:
        out.line(f"{doc['engine']} reported a failed check (exit {doc['engine_exit_code']}); see {doc['log_file']}")
    else:
        out.line(f"all thresholds passed ({doc['requests']} requests)")
    out.result(doc)


_LATENCIES = (("p50", "p50_ms"), ("p95", "p95_ms"), ("p99", "p99_ms"))


def _actual(threshold: dict[str, Any]) -> str:
    value = threshold["actual"]
    if value is None:
        return "-"
    if threshold["key"] == "error_rate":
        return f"{value * 100:.2f}%"
    if threshold["key"].endswith("_seen"):
        return f"{int(value)} seen"
    return f"{value:.2f} ms"
