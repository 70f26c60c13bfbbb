"""Where a scenario's script is: the project's ``scripts_dir`` first, then the packaged ones.

A scenario is any script in the project's ``infra/tests/load/`` (``<name>.js``
for k6, ``<name>.yml`` for Artillery). The toolkit ships a generic ``smoke``
scenario (``ops/resources/load/``: ``/healthz`` and ``/readyz``) that serves
when the project has no script of that name, so a repository without any load
scripts can still run ``load.run --scenario smoke``.
"""

from __future__ import annotations

from pathlib import Path

from ops.errors import ConfigError, UsageError
from ops.load.settings import SCRIPT_SUFFIXES
from ops.resources import packaged, packaged_path

# Files next to the scenarios that are not scenarios themselves.
_HELPERS = {"common", "artillery-hooks", "entry"}


def _names(directory: Path | None, suffixes: tuple[str, ...]) -> set[str]:
    if directory is None or not directory.is_dir():
        return set()
    return {path.stem for path in directory.iterdir() if path.suffix in suffixes and path.stem not in _HELPERS}


def available(scripts_dir: Path) -> list[str]:
    """Every scenario name, the project's and the packaged ones."""
    suffixes = tuple(suffix for engine in SCRIPT_SUFFIXES.values() for suffix in engine)
    shipped = packaged("load")
    shipped_dir = shipped if isinstance(shipped, Path) else None
    return sorted(_names(scripts_dir, suffixes) | _names(shipped_dir, suffixes))


def scenario_script(scripts_dir: Path, name: str, engine: str) -> Path:
    """The script that runs scenario ``name`` on ``engine``."""
    for suffix in SCRIPT_SUFFIXES[engine]:
        candidate = scripts_dir / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    for suffix in SCRIPT_SUFFIXES[engine]:
        if packaged("load", f"{name}{suffix}").is_file():
            return packaged_path("load", f"{name}{suffix}")
    names = available(scripts_dir)
    if name in names:
        raise ConfigError(
            f"no {engine} script for scenario '{name}' in {scripts_dir}",
            f"add {name}{SCRIPT_SUFFIXES[engine][0]} there, or pick the other --engine",
        )
    raise UsageError(f"unknown scenario '{name}'", f"use one of: {', '.join(names)}, or --script PATH")
