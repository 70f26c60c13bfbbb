"""The backups in a repository: ``<repository>/<env>/<id>/`` with a manifest.
Unfinished exports (no manifest yet; ``<id>.partial`` locally) are never listed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ops.backup.manifest import now_utc, parse_iso
from ops.backup.repository import PARTIAL_SUFFIX, LocalRepository, Repository
from ops.backup.settings import BackupSettings, S3Access, load_settings
from ops.config import ENVIRONMENTS, Config
from ops.errors import UsageError

__all__ = ["PARTIAL_SUFFIX", "Backup", "backups", "find", "list_backups", "repository"]


@dataclass(frozen=True)
class Backup:
    id: str
    env: str
    repo: Repository
    manifest: dict[str, Any]

    @property
    def path(self) -> str:
        """Where it is: a directory, or ``s3://bucket/prefix/<env>/<id>``."""
        return self.repo.location(self.env, self.id)

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
    def encrypted(self) -> bool:
        return bool(self.manifest.get("encryption"))

    @property
    def verification(self) -> str:
        """ "ok", "failed", "unknown" (the check could not run) or "unverified"."""
        state = self.manifest.get("verification") or {}
        return str(state.get("status", "unverified"))

    @property
    def verified(self) -> bool:
        return self.verification == "ok"

    def save_manifest(self, manifest: dict[str, Any]) -> None:
        self.repo.write_manifest(self.env, self.id, manifest)
        self.manifest.clear()
        self.manifest.update(manifest)

    def summary(self) -> dict[str, Any]:
        age = now_utc() - self.snapshot_at
        verification = self.manifest.get("verification") or {}
        return {
            "id": self.id,
            "env": self.env,
            "path": self.path,
            "snapshot_at": self.manifest["snapshot_at"],
            "age_seconds": round(age.total_seconds()),
            "age": human_age(age.total_seconds()),
            "size_bytes": self.size_bytes,
            "size": human_bytes(self.size_bytes),
            "migration_head": self.migration_head,
            "encrypted": self.encrypted,
            "storage_objects": sum((self.manifest.get("storage") or {}).get("buckets", {}).values()),
            "verification": self.verification,
            "verified_at": verification.get("verified_at"),
        }


def repository(settings: BackupSettings, env: str) -> Repository:
    """``env``'s repository (``[tool.ops.backup] repository``, or its environment's own)."""
    cache = settings.cfg.cache
    url = settings.repository_url(env)
    key = ("backup-repository", url)
    if key not in cache:
        cache[key] = open_repository(url, settings.cfg, settings.s3_access(env))
    return cache[key]  # type: ignore[no-any-return]


def open_repository(url: str, cfg: Config, access: S3Access) -> Repository:
    """``s3://bucket/prefix`` or a local path (relative to the project root)."""
    if url.startswith("s3://"):
        from ops.backup.s3 import S3Repository

        return S3Repository(url, access)
    return LocalRepository(cfg.path(url))


def backups(settings: BackupSettings, env: str | None = None) -> list[Backup]:
    """Finished backups, oldest first (per environment, then by snapshot time)."""
    return _scan(settings, env)[0]


def _scan(settings: BackupSettings, env: str | None) -> tuple[list[Backup], list[str], list[str]]:
    """Finished backups; unfinished exports; and backups whose manifest is
    unreadable (damaged: never listed as backups, never pruned, but reported)."""
    found: list[Backup] = []
    unfinished: list[str] = []
    damaged: list[str] = []
    for env_name in [env] if env else ENVIRONMENTS:
        repo = repository(settings, env_name)
        scan = repo.scan(env_name)
        found += [Backup(id=i, env=env_name, repo=repo, manifest=m) for i, m in scan.manifests]
        unfinished += scan.unfinished
        damaged += scan.damaged
    found.sort(key=lambda b: (b.env, b.manifest.get("snapshot_at", ""), b.id))
    return found, unfinished, damaged


def find(settings: BackupSettings, env: str, backup_id: str | None = None) -> Backup:
    """The backup ``backup_id`` of ``env``, or its latest one."""
    available = backups(settings, env)
    repo = repository(settings, env)
    if backup_id is None:
        if not available:
            where = repo.location(env, "").rstrip("/")
            raise UsageError(f"no backups of '{env}' in {where}", f"run: inv backup.export --env {env}")
        return available[-1]
    for backup in available:
        if backup.id == backup_id:
            return backup
    if repo.has_manifest_dir(env, backup_id):
        # A backup whose manifest is missing or damaged: name the file (exit 1), not "no such backup".
        repo.read_manifest(env, backup_id)
    raise UsageError(f"no backup '{backup_id}' of '{env}'", f"see: inv backup.list --env {env}")


def latest_verified(settings: BackupSettings, env: str) -> Backup:
    """The newest backup of ``env`` whose last verification passed."""
    verified = [backup for backup in backups(settings, env) if backup.verified]
    if not verified:
        where = repository(settings, env).location(env, "").rstrip("/")
        raise UsageError(
            f"no verified backup of '{env}' in {where}",
            f"run: inv backup.export --env {env} && inv backup.verify --env {env} --latest",
        )
    return verified[-1]


def list_backups(cfg: Config, env: str | None = None) -> dict[str, Any]:
    """Every finished backup (optionally of one environment) with age, size,
    migration head and verification state, oldest first; the unfinished
    exports (running, or killed: safe to delete once nothing runs); and the
    damaged ones (manifest unreadable)."""
    if env is not None:
        cfg.env(env)
    settings = load_settings(cfg)
    found, unfinished, damaged = _scan(settings, env)
    return {"backups": [backup.summary() for backup in found], "unfinished": unfinished, "damaged": damaged}


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
