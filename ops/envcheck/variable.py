"""One declared environment variable: the record the schema and the declarations share."""

from __future__ import annotations

from typing import NamedTuple


class Variable(NamedTuple):  # a NamedTuple: cheaper to define than a dataclass at start-up
    name: str
    kind: str
    description: str
    secret: bool = False
    required_in: frozenset[str] = frozenset()
    choices: tuple[str, ...] = ()
    example: str = ""  # written to .env.example; never set for secrets
    # Names that satisfy the requirement instead (the legacy Supabase key names, for example).
    alternatives: tuple[str, ...] = ()
