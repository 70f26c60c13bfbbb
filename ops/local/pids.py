"""Is a service's process there? Pid files checked with psutil (Linux and macOS alike).

A pid file holds the pid and the process's creation time, so a stale file whose pid
was reused by an unrelated process is recognised as stale instead of being trusted
(or killed).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import psutil


def _process(pid: int) -> psutil.Process | None:
    """The running process ``pid``; None when gone or a zombie (a zombie child of ours is reaped)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            reap(pid)
            return None
        return process
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:
        # Another user's process (macOS hides their details): it exists.
        return psutil.Process(pid) if psutil.pid_exists(pid) else None


def reap(pid: int) -> None:
    """Collect a dead child of ours so that it stops existing as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def created(pid: int) -> str | None:
    """When ``pid`` was created (a stable text form), None when it is not running."""
    process = _process(pid)
    if process is None:
        return None
    try:
        return f"{process.create_time():.2f}"
    except psutil.Error:
        return None


def is_alive(pid: int) -> bool:
    return _process(pid) is not None


def is_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.ZombieProcess:
        return True
    except psutil.Error:
        return False


def command_line(pid: int) -> list[str] | None:
    """The argv of ``pid``; None when gone, or when the system will not tell (another user's, on macOS)."""
    process = _process(pid)
    if process is None:
        return None
    try:
        return process.cmdline()
    except psutil.Error:
        return None


def executable(pid: int) -> str | None:
    process = _process(pid)
    if process is None:
        return None
    try:
        return process.exe() or None
    except psutil.Error:
        return None


def live_pid(pidfile: Path) -> int | None:
    """The pid recorded in ``pidfile`` if that very process still runs; a stale file is removed."""
    try:
        pid_text, _, started = pidfile.read_text().strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    current = created(pid)
    if current is None or (started and current != started):
        pidfile.unlink(missing_ok=True)
        return None
    return pid


def write_pidfile(pidfile: Path, pid: int) -> None:
    pidfile.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pidfile.write_text(f"{pid} {created(pid) or ''}\n")
