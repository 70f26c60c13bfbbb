"""The single error hierarchy.

Every expected failure raises an ``OpsError``: a one-line message, a hint that
names the fix, and an exit code (DESIGN.md §2). The task layer turns it into
``invoke.Exit``; library callers catch it like any exception.
"""

from __future__ import annotations


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
