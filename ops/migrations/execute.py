"""Running a file's statements, and turning a failure into one clear error.

The error names the file, the statement number, the line, and shows the
line with a caret at the position PostgreSQL reported, plus SQLSTATE and
message (the Supabase CLI shows the statement with a caret; we add the line).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ops.errors import ExternalError
from ops.migrations.split import Statement, line_column
from ops.pg.connect import error_text

LOCK_NOT_AVAILABLE = "55P03"


class StatementFailed(ExternalError):
    """A statement of a migration or seed file failed; ``excerpt`` shows where."""

    def __init__(self, message: str, hint: str, *, excerpt: str, sqlstate: str | None, line: int) -> None:
        super().__init__(message, hint)
        self.excerpt = excerpt
        self.sqlstate = sqlstate
        self.line = line


ROLLED_BACK = "fix the statement and run it again; this file was rolled back, earlier files stay applied"


def run_statements(
    cursor: Any, statements: Sequence[tuple[int, Statement]], path: Path, text: str, hint: str = ROLLED_BACK
) -> None:
    """Execute numbered ``statements`` in order; raise ``StatementFailed`` on the first error."""
    import psycopg

    for number, statement in statements:
        try:
            cursor.execute(statement.text.encode(), prepare=False)
        except psycopg.Error as exc:
            raise statement_failure(exc, path, text, statement, number, hint) from None


def statement_failure(
    exc: Any, path: Path, text: str, statement: Statement, number: int, hint: str = ROLLED_BACK
) -> StatementFailed:
    diag = getattr(exc, "diag", None)
    sqlstate = getattr(exc, "sqlstate", None)
    message = (diag.message_primary if diag is not None else None) or error_text(exc)
    position = diag.statement_position if diag is not None else None
    offset = statement.offset + (int(position) - 1 if position else 0)
    line, column = line_column(text, offset)
    source_line = text.splitlines()[line - 1] if text.splitlines() else statement.text
    gutter = f"{line} | "
    excerpt = f"{path.name}, statement {number}, line {line}:\n{gutter}{source_line}"
    if position:
        excerpt += "\n" + " " * (len(gutter) + column - 1) + "^"
    detail = diag.message_detail if diag is not None else None
    if detail:
        excerpt += f"\ndetail: {detail}"
    where = f"line {line}, column {column}" if position else f"line {line}"
    code = f"{sqlstate} " if sqlstate else ""
    return StatementFailed(
        f"{path.name}: statement {number} ({where}) failed: {code}{message}",
        hint,
        excerpt=excerpt,
        sqlstate=sqlstate,
        line=line,
    )
