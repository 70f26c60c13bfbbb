"""Reading a backup's files back, decrypted when the backup is encrypted (the
identity comes from ``OPS_BACKUP_IDENTITY``; see ``ops.backup.crypto``)."""

from __future__ import annotations

import hashlib
import json
from typing import IO, Any

from ops.backup.catalog import Backup
from ops.backup.crypto import decrypt_bytes, decrypt_stream, identities
from ops.errors import CheckFailed

_CHUNK = 1 << 20


def read_file(backup: Backup, name: str) -> bytes:
    """A small file of the backup (settings, roles, storage index), decrypted."""
    keys = identities() if backup.encrypted else []
    with backup.repo.open(backup.env, backup.id, name) as handle:
        data = handle.read()
    return decrypt_bytes(data, keys) if backup.encrypted else data


def database_settings(backup: Backup) -> list[str]:
    """The ``name=value`` database settings the export stored (they may hold secrets)."""
    entry = backup.manifest.get("database_settings") or {}
    if isinstance(entry, list):  # manifests written before the values moved out
        return [str(item) for item in entry]
    name = entry.get("file") if isinstance(entry, dict) else None
    if not name:
        return []
    try:
        data = json.loads(read_file(backup, name))
    except (OSError, ValueError) as exc:
        raise CheckFailed(f"{name} is unreadable: {exc}", "the backup is damaged; take a new one") from None
    return [str(item) for item in data] if isinstance(data, list) else []


class _Hashing:
    """Passes reads through and hashes them: the ciphertext's SHA-256, on the way to age."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass


def stream_dump(backup: Backup, sink: IO[bytes]) -> tuple[str, int]:
    """Write the plain custom-format dump into ``sink`` (pg_restore's stdin);
    returns the SHA-256 and size of the stored bytes, read on the way."""
    name = backup.manifest["dump"]["file"]
    keys = identities() if backup.encrypted else []
    with backup.repo.open(backup.env, backup.id, name) as handle:
        reader = _Hashing(handle)
        if backup.encrypted:
            decrypt_stream(reader, sink, keys)  # type: ignore[arg-type]
            reader.drain()
        else:
            while chunk := reader.read(_CHUNK):
                sink.write(chunk)
    return reader.digest.hexdigest(), reader.size
