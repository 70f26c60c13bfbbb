"""Typed settings: the base every ``[tool.ops.<section>]`` model derives from.

Each domain owns one model for its section (``ops/<domain>/settings.py``) and
loads it with ``section(cfg, Model)``: validated once per ``Config``, unknown
keys refused with a "did you mean", and every error reported as one line that
names the key path (``[tool.ops.migrations] lock_retries: must be >= 0``).

pydantic is imported here, never by ``ops.config``, so code paths that read no
section (the env.check hook) do not pay for it.
"""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictStr, ValidationError

from ops.errors import ConfigError

__all__ = [
    "CoreSettings",
    "Duration",
    "NonNegativeInt",
    "PgDuration",
    "Port",
    "PositiveFloat",
    "Section",
    "did_you_mean",
    "parse_duration",
    "section",
]

# One spelling for every duration setting, the one PostgreSQL and k6 take ("5s", "500ms",
# "2min"): a value in any other form ("5 sec", "5 seconds") is more likely a slip than a plan.
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(?P<n>\d+(?:\.\d+)?)(?P<unit>ms|s|min|m|h|d)?\s*$")


def parse_duration(value: Any) -> float:
    """Seconds from ``5``, ``2.5``, ``"500ms"``, ``"5s"``, ``"2min"``, ``"1h"``."""
    if isinstance(value, bool):
        raise ValueError('must be a duration such as 5, "500ms", "5s" or "2min"')
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match["n"]) * _UNITS[match["unit"] or "s"]
    else:
        raise ValueError('must be a duration such as 5, "500ms", "5s" or "2min"')
    if seconds < 0:
        raise ValueError("must not be negative")
    return seconds


def _pg_duration(value: Any) -> str:
    """A duration as PostgreSQL's GUCs take it (``lock_timeout = '5s'``), normalised to milliseconds."""
    seconds = parse_duration(value)
    return f"{round(seconds * 1000)}ms"


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds; accepts a number or a string with a unit."""
PgDuration = Annotated[str, BeforeValidator(_pg_duration)]
"""A duration rendered for a PostgreSQL setting (``"5000ms"``)."""
Port = Annotated[int, Field(ge=0, le=65535, strict=True)]
"""A TCP port; 0 picks a free one."""
NonNegativeInt = Annotated[int, Field(ge=0, strict=True)]
PositiveFloat = Annotated[float, Field(gt=0)]


class Section(BaseModel):
    """Base of every section model: unknown keys refused, input never echoed."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True, validate_default=True)

    # The TOML table this model reads: "dev" for [tool.ops.dev].
    section_name: ClassVar[str] = ""


S = TypeVar("S", bound=Section)


class Settings(Protocol):
    """What ``section`` needs of a ``ops.config.Config`` (this module sits beside config, not above it)."""

    @property
    def raw(self) -> dict[str, Any]: ...

    @property
    def cache(self) -> dict[Any, Any]: ...

    @property
    def source_name(self) -> str: ...


def did_you_mean(word: str, choices: list[str] | tuple[str, ...] | set[str]) -> str | None:
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def section(cfg: Settings, model: type[S], name: str | None = None) -> S:
    """``[tool.ops.<name>]`` validated by ``model``, once per ``cfg``."""
    name = name or model.section_name
    if not name:
        raise TypeError(f"{model.__name__} has no section_name")
    cache = cfg.cache
    key = ("section", name, model)
    if key in cache:
        return cache[key]  # type: ignore[no-any-return]
    table = cfg.raw.get(name, {}) if "." not in name else _dotted(cfg.raw, name)
    if not isinstance(table, dict):
        raise ConfigError(f"[tool.ops.{name}] must be a table", f"fix [tool.ops.{name}] in {cfg.source_name}")
    try:
        value = model.model_validate(table)
    except ValidationError as exc:
        raise config_error(exc, name, model, cfg.source_name) from None
    cache[key] = value
    return value


def _dotted(raw: dict[str, Any], name: str) -> Any:
    node: Any = raw
    for part in name.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else None
    return node


