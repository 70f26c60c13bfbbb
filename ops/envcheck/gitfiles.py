"""Git hygiene: env files must be neither tracked nor left un-ignored.

Two git calls in all (ls-files, check-ignore), because env.check runs on every
commit. Outside a git work tree (or without git) there is nothing to judge.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ops.envcheck.findings import Finding

# Committed templates: these are meant to be tracked.
TEMPLATE_NAMES = frozenset({".env.example", ".env.sample", ".env.template"})


@dataclass
class GitView:
    in_repository: bool
    tracked: set[str] = field(default_factory=set)  # env files git tracks, relative to the root


def _git(root: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(
            ["git", "-C", str(root), *args], input=stdin, capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None


def is_env_file_name(name: str) -> bool:
    return name == ".env" or name.startswith(".env.")


def is_template(name: str) -> bool:
    return name in TEMPLATE_NAMES or name.endswith(".example")


def tracked_env_files(root: Path) -> GitView:
    result = _git(root, "ls-files", "-z", "--", ":(glob)**/.env", ":(glob)**/.env.*")
    if result is None or result.returncode != 0:
        return GitView(in_repository=False)
    return GitView(in_repository=True, tracked={path for path in result.stdout.split("\0") if path})


def hygiene_findings(root: Path, view: GitView, candidates: list[str]) -> list[Finding]:
    """ENV023 for tracked env files, ENV024 for untracked ones .gitignore does not cover."""
    if not view.in_repository:
        return []
    checked = sorted({path for path in candidates if not is_template(Path(path).name)})
    findings = [
        Finding("ENV023", f"git tracks this env file (run: git rm --cached {path}, then ignore it)", path)
        for path in checked
        if path in view.tracked
    ]
    untracked = [path for path in checked if path not in view.tracked]
    if untracked:
        result = _git(root, "check-ignore", "-z", "--stdin", stdin="\0".join(untracked) + "\0")
        ignored = set(result.stdout.split("\0")) if result is not None and result.returncode in (0, 1) else set()
        if result is None or result.returncode not in (0, 1):
            return findings
        findings += [
            Finding("ENV024", "not ignored by .gitignore (add it there so it is never committed)", path)
            for path in untracked
            if path not in ignored
        ]
    return findings
