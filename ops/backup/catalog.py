"""The backups on disk: ``<root>/<env>/<id>/`` with a manifest. Unfinished
exports (``<id>.partial``) are never listed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ops.backup.manifest import now_utc, parse_iso, read_manifest
from ops.backup.settings import BackupSettings, load_settings
from ops.config import ENVIRONMENTS, Config
from ops.errors import CheckFailed, UsageError

PARTIAL_SUFFIX = ".partial"


@dataclass(frozen=True)
class Backup:
    id: str
    env: str
    path: Path
    manifest: dict[str, Any]

    @property
    def snapshot_at(self) -> datetime:
        return parse_iso(self.manifest["snapshot_at"])

    @property
    def size_bytes(self) -> int:
        return int(self.manifest.get("size_bytes", 0))

    @property
    def migration_head(self) -> str | None:
        return self.manifest.get("migration_head")

    @property
    def verification(self) -> str:
        """ "ok", "failed", "unknown" (the check could not run) or "unverified"."""
        state = self.manifest.get("verification") or {}
        return str(state.get("status", "unverified"))

    @property
    def verified(self) -> bool:
        return self.verification == "ok"

    def summary(self) -> dict[str, Any]:
        age = now_utc() - self.snapshot_at
        return {
            "id": self.id,
            "env": self.env,
            "path": str(self.path),
            "snapshot_at": self.manifest["snapshot_at"],
            "age_seconds": round(age.total_seconds()),
            "age": human_age(age.total_seconds()),
            "size_bytes": self.size_bytes,
            "size": human_bytes(self.size_bytes),
            "migration_head": self.migration_head,
            "verification": self.verification,
            "verified_at": (self.manifest.get("verification") or {}).get("verified_at"),
        }


def backups(settings: BackupSettings, env: str | None = None) -> list[Backup]:
    """Finished backups, oldest first (per environment, then by snapshot time)."""
    return _scan(settings, env)[0]


def _scan(settings: BackupSettings, env: str | None) -> tuple[list[Backup], list[Path]]:
    """Finished backups, and directories whose manifest is missing or unreadable
    (damaged: never listed as backups, never pruned, but reported)."""
    found: list[Backup] = []
    damaged: list[Path] = []
    for env_name in [env] if env else ENVIRONMENTS:
        directory = settings.env_dir(env_name)
        if not directory.is_dir():
            continue
        for child in sorted(directory.iterdir()):
            if child.name.endswith(PARTIAL_SUFFIX) or not child.is_dir():
                continue
            try:
                manifest = read_manifest(child)
            except CheckFailed:
                damaged.append(child)
                continue
            found.append(Backup(id=child.name, env=env_name, path=child, manifest=manifest))
    found.sort(key=lambda b: (b.env, b.manifest.get("snapshot_at", ""), b.id))
    return found, damaged


def find(settings: BackupSettings, env: str, backup_id: str | None = None) -> Backup:
    """The backup ``backup_id`` of ``env``, or its latest one."""
    available = backups(settings, env)
    if backup_id is None:
        if not available:
            raise UsageError(f"no backups of '{env}' in {settings.env_dir(env)}", f"run: inv backup.export --env {env}")
        return available[-1]
    for backup in available:
        if backup.id == backup_id:
            return backup
    candidate = settings.env_dir(env) / backup_id
    if _plain_name(backup_id) and candidate.is_dir():
        # A backup whose manifest is missing or damaged: name the file (exit 1), not "no such backup".
        read_manifest(candidate)
    raise UsageError(f"no backup '{backup_id}' of '{env}'", f"see: inv backup.list --env {env}")


def latest_verified(settings: BackupSettings, env: str) -> Backup:
    """The newest backup of ``env`` whose last verification passed."""
    verified = [backup for backup in backups(settings, env) if backup.verified]
    if not verified:
        raise UsageError(
            f"no verified backup of '{env}' in {settings.env_dir(env)}",
            f"run: inv backup.export --env {env} && inv backup.verify --env {env} --latest",
        )
    return verified[-1]


def _plain_name(backup_id: str) -> bool:
    return "/" not in backup_id and backup_id not in (".", "..") and not backup_id.endswith(PARTIAL_SUFFIX)


def list_backups(cfg: Config, env: str | None = None) -> dict[str, Any]:
    """Every finished backup (optionally of one environment) with age, size,
    migration head and verification state, oldest first; the unfinished
    exports (running, or killed: safe to delete once nothing runs); and the
    damaged ones (manifest missing or unreadable)."""
    if env is not None:
        cfg.env(env)
    settings = load_settings(cfg)
    unfinished = [
        str(path)
        for env_name in ([env] if env else ENVIRONMENTS)
        if settings.env_dir(env_name).is_dir()
        for path in sorted(settings.env_dir(env_name).glob("*" + PARTIAL_SUFFIX))
    ]
    found, damaged = _scan(settings, env)
    return {
        "backups": [backup.summary() for backup in found],
        "unfinished": unfinished,
        "damaged": [str(path) for path in damaged],
    }


def human_bytes(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def human_age(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length:
            return f"{int(seconds // length)}{unit}"
    return f"{int(seconds)}s"
