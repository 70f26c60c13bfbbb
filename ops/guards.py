"""Production guards. Each refuses before anything is touched.

Every guarded task calls ``refuse_production_target`` (or, for the tasks that
may write to production with confirmation, ``refuse_mislabelled_production``
and ``require_production_confirmation``). Targets are compared by what they
reach (``ops.targets``), never by their text.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
from pathlib import Path

from ops.config import Config
from ops.errors import ConfigError, GuardRefused
from ops.targets import configured_url, database_target, same_base_url, transaction_pooler_port

POOLER_PORT = 6543
DEFAULT_TAG_PATTERN = "v*"


def production_match(
    cfg: Config, *, db_url: str | None = None, base_url: str | None = None, whole_server: bool = False
) -> str | None:
    """What about the given target reaches production ("database", "server", "base URL"), or None.

    ``whole_server``: any database on production's server counts (a drill creates databases there).
    """
    if base_url:
        production = configured_url(cfg, "production", "base")
        if production and same_base_url(base_url, production):
            return "base URL"
    if db_url:
        production = configured_url(cfg, "production", "db")
        if production:
            variable = cfg.env("production").db_url_env
            target = database_target(db_url, "the target database URL")
            reference = database_target(production, f"production's database URL ({variable or 'db_url'})")
            if target.same_database(reference):
                return "database"
            if whole_server and target.same_server(reference):
                return "server"
    return None


def refuse_production_target(
    cfg: Config,
    env: str,
    action: str,
    *,
    db_url: str | None = None,
    base_url: str | None = None,
    whole_server: bool = False,
) -> None:
    """Refuse ``action`` against production: by name, or by a URL that reaches production's
    database (or, with ``whole_server``, its server) or its base URL."""
    if env == "production":
        raise GuardRefused(f"{action} never targets production", "use --env staging or --env local")
    _refuse_match(cfg, env, action, db_url=db_url, base_url=base_url, whole_server=whole_server)


def refuse_mislabelled_production(cfg: Config, env: str, action: str, *, db_url: str) -> None:
    """For tasks that may write to production once confirmed (db.migrate, db.repair): a
    non-production environment whose URL reaches production is refused, so the confirmation
    that production needs cannot be skipped by naming it staging."""
    if env != "production":
        _refuse_match(cfg, env, action, db_url=db_url)


def _refuse_match(
    cfg: Config, env: str, action: str, *, db_url: str | None, base_url: str | None = None, whole_server: bool = False
) -> None:
    match = production_match(cfg, db_url=db_url, base_url=base_url, whole_server=whole_server)
    if match == "base URL":
        raise GuardRefused(
            f"{action} refused: the target URL of '{env}' reaches production's base URL",
            "point it at staging or local",
        )
    if match == "database":
        raise GuardRefused(
            f"{action} refused: the database URL of '{env}' reaches production's database",
            "point it at a staging or local database",
        )
    if match == "server":
        raise GuardRefused(
            f"{action} refused: the database URL of '{env}' is on production's server",
            "point it at a staging or local server",
        )


def refuse_production(
    cfg: Config, env: str, action: str, *, base_url: str | None = None, db_url: str | None = None
) -> None:
    """Former name of ``refuse_production_target``."""
    refuse_production_target(cfg, env, action, db_url=db_url, base_url=base_url)


def tag_pattern(cfg: Config | None) -> str:
    """The release tag pattern: ``[tool.ops.release] tag_pattern`` (default ``v*``)."""
    if cfg is None:
        return DEFAULT_TAG_PATTERN
    release = cfg.raw.get("release", {})
    pattern = release.get("tag_pattern", DEFAULT_TAG_PATTERN) if isinstance(release, dict) else None
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError("[tool.ops.release] tag_pattern: must be a non-empty glob", 'e.g. tag_pattern = "v*"')
    return pattern


def release_tag_at_head(root: Path, pattern: str) -> str | None:
    """An annotated tag matching ``pattern`` that points at HEAD of the repo at ``root``, asked of git.

    Lightweight tags do not count (anyone can move one without a trace, and CI checkouts
    create them); neither do environment variables, which any job can set.
    """
    try:
        proc = subprocess.run(
            ["git", "for-each-ref", "--points-at", "HEAD", "--format=%(objecttype) %(refname:strip=2)", "refs/tags/"],
            cwd=root,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    for line in proc.stdout.splitlines():
        kind, _, name = line.partition(" ")
        if kind == "tag" and fnmatch.fnmatchcase(name, pattern):
            return name
    return None


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def ci_on_release_tag(cfg: Config | None = None) -> bool:
    """True in CI when HEAD carries an annotated release tag (checked with git, not env vars)."""
    if not _in_ci():
        return False
    root = cfg.root if cfg is not None else Path.cwd()
    return release_tag_at_head(root, tag_pattern(cfg)) is not None


def require_production_confirmation(env: str, yes: bool, action: str, *, cfg: Config | None = None) -> None:
    """Writes to production need ``--yes``, or CI on an annotated release tag at HEAD."""
    if env == "production" and not (yes or ci_on_release_tag(cfg)):
        pattern = tag_pattern(cfg)
        raise GuardRefused(
            f"{action} on production needs explicit confirmation",
            f"pass --yes, or run it from CI on an annotated {pattern} tag at HEAD",
        )


def refuse_transaction_pooler(url: str) -> None:
    """Session advisory locks don't survive Supavisor's transaction mode (port 6543), in a URL
    or in a keyword DSN."""
    if transaction_pooler_port(url, POOLER_PORT):
        raise GuardRefused(
            "the database URL points at the transaction pooler (port 6543), where session locks don't hold",
            "use the direct connection or the session pooler (port 5432)",
        )
