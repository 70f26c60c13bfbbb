"""Where backups are kept: a local directory or an S3-compatible object store.

Both hold the same layout, ``<root>/<env>/<id>/<file>``, with ``manifest.json``
written last: a backup without a manifest is unfinished (running, or
interrupted) and is never listed as a backup. Files of Supabase Storage live
once in ``<root>/storage-pool/<env>/`` and each backup references them, so an
unchanged object is never copied twice.

A local export works in ``<id>.partial/`` and renames it at the end; an S3
export uploads every file (multipart, SHA-256 checksums the store verifies)
and then the manifest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ops.errors import CheckFailed, ExternalError

MANIFEST = "manifest.json"
PARTIAL_SUFFIX = ".partial"
POOL = "storage-pool"


@dataclass
class Scan:
    """What one environment's part of a repository holds."""

    manifests: list[tuple[str, dict[str, Any]]]
    unfinished: list[str]
    damaged: list[str]


class Sink:
    """A file being written into a repository: ``write`` bytes, then ``close``
    (returns its manifest entry) or ``abort``. The SHA-256 and size are those of
    the stored bytes (the ciphertext when encrypted): ``sha256sum`` of a
    downloaded file matches the manifest."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self.size = 0
        self._tees: list[IO[bytes]] = []

    def tee(self, handle: IO[bytes]) -> None:
        self._tees.append(handle)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        chunk = bytes(data)
        self._digest.update(chunk)
        self.size += len(chunk)
        for handle in self._tees:
            handle.write(chunk)
        self._store(chunk)
        return len(chunk)

    def flush(self) -> None:
        pass

    def close(self) -> dict[str, Any]:
        store_checksum = self._finish()
        for handle in self._tees:
            handle.close()
        entry: dict[str, Any] = {"sha256": self._digest.hexdigest(), "bytes": self.size}
        if store_checksum:
            entry["store_checksum"] = store_checksum
        return entry

    def abort(self) -> None:
        for handle in self._tees:
            handle.close()
        self._abandon()

    def _store(self, chunk: bytes) -> None:
        raise NotImplementedError

    def _finish(self) -> str | None:
        raise NotImplementedError

    def _abandon(self) -> None:
        raise NotImplementedError


class BackupWriter(ABC):
    """A backup being written: files first, the manifest last."""

    id: str
    env: str
    local_dir: Path | None = None  # where pg_dump -Fd may write directly (local only)

    @abstractmethod
    def sink(self, name: str) -> Sink: ...

    def put(self, name: str, data: bytes) -> dict[str, Any]:
        sink = self.sink(name)
        try:
            sink.write(data)
        except BaseException:
            sink.abort()
            raise
        return sink.close()

    @abstractmethod
    def finish(self, manifest: dict[str, Any]) -> str:
        """Write the manifest (last); returns the backup's location."""

    @abstractmethod
    def abort(self) -> None:
        """Remove what was written (best effort: a killed export is simply unfinished)."""


class Repository(ABC):
    url: str
    is_local: bool

    @abstractmethod
    def begin(self, env: str, backup_id: str) -> BackupWriter: ...

    @abstractmethod
    def scan(self, env: str) -> Scan: ...

    @abstractmethod
    def location(self, env: str, backup_id: str) -> str: ...

    @abstractmethod
    def has_manifest_dir(self, env: str, backup_id: str) -> bool: ...

    @abstractmethod
    def read_manifest(self, env: str, backup_id: str) -> dict[str, Any]: ...

    @abstractmethod
    def write_manifest(self, env: str, backup_id: str, manifest: dict[str, Any]) -> None: ...

    @abstractmethod
    def open(self, env: str, backup_id: str, name: str) -> IO[bytes]: ...

    @abstractmethod
    def stat(self, env: str, backup_id: str, name: str) -> tuple[int, str | None] | None:
        """(size, the store's own SHA-256 checksum or None), or None when missing."""

    @abstractmethod
    def names(self, env: str, backup_id: str) -> list[str]: ...

    @abstractmethod
    def delete(self, env: str, backup_id: str) -> None: ...

    # -- the shared pool of Storage files ---------------------------------------------
    @abstractmethod
    def pool_sink(self, env: str, blob: str) -> Sink: ...

    @abstractmethod
    def pool_open(self, env: str, blob: str) -> IO[bytes]: ...

    @abstractmethod
    def pool_stat(self, env: str, blob: str) -> int | None: ...

    @abstractmethod
    def pool_blobs(self, env: str) -> list[str]: ...

    @abstractmethod
    def pool_delete(self, env: str, blobs: list[str]) -> None: ...

    def local_path(self, env: str, backup_id: str) -> Path | None:
        """The backup's directory when it is on this machine."""
        return None


