"""``manifest.json``: what a backup holds and how to prove it is intact."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
DUMP_DIR = "dump"  # pg_dump -Fd: local, unencrypted repositories
DUMP_FILE = "dump.pgc"  # pg_dump -Fc: streamed (S3, or encrypted)
STORAGE_INDEX = "storage-index.json"
ROLES_FILE = "roles.sql"
# ALTER DATABASE ... SET values live in their own file, not in the manifest that
# list/verify/--json print: managed Postgres keeps secrets there (app.settings.jwt_secret).
SETTINGS_FILE = "database_settings.json"
FORMAT_VERSION = 2
_CHUNK = 1 << 20


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """An ISO time with its zone (``...Z``); a time without one is refused (ValueError):
    it cannot be compared with the clock, and the manifest that holds it is damaged."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def checksum_tree(directory: Path, known: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """sha256 and size of every file under ``directory`` except the manifest.
    ``known`` holds entries taken while files were written (by relative path):
    those are not read again unless the file's size has changed since."""
    known = known or {}
    files: dict[str, dict[str, Any]] = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory).as_posix()
        if relative == MANIFEST:
            continue
        size = path.stat().st_size
        entry = known.get(relative)
        if entry is None or entry["bytes"] != size:
            entry = {"sha256": sha256_file(path), "bytes": size}
        files[relative] = entry
    return files


def stored_name(name: str, encrypted: bool) -> str:
    """The file's name in the repository (``.age`` when encrypted)."""
    return name + ".age" if encrypted else name
