"""Human output for the backup tasks (the JSON documents are the results as-is)."""

from __future__ import annotations

from typing import Any

from ops.backup.catalog import human_bytes
from ops.console import Output


def render_export(out: Output, manifest: dict[str, Any]) -> None:
    rows = sum(manifest["row_counts"].values())
    out.line(
        f"backup {manifest['id']} of {manifest['env']}: {len(manifest['files'])} files,"
        f" {human_bytes(manifest['size_bytes'])}, {len(manifest['row_counts'])} tables, {rows} rows,"
        f" migration head {manifest['migration_head'] or 'none'}"
    )
    if manifest["roles"]["skipped"]:
        out.warn(f"roles.sql skipped: {manifest['roles']['skipped']}")
    if manifest.get("encryption"):
        out.line(f"encrypted with age to {len(manifest['encryption']['recipients'])} recipient(s)")
    storage = manifest.get("storage")
    if storage:
        buckets = ", ".join(f"{name} ({count})" for name, count in storage["buckets"].items()) or "no buckets"
        out.line(f"storage: {buckets}; {storage['copied']} copied, {storage['referenced']} unchanged")
    out.line(f"written to {manifest['path']}")
    if manifest.get("kept_local"):
        out.line(f"local copy: {manifest['kept_local']}")


def render_list(out: Output, listing: dict[str, Any]) -> None:
    backups = listing["backups"]
    for path in listing["unfinished"]:
        out.warn(f"unfinished export (running, or interrupted: delete it once nothing runs): {path}")
    for path in listing["damaged"]:
        out.warn(f"damaged backup (manifest.json missing or unreadable; run backup.verify on it): {path}")
    if not backups:
        out.line("no backups")
        return
    # Plain aligned columns: ids must never be truncated, whatever the terminal width.
    header = ("ENV", "ID", "AGE", "SIZE", "MIGRATION HEAD", "VERIFICATION")
    rows = [(b["env"], b["id"], b["age"], b["size"], b["migration_head"] or "-", b["verification"]) for b in backups]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        out.line("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def render_verify(out: Output, result: dict[str, Any]) -> None:
    if result["status"] == "ok":
        toc = (
            f", {result['toc_entries']} TOC entries readable"
            if result.get("level", "full") != "checksums"
            else " (stored checksums; --deep also reads the dump)"
        )
        out.line(f"backup {result['id']} verified: {result['files_checked']} files match their checksums{toc}")
        return
    if result["status"] == "unknown":
        out.line(f"backup {result['id']}: verification could not run (recorded as unknown):")
        for problem in result["problems"]:
            out.line(f"  {problem}")
        return
    out.line(f"backup {result['id']} FAILED verification:")
    for problem in result["problems"]:
        out.line(f"  {problem}")


def render_prune(out: Output, plan: dict[str, Any]) -> None:
    for check in plan.get("reverified", []):
        detail = f": {'; '.join(check['problems'])}" if check["problems"] else ""
        out.line(f"re-verified {check['id']} before deleting: {check['status']}{detail}")
    for decision in plan["decisions"]:
        out.line(
            f"{decision['action']:<6} {decision['id']}  ({decision['verification']}) {'; '.join(decision['reasons'])}"
        )
    verb = "deleted" if plan["applied"] else "would delete"
    out.line(f"{plan['keep']} kept, {plan['delete']} {verb}")
    if not plan["applied"] and plan["delete"]:
        out.line("dry run: nothing deleted (pass --apply to delete)")


def render_drill(out: Output, report: dict[str, Any]) -> None:
    if report["status"] == "ok":
        out.line(
            f"drill passed: backup {report['backup']['id']} restored into {report['database']} on {report['to_env']};"
            f" RTO {report['rto_seconds']:.1f} s, RPO {report['rpo_seconds']:.0f} s"
        )
    else:
        failed = next(step["name"] for step in report["steps"] if step["status"] == "failed")
        out.line(f"drill FAILED at step '{failed}'")
        out.line(report["error"])
    out.line(f"report: {report['report_markdown']}")
