"""``[tool.ops.env]``: presets, the example file, exclusions and the project's own variables.

The section's contract is the pydantic model ``EnvSection``
(``ops.envcheck.declaration``): unknown keys refused with a "did you mean",
every error one line naming the key. env.check also runs as a commit hook,
where importing pydantic would cost more than the whole check, so a table
written plainly (the right types, known names, nothing to coerce) is read
here directly; anything else goes through the model, which reports the error
or coerces exactly as it always does. The tests hold the two to the same
answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from ops.envcheck.kinds import KINDS
from ops.envcheck.presets import PRESETS, database_url_variables
from ops.envcheck.schema import VARIABLE_NAME, Schema, Variable
from ops.errors import ConfigError

if TYPE_CHECKING:
    from ops.config import Config

SECTION = "env"
ENVIRONMENT_NAMES = ("local", "staging", "production")
_SECTION_KEYS = frozenset({"example_file", "presets", "exclude", "variables"})
_DECLARATION_KEYS = frozenset({"kind", "description", "secret", "required_in", "choices", "example", "alternatives"})


class EnvSettings(NamedTuple):
    example_file: str
    presets: tuple[str, ...]
    exclude: tuple[str, ...]
    variables: dict[str, Variable]


def env_settings(cfg: Config) -> EnvSettings:
    """``[tool.ops.env]`` validated once per ``cfg``; a bad table is a one-line ``ConfigError``."""
    key = ("envcheck", SECTION)
    if key not in cfg.cache:
        table = cfg.raw.get(SECTION, {})
        settings = plain_settings(table)
        if settings is None:
            settings = _validated_settings(cfg)
        cfg.cache[key] = settings
    return cfg.cache[key]  # type: ignore[no-any-return]


def plain_settings(table: Any) -> EnvSettings | None:
    """The settings of a plainly written table, or None when only the model can judge it."""
    if not isinstance(table, dict) or not _SECTION_KEYS.issuperset(table):
        return None
    example_file = table.get("example_file", ".env.example")
    presets = table.get("presets", [])
    exclude = table.get("exclude", [])
    declared = table.get("variables", {})
    if not (isinstance(example_file, str) and example_file):
        return None
    if not (_strings(presets) and all(name in PRESETS for name in presets) and _strings(exclude)):
        return None
    if not isinstance(declared, dict):
        return None
    variables: dict[str, Variable] = {}
    for name, declaration in declared.items():
        variable = _plain_variable(name, declaration)
        if variable is None:
            return None
        variables[name] = variable
    return EnvSettings(example_file, tuple(presets), tuple(exclude), variables)


def _validated_settings(cfg: Config) -> EnvSettings:
    from ops.envcheck.declaration import EnvSection
    from ops.settings import section

    model = section(cfg, EnvSection)
    return EnvSettings(
        example_file=model.example_file,
        presets=tuple(model.presets),
        exclude=tuple(model.exclude),
        variables={name: declaration.to_variable(name) for name, declaration in model.variables.items()},
    )


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _plain_variable(name: Any, table: Any) -> Variable | None:
    if not (isinstance(name, str) and VARIABLE_NAME.match(name)):
        return None
    if not isinstance(table, dict) or not _DECLARATION_KEYS.issuperset(table):
        return None
    kind, description = table.get("kind"), table.get("description")
    secret, example = table.get("secret", False), table.get("example", "")
    required_in, choices = table.get("required_in", []), table.get("choices", [])
    alternatives = table.get("alternatives", [])
    if not (isinstance(kind, str) and kind in KINDS and isinstance(description, str) and description):
        return None
    if not (isinstance(secret, bool) and isinstance(example, str)):
        return None
    if not (_strings(required_in) and all(env in ENVIRONMENT_NAMES for env in required_in)):
        return None
    if not (_strings(choices) and _strings(alternatives)):
        return None
    if (kind == "enum" and not choices) or (secret and example):
        return None
    return Variable(
        name, kind, description, secret, frozenset(required_in), tuple(choices), example, tuple(alternatives)
    )


def load_schema(cfg: Config) -> Schema:
    """The schema of ``cfg``'s project: the database URL variables its environments name, its
    presets (in order), minus ``exclude``, plus or overridden by its own declarations."""
    settings = env_settings(cfg)
    db_url_envs = {name: cfg.env(name).db_url_env for name in ("staging", "production")}
    shipped = [*database_url_variables(db_url_envs)]
    for preset in settings.presets:
        shipped.extend(PRESETS[preset])
    variables = {variable.name: variable for variable in shipped if variable.name not in settings.exclude}
    variables.update(settings.variables)
    schema = Schema(variables=variables, public_prefixes=cfg.public_prefixes)
    for variable in schema.variables.values():
        prefix = schema.public_prefix(variable.name)
        if variable.secret and prefix:
            raise ConfigError(
                f"{variable.name} is declared secret but {prefix} exposes it to the browser",
                f"rename it without {prefix} or declare it secret = false in [tool.ops.env.variables]",
            )
    return schema
