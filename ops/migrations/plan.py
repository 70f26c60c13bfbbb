"""What a migration run would do: local files against the target's history.

The refusals follow the Supabase CLI: a version applied on the target with no
local file, or a pending file older than the newest applied version (unless
``include_all``). We add drift: an applied file whose statements changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ops.errors import CheckFailed, UsageError
from ops.migrations.files import MigrationFile
from ops.migrations.history import AppliedMigration
from ops.migrations.split import normalise


@dataclass
class Plan:
    local: list[MigrationFile]
    applied: dict[str, AppliedMigration]
    pending: list[MigrationFile] = field(default_factory=list)
    out_of_order: list[MigrationFile] = field(default_factory=list)
    missing_local: list[str] = field(default_factory=list)
    drifted: list[str] = field(default_factory=list)


def has_drifted(local: MigrationFile, applied: AppliedMigration) -> bool:
    """True when the stored statements differ from the file's (comments and
    whitespace ignored). A row without statements cannot drift."""
    if applied.statements is None:
        return False
    # The same list is the same text (rows written by us or the Supabase CLI from this file);
    # normalising every applied file's statements would cost more than splitting it.
    if local.statements == applied.statements:
        return False
    return normalise(local.statements) != normalise(applied.statements)


def make_plan(local: list[MigrationFile], applied: dict[str, AppliedMigration]) -> Plan:
    plan = Plan(local, applied)
    local_versions = {file.version for file in local}
    plan.missing_local = [version for version in applied if version not in local_versions]
    newest_applied = max(applied, default="")
    for file in local:
        row = applied.get(file.version)
        if row is None:
            plan.pending.append(file)
            if file.version < newest_applied:
                plan.out_of_order.append(file)
        elif has_drifted(file, row):
            plan.drifted.append(file.version)
    return plan


def check_plan(plan: Plan, include_all: bool) -> None:
    """Raise the first refusal that stops a migration run."""
    if plan.missing_local:
        shown = ", ".join(plan.missing_local[:5]) + (" ..." if len(plan.missing_local) > 5 else "")
        raise CheckFailed(
            f"versions applied on the target have no local migration file: {shown}",
            f"restore the files, or mark them reverted: inv db.repair {','.join(plan.missing_local)} --status reverted",
        )
    if plan.drifted:
        version = plan.drifted[0]
        raise CheckFailed(
            f"migration {version} was edited after it was applied (its statements differ from the history)",
            f"revert the edit, or record the new text: inv db.repair {version} --status applied",
        )
    if plan.out_of_order and not include_all:
        shown = ", ".join(file.filename for file in plan.out_of_order[:3])
        raise UsageError(
            f"local migrations are older than the newest applied version: {shown}",
            "rename them to a newer version, or pass --include-all to apply them anyway",
        )
