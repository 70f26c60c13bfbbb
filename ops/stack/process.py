"""Detached service processes with pid files that survive a kill -9.

A pid file holds the pid and the process start time from ``/proc``, so a
stale file whose pid was reused by an unrelated process is recognised as
stale instead of being trusted (or killed).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ops.errors import ExternalError


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks), None when gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields resume after its ')'.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in {"Z", "X"}:
        _reap(pid)
        return None
    return fields[19]


def _reap(pid: int) -> None:
    """Collect a dead child of ours so that it stops existing as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def is_alive(pid: int) -> bool:
    return _start_time(pid) is not None


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in {"Z", "X"}
    except (OSError, IndexError):
        return False


def wait_gone(pid: int | None, timeout: float) -> None:
    """Wait while ``pid`` is a zombie that its parent has not reaped yet."""
    deadline = time.monotonic() + timeout
    while pid is not None and _is_zombie(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.02)


def live_pid(pidfile: Path) -> int | None:
    """The pid recorded in ``pidfile`` if that very process still runs; a stale file is removed."""
    try:
        pid_text, _, started = pidfile.read_text().strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    current = _start_time(pid)
    if current is None or (started and current != started):
        pidfile.unlink(missing_ok=True)
        return None
    return pid


def write_pidfile(pidfile: Path, pid: int) -> None:
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    pidfile.write_text(f"{pid} {_start_time(pid) or ''}\n")


def spawn(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log_file: Path,
    pidfile: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` detached (own session, output appended to ``log_file``)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        try:
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            raise ExternalError(
                f"cannot start {argv[0]}: {exc.strerror}", "check the command in [tool.ops.dev]"
            ) from None
    if pidfile is not None:
        write_pidfile(pidfile, proc.pid)
    return proc


def terminate(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group ``pid`` leads, then SIGKILL it after ``timeout``."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not is_alive(pid):
                return
            time.sleep(0.02)


def stop_pidfile(pidfile: Path, timeout: float = 10.0) -> bool:
    """Stop the process behind ``pidfile``. True when one was running."""
    pid = live_pid(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return False
    terminate(pid, timeout)
    pidfile.unlink(missing_ok=True)
    return True


def last_lines(log_file: Path, count: int = 1) -> list[str]:
    if count <= 0:
        return []
    try:
        with log_file.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16384))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-count:]
