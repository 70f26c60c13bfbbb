"""Findings: stable codes, and how one renders as a line.

Codes never change meaning once released; tools and people grep for them.
A finding's message names the key and what was expected, never the value.
"""

from __future__ import annotations

from typing import Any, NamedTuple

ERROR, WARNING = "error", "warning"

CODES: dict[str, str] = {
    "ENV001": "missing-required",
    "ENV002": "invalid-value",
    "ENV003": "live-stripe-key",
    "ENV004": "secret-name-public",
    "ENV005": "secret-value-public",
    "ENV010": "example-missing-key",
    "ENV011": "example-unknown-key",
    "ENV012": "example-real-secret",
    "ENV020": "duplicate-key",
    "ENV021": "malformed-line",
    "ENV022": "dotenv-divergence",
    "ENV023": "env-file-tracked",
    "ENV024": "env-file-not-ignored",
    "ENV030": "unknown-key",
}


class Finding(NamedTuple):
    code: str
    message: str
    where: str  # a file (relative to the project root) or the environment's name
    line: int | None = None
    key: str | None = None
    severity: str = ERROR

    @property
    def rule(self) -> str:
        return CODES[self.code]

    def render(self) -> str:
        location = f"{self.where}:{self.line}" if self.line else self.where
        label = f"{self.code} warning:" if self.severity == WARNING else self.code
        return f"{location}: {label} {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {**self._asdict(), "rule": self.rule}


def shown_key(key: str) -> str:
    """A key as it appears in a message: odd characters escaped, so output stays one clean line."""
    return key if key.isprintable() and " " not in key and key else repr(key)
