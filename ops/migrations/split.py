"""Splitting SQL files into statements with the real PostgreSQL parser (pglast).

Each statement keeps its original text (dollar quotes, ``BEGIN ATOMIC``
bodies, comments inside it) and its character offset in the file, so an
error can point at the line and column. Leading comments are not part of
a ``Statement``; ``stored_statements`` gives the Supabase CLI's history form,
which keeps them. Drift detection compares normalised statements (``normalise``),
so rows written by either form compare equal.
"""

from __future__ import annotations

import gc
import json
import re
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

from ops.errors import UsageError

# Cheap pre-filter: only statements mentioning one of these words are parsed
# to a tree to decide whether they can run inside a transaction.
_MAYBE_SPECIAL = re.compile(
    r"\b(concurrently|vacuum|database|tablespace|system|subscription|add\s+value|begin|start|commit|end|rollback|abort"
    r"|prepare)\b",
    re.IGNORECASE,
)


@dataclass(slots=True)
class Statement:
    """One statement of a file: its text and where it starts in the file.

    Slotted and not frozen: a data dump makes hundreds of thousands of these,
    and a frozen dataclass costs twice as much to build."""

    text: str
    offset: int  # character offset of the first character in the file
    line: int  # 1-based line of the first character
    _kind: str | None = field(default=None, repr=False, compare=False)

    @property
    def kind(self) -> str:
        """ "transactional", "standalone" (must run outside a transaction) or
        "transaction_control" (a transaction statement: BEGIN/COMMIT written in
        the file, which the runner accepts where its own transactions begin and
        end, see ``ops.migrations.transactions``)."""
        if self._kind is None:
            self._kind = classify(self.text) if _MAYBE_SPECIAL.search(self.text) else "transactional"
        return self._kind


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
    append, count = statements.append, text.count
    line, scanned = 1, 0
    # A data dump makes hundreds of thousands of these records at once, none in a cycle: the
    # collector's passes over them (each pass walks every tracked object) would cost as much
    # as building them.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for part in slices:
            start = part.start
            line += count("\n", scanned, start)
            scanned = start
            append(Statement(text[part], start, line))
    finally:
        if collecting:
            gc.enable()
    return statements


def stored_statements(text: str, statements: list[Statement]) -> list[str]:
    """The statements as the Supabase CLI stores them in ``schema_migrations.statements``
    (pkg/parser ``SplitAndTrim``): the file cut at each ``;`` between statements, every
    piece trimmed of trailing ``;`` and then of whitespace, empty pieces dropped. So a
    statement keeps the comments before it, and a comment after the last ``;`` is a
    piece of its own (``-- c;`` at the very end of a file is stored as ``-- c``).
    ``supabase migration fetch`` rebuilds files from these pieces.

    Linear: the parser's statement slices already say where statements are, so
    only the gaps between them (whitespace, comments and ``;``) are scanned.
    The CLI's own tokenizer reads a backslash-escaped quote in an E-string
    (``E'it\\'s'``) differently from PostgreSQL; a file with one is cut by a port
    of that tokenizer (``cli_split``), so the history holds what the CLI would store."""
    if "\\'" in text:
        return cli_split(text)
    if not statements:
        return _pieces(text, _separators(text, 0, len(text)))
    starts = [statement.offset for statement in statements]
    ends = [statement.offset + len(statement.text) for statement in statements]
    # Between two statements there is at least one ``;`` (the parser's separator). When there is
    # exactly one ``;`` character there, it is that separator, whatever comments surround it: the
    # common case, found with C-level loops. Any other stretch is scanned (``_separators``).
    semicolons = ";" * (len(starts) - 1)
    counts = list(map(text.count, semicolons, ends, starts[1:]))
    if counts.count(1) == len(counts):
        between = list(map(text.find, semicolons, ends, starts[1:]))
    else:
        between = [cut for end, start in zip(ends, starts[1:], strict=False) for cut in _separators(text, end, start)]
    cuts = [*_separators(text, 0, starts[0]), *between, *_separators(text, ends[-1], len(text))]
    return _pieces(text, cuts)


