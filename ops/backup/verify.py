"""``backup.verify``: recompute every checksum, read the dump's table of
contents with ``pg_restore --list``, and record the outcome in the manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ops.backup.catalog import Backup, find
from ops.backup.manifest import DUMP_DIR, MANIFEST, iso, now_utc, sha256_file, write_manifest
from ops.backup.pgtools import run_tool, target
from ops.backup.settings import load_settings
from ops.config import Config
from ops.errors import BinaryNotFound, ExternalError

# pg_restore ran but cannot read this archive version: a tool problem, not damage.
_TOOL_PROBLEMS = ("unsupported version", "server version mismatch")


def verify(cfg: Config, backup_id: str | None = None, env: str = "production") -> dict[str, Any]:
    """Verify ``backup_id`` (default: the latest backup of ``env``). Returns
    ``{"id", "env", "status": "ok"|"failed"|"unknown", "problems": [...], ...}``;
    the same result is stored in the manifest's ``verification``. "unknown"
    means the check could not run (pg_restore missing or too old): it says
    nothing about the backup, so it is never recorded as "failed"."""
    cfg.env(env)
    backup = find(load_settings(cfg), env, backup_id)
    return verify_backup(backup)


def verify_backup(backup: Backup) -> dict[str, Any]:
    problems = checksum_problems(backup.path, backup.manifest.get("files", {}))
    entries = 0
    status = "failed" if problems else "ok"
    if not problems:
        try:
            entries = toc_entries(backup.path / backup.manifest.get("dump", {}).get("path", DUMP_DIR))
        except BinaryNotFound as exc:
            status = "unknown"
            problems.append(f"pg_restore --list could not run: {exc.message}")
        except ExternalError as exc:
            if any(marker in exc.message for marker in _TOOL_PROBLEMS):
                status = "unknown"
                problems.append(f"pg_restore --list could not run: {exc.message}")
            else:
                status = "failed"
                problems.append(f"{DUMP_DIR}: pg_restore --list failed: {exc.message}")
    result = {
        "status": status,
        "verified_at": iso(now_utc()),
        "problems": problems,
        "files_checked": len(backup.manifest.get("files", {})),
        "toc_entries": entries,
    }
    manifest = {**backup.manifest, "verification": result}
    write_manifest(backup.path, manifest)
    backup.manifest.clear()
    backup.manifest.update(manifest)
    exit_code = {"ok": 0, "failed": 1}.get(status, 3)
    return {"id": backup.id, "env": backup.env, "path": str(backup.path), **result, "exit_code": exit_code}


def checksum_problems(directory: Path, files: dict[str, dict[str, Any]]) -> list[str]:
    """One line per damaged file, named: missing, truncated, changed or unexpected."""
    problems: list[str] = []
    if not files:
        return [f"{MANIFEST}: lists no files"]
    for relative, expected in sorted(files.items()):
        path = directory / relative
        if not path.is_file():
            problems.append(f"{relative}: missing")
            continue
        size = path.stat().st_size
        if size != expected.get("bytes"):
            problems.append(f"{relative}: size {size} bytes, expected {expected.get('bytes')} (truncated or damaged)")
        elif sha256_file(path) != expected.get("sha256"):
            problems.append(f"{relative}: checksum mismatch")
    listed = set(files) | {MANIFEST}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory).as_posix()
        if relative not in listed:
            problems.append(f"{relative}: not in the manifest")
    return problems


def toc_entries(dump_dir: Path) -> int:
    """Entries in the dump's table of contents (pg_restore reads every header)."""
    result = run_tool("pg_restore", ["--list", str(dump_dir)], target("postgresql:///postgres"))
    return sum(1 for line in result.stdout.splitlines() if line and not line.startswith(";"))
