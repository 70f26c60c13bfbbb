"""The single error hierarchy, and the exit codes.

Every expected failure raises an ``OpsError``: a one-line message, a hint that
names the fix, and an exit code (README, "Exit codes"). Commands that run
checks return a report instead of raising: its ``exit_code`` (0 ok, 1 problems
found, 3 unreachable...) and, when it failed, ``failure()``, the one line that
says why. The task layer turns either into the process exit; library callers
catch the errors like any exception and read the reports.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

OK = 0
CHECKS_FAILED = 1
USAGE = 2
EXTERNAL = 3
# An unexpected exception: a bug in ops (sysexits' EX_SOFTWARE); the traceback goes to a crash log.
INTERNAL = 70
INTERRUPTED = 130


class OpsError(Exception):
    """An expected failure with a one-line message, a fix and an exit code."""

    exit_code: int = 2

    def __init__(self, message: str, hint: str | None = None, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())
        self.hint = " ".join(hint.split()) if hint else None
        if exit_code is not None:
            self.exit_code = exit_code

    def one_line(self) -> str:
        if self.hint:
            return f"error: {self.message} (fix: {self.hint})"
        return f"error: {self.message}"

    def document(self) -> dict[str, Any]:
        """The ``--json`` document of a failed command: the error, and what was
        done before it (a partial report attached as ``report``)."""
        error: dict[str, Any] = {"message": self.message, "hint": self.hint, "exit_code": self.exit_code}
        for detail in ("sqlstate", "line", "excerpt"):  # a failing statement carries these
            if getattr(self, detail, None):
                error[detail] = getattr(self, detail)
        document: dict[str, Any] = {"ok": False, "error": error}
        partial = getattr(self, "report", None)
        if partial is not None and hasattr(partial, "to_dict"):
            document.update(partial.to_dict())
        return document


@runtime_checkable
class Outcome(Protocol):
    """What a command returns when its result decides the exit code (a report)."""

    @property
    def exit_code(self) -> int: ...


@dataclass(frozen=True)
class ExitStatus:
    """The exit status of a program a command ran in the foreground (psql), passed on as is."""

    exit_code: int


def failure_of(outcome: object) -> OpsError | None:
    """The one-line reason a failed report gives (``failure()``), if it gives one."""
    failure = getattr(outcome, "failure", None)
    return failure() if callable(failure) else None


class CheckFailed(OpsError):
    """Checks ran and found problems: lint findings, failed thresholds, drift."""

    exit_code = 1


class UsageError(OpsError):
    """Bad arguments."""

    exit_code = 2


class ConfigError(OpsError):
    """Bad or missing project configuration."""

    exit_code = 2


class GuardRefused(OpsError):
    """A production or safety guard refused the operation before it started."""

    exit_code = 2


class ExternalError(OpsError):
    """Something outside us failed: a database is unreachable, a command failed."""

    exit_code = 3


class BinaryNotFound(ExternalError):
    """A required executable is not installed."""


def from_os_error(exc: OSError) -> OpsError:
    """An ``OSError`` that reached the task layer, as one line with a fix: usage (2) when a
    name given is too long or missing, else an external failure (3)."""
    name = exc.filename if exc.filename is not None else ""
    shown = str(name) if len(str(name)) <= 80 else str(name)[:77] + "..."
    reason = exc.strerror or type(exc).__name__
    what = f"{reason}: {shown}" if shown else reason
    if exc.errno == errno.ENOSPC:
        return ExternalError(f"the disk is full: {what}", "free space on that disk, then run the command again")
    if exc.errno == errno.ENAMETOOLONG:
        return UsageError(f"a name is too long: {shown}", "use a shorter name or path")
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return UsageError(what, "check the path (relative paths start at the project root)")
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return ExternalError(
            f"cannot write or read {shown or 'a file'}: {reason}",
            "check its permissions, or set state_dir in [tool.ops] to a writable directory",
        )
    return ExternalError(what, "see the message; OPS_DEBUG=1 shows where it happened")