def _pieces(text: str, cuts: list[int]) -> list[str]:
    """``text`` cut at ``cuts``, each piece trimmed as the CLI trims it, empty ones dropped."""
    bounds = [*cuts, len(text)]
    raw = map(text.__getitem__, map(slice, [0, *(cut + 1 for cut in cuts)], bounds))
    return [piece for piece in map(str.strip, map(str.rstrip, raw, repeat(";"))) if piece]


# Inside a stretch between statements: a line comment, the start of a block comment, or a separator.
_GAP_TOKEN = re.compile(r"--[^\n]*|/\*|;")


def _separators(text: str, start: int, end: int) -> list[int]:
    """Offsets of the ``;`` in ``text[start:end]``, a stretch between statements
    (whitespace, comments and semicolons only), that are not inside a comment."""
    found: list[int] = []
    index = start
    while True:
        match = _GAP_TOKEN.search(text, index, end)
        if match is None:
            return found
        token = match.group()
        if token == ";":
            found.append(match.start())
            index = match.end()
        elif token == "/*":
            index = _block_comment_end(text, match.start(), end)
        else:
            index = match.end()


def _block_comment_end(text: str, start: int, end: int) -> int:
    """Where the (nested) block comment opened at ``start`` ends."""
    depth, index = 1, start + 2
    while index < end and depth:
        if text.startswith("/*", index):
            depth, index = depth + 1, index + 2
        elif text.startswith("*/", index):
            depth, index = depth - 1, index + 2
        else:
            index += 1
    return index


def cli_split(text: str) -> list[str]:
    """``SplitAndTrim`` of the Supabase CLI (pkg/parser/state.go, token.go), ported
    state for state: the pieces the CLI stores for ``text``. It only knows quotes,
    comments, dollar quotes, parentheses and ``BEGIN ATOMIC``; PostgreSQL's lexer
    (``split_sql``) decides what actually runs."""
    pieces: list[str] = []
    state: _State = _Ready()
    token = _Token(text)
    for index, char in enumerate(text):
        token.end = index + 1
        following = state.next(char, token)
        if following is None:
            pieces.append(text[token.start : token.end])
            token.start, state = token.end, _Ready()
        else:
            state = following
    if token.start < len(text):
        pieces.append(text[token.start :])
    trimmed = (piece.rstrip(";").strip() for piece in pieces)
    return [piece for piece in trimmed if piece]


class _Token:
    """The current token, ``text[start:end]``, without copying it at every character."""

    def __init__(self, text: str) -> None:
        self.text, self.start, self.end = text, 0, 0

    def __len__(self) -> int:
        return self.end - self.start

    def endswith(self, suffix: str, *, fold: bool = False) -> bool:
        if len(suffix) > len(self):
            return False
        tail = self.text[self.end - len(suffix) : self.end]
        return tail.upper() == suffix.upper() if fold else tail == suffix

    def char_before_suffix(self, suffix: str) -> str:
        at = self.end - len(suffix) - 1
        return self.text[at] if at >= self.start else ""

    def since(self, offset: int) -> str:
        return self.text[self.start + offset : self.end]


class _State:
    def next(self, char: str, token: _Token) -> _State | None:
        raise NotImplementedError


class _Ready(_State):
    def next(self, char: str, token: _Token) -> _State | None:
        if char == "$":
            return _Tag(len(token) - 1)
        if char in "'\"":
            return _Quote(char)
        if char == "-":
            return _Comment()
        if char == "/":
            return _Block()
        if char == "\\":
            return _Escape()
        if char == ";":
            return None
        if char == "(":
            return _Atomic(self, ")")
        if char in "cC" and token.endswith("ATOMIC", fold=True) and token.char_before_suffix("ATOMIC").isspace():
            return _Atomic(self, "END")
        return self


class _Comment(_State):
    def next(self, char: str, token: _Token) -> _State | None:
        if char == "-":
            return _Dollar("\n")
        return _Ready().next(char, token)


