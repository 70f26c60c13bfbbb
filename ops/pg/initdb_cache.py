"""Data directories kept in the user's cache, so that a new local cluster is a copy
instead of a new initdb (``ops.pg.cluster`` uses them):

- the pristine ``initdb`` result, one per PostgreSQL installation;
- *prepared* templates: a data directory after SQL was applied to it (the dev stack's
  Supabase-shaped bootstrap, migrations and seed), one per fingerprint of everything that
  shaped it. The caller computes the fingerprint of what it applied; the installation's part
  (the initdb program, the extension libraries) is mixed in here.

An entry is built in a temporary directory and renamed into place, so a half-written
one is never seen; a manifest of its files and sizes is checked on every copy, and an
entry that fails the check is deleted (the caller then makes the cluster the long way).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

# A temporary directory older than this (seconds) is a killed writer's, not one at work.
ABANDONED_AFTER = 3600.0
# Files a copy must not carry over: those of a running or just-stopped server.
VOLATILE_FILES = frozenset({"postmaster.pid", "postmaster.opts"})
# A relation's free space map and visibility map forks are hints the server makes anew when
# missing (as for any table not vacuumed yet; pg_upgrade copies them only "if they exist"):
# a template leaves them out, since creating a file costs more than its bytes here.
OPTIONAL_FORKS = ("_fsm", "_vm")


# Errors of a copy that say nothing about the entry it copies.
_NOT_THE_ENTRYS_FAULT = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EMFILE, errno.ENFILE}
)


class TemplateDamaged(OSError):
    """A cache entry whose files do not match its manifest."""


def cache_base() -> Path | None:
    """``$OPS_INITDB_CACHE`` (``off`` disables the cache), else ``$XDG_CACHE_HOME/ops-toolkit/initdb``,
    else the platform's user cache (``~/Library/Caches`` on macOS, ``~/.cache`` elsewhere)."""
    setting = os.environ.get("OPS_INITDB_CACHE", "")
    if setting.lower() in {"off", "0", "false", "no"}:
        return None
    if setting:
        return Path(setting)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        base = Path(xdg)
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path.home() / ".cache"
    return base / "ops-toolkit" / "initdb"


class InitdbTemplate:
    """A data directory kept in the cache, copied instead of running initdb (and, for a
    prepared template, instead of applying its SQL) again: a copy takes a fraction of
    initdb's time, which dominates a cold ``dev.up`` and every test cluster.

    Entries are 0700 directories holding ``data/``, the superuser password of the cluster
    they were taken from (a 0600 file; each copy replaces it with its own on first start),
    ``manifest.json`` and ``complete``, written last."""

    FORMAT = "2"  # 2: keyed by the initdb program's content, a manifest, no map forks; bump on a change
    # Prepared templates are one per project state (its migrations, seed...): keep the most
    # recently used ones only, each being a whole data directory (~45 MB).
    KEEP_PREPARED = 4
    KEEP_ASKED = 200

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def for_bindir(cls, bindir: Path) -> InitdbTemplate | None:
        """The pristine template of the installation in ``bindir``. Keyed by the initdb
        program's bytes, not its path: a copy of the installation (the state dir's, when
        the server account cannot reach the original) shares the entry."""
        base = cache_base()
        if base is None:
            return None
        try:
            program = (bindir / "initdb").resolve().read_bytes()
        except OSError:
            return None
        digest = hashlib.sha256(cls.FORMAT.encode() + b"\0" + program).hexdigest()[:20]
        return cls(base / digest)

    def prepared(self, fingerprint: str, libdir: Path | None) -> InitdbTemplate:
        """The prepared template of this installation for ``fingerprint``. The extension
        libraries in ``libdir`` are part of the key: installing or upgrading an extension
        changes what ``CREATE EXTENSION`` makes, and which libraries can be preloaded."""
        digest = hashlib.sha256(f"{self.root.name}\0{fingerprint}\0{_listing(libdir)}".encode()).hexdigest()[:20]
        return InitdbTemplate(self.root.with_name(f"{self.root.name}-prepared-{digest}"))

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def available(self) -> bool:
        return (self.root / "complete").is_file()

    def password(self) -> str:
        return (self.root / "password").read_text().strip()

    def info(self) -> dict[str, Any]:
        """What the caller stored with the template (a prepared template's report)."""
        try:
            value = json.loads((self.root / "info.json").read_text())
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    def restore_into(self, target: Path) -> bool:
        """Copy the template to ``target`` (replaced if it exists). False when there is
        none, or when it is damaged: then it is deleted, to be made anew."""
        if not self.available:
            return False
        try:
            manifest = json.loads((self.root / "manifest.json").read_text())
            if target.exists():
                shutil.rmtree(target)
            _copy_private(self.data, target, expected=manifest)
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            shutil.rmtree(target, ignore_errors=True)
            # A damaged entry is deleted; a target that cannot be written (a full disk) is not its fault.
            if not isinstance(exc, OSError) or isinstance(exc, TemplateDamaged) or self._names_entry(exc):
                self.discard()
            return False
        # The most recently used prepared templates are the ones kept.
        with contextlib.suppress(OSError):
            os.utime(self.root / "complete")
        return True

    def store(
        self,
        data_dir: Path,
        password: str,
        *,
        info: dict[str, Any] | None = None,
        skip: Iterable[str] = (),
        rewrite: Callable[[str, bytes], bytes] | None = None,
    ) -> bool:
        """Keep a copy of the stopped cluster in ``data_dir``, but for the top-level files in
        ``skip``; ``rewrite(name, content)`` may change a top-level file on the way (the
        settings its own cluster appended).
        Best effort: a cache that cannot be written only costs the next cluster the long
        way. True when the entry is there afterwards."""
        if self.available:
            return True
        staging = self.root.with_name(f"{self.root.name}.tmp-{secrets.token_hex(4)}")
        try:
            self.root.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            _remove_abandoned(self.root.parent)
            staging.mkdir(mode=0o700)
            manifest = _copy_private(
                data_dir, staging / "data", skip={*VOLATILE_FILES, *skip}, rewrite=rewrite, without_hints=True
            )
            _write_private(staging / "password", password + "\n")
            _write_private(staging / "manifest.json", json.dumps(manifest))
            if info is not None:
                _write_private(staging / "info.json", json.dumps(info))
            (staging / "complete").write_text("")
            os.rename(staging, self.root)
        except OSError:
            pass  # another process stored it first, or the cache is not writable
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if self.available and "-prepared-" in self.root.name:
            self._prune_prepared()
        return self.available

    def discard(self) -> None:
        """Delete the entry (moved aside first, so no reader sees it half-deleted)."""
        doomed = self.root.with_name(f"{self.root.name}.tmp-{secrets.token_hex(4)}")
        try:
            os.rename(self.root, doomed)
        except OSError:
            return
        shutil.rmtree(doomed, ignore_errors=True)

    def asked_before(self) -> bool:
        """Whether this template was asked for before (and remember that it was now). A
        prepared template costs a stop, a copy and a start to make, so it is made the
        second time a project state is built from nothing, not for a one-off (a CI run)."""
        marker = self.root.with_name(f"{self.root.name}.asked")
        if marker.is_file():
            return True
        with contextlib.suppress(OSError):
            self.root.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            marker.write_text("")
            # One marker per project state ever built: keep the newest few hundred.
            markers = sorted(self.root.parent.glob("*.asked"), key=lambda path: path.stat().st_mtime)
            for stale in markers[: -self.KEEP_ASKED]:
                stale.unlink(missing_ok=True)
        return False

    def _names_entry(self, error: OSError) -> bool:
        """Whether ``error`` is this entry's fault: about one of its files, and not a failure
        of where the copy goes (a full disk, a read-only or forbidden target, no descriptors
        left; a copy's error names both files)."""
        if error.errno in _NOT_THE_ENTRYS_FAULT:
            return False
        return error.filename is not None and Path(os.fsdecode(error.filename)).is_relative_to(self.root)

    def _prune_prepared(self) -> None:
        entries = []
        for entry in self.root.parent.glob("*-prepared-*"):
            if ".tmp-" in entry.name:
                continue
            try:  # best effort: another process may be deleting an entry right now
                entries.append(((entry / "complete").stat().st_mtime, entry))
            except OSError:
                continue
        entries.sort(reverse=True)
        for _, entry in entries[self.KEEP_PREPARED :]:
            InitdbTemplate(entry).discard()
            Path(f"{entry}.asked").unlink(missing_ok=True)


