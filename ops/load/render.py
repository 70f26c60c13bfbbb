"""Human rendering of a ``LoadReport``: one table for either engine, then the verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ops.console import Output
    from ops.load import LoadReport


def render_report(out: Output, report: LoadReport) -> None:
    """One table for either engine, then the verdict. The script's own thresholds are shown
    next to the configured ones (marked "script")."""
    doc = report.to_dict()
    ms = "{:.2f} ms".format
    rows: list[tuple[str, str, str]] = [
        ("requests", str(doc["requests"]), ""),
        ("rps", f"{doc['rps']:.2f}", ""),
        *((name, ms(doc[key]) if doc[key] is not None else "-", "") for name, key in _LATENCIES),
        ("error rate", f"{doc['error_rate'] * 100:.2f}%", ""),
        ("checks", _checks(doc), ""),
        *((f"status {code}", str(count), "") for code, count in doc["status_codes"].items()),
        *((f"error {name}", str(count), "") for name, count in doc["errors"].items()),
        *(
            (f"{'script' if t['source'] == 'script' else 'threshold'} {t['name']}", _actual(t), _verdict(t))
            for t in doc["thresholds"]
        ),
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


def _checks(doc: dict[str, Any]) -> str:
    total = doc["checks_passed"] + doc["checks_failed"]
    if not total:
        return "none in the script"
    return f"{doc['checks_rate'] * 100:.2f}% passing ({doc['checks_failed']} of {total} failed)"


def _verdict(threshold: dict[str, Any]) -> str:
    return "pass" if threshold["passed"] else "FAIL"


def _actual(threshold: dict[str, Any]) -> str:
    value = threshold["actual"]
    if value is None:
        return "-"
    if threshold["key"] in ("error_rate", "checks"):
        return f"{value * 100:.2f}%"
    if threshold["key"].endswith("_seen"):
        return f"{int(value)} seen"
    return f"{value:.2f} ms"
