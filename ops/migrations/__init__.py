"""The migration runner: Supabase-CLI-compatible history, safer application.

``migrate`` and ``seed`` are the public API (``ops.migrations.files.load_migrations``
reads the files). The ``commands`` module adds the environment-level commands
behind ``inv db.*``; everything imports lazily so ``import ops.migrations`` is cheap.
"""

from __future__ import annotations

from typing import Any


def migrate(cfg: Any, db_url: str, **kwargs: Any) -> Any:
    """Apply pending migrations; see ``ops.migrations.runner.migrate``."""
    from ops.migrations.runner import migrate as run

    return run(cfg, db_url, **kwargs)


def seed(cfg: Any, db_url: str, **kwargs: Any) -> Any:
    """Apply new and changed seed files; see ``ops.migrations.seed.seed``."""
    from ops.migrations.seed import seed as run

    return run(cfg, db_url, **kwargs)


__all__ = ["migrate", "seed"]
