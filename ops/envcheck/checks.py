"""The checks: each takes parsed input and the schema and returns findings.

``file_findings`` judges one file's syntax, ``exposure_findings`` one variable's
name and value against the client-exposed prefixes, ``environment_findings``
the merged values an environment ends up with.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from ops.envcheck.dotenv import EnvFile
from ops.envcheck.findings import WARNING, Finding, shown_key
from ops.envcheck.kinds import is_live_stripe_key, problem, secret_shape
from ops.envcheck.schema import PRODUCTION, Schema

# Name parts that mark a secret even when the schema does not know the variable.
_SECRET_NAME = re.compile(r"SECRET|SERVICE_ROLE|PRIVATE_KEY|PASSWORD|DB_URL|DATABASE_URL")


class Setting(NamedTuple):
    """Where an environment's value for one key comes from."""

    value: str
    where: str
    line: int | None
    from_file: bool


def file_findings(env_file: EnvFile) -> list[Finding]:
    """Duplicate keys, malformed lines and Node/Python disagreements in one file."""
    where = env_file.display
    findings = [
        Finding("ENV020", f"{shown_key(key)} is set twice (first on line {first}); the last one wins", where, line, key)
        for key, line, first in env_file.duplicates
    ]
    findings += [Finding("ENV021", f"malformed line: {expected}", where, line) for line, expected in env_file.malformed]
    findings += [
        Finding(
            "ENV022",
            f"{shown_key(key)} is read differently by Node's dotenv and python-dotenv ({why}); quote the value",
            where,
            line,
            key,
        )
        for key, line, why in env_file.divergent
    ]
    return findings


def exposure_findings(key: str, value: str, where: str, line: int | None, schema: Schema) -> list[Finding]:
    """A secret under a client-exposed prefix, judged by its name and by its value."""
    prefix = schema.public_prefix(key)
    if prefix is None:
        return []
    findings: list[Finding] = []
    bare = key.removeprefix(prefix)
    declared = schema.variables.get(bare)
    if declared is not None and declared.secret:
        reason = f"{bare} is a secret in the schema"
    else:
        name_match = _SECRET_NAME.search(bare)
        reason = f"the name contains {name_match.group(0)}" if name_match else ""
    if reason:
        message = f"{shown_key(key)} names a secret ({reason}) but {prefix} ships it to the browser"
        findings.append(Finding("ENV004", message, where, line, key))
    shape = secret_shape(value) if value else None
    if shape:
        message = f"{shown_key(key)} holds {shape} but {prefix} ships it to the browser"
        findings.append(Finding("ENV005", message, where, line, key))
    return findings


def environment_findings(
    environment: str, settings: dict[str, Setting], schema: Schema, where_to_set: str
) -> list[Finding]:
    """Missing and malformed variables, live keys outside production, unknown keys.

    ``where_to_set`` ends a missing variable's message: what to do about it (e.g. "add it to .env.local").
    """
    findings: list[Finding] = []
    for name, variable in schema.variables.items():
        setting = settings.get(name)
        if not setting or not setting.value:
            satisfied = any(settings.get(other) and settings[other].value for other in variable.alternatives)
            if environment in variable.required_in and not satisfied:
                state = "empty" if setting else "not set"
                either = f" (or {' or '.join(variable.alternatives)})" if variable.alternatives else ""
                message = f"{name}{either} is required in {environment} but {state} ({where_to_set})"
                findings.append(Finding("ENV001", message, setting.where if setting else environment, None, name))
            continue
        expected = problem(variable.kind, setting.value, variable.choices)
        if expected:
            message = f"{name} is not valid: expected {expected}"
            findings.append(Finding("ENV002", message, setting.where, setting.line, name))
    for key, setting in settings.items():
        if environment != PRODUCTION and is_live_stripe_key(setting.value):
            message = f"{shown_key(key)} holds a live Stripe key outside production; {environment} uses test keys"
            findings.append(Finding("ENV003", message, setting.where, setting.line, key))
        if setting.from_file and key not in schema.variables:
            message = f"{shown_key(key)} is not in the schema (declare it in [tool.ops.env.variables] or remove it)"
            findings.append(Finding("ENV030", message, setting.where, setting.line, key, severity=WARNING))
    return findings
