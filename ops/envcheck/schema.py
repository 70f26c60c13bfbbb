"""The env schema: the single source of truth for a project's variables.

It is the Python counterpart of the seeds' Zod ``src/config/env.ts``. The
shipped variables are opt-in presets (``ops.envcheck.presets``); a project
picks presets, adds or overrides variables in ``[tool.ops.env.variables.NAME]``
and drops shipped ones with ``[tool.ops.env] exclude``
(``ops.envcheck.settings.load_schema`` puts it together).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ops.envcheck.variable import Variable

LOCAL, STAGING, PRODUCTION = "local", "staging", "production"
# Nothing shipped is required in local: the dev stack (inv dev.up) runs without Supabase or Stripe
# keys, so a fresh clone passes env.check with no .env.local at all. Values set locally are still
# checked (type, live Stripe keys, exposure). A project whose local app needs a key re-declares it
# with required_in = ["local", "staging", "production"] in [tool.ops.env.variables].
HOSTED = frozenset({STAGING, PRODUCTION})
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Schema:
    variables: dict[str, Variable]
    public_prefixes: tuple[str, ...]

    def public_prefix(self, key: str) -> str | None:
        """The client-exposed prefix ``key`` starts with, if any."""
        return next((prefix for prefix in self.public_prefixes if key.startswith(prefix)), None)
