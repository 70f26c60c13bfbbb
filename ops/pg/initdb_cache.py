"""A pristine ``initdb`` result kept per PostgreSQL installation, so that a new
local cluster is a copy instead of a new initdb (``ops.pg.cluster`` uses it)."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from pathlib import Path


class InitdbTemplate:
    """A pristine ``initdb`` result kept per installation, copied instead of running
    initdb again: a copy takes a fraction of initdb's time, which dominates a cold
    ``dev.up`` and every test cluster.

    Kept in ``$OPS_INITDB_CACHE`` (``off`` disables it), else
    ``$XDG_CACHE_HOME/ops-toolkit/initdb`` or ``~/.cache/ops-toolkit/initdb``, in 0700
    directories; the template's superuser password sits beside it in a 0600 file and
    each copy replaces it with its own on first start."""

    FORMAT = "1"  # bump when the initdb arguments change

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def for_bindir(cls, bindir: Path) -> InitdbTemplate | None:
        setting = os.environ.get("OPS_INITDB_CACHE", "")
        if setting.lower() in {"off", "0", "false", "no"}:
            return None
        if setting:
            base = Path(setting)
        else:
            xdg = os.environ.get("XDG_CACHE_HOME")
            base = (Path(xdg) if xdg else Path.home() / ".cache") / "ops-toolkit" / "initdb"
        initdb = (bindir / "initdb").resolve()
        try:
            info = initdb.stat()
        except OSError:
            return None
        identity = f"{cls.FORMAT}\0{initdb}\0{info.st_size}\0{info.st_mtime_ns}"
        digest = hashlib.sha256(identity.encode()).hexdigest()[:20]
        return cls(base / digest)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def password(self) -> str:
        return (self.root / "password").read_text().strip()

    def restore_into(self, target: Path) -> bool:
        """Copy the template to ``target`` (which must not exist). False when there is none."""
        if not (self.root / "complete").is_file():
            return False
        try:
            if target.exists():
                shutil.rmtree(target)
            _copy_private(self.data, target)
        except OSError:
            shutil.rmtree(target, ignore_errors=True)
            return False
        return True

    def store(self, data_dir: Path, password: str) -> None:
        """Keep a copy of a fresh initdb. Best effort: a cache that cannot be written
        only costs the next cluster an initdb."""
        if (self.root / "complete").is_file():
            return
        staging = self.root.with_name(f"{self.root.name}.tmp-{secrets.token_hex(4)}")
        try:
            self.root.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            staging.mkdir(mode=0o700)
            shutil.copytree(data_dir, staging / "data", symlinks=True)
            secret = staging / "password"
            secret.write_text(password + "\n")
            secret.chmod(0o600)
            (staging / "complete").write_text("")
            os.rename(staging, self.root)
        except OSError:
            pass  # another process stored it first, or the cache is not writable
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _copy_private(source: Path, target: Path) -> None:
    """Copy a data directory: contents only (no metadata calls per file, which cost
    more than the copy here), every file 0600 and directory 0700 as initdb makes them."""
    previous = os.umask(0o077)
    try:
        for directory, _, names in os.walk(source):
            relative = os.path.relpath(directory, source)
            destination = target / relative if relative != "." else target
            destination.mkdir(mode=0o700, exist_ok=True)
            for name in names:
                shutil.copyfile(os.path.join(directory, name), destination / name, follow_symlinks=False)
    finally:
        os.umask(previous)
