"""Everything that reaches a terminal passes through here.

Human text goes to stdout, or to stderr when ``--json`` asks for a single JSON
document on stdout. Every stream is wrapped so that registered secret values
and passwords inside URLs are masked, whatever code path produced the text.
rich is imported lazily: ``env.check`` runs on every commit.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

MASK = "***"
_SECRETS: set[str] = set()
# How many JSON documents this process has written to stdout: the task layer
# prints an error document on failure only when the command wrote none.
_documents_written = 0
# scheme://user:password@host -> scheme://user:***@host
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)(?P<pw>[^@\s/]+)(?=@)")
# password=... in libpq key/value strings and URL query strings
_KV_PASSWORD = re.compile(r"(?P<head>\bpassword=)(?P<pw>[^\s&'\"]+)", re.IGNORECASE)

# What rich changes in an unstyled line: an emoji code (":smile:", names of these
# characters only), a tab (expanded) or another control character (dropped or kept).
_RICH_WOULD_CHANGE = re.compile(r":[\w!#&()*+.\u2019-]+:|[\x00-\x09\x0b-\x1f\x7f]")


def register_secret(value: str | None) -> None:
    """Remember a secret so that no later output can show it."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


def mask(text: str) -> str:
    """Mask URL passwords and every registered secret in ``text``."""
    if not text:
        return text
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    text = _KV_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def mask_url(url: str) -> str:
    """``postgresql://app:secret@host/db`` -> ``postgresql://app:***@host/db``."""
    return mask(url)


def mask_data(value: Any) -> Any:
    """Mask every string inside a JSON-shaped value."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {mask_data(k): mask_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_data(v) for v in value]
    return value


def documents_written() -> int:
    """How many JSON documents ``Output.result`` has written in this process."""
    return _documents_written


class MaskingStream:
    """A text stream that masks secrets on every write."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(mask(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._stream, "encoding", "utf-8")


class Output:
    """Where a task's human text and JSON go.

    With ``json_mode`` the human text moves to stderr and ``result`` prints one
    JSON document to stdout.
    """

    def __init__(self, json_mode: bool = False) -> None:
        self.json_mode = json_mode
        self._console: Console | None = None
        self._json_written = False

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            stream = sys.stderr if self.json_mode else sys.stdout
            self._console = Console(file=MaskingStream(stream), highlight=False, soft_wrap=True)  # type: ignore[arg-type]
        return self._console

    def line(self, text: str = "", style: str | None = None) -> None:
        stream = sys.stderr if self.json_mode else sys.stdout
        if style is None and _RICH_WOULD_CHANGE.search(text) is None and not stream.isatty():
            # What rich would print, without importing it: a command that prints a few lines
            # into a pipe or a CI log (db.migrate) saves its import and the console's setup.
            stream.write(mask(text) + "\n")
            stream.flush()  # as rich does: a CI log that merges stdout and stderr keeps the order
            return
        self.console.print(text, style=style, markup=False)

    def markup(self, text: str) -> None:
        self.console.print(text)

    def warn(self, text: str) -> None:
        self.console.print(f"warning: {text}", style="yellow", markup=False)

    def table(
        self,
        columns: Iterable[str],
        rows: Iterable[Iterable[Any]],
        title: str | None = None,
    ) -> None:
        from rich.table import Table

        table = Table(title=title, show_lines=False)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*("" if cell is None else str(cell) for cell in row))
        self.console.print(table)

    def result(self, document: Any) -> None:
        """Write the JSON document (only in json mode)."""
        global _documents_written
        if not self.json_mode or self._json_written:
            return
        self._json_written = True
        _documents_written += 1
        sys.stdout.write(json.dumps(mask_data(document), indent=2, default=str) + "\n")
        sys.stdout.flush()

    @contextmanager
    def progress(self, transient: bool = True) -> Iterator[Progress]:
        """A rich progress display on stderr (never mixed into JSON)."""
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        console = Console(file=MaskingStream(sys.stderr), highlight=False)  # type: ignore[arg-type]
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=transient,
        ) as progress:
            yield progress
