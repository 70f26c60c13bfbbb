"""Reading .env files the way both consumers read them.

A project's .env files are read by Node (Next.js uses the ``dotenv`` package)
and by Python (``python-dotenv``). The two disagree on some inputs: an unquoted
``#`` starts a comment for Node but not for Python, an unbalanced quote is kept
verbatim by Node but is a parse error for Python, backticks quote only for
Node. So each file is read twice, with a faithful port of each reader, and the
two readings are compared.

The Python side is python-dotenv's own parser (loaded without the rest of the
package, see ``_python_dotenv_parser``). Node's reader is JavaScript, so it is
ported; the tests check the port against the real Node dotenv on random input.

Nothing here ever puts a value into a message: values may be secrets.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
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


# --- python-dotenv: its own parser ---
_NEWLINE = re.compile(r"\r\n|\n|\r")


class PythonBinding(NamedTuple):
    """One statement as python-dotenv reads it: ``value`` None means ``KEY`` without ``=``."""

    key: str | None
    value: str | None
    line: int
    error: bool


@functools.cache
def _python_dotenv_parser() -> ModuleType:
    """python-dotenv's ``dotenv/parser.py``, loaded on its own.

    ``import dotenv.parser`` would first run ``dotenv/__init__``, which imports
    ``dotenv.main`` and with it ``logging`` (~6 ms, a fifth of Python's own start-up),
    and env.check runs on every commit. The parser module needs only ``re`` and
    ``codecs``, so it is loaded straight from the installed package's file: the same
    code python-dotenv runs, whatever its version. Any surprise falls back to the import.
    """
    spec = importlib.util.find_spec("dotenv")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if locations:
        path = Path(locations[0]) / "parser.py"
        parser_spec = importlib.util.spec_from_file_location("ops._python_dotenv_parser", path)
        if path.is_file() and parser_spec is not None and parser_spec.loader is not None:
            module = importlib.util.module_from_spec(parser_spec)
            try:
                parser_spec.loader.exec_module(module)
            except ImportError:
                pass
            else:
                if hasattr(module, "parse_stream"):
                    return module
    from dotenv import parser

    return parser


def read_like_python_dotenv(text: str) -> list[PythonBinding]:
    """Every statement python-dotenv sees (comments come back with ``key`` None), read by
    python-dotenv's own parser (which, from 1.2.4, skips a leading byte-order mark)."""
    parser = _python_dotenv_parser()
    return [
        PythonBinding(binding.key, binding.value, binding.original.line, binding.error)
        # python-dotenv opens files in text mode: universal newlines turn \r\n and \r into \n.
        for binding in parser.parse_stream(io.StringIO(text, newline=None))
    ]


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
    lines = _NEWLINE.split(text)  # the line breaks both readers count (str.splitlines knows more)

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
