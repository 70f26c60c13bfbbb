"""Project settings from ``[tool.ops]`` in pyproject.toml.

The configuration lives in ``[tool.ops]`` of pyproject.toml or, in a repo with
no Python packaging, in a standalone ``ops.toml`` holding the same keys at its
top level. The core (root, paths, environments, public prefixes) is read here;
its contract is the pydantic model ``ops.settings.CoreSettings``. A plainly
written table (known keys, the right types) is read without pydantic, because
``env.check`` runs on every commit; anything else goes through the model, which
names the bad key in one line (with a "did you mean" for a misspelt one). Each
domain owns a pydantic model for its own sub-table (``[tool.ops.backup]``...)
and loads it with ``ops.settings.section(cfg, Model)``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.errors import ConfigError, UsageError

ENVIRONMENTS = ("local", "staging", "production")
DEFAULT_PUBLIC_PREFIXES = ("NEXT_PUBLIC_", "VITE_", "PUBLIC_")

_DEFAULT_ENVIRONMENTS: dict[str, dict[str, Any]] = {
    "local": {
        "env_files": [".env", ".env.local"],
        "process_env": False,
        "db_url_env": None,
        "base_url_env": None,
    },
    "staging": {
        "env_files": [],
        "process_env": True,
        "db_url_env": "SUPABASE_STAGING_DB_URL",
        "base_url_env": "STAGING_BASE_URL",
    },
    "production": {
        "env_files": [],
        "process_env": True,
        "db_url_env": "SUPABASE_DB_URL",
        "base_url_env": "PRODUCTION_BASE_URL",
    },
}


@dataclass(frozen=True)
class EnvironmentConfig:
    """Where one environment's settings come from."""

    name: str
    env_files: tuple[str, ...]
    process_env: bool
    db_url_env: str | None
    base_url_env: str | None
    db_url: str | None = None
    base_url: str | None = None

    @property
    def is_production(self) -> bool:
        return self.name == "production"


@dataclass(frozen=True)
class Config:
    root: Path
    environments: dict[str, EnvironmentConfig]
    public_prefixes: tuple[str, ...] = DEFAULT_PUBLIC_PREFIXES
    state_dir: Path = field(default=Path(".ops"))
    supabase_dir: Path = field(default=Path("supabase"))
    raw: dict[str, Any] = field(default_factory=dict)
    # The file the settings came from (pyproject.toml or ops.toml); None when neither has them.
    source: Path | None = None
    # Validated section models, filled by ops.settings.section().
    cache: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_project(self) -> bool:
        """True when the root holds ``[tool.ops]`` in pyproject.toml, or an ops.toml."""
        return self.source is not None

    @property
    def source_name(self) -> str:
        return self.source.name if self.source else "pyproject.toml"

    @property
    def migrations_dir(self) -> Path:
        return self.supabase_dir / "migrations"

    def env(self, name: str) -> EnvironmentConfig:
        """The named environment, or a usage error listing the valid names."""
        try:
            return self.environments[name]
        except KeyError:
            valid = ", ".join(self.environments)
            raise UsageError(f"unknown environment '{name}'", f"use one of: {valid}") from None

    def section(self, name: str, defaults: dict[str, Any] | None = None) -> dict[str, Any]:
        """``[tool.ops.<name>]`` merged over ``defaults`` (one level deep for sub-tables)."""
        merged: dict[str, Any] = dict(defaults or {})
        table = self.raw.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(
                f"[tool.ops.{name}] must be a table", f"fix [tool.ops.{name}] in {self.root / 'pyproject.toml'}"
            )
        for key, value in table.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        return merged

    def path(self, value: str | os.PathLike[str]) -> Path:
        """A path from config, relative to the project root."""
        path = Path(value)
        return path if path.is_absolute() else self.root / path


OPS_TOML = "ops.toml"


def _has_ops_table(pyproject: Path) -> bool:
    try:
        return b"[tool.ops" in pyproject.read_bytes()
    except OSError:
        return False


def is_project_root(root: Path) -> bool:
    """Whether ``root`` holds an ops project: an ops.toml, or ``[tool.ops]`` in pyproject.toml.

    Read as bytes, without parsing TOML: every task asks this before it starts."""
    return (root / OPS_TOML).is_file() or _has_ops_table(root / "pyproject.toml")


def find_root(start: Path | None = None) -> Path:
    """The project root: ``$OPS_PROJECT_ROOT``, else the nearest directory up
    from ``start`` with an ops.toml or a pyproject.toml that has ``[tool.ops]``,
    else the nearest pyproject.toml, else ``start``."""
    explicit = os.environ.get("OPS_PROJECT_ROOT")
    if explicit:
        return Path(explicit).resolve()
    start = (start or Path.cwd()).resolve()
    nearest: Path | None = None
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if (directory / OPS_TOML).is_file() or _has_ops_table(candidate):
            return directory
        if candidate.is_file():
            nearest = nearest or directory
    return nearest or start


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}", "fix the TOML syntax") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}", "check the file's permissions") from None


