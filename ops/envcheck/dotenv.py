"""Reading .env files the way both consumers read them.

A project's .env files are read by Node (Next.js uses the ``dotenv`` package)
and by Python (``python-dotenv``). The two disagree on some inputs: an unquoted
``#`` starts a comment for Node but not for Python, an unbalanced quote is kept
verbatim by Node but is a parse error for Python, backticks quote only for
Node. So each file is read twice, with a faithful port of each reader, and the
two readings are compared.

Both readers are ported rather than imported: ``import dotenv`` costs ~30 ms
(it loads ``dotenv.main``), and Node's reader is JavaScript. The tests check
the Python port against the real python-dotenv on random input.

Nothing here ever puts a value into a message: values may be secrets.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

# --- Node's dotenv (lib/main.js, v16/v17), with JavaScript regex semantics ---
# JavaScript's \s, \w, ``.``, and multiline ^/$ differ from Python's, so they are spelled out.
# The full Unicode classes take ~10 ms to compile, so ASCII-only files (nearly all)
# get an equivalent ASCII pattern; both are compiled on first use.
_JS_SPACE_ASCII = "\t\n\v\f\r "
_JS_SPACE = (
    _JS_SPACE_ASCII + "\u00a0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


@functools.cache
def _node_patterns(ascii_only: bool) -> tuple[re.Pattern[str], re.Pattern[str]]:
    space, terminators = (_JS_SPACE_ASCII, "\n\r") if ascii_only else (_JS_SPACE, "\n\r\u2028\u2029")
    s = f"[{space}]"
    bol = f"(?:(?<=[{terminators}])|(?<![\\s\\S]))"
    eol = f"(?=[{terminators}]|(?![\\s\\S]))"
    dot = f"[^{terminators}]"
    # const LINE = /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|
    #               \s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/mg
    line = re.compile(
        f"{bol}{s}*(?:export{s}+)?([A-Za-z0-9_.-]+)(?:{s}*={s}*?|:{s}+?)"
        f"({s}*'(?:\\\\'|[^'])*'|{s}*\"(?:\\\\\"|[^\"])*\"|{s}*`(?:\\\\`|[^`])*`|[^#\\r\\n]+)?"
        f"{s}*(?:#{dot}*)?{eol}"
    )
    # value.replace(/^(['"`])([\s\S]*)\1$/mg, '$2')
    unquote = re.compile(f"{bol}(['\"`])([\\s\\S]*)\\1{eol}")
    return line, unquote


def read_like_node(text: str) -> list[tuple[str, str, int]]:
    """``(key, value, line)`` for every assignment Node's dotenv reads, in file order."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    node_line, node_unquote = _node_patterns(text.isascii())
    assignments: list[tuple[str, str, int]] = []
    newlines_before = 0
    counted_to = 0
    for match in node_line.finditer(text):
        key_start = match.start(1)
        newlines_before += text.count("\n", counted_to, key_start)
        counted_to = key_start
        value = (match.group(2) or "").strip(_JS_SPACE)
        maybe_quote = value[:1]
        value = node_unquote.sub(r"\2", value)
        if maybe_quote == '"':
            value = value.replace("\\n", "\n").replace("\\r", "\r")
        assignments.append((match.group(1), value, newlines_before + 1))
    return assignments


# --- python-dotenv (dotenv/parser.py, 1.x) ---
_PY_MULTILINE_SPACE = re.compile(r"\s*")
_PY_SPACE = re.compile(r"[^\S\r\n]*")
_PY_EXPORT = re.compile(r"(?:export[^\S\r\n]+)?")
_PY_SINGLE_QUOTED_KEY = re.compile(r"'([^']+)'")
_PY_UNQUOTED_KEY = re.compile(r"([^=\#\s]+)")
_PY_EQUAL_SIGN = re.compile(r"(=[^\S\r\n]*)")
_PY_SINGLE_QUOTED_VALUE = re.compile(r"'((?:\\'|[^'])*)'")
_PY_DOUBLE_QUOTED_VALUE = re.compile(r'"((?:\\"|[^"])*)"')
_PY_UNQUOTED_VALUE = re.compile(r"([^\r\n]*)")
_PY_COMMENT = re.compile(r"(?:[^\S\r\n]*#[^\r\n]*)?")
_PY_END_OF_LINE = re.compile(r"[^\S\r\n]*(?:\r\n|\n|\r|$)")
_PY_REST_OF_LINE = re.compile(r"[^\r\n]*(?:\r|\n|\r\n)?")
_PY_NEWLINE = re.compile(r"\r\n|\n|\r")
_PY_DOUBLE_QUOTE_ESCAPES = re.compile(r"\\[\\'\"abfnrtv]")
_PY_SINGLE_QUOTE_ESCAPES = re.compile(r"\\[\\']")
_PY_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_PY_ESCAPES["v"] = "\v"


