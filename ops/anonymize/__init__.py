"""Anonymized staging: ``refresh`` copies production into staging with every
personal value masked; ``check`` lints the masking rules against the
migrated schema. Both are what ``inv db.refresh`` / ``inv db.anonymize
--check`` call.

Modules: ``settings`` (``[tool.ops.anonymize]``), ``rules`` (built-in rules
for Supabase's schemas), ``catalog``, ``plan``, ``fakes`` (deterministic fake
values), ``mask`` (set-based masking), ``verify``, ``load`` (into the target,
one transaction), ``personal`` (what looks personal), ``check``, ``refresh``,
``render``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ops.anonymize.check import CheckReport
    from ops.config import Config


def refresh(cfg: Config, **kwargs: Any) -> dict[str, Any]:
    """See ``ops.anonymize.refresh.refresh``."""
    from ops.anonymize.refresh import refresh as run

    return run(cfg, **kwargs)


def check(cfg: Config, db: str = "migrations", **kwargs: Any) -> CheckReport:
    """See ``ops.anonymize.check.check``."""
    from ops.anonymize.check import check as run

    return run(cfg, db, **kwargs)


__all__ = ["check", "refresh"]
