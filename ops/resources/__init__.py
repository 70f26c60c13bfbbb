"""Files the toolkit reads at run time, shipped inside the package.

The Caddyfile template, the compose file and the sample app's Dockerfile, the
generic load scenarios and the templates ``ops init`` writes into a team's
repository. They are read with :mod:`importlib.resources`, so they are found
the same way from a source checkout, an editable install or a wheel. A file of
the same role in the project (``infra/caddy/Caddyfile``...) overrides the
packaged one; see :func:`project_or_packaged`.

This module imports nothing else from ``ops``: every layer may use it.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path


def packaged(*parts: str) -> Traversable:
    """The packaged resource at ``parts`` (``packaged("caddy", "Caddyfile")``)."""
    return files(__name__).joinpath(*parts)


def packaged_path(*parts: str) -> Path:
    """The packaged resource as a file-system path, for a program that opens it itself
    (Caddy, docker compose, k6). pip installs wheels unpacked, so this is a plain file."""
    resource = packaged(*parts)
    if not isinstance(resource, Path):
        raise RuntimeError(f"ops resource {'/'.join(parts)} is not on the file system ({resource!r})")
    return resource


def read_text(*parts: str) -> str:
    return packaged(*parts).read_text(encoding="utf-8")


def project_or_packaged(project_file: Path, *parts: str) -> Path:
    """``project_file`` when the project has it, else the packaged resource at ``parts``."""
    return project_file if project_file.is_file() else packaged_path(*parts)
