"""Git hygiene: env files must be neither tracked nor left un-ignored.

One ``git ls-files`` call lists both the tracked env files and the untracked
ones that no ignore rule covers (env.check runs on every commit). Outside a git
work tree, or without git, there is nothing to judge.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import NamedTuple

from ops.envcheck.findings import Finding

# Committed templates: these are meant to be tracked.
TEMPLATE_NAMES = frozenset({".env.example", ".env.sample", ".env.template"})
_ENV_PATHSPECS = (":(glob)**/.env", ":(glob)**/.env.*")


class GitView(NamedTuple):
    in_repository: bool
    tracked: frozenset[str] = frozenset()  # env files in the index, relative to the root
    unignored: frozenset[str] = frozenset()  # untracked env files no ignore rule covers


def is_env_file_name(name: str) -> bool:
    return name == ".env" or name.startswith(".env.")


def is_template(name: str) -> bool:
    return name in TEMPLATE_NAMES or name.endswith(".example")


class GitQuery:
    """``git ls-files`` started at once and read later, so git runs while the env files are parsed."""

    def __init__(self, root: Path) -> None:
        command = ["git", "-C", str(root), "ls-files", "-z", "-t", "--cached", "--others", "--exclude-standard", "--"]
        try:
            self._process: subprocess.Popen[str] | None = subprocess.Popen(
                [*command, *_ENV_PATHSPECS],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        except OSError:
            self._process = None

    def result(self) -> GitView:
        """Tracked and un-ignored env files anywhere under the root."""
        if self._process is None:
            return GitView(in_repository=False)
        stdout, _ = self._process.communicate()
        if self._process.returncode != 0:
            return GitView(in_repository=False)
        tracked: set[str] = set()
        unignored: set[str] = set()
        for entry in stdout.split("\0"):
            tag, _, path = entry.partition(" ")
            if path and is_env_file_name(Path(path).name):
                (unignored if tag == "?" else tracked).add(path)
        return GitView(True, frozenset(tracked), frozenset(unignored))


def hygiene_findings(view: GitView) -> list[Finding]:
    """ENV023 for tracked env files, ENV024 for untracked ones .gitignore does not cover."""
    findings = [
        Finding("ENV023", f"git tracks this env file (run: git rm --cached {path}, then ignore it)", path)
        for path in sorted(view.tracked)
        if not is_template(Path(path).name)
    ]
    findings += [
        Finding("ENV024", "not ignored by .gitignore (add it there so it is never committed)", path)
        for path in sorted(view.unignored)
        if not is_template(Path(path).name)
    ]
    return findings