def config_error(
    exc: ValidationError, name: str, model: type[BaseModel], source: str = "pyproject.toml"
) -> ConfigError:
    """The first validation error as one line naming the key path."""
    error = exc.errors(include_url=False, include_input=False)[0]
    location = [str(part) for part in error["loc"]]
    key = ".".join(location) or "(table)"
    table = f"[tool.ops.{name}]" if name else "[tool.ops]"
    if error["type"] == "extra_forbidden":
        parent = _model_at(model, location[:-1])
        known = list(parent.model_fields) if parent is not None else []
        suggestion = did_you_mean(location[-1], known)
        hint = f"did you mean '{suggestion}'?" if suggestion else f"known keys: {', '.join(known) or 'none'}"
        return ConfigError(f"{table} unknown key '{key}'", f"{hint} (in {source})")
    message = str(error["msg"]).removeprefix("Value error, ")
    return ConfigError(f"{table} {key}: {message}", f"fix {key} in {table} of {source}")


def _model_at(model: type[BaseModel], path: list[str]) -> type[BaseModel] | None:
    """The nested model that a key path points into (``dict[str, Model]`` keys skipped,
    ``Model | None`` unwrapped)."""
    current: type[BaseModel] | None = model
    skip_key = False
    for part in path:
        if skip_key:
            skip_key = False
            continue
        if current is None or part not in current.model_fields:
            return None
        annotation = current.model_fields[part].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            current = annotation
            continue
        args = getattr(annotation, "__args__", ())
        if getattr(annotation, "__origin__", None) is dict:
            inner = args[-1] if args else None
            current, skip_key = (
                (inner, True) if isinstance(inner, type) and issubclass(inner, BaseModel) else (None, False)
            )
            continue
        # ``Model | None``: the model
        current = next((arg for arg in args if isinstance(arg, type) and issubclass(arg, BaseModel)), None)
    return current


# -- the core: [tool.ops] itself -------------------------------------------------------------

NonEmptyStr = Annotated[StrictStr, Field(min_length=1)]


class EnvironmentSettings(Section):
    """``[tool.ops.environments.<name>]``; an absent key keeps that environment's default."""

    env_files: list[StrictStr] | None = None
    process_env: StrictBool | None = None
    db_url_env: NonEmptyStr | None = None
    base_url_env: NonEmptyStr | None = None
    db_url: NonEmptyStr | None = None
    base_url: NonEmptyStr | None = None


class EnvironmentsSettings(Section):
    local: EnvironmentSettings | None = None
    staging: EnvironmentSettings | None = None
    production: EnvironmentSettings | None = None


class CoreSettings(Section):
    """The keys of ``[tool.ops]`` itself, and the sub-tables each domain validates on its own.

    ``ops.config`` parses a plainly written table without pydantic (the commit hook
    must start fast) and comes here for everything else, so both give the same answers."""

    environments: EnvironmentsSettings | None = None
    public_prefixes: list[NonEmptyStr] | None = None
    state_dir: NonEmptyStr | None = None
    supabase_dir: NonEmptyStr | None = None
    # A domain's section is checked by its own model when the domain loads it; here only
    # that it is a table, and that its name is known (a misspelt section is never read).
    dev: dict[str, Any] | None = None
    pg: dict[str, Any] | None = None
    migrations: dict[str, Any] | None = None
    lint: dict[str, Any] | None = None
    types: dict[str, Any] | None = None
    env: dict[str, Any] | None = None
    backup: dict[str, Any] | None = None
    anonymize: dict[str, Any] | None = None
    load: dict[str, Any] | None = None
    health: dict[str, Any] | None = None
    release: dict[str, Any] | None = None
    ci: dict[str, Any] | None = None
    init: dict[str, Any] | None = None


def validate_core(table: Any, source: str) -> CoreSettings:
    """``[tool.ops]`` checked by ``CoreSettings``; a bad key or value is one ``ConfigError`` naming it."""
    if not isinstance(table, dict):
        raise ConfigError("[tool.ops] must be a table", f"fix {source}")
    try:
        return CoreSettings.model_validate(table)
    except ValidationError as exc:
        raise config_error(exc, "", CoreSettings, source) from None
