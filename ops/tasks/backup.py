"""``inv backup.*``: export, list, verify, prune and the restore drill."""

from __future__ import annotations

from typing import Any

from ops.tasks._base import number_option, ops_task

_JSON = "print one JSON document on stdout"


@ops_task(
    help={
        "env": "environment to back up: production (default), staging or local",
        "jobs": "parallel pg_dump jobs for a local, unencrypted repository (default from [tool.ops.backup], 2)",
        "storage": "also copy the project's Supabase Storage files (incremental by ETag)",
        "keep_local": "keep a copy of what was uploaded under the state dir",
        "json_": _JSON,
    }
)
def export(
    c: Any,
    env: str = "production",
    jobs: str = "",
    storage: bool = False,
    keep_local: bool = False,
    json_: bool = False,
) -> None:
    """Back up a database from one exported snapshot into the repository, with a manifest."""
    from ops.backup import export as export_backup
    from ops.backup.render import render_export
    from ops.config import load
    from ops.console import Output

    out = Output(json_)
    jobs_count = number_option(jobs, "--jobs", minimum=1)
    manifest = export_backup(load(), env, jobs=jobs_count, storage=storage, keep_local=keep_local, out=out)
    render_export(out, manifest)
    out.result(manifest)


@ops_task(name="list", help={"env": "only this environment's backups", "json_": _JSON})
def list_(c: Any, env: str | None = None, json_: bool = False) -> None:
    """List backups with age, size, migration head and verification state."""
    from ops.backup import list_backups
    from ops.backup.render import render_list
    from ops.config import load
    from ops.console import Output

    out = Output(json_)
    listing = list_backups(load(), env)
    render_list(out, listing)
    out.result(listing)


@ops_task(
    help={
        "backup": "the backup id to verify (default: the latest)",
        "latest": "verify the latest backup (the default)",
        "env": "environment of the backup (default production)",
        "deep": "download, decrypt (OPS_BACKUP_IDENTITY) and read the dump with pg_restore --list",
        "json_": _JSON,
    }
)
def verify(
    c: Any,
    backup: str | None = None,
    latest: bool = False,
    env: str = "production",
    deep: bool = False,
    json_: bool = False,
) -> dict[str, Any]:
    """Recompute checksums and read pg_restore --list; exit 1 names each damaged file, 3 if it cannot run."""
    from ops.backup import verify as verify_backup
    from ops.backup.render import render_verify
    from ops.config import load
    from ops.console import Output
    from ops.errors import UsageError

    if backup and latest:
        raise UsageError("pass either --backup ID or --latest, not both", "drop one of them")
    out = Output(json_)
    result = verify_backup(load(), backup, env, deep=deep)
    render_verify(out, result)
    out.result(result)
    return result


@ops_task(help={"env": "environment whose backups to prune", "apply": "really delete", "json_": _JSON})
def prune(c: Any, env: str = "production", apply: bool = False, json_: bool = False) -> None:
    """GFS retention (daily/weekly/monthly/yearly from config); a dry run unless --apply."""
    from ops.backup import prune as prune_backups
    from ops.backup.render import render_prune
    from ops.config import load
    from ops.console import Output

    out = Output(json_)
    plan = prune_backups(load(), env, apply=apply)
    render_prune(out, plan)
    out.result(plan)


@ops_task(
    name="drill",
    help={
        "from_": "environment whose backup to restore (default production)",
        "to": "environment whose server receives drill_<id> (default staging; never production)",
        "backup": "the backup id to drill (default: the latest of --from)",
        "keep": "keep the drill database afterwards",
        "jobs": "parallel pg_restore jobs (default from [tool.ops.backup], 2)",
        "json_": _JSON,
    },
)
def drill(
    c: Any,
    from_: str | None = None,
    to: str | None = None,
    backup: str | None = None,
    keep: bool = False,
    jobs: str = "",
    json_: bool = False,
) -> dict[str, Any]:
    """Restore a backup into a fresh database, check it, smoke-test the app; report RTO/RPO."""
    from ops.backup import drill as run_drill
    from ops.backup.render import render_drill
    from ops.config import load
    from ops.console import Output

    out = Output(json_)
    jobs_count = number_option(jobs, "--jobs", minimum=1)
    report = run_drill(load(), from_env=from_, to_env=to, backup_id=backup, keep=keep, jobs=jobs_count, out=out)
    render_drill(out, report)
    out.result(report)
    return report


@ops_task(
    name="restore-storage",
    help={
        "to": "environment whose Storage buckets receive the files (default staging)",
        "from_": "environment whose backup to use (default production)",
        "backup": "the backup id (default: the latest of --from)",
        "yes": "confirm a restore into production",
        "json_": _JSON,
    },
)
def restore_storage(
    c: Any,
    to: str = "staging",
    from_: str = "production",
    backup: str | None = None,
    yes: bool = False,
    json_: bool = False,
) -> None:
    """Put a backup's Supabase Storage files back into another project's buckets."""
    from ops.backup import restore_storage as put_back
    from ops.config import load
    from ops.console import Output

    out = Output(json_)
    result = put_back(load(), to_env=to, from_env=from_, backup_id=backup, yes=yes, out=out)
    out.line(f"restored {sum(result['buckets'].values())} object(s) of backup {result['backup']} into {to}")
    out.result(result)
