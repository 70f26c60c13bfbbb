"""Splitting SQL files into statements with the real PostgreSQL parser (pglast).

Each statement keeps its original text (dollar quotes, ``BEGIN ATOMIC``
bodies, comments inside it) and its character offset in the file, so an
error can point at the line and column. Leading comments are not part of
a ``Statement``; ``stored_statements`` gives the Supabase CLI's history form,
which keeps them. Drift detection compares normalised statements (``normalise``),
so rows written by either form compare equal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property

from ops.errors import UsageError

# Cheap pre-filter: only statements mentioning one of these words are parsed
# to a tree to decide whether they can run inside a transaction.
_MAYBE_SPECIAL = re.compile(
    r"\b(concurrently|vacuum|database|tablespace|system|subscription|add\s+value|begin|start|commit|end)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Statement:
    """One statement of a file: its text and where it starts in the file."""

    text: str
    offset: int  # character offset of the first character in the file
    line: int  # 1-based line of the first character

    @cached_property
    def kind(self) -> str:
        """ "transactional", "standalone" (must run outside a transaction) or
        "transaction_control" (BEGIN/COMMIT written in the file; the runner
        owns the transaction, so these are not executed)."""
        if not _MAYBE_SPECIAL.search(self.text):
            return "transactional"
        return classify(self.text)


def split_sql(text: str, source: str = "<sql>") -> list[Statement]:
    """The statements of ``text``; a syntax error is a one-line error with file and line."""
    from pglast import parser

    try:
        slices = parser.split(text, with_parser=True, only_slices=True)
    except parser.ParseError as exc:
        message, location = exc.args[0], exc.args[1] if len(exc.args) > 1 else 0
        line, column = line_column(text, int(location or 0))
        raise UsageError(
            f"{source}: line {line}, column {column}: {message}", "fix the SQL syntax in the file"
        ) from None
    statements: list[Statement] = []
    line, scanned = 1, 0
    for part in slices:
        line += text.count("\n", scanned, part.start)
        scanned = part.start
        statements.append(Statement(text[part], part.start, line))
    return statements


def stored_statements(text: str, statements: list[Statement]) -> list[str]:
    """The statements as the Supabase CLI stores them in ``schema_migrations.statements``
    (pkg/parser ``SplitAndTrim``): the file cut at each ``;`` between statements, every
    piece trimmed of ``;`` and whitespace, empty pieces dropped. So a statement keeps
    the comments before it, and a comment after the last ``;`` is a piece of its own.
    ``supabase migration fetch`` rebuilds files from these pieces."""
    from pglast import parser

    try:
        tokens = parser.scan(text)
    except Exception:  # scanning never fails where splitting worked; be safe anyway
        return [statement.text for statement in statements]
    spans = [(statement.offset, statement.offset + len(statement.text)) for statement in statements]
    cuts = [
        token.start
        for token in tokens
        if token.name == "ASCII_59" and not any(start <= token.start < end for start, end in spans)
    ]
    pieces, previous = [], 0
    for cut in [*cuts, len(text)]:
        pieces.append(text[previous:cut].strip())
        previous = cut + 1
    return [piece for piece in pieces if piece]


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a 0-based character offset."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


# Statements PostgreSQL refuses inside a transaction block (PreventInTransactionBlock).
def classify(sql: str) -> str:
    from pglast import parser

    try:
        tree = json.loads(parser.parse_sql_json(sql))
    except parser.ParseError:
        return "transactional"
    stmts = tree.get("stmts") or [{}]
    node = stmts[0].get("stmt", {})
    if not node:
        return "transactional"
    node_type, body = next(iter(node.items()))
    if node_type == "TransactionStmt":
        if body.get("kind") in {"TRANS_STMT_BEGIN", "TRANS_STMT_START", "TRANS_STMT_COMMIT"}:
            return "transaction_control"
        return "transactional"
    if _is_standalone(node_type, body):
        return "standalone"
    return "transactional"


def _is_standalone(node_type: str, body: dict[str, object]) -> bool:
    if node_type in {"IndexStmt", "ReindexStmt"} and body.get("concurrent"):
        return True
    if node_type == "DropStmt" and body.get("concurrent"):
        return True
    if node_type == "ReindexStmt":
        # REINDEX DATABASE/SYSTEM, or any REINDEX ... (CONCURRENTLY) option
        options = json.dumps(body.get("params", []))
        return body.get("kind") in {"REINDEX_OBJECT_DATABASE", "REINDEX_OBJECT_SYSTEM"} or "concurrently" in options
    if node_type == "VacuumStmt":
        return bool(body.get("is_vacuumcmd"))
    if node_type == "AlterTableStmt":
        # ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY
        return '"concurrent": true' in json.dumps(body, separators=(", ", ": "))
    return node_type in {
        "CreatedbStmt",
        "DropdbStmt",
        "CreateTableSpaceStmt",
        "DropTableSpaceStmt",
        "AlterSystemStmt",
        "CreateSubscriptionStmt",
        "DropSubscriptionStmt",
    }


def normalise(statements: list[str] | tuple[str, ...]) -> list[str]:
    """Statements with comments and whitespace differences removed, empties
    dropped: what drift detection compares (the Supabase CLI stores leading
    comments; we don't)."""
    from pglast import parser

    result: list[str] = []
    for sql in statements:
        try:
            tokens = parser.scan(sql)
        except Exception:  # unscannable text: compare it whitespace-collapsed
            result.append(" ".join(sql.split()))
            continue
        words = [sql[t.start : t.end + 1] for t in tokens if t.name not in {"SQL_COMMENT", "C_COMMENT"}]
        while words and words[-1] == ";":
            words.pop()
        if words:
            result.append(" ".join(words))
    return result


def invalid_index_target(statement: Statement) -> tuple[str, str] | None:
    """(index name, qualified table) of a ``CREATE INDEX CONCURRENTLY name ON table``."""
    from pglast import parser

    try:
        tree = json.loads(parser.parse_sql_json(statement.text))
    except parser.ParseError:
        return None
    node = (tree.get("stmts") or [{}])[0].get("stmt", {})
    body = node.get("IndexStmt")
    if not body or not body.get("concurrent") or not body.get("idxname"):
        return None
    relation = body["relation"]
    table = ".".join(_quote(p) for p in (relation.get("schemaname"), relation["relname"]) if p)
    return body["idxname"], table


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
