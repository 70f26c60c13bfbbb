"""Production guards (DESIGN.md §3). Each refuses before anything is touched."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from ops.config import Config
from ops.errors import GuardRefused
from ops.targets import configured_url, same_base_url, same_database

POOLER_PORT = 6543


def refuse_production(
    cfg: Config, env: str, action: str, *, base_url: str | None = None, db_url: str | None = None
) -> None:
    """Refuse ``action`` against production, by name or by a URL equal to production's."""
    if env == "production":
        raise GuardRefused(f"{action} never targets production", "use --env staging or --env local")
    if base_url:
        production = configured_url(cfg, "production", "base")
        if production and same_base_url(base_url, production):
            raise GuardRefused(
                f"{action} refused: the target URL is production's base URL",
                "point it at staging or local",
            )
    if db_url:
        production = configured_url(cfg, "production", "db")
        if production and same_database(db_url, production):
            raise GuardRefused(
                f"{action} refused: the target database is production's",
                "point it at a staging or local database",
            )


def ci_on_release_tag() -> bool:
    """True in CI on a ``v*`` tag (GitHub Actions' variables)."""
    if os.environ.get("CI", "").lower() not in {"1", "true", "yes"}:
        return False
    ref = os.environ.get("GITHUB_REF", "")
    if ref.startswith("refs/tags/v"):
        return True
    return os.environ.get("GITHUB_REF_TYPE") == "tag" and os.environ.get("GITHUB_REF_NAME", "").startswith("v")


def require_production_confirmation(env: str, yes: bool, action: str) -> None:
    """Writes to production need ``--yes``, or CI running on a ``v*`` tag."""
    if env == "production" and not (yes or ci_on_release_tag()):
        raise GuardRefused(
            f"{action} on production needs explicit confirmation",
            "pass --yes, or run it from CI on a v* tag",
        )


def refuse_transaction_pooler(url: str) -> None:
    """Session advisory locks don't survive Supavisor's transaction mode (port 6543)."""
    try:
        port = urlsplit(url).port
    except ValueError:
        port = None
    if port == POOLER_PORT:
        raise GuardRefused(
            "the database URL points at the transaction pooler (port 6543), where session locks don't hold",
            "use the direct connection or the session pooler (port 5432)",
        )
