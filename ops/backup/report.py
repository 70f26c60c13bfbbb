"""The drill report: one JSON document and the same facts as Markdown."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ops.backup.repository import private_dir, private_file
from ops.console import mask_data


def write_report(directory: Path, report: dict[str, Any]) -> dict[str, str]:
    private_dir(directory)
    safe = mask_data(report)
    json_path = directory / f"{report['drill_id']}.json"
    markdown_path = directory / f"{report['drill_id']}.md"
    with private_file(json_path) as handle:
        handle.write((json.dumps(safe, indent=2) + "\n").encode())
    with private_file(markdown_path) as handle:
        handle.write(markdown(safe).encode())
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        # In GitHub Actions the report also goes to the job summary (masked like the files).
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(markdown(safe))
    return {"report_json": str(json_path), "report_markdown": str(markdown_path)}


def markdown(report: dict[str, Any]) -> str:
    backup = report["backup"]
    lines = [
        f"# Restore drill {report['drill_id']}: {report['status'].upper()}",
        "",
        f"- Backup: `{backup['id']}` of {report['from_env']} (snapshot {backup['snapshot_at']},"
        f" migration head {backup['migration_head'] or 'none'})",
        f"- Restored into: `{report['database']}` on {report['to_env']} ({report['server']})"
        + (" — kept" if report["kept"] else " — dropped afterwards"),
        f"- Started {report['started_at']}, finished {report['finished_at']}",
        f"- RTO (restore start to smoke pass): {_seconds(report['rto_seconds'])}",
        f"- RPO (now minus snapshot time): {_seconds(report['rpo_seconds'])}",
    ]
    if report["error"]:
        lines.append(f"- Failure: {report['error']}")
    lines += ["", "## Steps", "", "| Step | Status | Seconds | Detail |", "|---|---|---:|---|"]
    lines += [f"| {s['name']} | {s['status']} | {s['seconds']:.2f} | {_cell(s['detail'])} |" for s in report["steps"]]
    lines += ["", "## Checks", "", "| Check | Status | Expected | Actual |", "|---|---|---|---|"]
    lines += [
        f"| {c['name']} | {c['status']} | {_cell(c['expected'])} | {_cell(c['actual'])} |" for c in report["checks"]
    ]
    return "\n".join(lines) + "\n"


def _seconds(value: float | None) -> str:
    return "not measured (the drill failed)" if value is None else f"{value:.1f} s"


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")
