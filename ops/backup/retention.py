"""Grandfather-father-son retention.

``plan_retention`` is a pure function over (id, timestamp, verified) so that it
can be tested over any calendar. Each tier keeps the newest backup of each of
its last N periods that hold a backup (days, ISO weeks, months, years), the
way restic's ``--keep-daily/weekly/monthly/yearly`` do; a backup kept by
several tiers lists every reason. Two safety rules come on top: the newest
verified backup is always kept, and when no backup is verified nothing is
deleted at all. A backup whose verification failed takes no tier slot: it
cannot be restored, so it must not push out a good one.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ops.backup.catalog import backups
from ops.backup.settings import TIERS, load_settings
from ops.config import Config
from ops.errors import ExternalError


@dataclass(frozen=True)
class Candidate:
    id: str
    timestamp: datetime
    verified: bool
    failed: bool = False


@dataclass
class Decision:
    id: str
    timestamp: datetime
    verified: bool
    failed: bool = False
    reasons: list[str] = field(default_factory=list)

    @property
    def keep(self) -> bool:
        return bool(self.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "timestamp": self.timestamp.isoformat(),
            "verification": "ok" if self.verified else "failed" if self.failed else "unverified",
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
        Decision(*item) if isinstance(item, tuple) else Decision(item.id, item.timestamp, item.verified, item.failed)
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


def _delete(path: Path, deleted_so_far: list[str]) -> None:
    try:
        shutil.rmtree(path)
    except OSError as exc:
        done = f" after deleting {len(deleted_so_far)} backup(s)" if deleted_so_far else ""
        raise ExternalError(
            f"cannot delete {path}: {exc.strerror}{done}", "fix the permissions and rerun backup.prune --apply"
        ) from None


def prune(cfg: Config, env: str = "production", *, apply: bool = False) -> dict[str, Any]:
    """Plan (and with ``apply`` carry out) retention for ``env``'s backups."""
    cfg.env(env)
    settings = load_settings(cfg)
    found = {backup.id: backup for backup in backups(settings, env)}
    decisions = plan_retention(
        [Candidate(b.id, b.snapshot_at, b.verified, b.verification == "failed") for b in found.values()],
        settings.retention,
    )
    deleted: list[str] = []
    if apply:
        for decision in decisions:
            if not decision.keep:
                _delete(found[decision.id].path, deleted)
                deleted.append(decision.id)
    return {
        "env": env,
        "applied": apply,
        "policy": settings.retention,
        "decisions": [d.as_dict() for d in decisions],
        "keep": sum(d.keep for d in decisions),
        "delete": sum(not d.keep for d in decisions),
        "deleted": deleted,
        "tiers": tier_counts(decisions),
    }
