"""Grandfather-father-son retention.

``plan_retention`` is a pure function over (id, timestamp, verified) so that it
can be tested over any calendar. Each tier keeps the newest backup of each of
its last N periods that hold a backup (days, ISO weeks, months, years), the
way restic's ``--keep-daily/weekly/monthly/yearly`` do; a backup kept by
several tiers lists every reason. Two safety rules come on top: the newest
verified backup is always kept, and when no backup is verified nothing is
deleted at all. A backup whose verification failed takes no tier slot: it
cannot be restored, so it must not push out a good one.

A verification stamp is only as good as the day it was taken: before
``prune --apply`` deletes anything, it verifies the backup it keeps as the
newest verified one again, in full. If that backup is damaged now, it is
recorded as failed and the plan is made again (another backup becomes the
newest verified one, and is re-verified in turn); if the check cannot run at
all (pg_restore missing), nothing is deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ops.backup.catalog import Backup, backups, repository
from ops.backup.settings import TIERS, load_settings
from ops.backup.verify import verify_backup
from ops.config import Config
from ops.errors import ExternalError


@dataclass(frozen=True)
class Candidate:
    id: str
    timestamp: datetime
    verified: bool
    failed: bool = False
    state: str = ""


@dataclass
class Decision:
    id: str
    timestamp: datetime
    verified: bool
    failed: bool = False
    state: str = ""
    reasons: list[str] = field(default_factory=list)

    @property
    def keep(self) -> bool:
        return bool(self.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "timestamp": self.timestamp.isoformat(),
            "verification": self.state or ("ok" if self.verified else "failed" if self.failed else "unverified"),
            "action": "keep" if self.keep else "delete",
            "reasons": self.reasons or ["failed verification" if self.failed else "outside every retention tier"],
        }


_PERIODS: dict[str, Callable[[datetime], tuple[int, ...]]] = {
    "daily": lambda t: (t.year, t.month, t.day),
    "weekly": lambda t: tuple(t.isocalendar()[:2]),
    "monthly": lambda t: (t.year, t.month),
    "yearly": lambda t: (t.year,),
}
_UNITS = {"daily": "day", "weekly": "week", "monthly": "month", "yearly": "year"}


def plan_retention(items: Iterable[Candidate | tuple[str, datetime, bool]], policy: dict[str, int]) -> list[Decision]:
    """Keep/delete decisions, newest first."""
    decisions = [
        Decision(*item)
        if isinstance(item, tuple)
        else Decision(item.id, item.timestamp, item.verified, item.failed, item.state)
        for item in items
    ]
    decisions.sort(key=lambda d: (d.timestamp, d.id), reverse=True)
    for tier in TIERS:
        limit = policy.get(tier, 0)
        period_of = _PERIODS[tier]
        seen: list[tuple[int, ...]] = []
        for decision in decisions:
            if len(seen) >= limit:
                break
            if decision.failed:
                continue
            period = period_of(decision.timestamp)
            if period in seen:
                continue
            seen.append(period)
            decision.reasons.append(f"{tier} {len(seen)}/{limit} (newest of its {_UNITS[tier]})")
    verified = [d for d in decisions if d.verified]
    if verified:
        newest = verified[0]
        if not newest.keep:
            newest.reasons.append("newest verified backup")
    else:
        for decision in decisions:
            if not decision.keep:
                decision.reasons.append("no backup is verified yet: nothing is deleted until one is")
    return decisions


def tier_counts(decisions: Sequence[Decision]) -> dict[str, int]:
    """How many kept backups each tier accounts for."""
    return {tier: sum(any(r.startswith(tier + " ") for r in d.reasons) for d in decisions) for tier in TIERS}


def _delete(backup: Backup, deleted_so_far: list[str]) -> None:
    try:
        backup.repo.delete(backup.env, backup.id)
    except ExternalError as exc:
        done = f" after deleting {len(deleted_so_far)} backup(s)" if deleted_so_far else ""
        raise ExternalError(exc.message + done, exc.hint) from None


def _collect_pool(settings: Any, env: str) -> int:
    """Storage files that no remaining backup references (their blobs are shared)."""
    repo = repository(settings, env)
    if repo.scan(env).unfinished:
        return 0  # an export may be running: its new files are in no manifest yet
    remaining = backups(settings, env)
    referenced = {blob for b in remaining for blob in (b.manifest.get("storage") or {}).get("blobs", [])}
    unused = [blob for blob in repo.pool_blobs(env) if blob not in referenced]
    repo.pool_delete(env, unused)
    return len(unused)


def prune(cfg: Config, env: str = "production", *, apply: bool = False) -> dict[str, Any]:
    """Plan (and with ``apply`` carry out) retention for ``env``'s backups.

    With ``apply``, the newest verified backup is verified again, in full,
    right before anything is deleted (see the module docstring)."""
    cfg.env(env)
    settings = load_settings(cfg)
    found = {backup.id: backup for backup in backups(settings, env)}
    decisions = _plan(found, settings.retention)
    reverified: list[dict[str, Any]] = []
    deleted: list[str] = []
    pool_deleted = 0
    if apply and any(not d.keep for d in decisions):
        decisions = _confirm_newest_verified(found, settings.retention, decisions, reverified)
        for decision in decisions:
            if not decision.keep:
                _delete(found[decision.id], deleted)
                deleted.append(decision.id)
        if deleted:
            pool_deleted = _collect_pool(settings, env)
    return {
        "env": env,
        "applied": apply,
        "policy": settings.retention,
        "reverified": reverified,
        "decisions": [d.as_dict() for d in decisions],
        "keep": sum(d.keep for d in decisions),
        "delete": sum(not d.keep for d in decisions),
        "deleted": deleted,
        "storage_files_deleted": pool_deleted,
        "tiers": tier_counts(decisions),
    }


def _plan(found: dict[str, Backup], policy: dict[str, int]) -> list[Decision]:
    return plan_retention(
        [
            Candidate(b.id, b.snapshot_at, b.verified, b.verification == "failed", b.verification)
            for b in found.values()
        ],
        policy,
    )


def _confirm_newest_verified(
    found: dict[str, Backup], policy: dict[str, int], decisions: list[Decision], reverified: list[dict[str, Any]]
) -> list[Decision]:
    """Re-verify the newest verified backup until one passes (re-planning after
    each failure); refuse to delete anything when the check cannot run."""
    while True:
        newest = next((d for d in decisions if d.verified), None)
        if newest is None:
            return decisions  # nothing verified any more: the plan deletes nothing
        result = verify_backup(found[newest.id])
        reverified.append({"id": newest.id, "status": result["status"], "problems": result["problems"]})
        if result["status"] == "ok":
            return decisions
        if result["status"] != "failed":
            raise ExternalError(
                f"cannot re-verify backup {newest.id} before deleting anything: {result['problems'][0]};"
                " nothing was deleted",
                "make pg_restore available (PostgreSQL client binaries) and rerun backup.prune --apply",
            )
        decisions = _plan(found, policy)
