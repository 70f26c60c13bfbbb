"""Detached service processes, started and stopped; their pid files are ``ops.local.pids``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ops.errors import ExternalError
from ops.local.pids import is_alive, is_zombie, live_pid, reap, write_pidfile

__all__ = ["is_alive", "last_lines", "live_pid", "spawn", "stop_pidfile", "terminate", "wait_gone", "write_pidfile"]


def wait_gone(pid: int | None, timeout: float) -> None:
    """Wait while ``pid`` is a zombie that its parent has not reaped yet."""
    deadline = time.monotonic() + timeout
    while pid is not None and is_zombie(pid) and time.monotonic() < deadline:
        reap(pid)
        time.sleep(0.02)


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