class _PyParseError(Exception):
    pass


class PythonBinding(NamedTuple):
    """One statement as python-dotenv reads it: ``value`` None means ``KEY`` without ``=``."""

    key: str | None
    value: str | None
    line: int
    error: bool


class _PyReader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.chars = 0
        self.line = 1

    def has_next(self) -> bool:
        return self.chars < len(self.text)

    def peek(self) -> str:
        return self.text[self.chars : self.chars + 1]

    def read_regex(self, regex: re.Pattern[str]) -> tuple[str | None, ...]:
        match = regex.match(self.text, self.chars)
        if match is None:
            raise _PyParseError
        self.line += len(_PY_NEWLINE.findall(self.text, self.chars, match.end()))
        self.chars = match.end()
        return match.groups()


def _py_unescape(regex: re.Pattern[str], value: str) -> str:
    return regex.sub(lambda match: _PY_ESCAPES[match.group(0)[1]], value)


def _py_value(reader: _PyReader) -> str:
    char = reader.peek()
    if char == "'":
        (value,) = reader.read_regex(_PY_SINGLE_QUOTED_VALUE)
        return _py_unescape(_PY_SINGLE_QUOTE_ESCAPES, value or "")
    if char == '"':
        (value,) = reader.read_regex(_PY_DOUBLE_QUOTED_VALUE)
        return _py_unescape(_PY_DOUBLE_QUOTE_ESCAPES, value or "")
    if char in ("", "\n", "\r"):
        return ""
    (part,) = reader.read_regex(_PY_UNQUOTED_VALUE)
    return re.sub(r"\s+#.*", "", part or "").rstrip()


def _py_binding(reader: _PyReader) -> PythonBinding | None:
    start_line = reader.line
    try:
        reader.read_regex(_PY_MULTILINE_SPACE)
        if not reader.has_next():
            return None
        start_line = reader.line
        reader.read_regex(_PY_EXPORT)
        key: str | None
        if reader.peek() == "#":
            key = None
        elif reader.peek() == "'":
            (key,) = reader.read_regex(_PY_SINGLE_QUOTED_KEY)
        else:
            (key,) = reader.read_regex(_PY_UNQUOTED_KEY)
        reader.read_regex(_PY_SPACE)
        value: str | None = None
        if reader.peek() == "=":
            reader.read_regex(_PY_EQUAL_SIGN)
            value = _py_value(reader)
        reader.read_regex(_PY_COMMENT)
        reader.read_regex(_PY_END_OF_LINE)
        return PythonBinding(key, value, start_line, error=False)
    except _PyParseError:
        reader.read_regex(_PY_REST_OF_LINE)
        return PythonBinding(None, None, start_line, error=True)


def read_like_python_dotenv(text: str) -> list[PythonBinding]:
    """Every statement python-dotenv sees (comments come back with ``key`` None).

    Like python-dotenv >= 1.2.4, a leading byte-order mark is skipped."""
    reader = _PyReader(text.removeprefix("\ufeff"))
    bindings: list[PythonBinding] = []
    while reader.has_next():
        binding = _py_binding(reader)
        if binding is not None:
            bindings.append(binding)
    return bindings


# --- the file as the checks see it ---


class Assignment(NamedTuple):
    key: str
    value: str
    line: int


@dataclass
class EnvFile:
    """A parsed .env file: the final assignments plus everything odd about it.

    ``assignments`` holds the value Node reads (Next.js is the usual consumer),
    or Python's where Node does not read the key at all.
    """

    path: Path
    display: str
    assignments: dict[str, Assignment] = field(default_factory=dict)
    duplicates: list[tuple[str, int, int]] = field(default_factory=list)  # key, line, first line
    malformed: list[tuple[int, str]] = field(default_factory=list)  # line, what was expected
    divergent: list[tuple[str, int, str]] = field(default_factory=list)  # key, line, why
    # Pieces of private-key blocks, however the readers split them: an unquoted multi-line PEM
    # turns its base64 lines into "keys", which findings name. The caller registers these as secrets.
    secret_fragments: list[str] = field(default_factory=list)

    @property
    def values(self) -> dict[str, str]:
        return {key: assignment.value for key, assignment in self.assignments.items()}