def _remove_abandoned(cache: Path) -> None:
    """Delete what a process killed while writing an entry left (a temporary directory not
    touched for an hour: one being written now is newer)."""
    for leftover in cache.glob("*.tmp-*"):
        with contextlib.suppress(OSError):
            if leftover.stat().st_mtime < time.time() - ABANDONED_AFTER:
                shutil.rmtree(leftover, ignore_errors=True)


def _listing(directory: Path | None) -> str:
    """Names, sizes and change times of a directory's files (cheap: no content read)."""
    if directory is None:
        return ""
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
        return "\n".join(f"{e.name}:{e.stat().st_size}:{e.stat().st_mtime_ns}" for e in entries if e.is_file())
    except OSError:
        return ""


def _write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


def _copy_private(
    source: Path,
    target: Path,
    *,
    expected: dict[str, int] | None = None,
    skip: Iterable[str] = (),
    rewrite: Callable[[str, bytes], bytes] | None = None,
    without_hints: bool = False,
) -> dict[str, int]:
    """Copy a data directory: contents only (no metadata calls per file, which cost more
    than the copy here), every file 0600 and directory 0700 as initdb makes them; with
    ``without_hints``, no free space or visibility map of a relation. Returns the manifest
    (relative path: size) of what was copied; with ``expected``, raises ``TemplateDamaged``
    unless the source matches it exactly."""
    skipped = frozenset(skip)
    manifest: dict[str, int] = {}
    previous = os.umask(0o077)
    try:
        pending = [(source, target, "")]
        while pending:
            directory, destination, prefix = pending.pop()
            destination.mkdir(mode=0o700)
            for entry in os.scandir(directory):
                relative = prefix + entry.name
                if entry.is_dir(follow_symlinks=False):
                    pending.append((Path(entry.path), destination / entry.name, relative + "/"))
                    continue
                if not prefix and entry.name in skipped:
                    continue
                if without_hints and entry.name.endswith(OPTIONAL_FORKS) and prefix.startswith(("base/", "global/")):
                    continue
                if rewrite is not None and not prefix:
                    content = rewrite(entry.name, Path(entry.path).read_bytes())
                    (destination / entry.name).write_bytes(content)
                    manifest[relative] = len(content)
                    continue
                size = entry.stat(follow_symlinks=False).st_size
                if expected is not None and expected.get(relative) != size:
                    raise TemplateDamaged(f"{relative}: not as the manifest says")
                shutil.copyfile(entry.path, destination / entry.name, follow_symlinks=False)
                manifest[relative] = size
        if expected is not None and manifest.keys() != expected.keys():
            raise TemplateDamaged("files are missing")
    finally:
        os.umask(previous)
    return manifest
