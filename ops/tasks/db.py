"""``inv db.*``: migrations and seeds (Supabase CLI compatible)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ops.tasks._base import ops_task

if TYPE_CHECKING:
    from ops.migrations.status import ParityReport, TargetStatus
    from ops.migrations.types import TypesReport

ENV_HELP = "target environment: local (the dev stack), staging or production"
JSON_HELP = "print one JSON document on stdout"


@ops_task(help={"name": "migration name: lower-case letters, digits, underscores"})
def new(c: Any, name: str) -> None:
    """Create supabase/migrations/<UTC timestamp>_<name>.sql."""
    from ops.config import load
    from ops.console import Output
    from ops.migrations import commands

    path = commands.new(load(), name)
    Output().line(f"created {path}")


@ops_task(
    help={
        "env": ENV_HELP,
        "dry_run": "list what would run (with statement counts); change nothing",
        "include_all": "also apply local files older than the newest applied version",
        "yes": "confirm a production run",
        "json_": JSON_HELP,
    }
)
def migrate(
    c: Any, env: str = "local", dry_run: bool = False, include_all: bool = False, yes: bool = False, json_: bool = False
) -> None:
    """Apply pending migrations, each file in one transaction with its history row."""
    from ops.config import load
    from ops.console import Output
    from ops.migrations import commands
    from ops.migrations.render import render_migrate

    out = Output(json_)
    report = commands.migrate(load(), env, dry_run=dry_run, include_all=include_all, yes=yes, out=out)
    render_migrate(out, report)
    out.result(report.to_dict())


@ops_task(iterable=["env"], help={"env": ENV_HELP + "; give it twice for a parity table", "json_": JSON_HELP})
def status(c: Any, env: list[str] | None = None, json_: bool = False) -> TargetStatus | ParityReport:
    """Every version: applied or pending, drift, when applied; parity across environments."""
    from ops.config import load
    from ops.console import Output
    from ops.migrations import commands
    from ops.migrations.render import render_status

    out = Output(json_)
    report = commands.status(load(), list(env or []))
    render_status(out, report)
    out.result(report.to_dict())
    return report


@ops_task(
    positional=["versions"],
    help={
        "versions": "migration version(s): 20240101000000 or 20240101000000,20240102000000",
        "status": "applied or reverted",
        "env": ENV_HELP,
        "yes": "confirm production",
        "json_": JSON_HELP,
    },
)
def repair(c: Any, versions: str, status: str = "", env: str = "local", yes: bool = False, json_: bool = False) -> None:
    """Mark versions applied (recording the file's statements) or reverted, without running SQL."""
    from ops.config import load
    from ops.console import Output
    from ops.migrations import commands
    from ops.migrations.render import render_repair

    out = Output(json_)
    report = commands.repair(load(), versions.replace(",", " ").split(), status, env, yes=yes)
    render_repair(out, report)
    out.result(report.to_dict())


@ops_task(
    help={"env": "local or staging (production is refused)", "force": "re-apply unchanged files", "json_": JSON_HELP}
)
def seed(c: Any, env: str = "local", force: bool = False, json_: bool = False) -> None:
    """Apply new and changed [db.seed] sql_paths files from supabase/config.toml."""
    from ops.config import load
    from ops.console import Output
    from ops.migrations import commands
    from ops.migrations.render import render_seed

    out = Output(json_)
    report = commands.seed(load(), env, force=force, out=out)
    render_seed(out, report)
    out.result(report.to_dict())


@ops_task(help={"env": "only local is allowed", "no_seed": "skip the seed files", "json_": JSON_HELP})
def reset(c: Any, env: str = "local", no_seed: bool = False, json_: bool = False) -> None:
    """Local only: drop and recreate the database, bootstrap, migrate, seed."""
    from ops.config import load
    from ops.console import Output
    from ops.migrations import commands
    from ops.migrations.render import render_reset

    out = Output(json_)
    report = commands.reset(load(), env, seed=not no_seed, out=out)
    render_reset(out, report)
    out.result(report.to_dict())


@ops_task(
    help={
        "env": ENV_HELP,
        "output": "file to write (default: [tool.ops.types] output, database.types.ts)",
        "check": "write nothing; exit 1 when the committed file differs from the database",
        "json_": JSON_HELP,
    }
)
def types(c: Any, env: str = "local", output: str = "", check: bool = False, json_: bool = False) -> TypesReport:
    """TypeScript types for supabase-js, from Supabase's own generator (@supabase/postgres-meta)."""
    from ops.config import load
    from ops.console import Output
    from ops.migrations.types import env_types

    out = Output(json_)
    report = env_types(load(), env, output=output or None, check=check)
    if check:
        out.line(f"{report.output} is {'stale: run inv db.types' if report.changed else 'up to date'}")
    else:
        out.line(f"{report.output}: {'written' if report.written else 'unchanged'} ({', '.join(report.schemas)})")
    out.result(report.to_dict())
    return report