def parse_bytes(data: bytes, path: Path, display: str) -> EnvFile:
    """Parse raw bytes; never raises, whatever the bytes."""
    env_file = EnvFile(path=path, display=display)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = len(re.findall(rb"\r\n|\n|\r", data[: exc.start])) + 1
        env_file.malformed.append((line, "not valid UTF-8"))
        text = data.decode("utf-8", errors="replace")
    text = text.replace("\x00", "\ufffd")
    if text.startswith("\ufeff"):
        # Older python-dotenv reads the byte-order mark into the first key; Node skips it.
        env_file.malformed.append((1, "starts with a byte-order mark; save it as UTF-8 without BOM"))
        text = text[1:]
    env_file.secret_fragments = pem_fragments(text)
    node = read_like_node(text)
    python = read_like_python_dotenv(text)
    lines = _PY_NEWLINE.split(text)  # the line breaks both readers count (str.splitlines knows more)

    node_final: dict[str, tuple[str, int]] = {}
    first_line: dict[str, int] = {}
    for key, value, line in node:
        if key in node_final and node_final[key][1] != line:
            env_file.duplicates.append((key, line, first_line[key]))
        first_line.setdefault(key, line)
        node_final[key] = (value, line)

    python_final: dict[str, tuple[str, int]] = {}
    node_lines = {line for _, _, line in node}
    for binding in python:
        if binding.error or (binding.key is not None and binding.value is None):
            if binding.line not in node_lines:
                expected = "expected KEY=VALUE" if binding.error else "expected KEY=VALUE, found a bare KEY"
                env_file.malformed.append((binding.line, expected))
            continue
        if binding.key is None:
            continue
        if binding.key not in node_final and binding.key in python_final:
            env_file.duplicates.append((binding.key, binding.line, python_final[binding.key][1]))
        python_final[binding.key] = (binding.value or "", binding.line)

    for key in sorted(set(node_final) | set(python_final), key=lambda k: (node_final.get(k) or python_final[k])[1]):
        node_read, python_read = node_final.get(key), python_final.get(key)
        chosen = node_read or python_read
        assert chosen is not None
        env_file.assignments[key] = Assignment(key, chosen[0], chosen[1])
        if node_read is not None and python_read is not None and node_read[0] == python_read[0]:
            continue
        line = chosen[1]
        raw_line = lines[line - 1] if 0 < line <= len(lines) else ""
        env_file.divergent.append((key, line, _why_divergent(raw_line, node_read is None, python_read is None)))
    env_file.malformed.sort()
    return env_file


_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S)
_PEM_SEPARATORS = re.compile(r"\\n|[\s=:'\"`]+")
_SHORTEST_FRAGMENT = 8  # shorter pieces could be ordinary words; a key's base64 lines are longer


def pem_fragments(text: str) -> list[str]:
    """Every piece of base64 inside a private-key block (quoted or not, escaped newlines or real ones)."""
    if "PRIVATE KEY-----" not in text:
        return []
    pieces = (piece for block in _PEM_BLOCK.findall(text) for piece in _PEM_SEPARATORS.split(block))
    return [piece for piece in pieces if len(piece) >= _SHORTEST_FRAGMENT]


def _why_divergent(raw_line: str, node_skips: bool, python_skips: bool) -> str:
    _, _, raw_value = raw_line.partition("=")
    stripped = raw_value.strip()
    if python_skips and stripped[:1] in ("'", '"') and stripped.count(stripped[0]) < 2:
        return "unbalanced quotes"
    if stripped.startswith("`"):
        return "backtick quotes"
    if python_skips or node_skips:
        return "only one of them reads this line"
    if "#" in stripped and stripped[:1] not in ("'", '"'):
        return "unquoted '#'"
    if stripped[:1] in ("'", '"'):
        return "escapes or quotes"
    return "whitespace or quoting"


def parse_file(path: Path, display: str) -> EnvFile:
    """Parse ``path`` (it must exist; the caller reports missing files)."""
    return parse_bytes(path.read_bytes(), path, display)
