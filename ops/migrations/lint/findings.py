"""What a lint rule reports: one finding, at a file and line, with its fix."""

from __future__ import annotations

from dataclasses import dataclass

SEVERITIES = ("error", "warning", "off")


@dataclass
class Finding:
    file: str
    line: int
    rule: str
    severity: str
    message: str
    fix: str
    source: str = "ops"

    def render(self) -> str:
        return f"{self.file}:{self.line}: {self.severity} [{self.rule}] {self.message} (fix: {self.fix})"
