"""``manifest.json``: what a backup holds and how to prove it is intact."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ops.errors import CheckFailed

MANIFEST = "manifest.json"
DUMP_DIR = "dump"
ROLES_FILE = "roles.sql"
# ALTER DATABASE ... SET values live in their own file, not in the manifest that
# list/verify/--json print: managed Postgres keeps secrets there (app.settings.jwt_secret).
SETTINGS_FILE = "database_settings.json"
FORMAT_VERSION = 1
_CHUNK = 1 << 20


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def checksum_tree(directory: Path) -> dict[str, dict[str, Any]]:
    """sha256 and size of every file under ``directory`` except the manifest."""
    files: dict[str, dict[str, Any]] = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory).as_posix()
        if relative == MANIFEST:
            continue
        files[relative] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return files


def read_manifest(backup_dir: Path) -> dict[str, Any]:
    path = backup_dir / MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckFailed(f"{path} is missing", "this directory is not a finished backup; delete it") from None
    except (OSError, ValueError) as exc:
        raise CheckFailed(f"{path} is unreadable: {exc}", "the backup is damaged; take a new one") from None
    if not isinstance(data, dict) or "id" not in data:
        raise CheckFailed(f"{path} is not a backup manifest", "the backup is damaged; take a new one")
    try:
        parse_iso(str(data["snapshot_at"]))
    except (KeyError, ValueError):
        raise CheckFailed(f"{path} has no valid snapshot_at", "the backup is damaged; take a new one") from None
    if not isinstance(data.get("verification") or {}, dict):
        raise CheckFailed(f"{path} has an invalid verification entry", "the backup is damaged; take a new one")
    return data


def write_manifest(backup_dir: Path, manifest: dict[str, Any]) -> None:
    """Write atomically so that a crash never leaves half a manifest."""
    path = backup_dir / MANIFEST
    tmp = path.with_name(MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    with tmp.open("rb") as handle:
        os.fsync(handle.fileno())
    tmp.replace(path)


def write_database_settings(backup_dir: Path, settings: list[str]) -> dict[str, Any]:
    """Store ``name=value`` entries; the manifest gets only the file and the names."""
    (backup_dir / SETTINGS_FILE).write_text(json.dumps(settings, indent=2) + "\n")
    return {"file": SETTINGS_FILE, "names": [entry.partition("=")[0] for entry in settings]}


def read_database_settings(backup_dir: Path, manifest: dict[str, Any]) -> list[str]:
    entry = manifest.get("database_settings") or {}
    if isinstance(entry, list):  # manifests written before the values moved out
        return [str(item) for item in entry]
    name = entry.get("file") if isinstance(entry, dict) else None
    if not name:
        return []
    try:
        data = json.loads((backup_dir / name).read_text())
    except (OSError, ValueError) as exc:
        raise CheckFailed(f"{name} is unreadable: {exc}", "the backup is damaged; take a new one") from None
    return [str(item) for item in data] if isinstance(data, list) else []
