"""``ops init`` / ``inv init``: scaffold this repository for the toolkit."""

from __future__ import annotations

from typing import Any

from ops.tasks._base import ops_task


@ops_task(
    iterable=["only"],
    help={
        "dry_run": "only print what would be created; write nothing",
        "force": "overwrite files ops init wrote before (never pyproject.toml, .gitignore or migrations)",
        "refresh": "also write the manual staging refresh workflow (db.refresh --anonymize, db.test --env staging)",
        "toolkit": "what the workflows pip install (default: ops-toolkit[all]==<this version>)",
        "only": "only this path (repeatable; a directory covers its files), e.g. --force --only .github/workflows",
        "json_": "print one JSON document on stdout",
    },
)
def init(
    c: Any,
    dry_run: bool = False,
    force: bool = False,
    refresh: bool = False,
    toolkit: str = "",
    only: list[str] | None = None,
    json_: bool = False,
) -> None:
    """Scaffold this repository: tasks.py, settings, supabase/, workflows, hooks, .env.example."""
    import os
    from pathlib import Path

    from ops.console import Output
    from ops.init import init as scaffold
    from ops.init.show import show

    out = Output(json_)
    root = Path(os.environ.get("OPS_PROJECT_ROOT") or Path.cwd())
    report = scaffold(
        root, dry_run=dry_run, force=force, refresh_workflow=refresh, requirement=toolkit or None, only=only or None
    )
    show(out, report)
    out.result(report.to_dict())