def parse_manifest(raw: bytes, where: str) -> dict[str, Any]:
    from ops.backup.manifest import parse_iso

    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise CheckFailed(f"{where} is unreadable: {exc}", "the backup is damaged; take a new one") from None
    if not isinstance(data, dict) or "id" not in data:
        raise CheckFailed(f"{where} is not a backup manifest", "the backup is damaged; take a new one")
    try:
        parse_iso(str(data["snapshot_at"]))
    except (KeyError, ValueError):
        raise CheckFailed(f"{where} has no valid snapshot_at", "the backup is damaged; take a new one") from None
    if not isinstance(data.get("verification") or {}, dict):
        raise CheckFailed(f"{where} has an invalid verification entry", "the backup is damaged; take a new one")
    return data


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=2) + "\n").encode()


# -- local directory -------------------------------------------------------------------


def private_dir(path: Path) -> None:
    """Backups hold data: 0700 directories."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):
        path.chmod(0o700)


def private_file(path: Path) -> IO[bytes]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, "wb")


class _FileSink(Sink):
    def __init__(self, path: Path) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self._handle = private_file(path)

    def _store(self, chunk: bytes) -> None:
        self._handle.write(chunk)

    def _finish(self) -> str | None:
        self._handle.close()
        return None

    def _abandon(self) -> None:
        self._handle.close()
        self.path.unlink(missing_ok=True)


class _LocalWriter(BackupWriter):
    def __init__(self, repo: LocalRepository, env: str, backup_id: str, partial: Path) -> None:
        self.repo, self.env, self.id, self.local_dir = repo, env, backup_id, partial

    def sink(self, name: str) -> Sink:
        assert self.local_dir is not None
        return _FileSink(self.local_dir / name)

    def finish(self, manifest: dict[str, Any]) -> str:
        assert self.local_dir is not None
        write_manifest_file(self.local_dir, manifest)
        final = self.repo.env_dir(self.env) / self.id
        self.local_dir.rename(final)
        self.local_dir = final
        return str(final)

    def abort(self) -> None:
        if self.local_dir is not None:
            shutil.rmtree(self.local_dir, ignore_errors=True)


def write_manifest_file(directory: Path, manifest: dict[str, Any]) -> None:
    """Atomic: a crash never leaves half a manifest."""
    path = directory / MANIFEST
    tmp = path.with_name(MANIFEST + ".tmp")
    with private_file(tmp) as handle:
        handle.write(manifest_bytes(manifest))
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


class LocalRepository(Repository):
    is_local = True

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    def env_dir(self, env: str) -> Path:
        return self.root / env

    def begin(self, env: str, backup_id: str) -> BackupWriter:
        env_dir = self.env_dir(env)
        try:
            private_dir(self.root)
            private_dir(env_dir)
            partial = env_dir / (backup_id + PARTIAL_SUFFIX)
            if (env_dir / backup_id).exists():
                raise FileExistsError
            partial.mkdir(mode=0o700)
        except FileExistsError:
            raise
        except OSError as exc:
            raise ExternalError(
                f"cannot create a backup under {env_dir}: {exc.strerror}",
                "check [tool.ops.backup] repository and its permissions",
            ) from None
        return _LocalWriter(self, env, backup_id, partial)

    def scan(self, env: str) -> Scan:
        directory = self.env_dir(env)
        result = Scan([], [], [])
        if not directory.is_dir():
            return result
        for child in sorted(directory.iterdir()):
            if not child.is_dir():
                continue
            if child.name.endswith(PARTIAL_SUFFIX):
                result.unfinished.append(str(child))
                continue
            try:
                result.manifests.append((child.name, self.read_manifest(env, child.name)))
            except CheckFailed:
                result.damaged.append(str(child))
        return result

    def location(self, env: str, backup_id: str) -> str:
        return str(self.env_dir(env) / backup_id)

    def local_path(self, env: str, backup_id: str) -> Path | None:
        return self.env_dir(env) / backup_id

    def has_manifest_dir(self, env: str, backup_id: str) -> bool:
        plain = "/" not in backup_id and backup_id not in (".", "..") and not backup_id.endswith(PARTIAL_SUFFIX)
        return plain and (self.env_dir(env) / backup_id).is_dir()

    def read_manifest(self, env: str, backup_id: str) -> dict[str, Any]:
        path = self.env_dir(env) / backup_id / MANIFEST
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise CheckFailed(f"{path} is missing", "this directory is not a finished backup; delete it") from None
        except OSError as exc:
            raise CheckFailed(f"{path} is unreadable: {exc}", "the backup is damaged; take a new one") from None
        return parse_manifest(raw, str(path))

    def write_manifest(self, env: str, backup_id: str, manifest: dict[str, Any]) -> None:
        try:
            write_manifest_file(self.env_dir(env) / backup_id, manifest)
        except OSError as exc:
            raise ExternalError(
                f"cannot write {self.env_dir(env) / backup_id / MANIFEST}: {exc.strerror}",
                "check the permissions of the backup repository",
            ) from None

    def open(self, env: str, backup_id: str, name: str) -> IO[bytes]:
        return (self.env_dir(env) / backup_id / name).open("rb")

    def stat(self, env: str, backup_id: str, name: str) -> tuple[int, str | None] | None:
        path = self.env_dir(env) / backup_id / name
        return (path.stat().st_size, None) if path.is_file() else None

    def names(self, env: str, backup_id: str) -> list[str]:
        directory = self.env_dir(env) / backup_id
        return sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file())

    def delete(self, env: str, backup_id: str) -> None:
        path = self.env_dir(env) / backup_id
        try:
            # The manifest first: a half-deleted backup is never listed as a backup.
            (path / MANIFEST).unlink(missing_ok=True)
            shutil.rmtree(path)
        except OSError as exc:
            raise ExternalError(
                f"cannot delete {path}: {exc.strerror}", "fix the permissions and rerun backup.prune --apply"
            ) from None

    def _pool(self, env: str) -> Path:
        return self.root / POOL / env

    def pool_sink(self, env: str, blob: str) -> Sink:
        private_dir(self._pool(env))
        return _FileSink(self._pool(env) / blob)

    def pool_open(self, env: str, blob: str) -> IO[bytes]:
        return (self._pool(env) / blob).open("rb")

    def pool_stat(self, env: str, blob: str) -> int | None:
        path = self._pool(env) / blob
        return path.stat().st_size if path.is_file() else None

    def pool_blobs(self, env: str) -> list[str]:
        directory = self._pool(env)
        return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []

    def pool_delete(self, env: str, blobs: list[str]) -> None:
        for blob in blobs:
            (self._pool(env) / blob).unlink(missing_ok=True)


def iter_chunks(handle: IO[bytes], size: int = 1 << 20) -> Iterator[bytes]:
    while chunk := handle.read(size):
        yield chunk
