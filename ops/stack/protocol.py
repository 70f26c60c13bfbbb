"""What a provider of the local stack does: the native processes, or a compose project.

``ops.stack.commands`` picks one and calls these; nothing else asks which provider runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol


class Stack(Protocol):
    provider: str
    timings: dict[str, float]
    notes: list[str]

    def up(self, *, seed: bool, out: Any = None) -> dict[str, str]:
        """Start or repair every part, wait until each is ready; returns each step's action."""
        ...

    def down(self, purge: bool = False) -> list[str]:
        """Stop every part, last started first; returns what was running."""
        ...

    def status(self, check_health: bool = True) -> list[dict[str, Any]]:
        """One row per part: service, state, pid, port, url, health."""
        ...

    def restart(self, name: str) -> dict[str, str]: ...

    def logs(self, service: str | None, lines: int) -> list[tuple[str, str]]: ...

    def follow(self, service: str | None) -> Iterator[tuple[str, str]]: ...

    def report_urls(self) -> dict[str, str]:
        """base_url (https through Caddy), app_url (the default service) and db_url (secret)."""
        ...
