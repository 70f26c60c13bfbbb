"""``backup.verify``: prove that a backup is intact, and record the outcome in
its manifest.

- Every file's size and checksum: recomputed from the local file, or, in an
  S3 repository, the checksum the store computed on upload (``HeadObject``),
  without downloading anything.
- The dump's table of contents (``pg_restore --list``) where it can be read
  cheaply: a local, unencrypted backup.
- ``deep``: download, decrypt (``OPS_BACKUP_IDENTITY``), check the SHA-256 of
  the bytes read and run ``pg_restore --list`` over the stream.
"""

from __future__ import annotations

from typing import Any

from ops.backup.catalog import Backup, find
from ops.backup.manifest import DUMP_DIR, MANIFEST, iso, now_utc, sha256_file
from ops.backup.pgtools import ToolStream, client_bindir, run_tool, target
from ops.backup.s3 import same_checksum
from ops.backup.settings import load_settings
from ops.config import Config
from ops.errors import BinaryNotFound, ExternalError

# pg_restore ran but cannot read this archive version: a tool problem, not damage.
_TOOL_PROBLEMS = ("unsupported version", "server version mismatch")


def verify(cfg: Config, backup_id: str | None = None, env: str = "production", *, deep: bool = False) -> dict[str, Any]:
    """Verify ``backup_id`` (default: the latest backup of ``env``). Returns
    ``{"id", "env", "status": "ok"|"failed"|"unknown", "level", "problems": [...], ...}``;
    the same result is stored in the manifest's ``verification``. "unknown"
    means the check could not run (pg_restore missing or too old): it says
    nothing about the backup, so it is never recorded as "failed"."""
    cfg.env(env)
    backup = find(load_settings(cfg), env, backup_id)
    return verify_backup(backup, deep=deep)


def verify_backup(backup: Backup, *, deep: bool = False) -> dict[str, Any]:
    files = backup.manifest.get("files", {})
    problems = checksum_problems(backup)
    entries = 0
    status = "failed" if problems else "ok"
    level = "checksums"
    if not problems:
        try:
            entries, level, more = _contents(backup, deep)
            problems += more
            status = "failed" if more else "ok"
        except BinaryNotFound as exc:
            status = "unknown"
            problems.append(f"pg_restore --list could not run: {exc.message}")
        except ExternalError as exc:
            if any(marker in exc.message for marker in _TOOL_PROBLEMS):
                status = "unknown"
                problems.append(f"pg_restore --list could not run: {exc.message}")
            elif exc.message.startswith("pg_restore failed"):
                status = "failed"
                problems.append(f"{_dump_name(backup)}: pg_restore --list failed: {exc.message}")
            else:
                raise  # the store or the key, not the backup: say so, record nothing
    result = {
        "status": status,
        "level": level,
        "verified_at": iso(now_utc()),
        "problems": problems,
        "files_checked": len(files),
        "toc_entries": entries,
    }
    backup.save_manifest({**backup.manifest, "verification": result})
    exit_code = {"ok": 0, "failed": 1}.get(status, 3)
    return {"id": backup.id, "env": backup.env, "path": backup.path, **result, "exit_code": exit_code}


def _dump_name(backup: Backup) -> str:
    dump = backup.manifest.get("dump", {})
    return str(dump.get("file") or dump.get("path") or DUMP_DIR)


def dump_major(backup: Backup) -> int:
    version = str(backup.manifest.get("client_version") or backup.manifest.get("server_version") or "0")
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else 0


def _contents(backup: Backup, deep: bool) -> tuple[int, str, list[str]]:
    """(TOC entries, level reached, problems) for the dump itself. pg_restore is
    looked up only when it is run: checking the store's checksums needs none."""
    dump = backup.manifest.get("dump", {})
    local = backup.repo.local_path(backup.env, backup.id)
    if dump.get("format", "directory") == "directory" and local is not None:
        return toc_entries(str(local / dump.get("path", DUMP_DIR)), _pg_restore_dir(backup)), "full", []
    if deep:
        from ops.backup.content import stream_dump

        expected = backup.manifest["files"][dump["file"]]
        nowhere = target("postgresql:///postgres")
        bindir = _pg_restore_dir(backup)
        with ToolStream("pg_restore", ["--list"], nowhere, bindir, feed=True, capture=True) as tool:
            digest, size = stream_dump(backup, tool.stdin)
        problems = []
        if (digest, size) != (expected["sha256"], expected["bytes"]):
            problems.append(f"{dump['file']}: checksum mismatch in the downloaded bytes")
        return _count(tool.output.decode(errors="replace")), "deep", problems
    if local is not None and not backup.encrypted:
        return toc_entries(str(local / dump["file"]), _pg_restore_dir(backup)), "full", []
    return 0, "checksums", []


def _pg_restore_dir(backup: Backup) -> Any:
    return client_bindir(dump_major(backup), "pg_restore")


def checksum_problems(backup: Backup) -> list[str]:
    """One line per damaged file, named: missing, truncated, changed or unexpected."""
    files: dict[str, dict[str, Any]] = backup.manifest.get("files", {})
    if not files:
        return [f"{MANIFEST}: lists no files"]
    repo, local = backup.repo, backup.repo.local_path(backup.env, backup.id)
    problems: list[str] = []
    for relative, expected in sorted(files.items()):
        found = repo.stat(backup.env, backup.id, relative)
        if found is None:
            problems.append(f"{relative}: missing")
            continue
        size, store_checksum = found
        if size != expected.get("bytes"):
            problems.append(f"{relative}: size {size} bytes, expected {expected.get('bytes')} (truncated or damaged)")
        elif local is not None:
            if sha256_file(local / relative) != expected.get("sha256"):
                problems.append(f"{relative}: checksum mismatch")
        elif not same_checksum(store_checksum, expected.get("store_checksum")):
            problems.append(f"{relative}: checksum mismatch (the store's SHA-256 differs from the manifest's)")
    listed = set(files) | {MANIFEST}
    for relative in repo.names(backup.env, backup.id):
        if relative not in listed:
            problems.append(f"{relative}: not in the manifest")
    blobs = (backup.manifest.get("storage") or {}).get("blobs", [])
    if blobs:
        missing = sorted(set(blobs) - set(repo.pool_blobs(backup.env)))
        problems += [f"storage-pool/{backup.env}/{blob}: missing (a Storage file of this backup)" for blob in missing]
    return problems


def toc_entries(dump: str, bindir: Any = None) -> int:
    """Entries in the dump's table of contents (pg_restore reads every header)."""
    result = run_tool("pg_restore", ["--list", dump], target("postgresql:///postgres"), bindir=bindir)
    return _count(result.stdout)


def _count(listing: str) -> int:
    return sum(1 for line in listing.splitlines() if line and not line.startswith(";"))
