"""squawk, run on each file the way the runner executes it.

The transactional statements go in as one transaction (``--assume-in-transaction``),
the statements that must run alone (``CREATE INDEX CONCURRENTLY``...) without
one. Both runs get a copy of the file with the other statements blanked out,
so the reported lines are the file's own.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from ops.errors import BinaryNotFound, ExternalError
from ops.migrations.lint.findings import Finding

if TYPE_CHECKING:
    from ops.migrations.settings import LintSettings
    from ops.migrations.split import Statement


def run_squawk(path: Path, statements: list[Statement], shown: str, settings: LintSettings) -> list[Finding]:
    """squawk on the file as the runner runs it: transactional statements in
    one transaction, the others alone."""
    text = path.read_text(encoding="utf-8")
    standalone = [s for s in statements if s.kind == "standalone"]
    runs = [(_keep_only(text, [s for s in statements if s.kind == "transactional"]), True)]
    if standalone:
        runs.append((_keep_only(text, standalone), False))
    findings: list[Finding] = []
    for sql, in_transaction in runs:
        if sql.strip():
            findings += _squawk(sql, shown, in_transaction, settings)
    return findings


def _keep_only(text: str, statements: list[Statement]) -> str:
    """``text`` with everything but ``statements`` blanked (newlines kept)."""
    blank = "".join("\n" if ch == "\n" else " " for ch in text)
    out = list(blank)
    for statement in statements:
        end = statement.offset + len(statement.text)
        # The split statement stops before its semicolon; keep it.
        after = end
        while after < len(text) and text[after].isspace():
            after += 1
        if after < len(text) and text[after] == ";":
            end = after + 1
        out[statement.offset : end] = text[statement.offset : end]
    return "".join(out)


def _squawk(sql: str, shown: str, in_transaction: bool, settings: LintSettings) -> list[Finding]:
    binary = shutil.which("squawk")
    if binary is None:
        raise BinaryNotFound("squawk is not installed", "pip install squawk-cli (the lint extra)")
    args = [binary, "--reporter", "json", "--stdin-filepath", shown, "--pg-version", settings.pg_version]
    if in_transaction:
        args.append("--assume-in-transaction")
    excluded = settings.squawk_exclude
    if excluded:
        args.append("--exclude=" + ",".join(excluded))
    result = subprocess.run(args, input=sql, capture_output=True, text=True)
    try:
        reported = json.loads(result.stdout or "[]")
    except json.JSONDecodeError:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise ExternalError(
            f"squawk failed on {shown}: {detail[-1] if detail else result.returncode}", "run squawk on the file"
        ) from None
    errors = set(settings.squawk_errors)
    return [
        Finding(
            file=shown,
            line=int(item.get("line", 0)) + 1,  # squawk counts lines from 0
            rule=item.get("rule_name", "squawk"),
            severity="error" if item.get("rule_name") in errors or item.get("level") == "Error" else "warning",
            message=item.get("message", "").strip(),
            fix=(item.get("help") or "see https://squawkhq.com/docs/rules").strip(),
            source="squawk",
        )
        for item in reported
    ]
