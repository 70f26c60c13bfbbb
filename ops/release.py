"""Release gating: is HEAD a commit we may deploy to production?

``check_release(cfg)`` runs every check and returns a ``ReleaseReport`` (all
problems at once, like a linter); its ``exit_code`` is 1 when a check failed,
and ``failure()`` names the first one. The checks, in order:

1. HEAD carries an annotated ``v*`` tag (a lightweight tag has no tagger, date
   or signature: it is refused).
2. When the repo requires signed tags (``git config tag.gpgSign`` or
   ``[tool.ops.release] require_signed_tags``) the tag verifies with ``git tag -v``.
3. The working tree is clean (what is deployed is what was tagged).
4. With an environment, the database shows no migration drift (``db.status``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, StrictBool, StrictStr

from ops.config import Config
from ops.console import Output
from ops.errors import BinaryNotFound, CheckFailed, ConfigError, ExternalError
from ops.settings import Section, section


class ReleaseSettings(Section):
    """``[tool.ops.release]``."""

    section_name = "release"

    # the glob a release tag matches (git tag --list)
    tag_pattern: Annotated[StrictStr, Field(min_length=1)] = "v*"
    require_signed_tags: StrictBool = False
    # An armored public-key file in the repo (e.g. ".github/release-keys.asc"): when set,
    # tags verify against exactly these keys, in a throwaway keyring, not the machine's.
    trusted_keys: StrictStr = ""


@dataclass
class ReleaseCheck:
    name: str
    ok: bool
    detail: str
    hint: str | None = None
    skipped: bool = False


@dataclass
class ReleaseReport:
    root: str
    commit: str
    tag: str | None = None
    checks: list[ReleaseCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[ReleaseCheck]:
        return [check for check in self.checks if not check.ok]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "commit": self.commit,
            "tag": self.tag,
            "checks": [asdict(check) for check in self.checks],
        }

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else CheckFailed.exit_code

    def failure(self) -> CheckFailed | None:
        """The first failed check (and how many more), as the one line the command ends with."""
        if self.ok:
            return None
        first = self.failures[0]
        others = len(self.failures) - 1
        more = f" (and {others} more failed check{'s' if others > 1 else ''})" if others else ""
        return CheckFailed(f"release check failed: {first.detail}{more}", first.hint)


def check_release(
    cfg: Config, *, env: str | None = None, root: Path | None = None, fetch_tag: bool = False
) -> ReleaseReport:
    """Run every release check on the repo at ``root`` (default: the project root).

    ``fetch_tag`` first re-fetches HEAD's tags from ``origin``: actions/checkout
    replaces an annotated tag with a lightweight one (actions/checkout#290).
    """
    settings = section(cfg, ReleaseSettings)
    git = Git(root or cfg.root)
    commit = git.head()
    if fetch_tag:
        git.refetch_tags_at_head(settings.tag_pattern)
    report = ReleaseReport(root=str(git.root), commit=commit)

    tag_check, tag = _check_tag(git, settings.tag_pattern)
    report.tag = tag
    report.checks.append(tag_check)
    trusted_keys = cfg.path(settings.trusted_keys) if settings.trusted_keys else None
    report.checks.append(_check_signature(git, tag, signed_required(git, settings), trusted_keys))
    report.checks.append(_check_clean(git))
    report.checks.append(_check_drift(cfg, env))
    return report


def signed_required(git: Git, settings: ReleaseSettings) -> bool:
    """Signed tags are required by config or by the repo's own ``tag.gpgSign``."""
    if settings.require_signed_tags:
        return True
    return git.run("config", "--bool", "--get", "tag.gpgSign", check=False).stdout.strip() == "true"


def render(out: Output, report: ReleaseReport) -> None:
    for check in report.checks:
        mark = "skip" if check.skipped else ("ok" if check.ok else "FAIL")
        out.line(f"{mark:>4}  {check.name}: {check.detail}")
    if report.ok:
        out.line(f"release {report.tag} ({report.commit[:12]}) is ready")
    else:
        out.line(f"not releasable: {len(report.failures)} failed check(s)")


class Git:
    """Just enough git, run in ``root``; failures become one-line errors."""

    def __init__(self, root: Path) -> None:
        if shutil.which("git") is None:
            raise BinaryNotFound("git is not installed", "install git (apt-get install git)")
        self.root = Path(root)
        inside = self.run("rev-parse", "--is-inside-work-tree", check=False)
        if inside.returncode != 0 or inside.stdout.strip() != "true":
            raise ConfigError(f"{self.root} is not a git work tree", "run release.check inside the repository")

    def run(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["git", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **env} if env else None,
        )
        if check and proc.returncode != 0:
            reason = (proc.stderr.strip().splitlines() or ["failed"])[-1]
            raise ConfigError(f"git {args[0]} failed: {reason}", "check the repository state")
        return proc

    def head(self) -> str:
        proc = self.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
        if proc.returncode != 0:
            raise ConfigError("the repository has no commits", "commit and tag a release first")
        return proc.stdout.strip()

    def tags_at_head(self, pattern: str) -> list[str]:
        return self.run("tag", "--points-at", "HEAD", "--list", pattern).stdout.split()

    def is_annotated(self, tag: str) -> bool:
        return self.run("cat-file", "-t", f"refs/tags/{tag}").stdout.strip() == "tag"

    def refetch_tags_at_head(self, pattern: str) -> None:
        for tag in self.tags_at_head(pattern):
            proc = self.run("fetch", "--no-tags", "--force", "origin", f"refs/tags/{tag}:refs/tags/{tag}", check=False)
            if proc.returncode != 0:
                reason = (proc.stderr.strip().splitlines() or ["failed"])[-1]
                raise ExternalError(f"cannot fetch tag {tag} from origin: {reason}", "check the remote and its access")


def _check_tag(git: Git, pattern: str) -> tuple[ReleaseCheck, str | None]:
    tags = git.tags_at_head(pattern)
    if not tags:
        return ReleaseCheck(
            "tag",
            False,
            f"HEAD is not tagged with a {pattern} tag",
            "tag the release with an annotated tag: git tag -a v1.2.3 -m v1.2.3",
        ), None
    annotated = [tag for tag in tags if git.is_annotated(tag)]
    if not annotated:
        tag = tags[-1]
        return ReleaseCheck(
            "tag",
            False,
            f"{tag} is a lightweight tag",
            f"replace it with an annotated tag: git tag -d {tag} && git tag -a {tag} -m '{tag}'",
        ), None
    # Several release tags on one commit: the highest version is the release.
    tag = sorted(annotated, key=_version_key)[-1]
    return ReleaseCheck("tag", True, f"HEAD is on annotated tag {tag}"), tag


def _check_signature(git: Git, tag: str | None, required: bool, trusted_keys: Path | None) -> ReleaseCheck:
    if not required:
        return ReleaseCheck("signature", True, "signed tags not required", skipped=True)
    if tag is None:
        return ReleaseCheck("signature", False, "signed tags are required but HEAD has no annotated tag", None)
    if trusted_keys is None:
        proc = git.run("tag", "-v", tag, check=False)
    else:
        with trusted_keyring(trusted_keys) as gnupg_home:
            proc = git.run("tag", "-v", tag, check=False, env={"GNUPGHOME": gnupg_home})
    if proc.returncode == 0:
        return ReleaseCheck("signature", True, f"signature of {tag} verifies")
    lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
    reason = "it is not signed" if any("no signature found" in line for line in lines) else (lines or ["failed"])[-1]
    return ReleaseCheck(
        "signature",
        False,
        f"signature of {tag} does not verify: {reason}",
        f"sign the tag with a trusted key: git tag -s -f {tag} -m '{tag}'",
    )


@contextmanager
def trusted_keyring(keys_file: Path) -> Iterator[str]:
    """A throwaway GnuPG home holding only the keys in ``keys_file``."""
    if not keys_file.is_file():
        raise ConfigError(f"trusted_keys file {keys_file} does not exist", "fix [tool.ops.release] trusted_keys")
    if shutil.which("gpg") is None:
        raise BinaryNotFound("gpg is not installed", "install gnupg (apt-get install gnupg)")
    with tempfile.TemporaryDirectory(prefix="ops-release-gnupg-") as home:
        os.chmod(home, 0o700)
        proc = subprocess.run(
            ["gpg", "--batch", "--quiet", "--import", str(keys_file)],
            env={**os.environ, "GNUPGHOME": home},
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            reason = (proc.stderr.strip().splitlines() or ["failed"])[-1]
            raise ConfigError(
                f"cannot import trusted_keys {keys_file}: {reason}", "export it with gpg --armor --export"
            )
        yield home


def _check_clean(git: Git) -> ReleaseCheck:
    changes = git.run("status", "--porcelain", "--untracked-files=normal").stdout.splitlines()
    if not changes:
        return ReleaseCheck("clean", True, "working tree is clean")
    shown = ", ".join(line[3:] for line in changes[:3]) + (" ..." if len(changes) > 3 else "")
    return ReleaseCheck(
        "clean",
        False,
        f"working tree has {len(changes)} uncommitted change(s): {shown}",
        "commit or stash the changes, then tag again",
    )


def _check_drift(cfg: Config, env: str | None) -> ReleaseCheck:
    if env is None:
        return ReleaseCheck("drift", True, "no --env given: database drift not checked", skipped=True)
    from ops.targets import db_url

    drifted, missing = migration_drift(cfg, db_url(cfg, env), env)
    if drifted or missing:
        parts = []
        if drifted:
            parts.append(f"edited after being applied: {', '.join(drifted)}")
        if missing:
            parts.append(f"applied without a local file: {', '.join(missing)}")
        return ReleaseCheck(
            "drift",
            False,
            f"{env} database has migration drift ({'; '.join(parts)})",
            f"inspect with: inv db.status --env {env}",
        )
    return ReleaseCheck("drift", True, f"{env} database history matches supabase/migrations")


def migration_drift(cfg: Config, url: str, env: str = "") -> tuple[list[str], list[str]]:
    """(versions edited after being applied, versions applied with no local file), as db.status shows them."""
    from ops.migrations.status import target_status

    status = target_status(cfg, url, env)
    drifted = [version.version for version in status.versions if version.applied and version.drift]
    missing = [version.version for version in status.versions if version.applied and version.file is None]
    return drifted, missing


def _version_key(tag: str) -> tuple[Any, ...]:
    parts = tag.lstrip("vV").replace("-", ".").split(".")
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in parts)
