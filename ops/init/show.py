"""How ``ops init`` reports what it did: one line per file, then the next steps."""

from __future__ import annotations

from ops.console import Output
from ops.init import InitReport


def show(out: Output, report: InitReport) -> None:
    project = report.project
    if project.is_node:
        found = [f"{project.package_manager} project"]
        if project.services:
            found.append("apps: " + ", ".join(s.name for s in project.services))
        elif project.app_command:
            found.append(f"app: {project.app_command}")
        if project.redis:
            found.append("Redis")
        if project.presets:
            found.append("env presets: " + ", ".join(project.presets))
        if project.functions:
            found.append("Edge Functions")
        out.line("detected: " + "; ".join(found))
    width = max((len(f.action) for f in report.files), default=0)
    for result in report.files:
        detail = f" ({result.detail})" if result.detail else ""
        out.line(f"{result.action:<{width}}  {result.path}{detail}")
    if project.types_file and "@supabase/postgres-meta" not in project.dependencies:
        out.line(f"note: CI checks {project.types_file} with db.types, which runs Supabase's generator:")
        out.line(f"      {project.package_manager} add -D @supabase/postgres-meta".replace("npm add", "npm i"))
    if report.dry_run:
        out.line("dry run: nothing was written")
        return
    out.line("")
    out.line("next: inv dev.up, then inv db.new <name> / inv db.migrate; inv ci runs what CI runs.")
    out.line("      Your app should answer /healthz and /readyz (health checks, drills, dev.up readiness).")
    out.line("      CI secrets: SUPABASE_STAGING_DB_URL, STAGING_BASE_URL (environment staging),")
    out.line("      SUPABASE_DB_URL, PRODUCTION_BASE_URL (environment production).")
