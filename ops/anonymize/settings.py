"""``[tool.ops.anonymize]``: masking rules and where the refresh works.

Rules are keys of the form ``schema.table.column`` directly in the table::

    [tool.ops.anonymize]
    test_password_env = "STAGING_TEST_PASSWORD"
    "public.profiles.email" = "email"
    "public.profiles.full_name" = "name"
    "public.profiles.settings" = "json:{phone: phone, nickname: first_name}"
    "public.profiles.plan" = "keep"

A dotted key can never clash with a setting's name, so both share the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, field_validator, model_validator

from ops.config import Config
from ops.settings import PgDuration, Section, did_you_mean, section

# Strategies that replace a value through the per-refresh mapping (same input, same output).
MAPPED = ("email", "phone", "name", "first_name", "last_name", "address", "ip", "text")
# Everything a rule may say; "password" (the test password, bcrypt) is what the
# built-in rule for auth.users.encrypted_password uses.
KINDS = (*MAPPED, "json", "null", "fixed", "keep", "password")


@dataclass(frozen=True)
class Strategy:
    """One rule's strategy: ``kind``, the value of ``fixed:<value>``, the keys of ``json:{...}``."""

    kind: str
    value: str | None = None
    keys: tuple[tuple[str, Strategy], ...] = field(default=())

    def __str__(self) -> str:
        if self.kind == "fixed":
            return f"fixed:{self.value}"
        if self.kind == "json":
            return "json:{" + ", ".join(f"{key}: {inner}" for key, inner in self.keys) + "}"
        return self.kind


_JSON_FORM = re.compile(r"^json:\s*\{(?P<body>.*)\}\s*$", re.DOTALL)


def parse_strategy(raw: Any, *, inside_json: bool = False) -> Strategy:
    """``"email"``, ``"fixed:free"``, ``"json:{a: email, b: null}"`` or a TOML
    table ``{a = "email"}`` (a json rule) -> ``Strategy``; ValueError names the problem."""
    if isinstance(raw, dict):
        if inside_json:
            raise ValueError("a json rule cannot nest another json rule")
        return Strategy("json", keys=tuple((str(k), parse_strategy(v, inside_json=True)) for k, v in raw.items()))
    if not isinstance(raw, str):
        raise ValueError('must be a strategy string such as "email" or a table of json keys')
    text = raw.strip()
    if text.startswith("fixed:"):
        return Strategy("fixed", value=text.removeprefix("fixed:"))
    if (match := _JSON_FORM.match(text)) is not None:
        if inside_json:
            raise ValueError("a json rule cannot nest another json rule")
        keys: list[tuple[str, Strategy]] = []
        for part in filter(None, (p.strip() for p in match["body"].split(","))):
            key, colon, inner = part.partition(":")
            if not colon or not key.strip():
                raise ValueError(f"json key '{part}' must read 'key: strategy'")
            keys.append((key.strip().strip("\"'"), parse_strategy(inner.strip().strip("\"'"), inside_json=True)))
        if not keys:
            raise ValueError("json:{...} names no keys")
        return Strategy("json", keys=tuple(keys))
    allowed = [k for k in KINDS if k != "json"] if inside_json else list(KINDS)
    if text not in allowed or text == "fixed":
        suggestion = did_you_mean(text, allowed)
        hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
        raise ValueError(f"unknown strategy '{text}'{hint}; use one of {', '.join(allowed)}, fixed:<value>")
    return Strategy(text)


def split_key(key: str) -> tuple[str, str, str]:
    """``"public.profiles.email"`` -> ``("public", "profiles", "email")``."""
    parts = key.split(".")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"rule key '{key}' must name schema.table.column")
    return parts[0], parts[1], parts[2]


class AnonymizeSettings(Section):
    section_name = "anonymize"

    # Where the password every staging user signs in with comes from: this
    # variable (CI secret), else ``test_password``.
    test_password_env: str = "STAGING_TEST_PASSWORD"
    test_password: str | None = None
    # A variable holding a server URL to restore the scratch copy on; unset:
    # the local dev stack's cluster.
    scratch_db_url_env: str | None = None
    # The built-in rules for Supabase's own schemas (auth, storage, vault).
    builtin_rules: bool = True
    # Tables whose rows never reach staging: emptied there ("schema.table").
    empty_tables: list[str] = Field(default_factory=list)
    # Tables never touched: staging keeps its own rows ("schema.table").
    skip_tables: list[str] = Field(default_factory=list)
    # Schemas never touched, on top of the platform ones (extensions, vault...).
    skip_schemas: list[str] = Field(default_factory=list)
    # How long the load waits for its locks on the target's tables (a session
    # of the staging app holding one) before it gives up, changing nothing.
    lock_timeout: PgDuration = "30s"
    rules: dict[str, Strategy] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _rules_from_dotted_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        rules = {key: value for key, value in data.items() if "." in key}
        if not rules:
            return data
        settings = {key: value for key, value in data.items() if "." not in key}
        return {**settings, "rules": {**(settings.get("rules") or {}), **rules}}

    @field_validator("rules", mode="before")
    @classmethod
    def _parse_rules(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError('rules must be a table of "schema.table.column" = strategy')
        parsed: dict[str, Strategy] = {}
        for key, raw in value.items():
            split_key(key)
            try:
                parsed[key] = parse_strategy(raw)
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
        return parsed

    @field_validator("empty_tables", "skip_tables")
    @classmethod
    def _qualified_tables(cls, value: list[str]) -> list[str]:
        for name in value:
            if len(name.split(".")) != 2 or not all(name.split(".")):
                raise ValueError(f"'{name}' must name schema.table")
        return value


def anonymize_settings(cfg: Config) -> AnonymizeSettings:
    return section(cfg, AnonymizeSettings)