class _Block(_State):
    def __init__(self) -> None:
        self.depth = 0

    def next(self, char: str, token: _Token) -> _State | None:
        if token.endswith("/*"):
            self.depth += 1
            return self
        if self.depth == 0:
            return _Ready().next(char, token)
        if token.endswith("*/"):
            self.depth -= 1
            if self.depth == 0:
                return _Ready()
        return self


class _Quote(_State):
    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter
        self.escape = False

    def next(self, char: str, token: _Token) -> _State | None:
        if self.escape:
            if char == self.delimiter:  # a doubled quote stays inside
                self.escape = False
                return self
            return _Ready().next(char, token)
        if char == self.delimiter:
            self.escape = True
        return self


class _Dollar(_State):
    def __init__(self, delimiter: str) -> None:
        self.delimiter = delimiter

    def next(self, char: str, token: _Token) -> _State | None:
        return _Ready() if token.endswith(self.delimiter) else self


class _Tag(_State):
    def __init__(self, offset: int) -> None:
        self.offset = offset

    def next(self, char: str, token: _Token) -> _State | None:
        if char == "$":
            return _Dollar(token.since(self.offset))
        if char.isalpha() or char.isdigit() or char == "_":
            return self
        return _Ready().next(char, token)


class _Escape(_State):
    def next(self, char: str, token: _Token) -> _State | None:
        return _Ready()


class _Atomic(_State):
    def __init__(self, previous: _State, delimiter: str) -> None:
        self.previous = previous
        self.delimiter = delimiter

    def next(self, char: str, token: _Token) -> _State | None:
        current = self.previous.next(char, token)
        if current is not None:  # inside parentheses or a body, a ``;`` does not end the token
            self.previous = current
        if isinstance(self.previous, _Ready) and token.endswith(self.delimiter, fold=True):
            return _Ready()
        return self


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
        # Savepoints run in the file's transaction; the others begin or end one, and
        # ``transactions.check_transaction_statements`` accepts them only where that changes nothing.
        if body.get("kind") in {"TRANS_STMT_SAVEPOINT", "TRANS_STMT_RELEASE", "TRANS_STMT_ROLLBACK_TO"}:
            return "transactional"
        return "transaction_control"
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


@dataclass(frozen=True)
class ConcurrentIndex:
    """A ``CREATE INDEX CONCURRENTLY name ON table ...`` statement."""

    name: str
    table: str  # as written, for to_regclass(): "schema"."table" or "table"
    shape: str  # the statement's tree without what does not change the index (see ``_index_shape``)

    def matches(self, definition: str) -> bool:
        """Whether ``pg_get_indexdef()`` of an existing index describes the index this statement builds."""
        body = _index_body(definition)
        return body is not None and _index_shape(body) == self.shape


def concurrent_index(statement: Statement) -> ConcurrentIndex | None:
    """The index a ``CREATE INDEX CONCURRENTLY`` with a name builds, else None."""
    body = _index_body(statement.text)
    if not body or not body.get("concurrent") or not body.get("idxname"):
        return None
    relation = body["relation"]
    table = ".".join(
        '"' + part.replace('"', '""') + '"' for part in (relation.get("schemaname"), relation["relname"]) if part
    )
    return ConcurrentIndex(body["idxname"], table, _index_shape(body))


def _index_body(sql: str) -> dict[str, Any] | None:
    from pglast import parser

    try:
        tree = json.loads(parser.parse_sql_json(sql))
    except parser.ParseError:
        return None
    node = (tree.get("stmts") or [{}])[0].get("stmt", {})
    body = node.get("IndexStmt")
    return body if isinstance(body, dict) else None


def _index_shape(body: dict[str, Any]) -> str:
    """The index a statement describes: without token positions, CONCURRENTLY,
    IF NOT EXISTS and the table's schema (the caller checked the index is on
    the statement's table; ``pg_get_indexdef`` always qualifies it)."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: strip(value) for key, value in node.items() if key != "location"}
        if isinstance(node, list):
            return [strip(value) for value in node]
        return node

    shape = strip(body)
    for key in ("concurrent", "if_not_exists"):
        shape.pop(key, None)
    shape.get("relation", {}).pop("schemaname", None)
    return json.dumps(shape, sort_keys=True)
