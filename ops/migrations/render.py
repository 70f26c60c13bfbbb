"""Human output of the ``db.*`` commands (JSON comes from each report's ``to_dict``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ops.console import Output
    from ops.migrations.repair import RepairReport
    from ops.migrations.reset import ResetReport
    from ops.migrations.runner import MigrateReport
    from ops.migrations.seeding import SeedReport
    from ops.migrations.status import ParityReport, TargetStatus


def render_migrate(out: Output, report: MigrateReport) -> None:
    if report.dry_run:
        if not report.pending:
            out.line(f"up to date: nothing to apply on {report.target}")
            return
        out.line(f"would apply {len(report.pending)} migration(s) on {report.target}:")
        for file in report.pending:
            out.line(f"  {file.filename} ({len(file.parsed)} statements)")
        return
    if report.waited_for_lock_seconds >= 0.5:
        out.line(f"waited {report.waited_for_lock_seconds:.1f}s for another runner's migration lock")
    if not report.applied:
        out.line(f"up to date: nothing to apply on {report.target}")
        return
    # One write for the whole list: a run of 5,000 files prints 5,000 lines.
    lines = [f"applied {i.version}_{i.name}.sql ({i.statements} statements, {i.seconds:.2f}s)" for i in report.applied]
    lines.append(f"applied {len(report.applied)} migration(s) on {report.target}")
    out.line("\n".join(lines))


def render_seed(out: Output, report: SeedReport) -> None:
    if not report.enabled:
        out.line("seeding is disabled ([db.seed] enabled = false)")
        return
    for item in report.files:
        if item.status == "recorded":
            out.line(f"recorded: {item.path} (changed: new hash recorded, not run again; db.seed --force runs it)")
        else:
            out.line(f"{item.status}: {item.path}")
    ran = sum(1 for item in report.files if item.status in {"applied", "reapplied"})
    out.line(f"seeded {ran} file(s) on {report.target}")


def render_status(out: Output, report: TargetStatus | ParityReport) -> None:
    from ops.migrations.status import ParityReport

    if isinstance(report, ParityReport):
        envs = [target.env for target in report.targets]
        rows = [(v, n, *states) for v, n, states in report.rows()]
        out.table(["version", "name", *envs], rows, title="migration parity")
        if report.differences:
            out.line(f"{len(report.differences)} version(s) differ between {' and '.join(envs)}")
        else:
            out.line(f"in parity: {' and '.join(envs)} have the same migrations applied")
        return
    rows = [
        (v.version, v.name, v.file or "-", v.state, v.applied_at.isoformat(timespec="seconds") if v.applied_at else "")
        for v in report.versions
    ]
    out.table(["version", "name", "file", "state", "applied at"], rows, title=f"migrations on {report.env}")
    pending = sum(1 for v in report.versions if not v.applied)
    out.line(f"{len(report.versions) - pending} applied, {pending} pending, {len(report.problems)} problem(s)")
    for problem in report.problems:
        if problem.drift:
            out.line(
                f"drift: {problem.version} was edited after it was applied"
                f" (fix: revert the edit, or inv db.repair {problem.version} --status applied)"
            )
        else:
            out.line(
                f"missing: {problem.version} is applied but has no local file"
                f" (fix: restore it, or inv db.repair {problem.version} --status reverted)"
            )


def render_repair(out: Output, report: RepairReport) -> None:
    out.line(f"marked {report.status}: {', '.join(report.versions)} on {report.target}")


def render_reset(out: Output, report: ResetReport) -> None:
    out.line(f"recreated database {report.database}")
    render_migrate(out, report.migrate)
    render_seed(out, report.seed)