def load(root: Path | str | None = None) -> Config:
    """Read the settings of ``root`` (found if not given): ``[tool.ops]`` of its
    pyproject.toml, else its ops.toml."""
    root = Path(root).resolve() if root else find_root()
    pyproject = root / "pyproject.toml"
    ops_toml = root / OPS_TOML
    table: dict[str, Any] = {}
    source: Path | None = None
    if pyproject.is_file() and _has_ops_table(pyproject):
        data = _read_toml(pyproject)
        if "ops" in data.get("tool", {}):
            table = data["tool"]["ops"]
            source = pyproject
    if source is None and ops_toml.is_file():
        table = _read_toml(ops_toml)
        source = ops_toml
    source_name = (source or pyproject).name
    core = _plain_core(table)
    if core is None:
        core = _validated_core(table, source_name)
    environments = {
        name: _environment(name, {**_DEFAULT_ENVIRONMENTS[name], **core.environments.get(name, {})})
        for name in ENVIRONMENTS
    }
    state_dir, supabase_dir = Path(core.state_dir), Path(core.supabase_dir)
    return Config(
        root=root,
        environments=environments,
        public_prefixes=core.public_prefixes,
        state_dir=state_dir if state_dir.is_absolute() else root / state_dir,
        supabase_dir=supabase_dir if supabase_dir.is_absolute() else root / supabase_dir,
        raw=table,
        source=source,
    )


# The keys of [tool.ops] itself, and the sections the domains read (each validates its own).
# ops.settings.CoreSettings holds the same names (a test keeps them equal).
CORE_KEYS = frozenset({"environments", "public_prefixes", "state_dir", "supabase_dir"})
SECTIONS = frozenset(
    {"dev", "pg", "migrations", "lint", "types", "env", "backup", "anonymize", "load", "health", "release", "ci"}
    | {"init"}
)
_ENVIRONMENT_KEYS = frozenset({"env_files", "process_env", "db_url_env", "base_url_env", "db_url", "base_url"})


@dataclass(frozen=True)
class _Core:
    environments: dict[str, dict[str, Any]]
    public_prefixes: tuple[str, ...]
    state_dir: str
    supabase_dir: str


def _plain_core(table: Any) -> _Core | None:
    """The core of a plainly written ``[tool.ops]`` (known keys, right types), read
    without pydantic; None when only ``ops.settings.CoreSettings`` can judge it."""
    if not isinstance(table, dict) or not (CORE_KEYS | SECTIONS).issuperset(table):
        return None
    if not all(isinstance(table[name], dict) for name in SECTIONS.intersection(table)):
        return None
    environments = table.get("environments", {})
    if not isinstance(environments, dict) or not set(ENVIRONMENTS).issuperset(environments):
        return None
    for settings in environments.values():
        if not _plain_environment(settings):
            return None
    prefixes = table.get("public_prefixes", list(DEFAULT_PUBLIC_PREFIXES))
    if not (isinstance(prefixes, list) and all(_text(prefix) for prefix in prefixes)):
        return None
    state_dir, supabase_dir = table.get("state_dir", ".ops"), table.get("supabase_dir", "supabase")
    if not (_text(state_dir) and _text(supabase_dir)):
        return None
    return _Core(environments, tuple(prefixes), state_dir, supabase_dir)


def _plain_environment(settings: Any) -> bool:
    if not isinstance(settings, dict) or not _ENVIRONMENT_KEYS.issuperset(settings):
        return False
    files = settings.get("env_files", [])
    if not (isinstance(files, list) and all(isinstance(name, str) for name in files)):
        return False
    if not isinstance(settings.get("process_env", False), bool):
        return False
    return all(_text(settings[key]) for key in ("db_url_env", "base_url_env", "db_url", "base_url") if key in settings)


def _environment(name: str, settings: dict[str, Any]) -> EnvironmentConfig:
    return EnvironmentConfig(
        name=name,
        env_files=tuple(settings["env_files"]),
        process_env=settings["process_env"],
        db_url_env=settings["db_url_env"],
        base_url_env=settings["base_url_env"],
        db_url=settings.get("db_url"),
        base_url=settings.get("base_url"),
    )


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _validated_core(table: Any, source_name: str) -> _Core:
    """``[tool.ops]`` through its pydantic model: a one-line ``ConfigError`` naming the bad key."""
    environments = table.get("environments") if isinstance(table, dict) else None
    if isinstance(environments, dict):
        unknown = sorted(set(environments) - set(ENVIRONMENTS))
        if unknown:
            raise ConfigError(
                f"unknown environment '{unknown[0]}' in [tool.ops.environments]",
                f"environments are {', '.join(ENVIRONMENTS)} (in {source_name})",
            )
    from ops.settings import validate_core

    core = validate_core(table, source_name)
    given = core.environments.model_dump(exclude_none=True) if core.environments else {}
    return _Core(
        environments={name: {**values} for name, values in given.items()},
        public_prefixes=tuple(core.public_prefixes or DEFAULT_PUBLIC_PREFIXES),
        state_dir=core.state_dir or ".ops",
        supabase_dir=core.supabase_dir or "supabase",
    )
