"""env.check and env.example: validate a project's environment variables.

These run on every commit (pre-commit), so they print plain masked lines
rather than going through rich: importing rich costs more than the check.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ops.tasks._base import ops_task

if TYPE_CHECKING:
    from ops.envcheck import Report


def _emit(lines: list[str], json_mode: bool) -> None:
    from ops.console import MaskingStream

    stream = MaskingStream(sys.stderr if json_mode else sys.stdout)
    for line in lines:
        stream.write(line + "\n")
    stream.flush()


def _report(report: Report, json_mode: bool) -> int:
    from ops.console import Output

    _emit([finding.render() for finding in report.findings] + [report.summary()], json_mode)
    Output(json_mode).result(report.to_json())
    return 0 if report.ok else 1


@ops_task(
    iterable=["file"],
    help={
        "env": "environment to check: local (default), staging or production",
        "file": "extra env file to read (repeatable; later files win)",
        "json_": "print one JSON document on stdout",
    },
)
def check(c: Any, env: str = "local", file: list[str] | None = None, json_: bool = False) -> int:
    """Validate env files and variables against the schema (exit 1 on findings)."""
    from ops import config, envcheck

    return _report(envcheck.check(config.load(), env, files=file or ()), json_)


@ops_task(
    help={
        "check": "verify .env.example against the schema instead of writing it",
        "json_": "print one JSON document on stdout",
    },
)
def example(c: Any, check: bool = False, json_: bool = False) -> int:
    """Write .env.example from the schema (secrets blank, descriptions as comments)."""
    from ops import config, envcheck
    from ops.console import Output

    cfg = config.load()
    if check:
        return _report(envcheck.example_check(cfg), json_)
    written = envcheck.write_example(cfg)
    _emit([f"wrote {written.display} ({written.variables} variables)"], json_)
    Output(json_).result({"path": str(written.path), "variables": written.variables})
    return 0
