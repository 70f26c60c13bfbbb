"""Detached service processes, started and stopped; their pid files are ``ops.local.pids``."""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import stat
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

from ops.errors import ConfigError, ExternalError
from ops.local.pids import is_alive, is_zombie, live_pid, reap, write_pidfile

__all__ = [
    "check_reachable",
    "hand_over",
    "is_alive",
    "last_lines",
    "live_pid",
    "service_account",
    "spawn",
    "stop_pidfile",
    "terminate",
    "wait_gone",
    "write_pidfile",
]


def wait_gone(pid: int | None, timeout: float) -> None:
    """Wait while ``pid`` is a zombie that its parent has not reaped yet."""
    deadline = time.monotonic() + timeout
    while pid is not None and is_zombie(pid) and time.monotonic() < deadline:
        reap(pid)
        time.sleep(0.02)


def service_account() -> pwd.struct_passwd | None:
    """The unprivileged account the stack's servers (Caddy, Redis) run as when we are root,
    as PostgreSQL already does: ``$OPS_RUN_AS``, else ``$OPS_PG_RUN_AS``, else ``postgres``.
    None when we are not root: everything then runs as ourselves."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("OPS_RUN_AS") or os.environ.get("OPS_PG_RUN_AS") or "postgres"
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise ConfigError(
            f"running as root, and the unprivileged user '{name}' that should run the stack's servers does not exist",
            f"create it (useradd --system {name}) or set $OPS_RUN_AS to an existing unprivileged user",
        ) from None


def check_reachable(account: pwd.struct_passwd | None, path: Path, server: str) -> None:
    """Refuse, before anything starts, a directory ``account`` cannot pass on its way to ``path``."""
    if account is None:
        return
    for ancestor in [path, *path.parents]:
        if not ancestor.exists():
            continue
        mode = ancestor.stat()
        if mode.st_uid == account.pw_uid:
            continue
        if not mode.st_mode & stat.S_IXOTH:
            raise ConfigError(
                f"{server} runs as '{account.pw_name}', who cannot enter {ancestor}",
                f"chmod o+x {ancestor}, or keep the state dir under a directory others can enter",
            )


def hand_over(account: pwd.struct_passwd | None, *paths: Path) -> None:
    """Give ``paths`` (made 0700 if directories) to ``account``, the server account."""
    for path in paths:
        if path.is_dir():
            path.chmod(0o700)
        if account is not None:
            os.chown(path, account.pw_uid, account.pw_gid)


def spawn(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log_file: Path,
    pidfile: Path | None = None,
    account: pwd.struct_passwd | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` detached in its own session and process group (so that a stop reaches
    whatever it spawns), output appended to ``log_file`` (0600 in a 0700 directory); as
    ``account`` when given."""
    log_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    user = group = None
    extra_groups: list[int] | None = None
    if account is not None:
        os.fchown(fd, account.pw_uid, account.pw_gid)
        user, group, extra_groups = account.pw_uid, account.pw_gid, []
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            user=user,
            group=group,
            extra_groups=extra_groups,
        )
    except OSError as exc:
        raise ExternalError(f"cannot start {argv[0]}: {exc.strerror}", "check the command in [tool.ops.dev]") from None
    finally:
        os.close(fd)
    if pidfile is not None:
        write_pidfile(pidfile, proc.pid)
    return proc


def _family(pid: int) -> list[psutil.Process]:
    """``pid`` and every process it spawned, as far as they can be seen now."""
    try:
        leader = psutil.Process(pid)
        return [leader, *leader.children(recursive=True)]
    except psutil.Error:
        return []


def terminate(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the process group ``pid`` leads and every descendant (one that left the group
    too), then SIGKILL whatever is left after ``timeout``; returns when all are gone."""
    family = _family(pid)
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        for process in family:
            with contextlib.suppress(psutil.Error):
                process.send_signal(sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            reap(pid)
            family = [p for p in family if _running(p)]
            if not family and not is_alive(pid):
                return
            time.sleep(0.02)


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def stop_pidfile(pidfile: Path, timeout: float = 10.0) -> bool:
    """Stop the process behind ``pidfile`` and its children. True when one was running."""
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
