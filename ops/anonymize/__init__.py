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

# Imported here, not lazily inside wrappers: ``check`` and ``refresh`` are also the names of
# submodules, and importing a submodule rebinds the package attribute of that name to the
# module, so a lazy wrapper worked once per process and then was "'module' object is not
# callable" (a second call from Python, or a second task run in-process).
from ops.anonymize.check import CheckReport, check
from ops.anonymize.refresh import refresh

__all__ = ["CheckReport", "check", "refresh"]
