"""env.check and env.example: validate a project's environment variables.

They print plain masked lines rather than going through rich. The commit hook
runs the lighter ``ops-env-check`` (``python -m ops.envcheck``), which renders
through the same function.
"""

from __future__ import annotations

import sys
from typing import Any

from ops.errors import ExitStatus
from ops.tasks._base import ops_task


def _emit(lines: list[str], json_mode: bool) -> None:
    from ops.console import MaskingStream

    stream = MaskingStream(sys.stderr if json_mode else sys.stdout)
    for line in lines:
        stream.write(line + "\n")
    stream.flush()


@ops_task(
    iterable=["file"],
    help={
        "env": "environment to check: local (default), staging or production",
        "file": "extra env file to read (repeatable; later files win)",
        "json_": "print one JSON document on stdout",
    },
)
def check(c: Any, env: str = "local", file: list[str] | None = None, json_: bool = False) -> ExitStatus:
    """Validate env files and variables against the schema (exit 1 on findings)."""
    # The same function as the commit hook's entry point (ops-env-check): same lines, same exit
    # codes; it prints its own failures, so its code is passed on as is.
    from ops.envcheck.cli import run

    return ExitStatus(run(env=env, files=file or (), json_mode=json_))


@ops_task(
    help={
        "check": "verify .env.example against the schema instead of writing it",
        "json_": "print one JSON document on stdout",
    },
)
def example(c: Any, check: bool = False, json_: bool = False) -> ExitStatus | None:
    """Write .env.example from the schema (secrets blank, descriptions as comments)."""
    from ops import config, envcheck
    from ops.console import Output

    if check:
        from ops.envcheck.cli import run

        return ExitStatus(run(example_check=True, json_mode=json_))
    cfg = config.load()
    written = envcheck.write_example(cfg)
    _emit([f"wrote {written.display} ({written.variables} variables)"], json_)
    Output(json_).result({"path": str(written.path), "variables": written.variables})
    return None
