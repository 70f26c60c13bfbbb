"""Project settings from ``[tool.ops]`` in pyproject.toml.

The configuration lives in ``[tool.ops]`` of pyproject.toml or, in a repo with
no Python packaging, in a standalone ``ops.toml`` holding the same keys at its
top level. The core (root, paths, environments, public prefixes) is parsed
here. Each domain owns a pydantic model for its own sub-table
(``[tool.ops.backup]``, ``[tool.ops.load]``...) and loads it with
``ops.settings.section(cfg, Model)``. Plain dataclasses and tomllib keep this
module cheap to import: ``env.check`` runs on every commit.
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
    if not isinstance(table, dict):
        raise ConfigError("[tool.ops] must be a table", f"fix {source}")

    environments = _parse_environments(table.get("environments", {}), source or pyproject)
    prefixes = table.get("public_prefixes", list(DEFAULT_PUBLIC_PREFIXES))
    if not isinstance(prefixes, list) or not all(isinstance(p, str) and p for p in prefixes):
        raise ConfigError("public_prefixes must be a list of non-empty strings", f"fix [tool.ops] in {source}")
    state_dir = Path(table.get("state_dir", ".ops"))
    supabase_dir = Path(table.get("supabase_dir", "supabase"))
    return Config(
        root=root,
        environments=environments,
        public_prefixes=tuple(prefixes),
        state_dir=state_dir if state_dir.is_absolute() else root / state_dir,
        supabase_dir=supabase_dir if supabase_dir.is_absolute() else root / supabase_dir,
        raw=table,
        source=source,
    )


def _parse_environments(table: Any, pyproject: Path) -> dict[str, EnvironmentConfig]:
    if not isinstance(table, dict):
        raise ConfigError("[tool.ops.environments] must be a table", f"fix {pyproject}")
    unknown = sorted(set(table) - set(ENVIRONMENTS))
    if unknown:
        raise ConfigError(
            f"unknown environment '{unknown[0]}' in [tool.ops.environments]",
            f"environments are {', '.join(ENVIRONMENTS)}",
        )
    environments: dict[str, EnvironmentConfig] = {}
    for name in ENVIRONMENTS:
        settings = {**_DEFAULT_ENVIRONMENTS[name], **(table.get(name) or {})}
        allowed = {"env_files", "process_env", "db_url_env", "base_url_env", "db_url", "base_url"}
        extra = sorted(set(settings) - allowed)
        if extra:
            raise ConfigError(
                f"unknown key '{extra[0]}' in [tool.ops.environments.{name}]",
                f"allowed keys: {', '.join(sorted(allowed))}",
            )
        files = settings["env_files"]
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise ConfigError(f"[tool.ops.environments.{name}] env_files must be a list of paths", f"fix {pyproject}")
        environments[name] = EnvironmentConfig(
            name=name,
            env_files=tuple(files),
            process_env=bool(settings["process_env"]),
            db_url_env=settings["db_url_env"],
            base_url_env=settings["base_url_env"],
            db_url=settings.get("db_url"),
            base_url=settings.get("base_url"),
        )
    return environments
