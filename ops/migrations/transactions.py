"""Transaction statements written in a migration file: accepted only where they change nothing.

The runner owns the transactions: each file runs in one, together with its
history row, and a statement that refuses a transaction (``CREATE INDEX
CONCURRENTLY``...) runs alone between two. A ``BEGIN`` written where the
runner's transaction begins, or a ``COMMIT``/``END`` where it ends, says the
same thing and is skipped. Anything else would end or break the file's
transaction behind the runner's back: ``ROLLBACK;`` in the middle of a file
undoes the statements before it, and the runner would then record the file as
applied. Such files are refused before any statement runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ops.errors import UsageError
from ops.migrations.split import Statement

# What a transaction statement can begin with (leading comments are not part of a Statement).
_KEYWORDS = ("begin", "start", "commit", "end", "rollback", "abort", "savepoint", "release", "prepare")

HINT = (
    "remove it: db.migrate runs each file in one transaction with its history row"
    " (a failing statement rolls the whole file back); split the file in two if it needs two transactions"
)


def transaction_statement(statement: Statement) -> dict[str, object] | None:
    """The parsed ``TransactionStmt`` of ``statement``, or None for any other statement."""
    from pglast import parser

    if not statement.text[:10].lower().startswith(_KEYWORDS):
        return None
    try:
        tree = json.loads(parser.parse_sql_json(statement.text))
    except parser.ParseError:
        return None
    node = ((tree.get("stmts") or [{}])[0]).get("stmt", {})
    body = node.get("TransactionStmt")
    return body if isinstance(body, dict) else None


def check_transaction_statements(statements: Sequence[Statement], source: str) -> None:
    """Raise ``UsageError`` naming the first transaction statement of a file that
    would end or break the transaction the runner runs it in."""
    savepoints: list[str] = []
    last = len(statements) - 1
    for index, statement in enumerate(statements):
        if statement.kind == "standalone":
            savepoints.clear()  # the runner's transaction ends before it
            continue
        body = transaction_statement(statement)
        if body is None:
            continue
        kind = str(body.get("kind", "")).removeprefix("TRANS_STMT_")
        opens_run = index == 0 or statements[index - 1].kind == "standalone"
        closes_run = index == last or statements[index + 1].kind == "standalone"
        problem = None
        if kind in {"BEGIN", "START"}:
            if not opens_run:
                problem = "would start a transaction in the middle of the file's transaction"
        elif kind == "COMMIT":
            if body.get("chain"):
                problem = "would commit and start a transaction the runner does not know about"
            elif not closes_run:
                problem = "would commit the file's transaction in the middle of the file"
        elif kind == "ROLLBACK":
            problem = "would roll back the statements before it, and the file would still be recorded as applied"
        elif kind in {"PREPARE", "COMMIT_PREPARED", "ROLLBACK_PREPARED"}:
            problem = "would hand the file's transaction to two-phase commit"
        elif kind == "SAVEPOINT":
            savepoints.append(str(body.get("savepoint_name", "")))
        elif kind in {"RELEASE", "ROLLBACK_TO"}:
            name = str(body.get("savepoint_name", ""))
            if name not in savepoints:
                problem = f"names savepoint {name}, which this transaction does not define"
            elif kind == "RELEASE":
                del savepoints[savepoints.index(name) :]  # releasing one releases the later ones too
        if problem is not None:
            shown = " ".join(statement.text.split())
            shown = shown if len(shown) <= 60 else shown[:59] + "…"
            raise UsageError(f"{source}: statement {index + 1} (line {statement.line}): {shown} {problem}", HINT)
